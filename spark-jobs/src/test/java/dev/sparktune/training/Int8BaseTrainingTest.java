package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.Checkpoint;
import dev.sparktune.io.Int8Weights;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.quant.LinearTargets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training starts from an int8 export as from any model folder, and a full run on it exports a float model. */
class Int8BaseTrainingTest {
    @TempDir
    Path dir;

    @Test
    void aFullRunOnAnInt8ExportTrainsAndExportsAFloatModelThatLoads() throws Exception {
        Path int8 = dir.resolve("int8");
        try (NDManager manager = NDManager.newBaseManager()) {
            ModelDirectory source = ModelDirectory.open(TinyModels.writeRandom(dir.resolve("float"),
                    TinyModels.llamaJson("llama", 4, 2, false, ""), 3));
            PretrainedModel model = source.load(manager, DataType.FLOAT32);
            List<String> modules = LinearTargets.of(model.layout());
            ModelDirectory.write(int8, Int8Weights.withConfig(source.configJson(), modules),
                    Int8Weights.quantize(model.weights().asMap(), modules, manager), Long.MAX_VALUE, null);
        }
        Random random = new Random(4);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            long[] ids = random.longs(5 + random.nextInt(6), 1, 61).toArray();
            rows.add(new TokenizedRow(ids, ids.clone(), null, null, null));
        }
        TrainingRuns.writeTokenized(dir.resolve("data"), rows, 1);

        TrainingRuns.runInProcess(TrainingRuns.config(List.of("model.model_name_or_path=" + int8,
                "data.tokenized_path=" + dir.resolve("data"), "method.finetuning_type=full",
                "train.output_dir=" + dir.resolve("run"), "train.per_device_train_batch_size=4", "train.max_steps=2")));

        ModelDirectory trained = ModelDirectory.open(dir.resolve("run/model"));
        assertEquals(List.of(), Int8Weights.modules(trained.configJson(), "run/model"), "float weights, no int8 config");
        try (NDManager manager = NDManager.newBaseManager()) {
            assertTrue(Checkpoint.load(trained.path(), manager).values().stream()
                    .allMatch(t -> t.getDataType() == DataType.FLOAT32));
            PretrainedModel loaded = trained.load(manager, DataType.FLOAT32);
            PretrainedModel start = ModelDirectory.open(int8).load(manager, DataType.FLOAT32);
            String w = "model.layers.0.self_attn.q_proj.weight";
            assertTrue(loaded.weights().get(w).sub(start.weights().get(w)).abs().max().getFloat() > 0,
                    "two steps moved the dequantised weights");
        }
    }
}
