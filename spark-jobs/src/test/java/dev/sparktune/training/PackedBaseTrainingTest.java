package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.peft.LoraMerge;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training job with a packed frozen base (model.quantization_bit, train.bf16): LoRA trains, and its export is an
 * ordinary adapter of the float base, which loads onto the base read again from its folder and merges there.
 */
class PackedBaseTrainingTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"model.quantization_bit=4", "model.quantization_bit=8", "train.bf16=true"})
    void aLoraRunOnAPackedBaseExportsAnAdapterOfTheFloatBase(String storage) throws Exception {
        Path base = TinyModels.writeRandom(dir.resolve("base"), TinyModels.llamaJson("llama", 4, 2, false, ""), 3);
        Random random = new Random(4);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            long[] ids = random.longs(5 + random.nextInt(6), 1, 61).toArray();
            rows.add(new TokenizedRow(ids, ids.clone(), null, null, null));
        }
        TrainingRuns.writeTokenized(dir.resolve("data"), rows, 1);

        TrainingRuns.runInProcess(TrainingRuns.config(List.of(storage, "model.model_name_or_path=" + base,
                "data.tokenized_path=" + dir.resolve("data"), "method.finetuning_type=lora", "method.lora_target=all",
                "train.output_dir=" + dir.resolve("run"), "train.per_device_train_batch_size=4", "train.max_steps=2",
                "train.learning_rate=1e-2", "train.gradient_checkpointing=true")));

        try (NDManager manager = NDManager.newBaseManager()) {
            ModelDirectory folder = ModelDirectory.open(base);
            PeftModel trained = PeftFormat.load(dir.resolve("run/adapter"), folder.load(manager, DataType.FLOAT32), manager);
            String b = "model.layers.0.self_attn.q_proj.lora_B.weight";
            assertTrue(trained.weights().get(b).abs().max().getFloat() > 0, "two steps moved LoRA's B from zero");
            LoraMerge.Merged merged = LoraMerge.merge(trained, manager);
            String w = "model.layers.0.self_attn.q_proj.weight";
            assertEquals(DataType.FLOAT32, merged.weights().get(w).getDataType());
            assertTrue(merged.weights().get(w).sub(folder.load(manager, DataType.FLOAT32).weights().get(w)).abs().max()
                    .getFloat() > 0, "the merge added the adapter to the float base");
        }
    }
}
