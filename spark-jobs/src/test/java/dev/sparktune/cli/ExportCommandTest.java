package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.peft.PrefixTuning;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code sparktune export}: a LoRA or DoRA adapter trained on a tiny random Llama, merged into the base and written
 * as a plain Hugging Face folder, scores the same as base + adapter; sharding, and the methods that have no merge.
 */
class ExportCommandTest {
    private static final long[][] IDS = {{3, 14, 15, 9, 26, 5}, {0, 0, 27, 18, 28, 4}};
    private static final long[][] KEEP = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final long[][] POSITIONS = {{0, 1, 2, 3, 4, 5}, {0, 0, 0, 1, 2, 3}};
    /** A config.json as FinalExport writes beside a classifier's adapter: the base's, plus the class names. */
    private static final String ADAPTER_CONFIG =
            TinyModels.llamaJson("llama", 4, 2, false, "\"id2label\": {\"0\": \"neg\", \"1\": \"pos\"}");

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private NDManager manager;

    @TempDir
    Path dir;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private int sparktune(String... args) {
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    /** A base folder with a tokenizer file, and {@code <dir>/run/adapter} trained with {@code method}. */
    private Path job(PeftModelFactory method) throws Exception {
        Path base = TinyModels.writeRandom(dir.resolve("base"), TinyModels.llamaJson("llama", 4, 2, false, ""), 3);
        Files.writeString(base.resolve("tokenizer_config.json"), "{\"model_max_length\": 128}\n");
        PeftModel trained = method.apply(ModelDirectory.open(base).load(manager, DataType.FLOAT32));
        for (NDArray t : trained.trainableTensors().values()) {      // lora_B starts at zero: move it, as training would
            t.addi(manager.randomNormal(0, 0.05f, t.getShape(), DataType.FLOAT32));
        }
        Path adapter = dir.resolve("run").resolve("adapter");
        PeftFormat.save(trained, adapter, base.toString());
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "model:\n  model_name_or_path: " + base + "\ntrain:\n  output_dir: " + dir.resolve("run")
                + "\nexport:\n  export_dir: " + dir.resolve("merged") + "\n");
        return job;
    }

    private interface PeftModelFactory {
        PeftModel apply(PretrainedModel base);
    }

    private NDArray logits(PretrainedModel model) {
        Llama llama = (Llama) model;
        NDArray keep = manager.create(KEEP);
        return llama.logits(manager.create(IDS), manager.create(POSITIONS), AttentionMask.causal(keep), null)
                .mul(keep.expandDims(-1).toType(DataType.FLOAT32, false));
    }

    @ParameterizedTest(name = "use_dora={0}")
    @ValueSource(booleans = {false, true})
    void mergedExportScoresAsBasePlusAdapterAndKeepsTheAdaptersConfig(boolean useDora) throws Exception {
        Path job = job(base -> PeftModel.apply(base, new Lora(4, 8, 0, List.of("all"), false, useDora, List.of()),
                manager, 2));
        Files.writeString(dir.resolve("run/adapter").resolve(ModelDirectory.CONFIG_FILE), ADAPTER_CONFIG);

        assertEquals(0, sparktune("export", job.toString()), err.toString());

        Path merged = dir.resolve("merged");
        PretrainedModel base = ModelDirectory.open(dir.resolve("base")).load(manager, DataType.FLOAT32);
        NDArray expected = logits(PeftFormat.load(dir.resolve("run/adapter"), base, manager).model(false));
        PretrainedModel exported = ModelDirectory.open(merged).load(manager, DataType.FLOAT32);
        assertTrue(exported.weights().asMap().keySet().stream().noneMatch(n -> n.contains("lora_")));
        double diff = expected.sub(logits(exported)).abs().max().getFloat();
        assertTrue(diff <= 1e-5, "merged export differs from base + adapter by " + diff);
        double moved = expected.sub(logits(base)).abs().max().getFloat();
        assertTrue(moved > 1e-3, "the adapter should change the logits (premise), changed by " + moved);

        assertEquals(ADAPTER_CONFIG, Files.readString(merged.resolve(ModelDirectory.CONFIG_FILE)), "labels survive");
        assertTrue(Files.isRegularFile(merged.resolve("tokenizer_config.json")), "the base's tokenizer files");
        assertTrue(Files.isRegularFile(merged.resolve("model.safetensors")), "one shard at export_size 5 GB");
        assertTrue(out.toString().startsWith("Exported " + merged), out.toString());
    }

    @Test
    void aSmallShardLimitSplitsTheWeightsWithAnIndex() throws Exception {
        Path job = job(base -> PeftModel.apply(base, new Lora(4, 8, 0, List.of("all"), false, false, List.of()),
                manager, 2));

        // export_size is whole GB (>= 1), too coarse for a tiny model: the hidden test option sets bytes
        assertEquals(0, sparktune("export", job.toString(), "--max-shard-bytes", "20000"), err.toString());

        Path merged = dir.resolve("merged");
        assertTrue(Files.isRegularFile(merged.resolve("model.safetensors.index.json")));
        try (Stream<Path> files = Files.list(merged)) {
            long shards = files.filter(p -> p.getFileName().toString().matches("model-\\d+-of-\\d+\\.safetensors")).count();
            assertTrue(shards > 1, shards + " shards");
        }
        assertFalse(Files.exists(merged.resolve("model.safetensors")));
        PretrainedModel base = ModelDirectory.open(dir.resolve("base")).load(manager, DataType.FLOAT32);
        NDArray expected = logits(PeftFormat.load(dir.resolve("run/adapter"), base, manager).model(false));
        double diff = expected.sub(logits(ModelDirectory.open(merged).load(manager, DataType.FLOAT32))).abs().max().getFloat();
        assertTrue(diff <= 1e-5, "sharded export differs by " + diff);
    }

    @Test
    void aWholeModelFromAFullRunIsCopiedAndResharded() throws Exception {
        Path base = TinyModels.writeRandom(dir.resolve("run").resolve("model"),
                TinyModels.llamaJson("llama", 4, 2, false, ""), 5);
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "train:\n  output_dir: " + dir.resolve("run") + "\nexport:\n  export_dir: "
                + dir.resolve("merged") + "\n");

        assertEquals(0, sparktune("export", job.toString(), "--max-shard-bytes", "20000"), err.toString());

        Path merged = dir.resolve("merged");
        assertTrue(Files.isRegularFile(merged.resolve("model.safetensors.index.json")));
        PretrainedModel trained = ModelDirectory.open(base).load(manager, DataType.FLOAT32);
        double diff = logits(trained).sub(logits(ModelDirectory.open(merged).load(manager, DataType.FLOAT32)))
                .abs().max().getFloat();
        assertEquals(0.0, diff, "a resharded model scores as before");
    }

    @Test
    void aPrefixTuningAdapterHasNoMergeAndExitsTwoNamingIt() throws Exception {
        Path job = job(base -> PeftModel.apply(base, new PrefixTuning(4, false, PrefixTuning.DEFAULT_ENCODER_HIDDEN),
                manager, 2));

        assertEquals(2, sparktune("export", job.toString()));

        assertTrue(err.toString().contains("PREFIX_TUNING adapter, which has no merge"), err.toString());
        assertFalse(Files.exists(dir.resolve("merged")));
    }

    @Test
    void withoutExportDirOrAdapterItExitsTwoNamingTheKey() throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "train:\n  output_dir: " + dir.resolve("run") + "\n");

        assertEquals(2, sparktune("export", job.toString()));
        assertTrue(err.toString().contains("export.export_dir is not set"), err.toString());

        assertEquals(2, sparktune("export", job.toString(), "--set", "export.export_dir=" + dir.resolve("merged")));
        assertTrue(err.toString().contains("no trained model in train.output_dir"), err.toString());
    }

    @Test
    void exportSizeBelowOneIsAConfigProblem() throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "export:\n  export_dir: out\n  export_size: 0\n");

        assertEquals(2, sparktune("export", job.toString()));
        assertTrue(err.toString().contains("export.export_size"), err.toString());
    }
}
