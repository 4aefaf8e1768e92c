package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.eval.Classification;
import dev.sparktune.io.Checkpoint;
import dev.sparktune.io.CommitMarker;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.quant.Int8Targets;
import dev.sparktune.quant.LinearTargets;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code sparktune export} with int8 and pruning, on tiny models in Hugging Face layout with LoRA adapters moved off
 * zero as training would: the int8 folder's size against the float export's, the metrics it reports checked against
 * scikit-learn's definitions on the model loaded back, the sparsity counted in the written tensors, the adapter-only
 * export, and every refused combination naming its key.
 */
class CompressedExportTest {
    /**
     * A BERT shaped like all-MiniLM-L6-v2 in one respect: its embedding tables are half its parameters (vocabulary
     * 3200 x hidden 128 against 2 layers; MiniLM's 30522 x 384 table is 52%), so an int8 export under 30% of float32
     * needs the tables in int8 too. The rows use tokens 1 to 48 only; the other rows still count in the size.
     */
    private static final String BERT = """
            {"model_type": "bert", "vocab_size": 3200, "hidden_size": 128, "intermediate_size": 512,
             "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 16,
             "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
             "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
            """;
    private static final List<String> CLASSES = List.of("ham", "spam");

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final Configuration conf = new Configuration();
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
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    /** The report printed after the "Exported DIR" line; also checks it is the export_report.json written. */
    private JsonObject printedReport(Path export) throws Exception {
        String printed = out.toString();
        assertTrue(printed.startsWith("Exported " + export + "\n"), printed);
        JsonObject report = JsonParser.parseString(printed.substring(printed.indexOf('\n') + 1)).getAsJsonObject();
        assertEquals(report, JsonParser.parseString(Files.readString(export.resolve(ExportReport.FILE))));
        return report;
    }

    private static List<TokenizedRow> rows(int n, long seed, boolean classes) {
        Random random = new Random(seed);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long[] ids = new long[4 + random.nextInt(9)];
            for (int t = 0; t < ids.length; t++) {
                ids[t] = 1 + random.nextInt(48);
            }
            rows.add(new TokenizedRow(ids, null, null, classes ? (long) random.nextInt(2) : null, null));
        }
        return rows;
    }

    /** The commit marker prep leaves, which the trainer and eval require. */
    private void markCommitted(Path tokenized) throws Exception {
        org.apache.hadoop.fs.Path folder = new org.apache.hadoop.fs.Path(tokenized.toUri());
        CommitMarker.write(folder.getFileSystem(conf), folder);
    }

    private void writeRows(Path folder, List<TokenizedRow> rows, LabelsFile labels) throws Exception {
        Files.createDirectories(folder);
        TokenizedParquet.write(conf, folder.resolve("part-00.parquet").toString(), rows, 1 << 20);
        if (labels != null) {
            labels.write(conf, folder.toString());
        }
    }

    /** A tiny BERT, a trained-looking LoRA adapter with a two-class head, and tokenized rows with a validation split. */
    private Path classifierJob() throws Exception {
        Path base = TinyModels.writeRandom(dir.resolve("base"), BERT, 3);
        Files.writeString(base.resolve("tokenizer_config.json"), "{\"model_max_length\": 16}\n");
        Bert bert = ((Bert) ModelDirectory.open(base).load(manager, DataType.FLOAT32)).withClassifier(2, manager, 4);
        PeftModel trained = PeftModel.apply(bert, new Lora(4, 8, 0, List.of("all"), false, false, List.of()), manager, 2);
        for (NDArray t : trained.trainableTensors().values()) {
            t.addi(manager.randomNormal(0, 0.05f, t.getShape(), DataType.FLOAT32));
        }
        Path adapter = dir.resolve("run/adapter");
        PeftFormat.save(trained, adapter, base.toString());
        LabelsFile labels = new LabelsFile(CLASSES);
        JsonObject config = labels.addTo(JsonParser.parseString(BERT).getAsJsonObject());
        Files.writeString(adapter.resolve(ModelDirectory.CONFIG_FILE), config.toString());
        writeRows(dir.resolve("tok/task=spam"), rows(16, 5, true), labels);
        writeRows(dir.resolve("tok/_validation/task=spam"), rows(40, 6, true), labels);
        markCommitted(dir.resolve("tok"));
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "model:\n  model_name_or_path: " + base + "\ndata:\n  tokenized_path: " + dir.resolve("tok")
                + "\nmethod:\n  stage: cls\ntrain:\n  output_dir: " + dir.resolve("run") + "\n");
        return job;
    }

    @Test
    void anInt8ClassifierIsUnderAThirdOfTheFloatExportLoadsAndReportsItsMetricsAgainstTheFloatModel() throws Exception {
        Path job = classifierJob();
        Path float32 = dir.resolve("float32");
        Path int8 = dir.resolve("int8");

        assertEquals(0, sparktune("export", job.toString(), "--set", "export.export_dir=" + float32), err.toString());
        JsonObject floatReport = printedReport(float32);
        assertEquals(0, sparktune("export", job.toString(), "--set", "export.export_dir=" + int8,
                "--set", "export.export_quantization_bit=8"), err.toString());
        JsonObject report = printedReport(int8);

        // sizes: measured on disk, both folders without their reports
        long floatBytes = ExportReport.folderBytes(float32) - Files.size(float32.resolve(ExportReport.FILE));
        long int8Bytes = ExportReport.folderBytes(int8) - Files.size(int8.resolve(ExportReport.FILE));
        assertEquals(int8Bytes, report.get("size_bytes").getAsLong());
        assertEquals(floatBytes, floatReport.get("size_bytes").getAsLong());
        double ratio = (double) int8Bytes / floatBytes;
        assertTrue(ratio <= 0.30, "int8 export is " + ratio + " of the float32 export (" + int8Bytes + " / " + floatBytes + ")");
        // the float32 equivalent the int8 report computes from tensor sizes is the float export, up to header bytes
        long estimated = report.get("float32_size_bytes").getAsLong();
        assertTrue(Math.abs(estimated - floatBytes) < 0.01 * floatBytes, estimated + " vs " + floatBytes);
        assertTrue(floatReport.getAsJsonObject("eval").get("skipped").getAsString().contains("nothing to compare"));

        // the folder: int8 matrices and embedding tables with scales, the head and norms in float, labels and the
        // quantization config
        String config = Files.readString(int8.resolve(ModelDirectory.CONFIG_FILE));
        assertTrue(config.contains("\"quant_method\": \"sparktune_int8\"") && config.contains("\"id2label\""), config);
        SortedMap<String, NDArray> stored = Checkpoint.load(int8, manager);
        for (String table : List.of("encoder.layer.1.intermediate.dense", "embeddings.word_embeddings",
                "embeddings.position_embeddings", "embeddings.token_type_embeddings")) {
            assertEquals(DataType.INT8, stored.get(table + ".weight").getDataType(), table);
            assertEquals(DataType.FLOAT32, stored.get(table + ".weight_scale").getDataType(), table);
        }
        assertEquals(3200, stored.get("embeddings.word_embeddings.weight_scale").size(), "one scale per token");
        assertEquals(DataType.FLOAT32, stored.get("classifier.weight").getDataType());
        assertEquals(DataType.FLOAT32, stored.get("embeddings.LayerNorm.weight").getDataType());
        PretrainedModel floatModel = ModelDirectory.open(float32).load(manager, DataType.FLOAT32);
        assertEquals(Int8Targets.of(floatModel.layout()).size(),
                report.getAsJsonObject("quantization").get("modules").getAsInt());
        // premise: the tables are half the weights, so int8 matrices alone would leave the export above 60%
        long tables = floatModel.layout().embeddingTables().stream()
                .mapToLong(t -> floatModel.weights().get(t + ".weight").size()).sum();
        long all = floatModel.weights().asMap().values().stream().mapToLong(NDArray::size).sum();
        assertTrue(tables >= 0.5 * all, tables + " of " + all + " parameters are embedding tables");

        // it loads and runs, and the metrics reported for both models are scikit-learn's on their predictions
        List<TokenizedRow> validation = rows(40, 6, true);
        JsonObject spam = report.getAsJsonObject("eval").getAsJsonObject("tasks").getAsJsonObject("spam");
        for (String model : List.of("reference", "exported")) {
            Path folder = model.equals("reference") ? float32 : int8;
            List<String> predicted = predict((Bert) ModelDirectory.open(folder).load(manager, DataType.FLOAT32), validation);
            List<String> truth = validation.stream().map(r -> Long.toString(r.label())).toList();
            Classification.Report sklearn = Classification.report(truth, predicted, List.of("0", "1"), 0.0);
            assertEquals(sklearn.accuracy(), spam.getAsJsonObject("accuracy").get(model).getAsDouble(), 1e-12, model);
            assertEquals(sklearn.macroAvg().f1(), spam.getAsJsonObject("macro_f1").get(model).getAsDouble(), 1e-12, model);
        }
        for (String metric : List.of("accuracy", "macro_f1")) {
            JsonObject m = spam.getAsJsonObject(metric);
            assertEquals(m.get("exported").getAsDouble() - m.get("reference").getAsDouble(),
                    m.get("difference").getAsDouble(), 1e-12, metric);
        }
    }

    /** The class of the largest logit for each row, all rows in one right-padded batch. */
    private List<String> predict(Bert bert, List<TokenizedRow> rows) {
        int length = rows.stream().mapToInt(TokenizedRow::length).max().orElseThrow();
        long[][] ids = new long[rows.size()][length];
        long[][] keep = new long[rows.size()][length];
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r).inputIds(), 0, ids[r], 0, rows.get(r).length());
            Arrays.fill(keep[r], 0, rows.get(r).length(), 1);
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray keepArray = step.create(keep);
            NDArray hidden = bert.hiddenStates(step.create(ids), null, TinyModels.positions(step, rows.size(), length),
                    AttentionMask.bidirectional(keepArray));
            return Arrays.stream(bert.classify(hidden, keepArray).argMax(1).toLongArray()).mapToObj(Long::toString).toList();
        }
    }

    /** A tiny Llama, a LoRA adapter on it, and causal-LM rows with a validation split (one task, no task folders). */
    private Path languageModelJob(boolean validation) throws Exception {
        Path base = TinyModels.writeRandom(dir.resolve("base"), TinyModels.llamaJson("llama", 4, 2, false, ""), 3);
        PeftModel trained = PeftModel.apply(ModelDirectory.open(base).load(manager, DataType.FLOAT32),
                new Lora(4, 8, 0, List.of("all"), false, false, List.of()), manager, 2);
        for (NDArray t : trained.trainableTensors().values()) {
            t.addi(manager.randomNormal(0, 0.05f, t.getShape(), DataType.FLOAT32));
        }
        PeftFormat.save(trained, dir.resolve("run/adapter"), base.toString());
        writeRows(dir.resolve("tok"), rows(16, 7, false), null);
        if (validation) {
            writeRows(dir.resolve("tok/_validation"), rows(12, 8, false), null);
        }
        markCommitted(dir.resolve("tok"));
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "model:\n  model_name_or_path: " + base + "\ndata:\n  tokenized_path: " + dir.resolve("tok")
                + "\nmethod:\n  stage: pt\ntrain:\n  output_dir: " + dir.resolve("run") + "\nexport:\n  export_dir: "
                + dir.resolve("pruned") + "\n");
        return job;
    }

    @ParameterizedTest(name = "{0} at {1}, int8 {2}")
    @CsvSource({"unstructured, 0.3, false", "unstructured, 0.75, true", "2:4, 0.5, false"})
    void aPrunedExportHasTheAskedSparsityCountedInItsWeightsAndReportsThePerplexityDifference(String pattern,
            double sparsity, boolean int8) throws Exception {
        Path job = languageModelJob(true);
        List<String> args = new ArrayList<>(List.of("export", job.toString(), "--set", "export.prune_pattern=" + pattern,
                "--set", "export.prune_sparsity=" + sparsity));
        if (int8) {
            args.addAll(List.of("--set", "export.export_quantization_bit=8"));
        }

        assertEquals(0, sparktune(args.toArray(String[]::new)), err.toString());

        Path pruned = dir.resolve("pruned");
        JsonObject report = printedReport(pruned);
        PretrainedModel base = ModelDirectory.open(dir.resolve("base")).load(manager, DataType.FLOAT32);
        List<String> modules = LinearTargets.of(base.layout());
        assertFalse(modules.contains("lm_head"), "the output head is neither pruned nor quantised");
        SortedMap<String, NDArray> stored = Checkpoint.load(pruned, manager);
        long zeros = 0;
        long elements = 0;
        for (String module : modules) {
            NDArray w = stored.get(module + ".weight");
            long n = w.size();
            long z = w.eq(0).countNonzero().getLong();
            if (int8) {
                assertTrue(z >= Math.round(sparsity * n), module + ": int8 keeps the pruned zeros");
            } else if (pattern.equals("2:4")) {
                long[] perGroup = w.reshape(-1, 4).eq(0).sum(new int[] {1}).toLongArray();
                assertTrue(Arrays.stream(perGroup).allMatch(c -> c == 2), module + ": two zeros in every group of 4");
            } else {
                assertTrue(Math.abs(z - sparsity * n) <= 1, module + ": " + z + " zeros of " + n + " at " + sparsity);
            }
            zeros += z;
            elements += n;
        }
        NDArray table = stored.get("model.embed_tokens.weight");
        assertEquals(int8 ? DataType.INT8 : DataType.FLOAT32, table.getDataType(), "int8 with the matrices");
        assertTrue(table.eq(0).countNonzero().getLong() < 0.05 * table.size(), "but never pruned");
        JsonObject p = report.getAsJsonObject("pruning");
        assertEquals(elements, p.get("elements").getAsLong());
        assertEquals(sparsity, p.get("asked_sparsity").getAsDouble());
        assertTrue(Math.abs(p.get("measured_sparsity").getAsDouble() - sparsity) <= (double) modules.size() / elements,
                "within one element per matrix: " + p);
        if (int8) {
            assertEquals((double) zeros / elements, p.get("sparsity_after_int8").getAsDouble(), 1e-12);
        } else {
            assertEquals(zeros, p.get("zeros").getAsLong(), "the report counts what was written");
        }
        // loads and runs: its perplexity, and the float model's, are in the report
        assertNotNull(ModelDirectory.open(pruned).load(manager, DataType.FLOAT32));
        JsonObject perplexity = report.getAsJsonObject("eval").getAsJsonObject("tasks").getAsJsonObject("train")
                .getAsJsonObject("perplexity");
        double before = perplexity.get("reference").getAsDouble();
        double after = perplexity.get("exported").getAsDouble();
        assertTrue(before > 1 && after > 1 && Double.isFinite(after), perplexity.toString());
        assertEquals(after - before, perplexity.get("difference").getAsDouble(), 1e-9);
        assertTrue(after != before, "pruning changes the model (premise)");
    }

    @Test
    void withoutValidationRowsTheReportSaysSoInsteadOfFailing() throws Exception {
        Path job = languageModelJob(false);

        assertEquals(0, sparktune("export", job.toString(), "--set", "export.export_quantization_bit=8"), err.toString());

        JsonObject eval = printedReport(dir.resolve("pruned")).getAsJsonObject("eval");
        assertTrue(eval.get("skipped").getAsString().contains("no validation rows"), eval.toString());
        assertFalse(eval.has("tasks"));

        assertEquals(0, sparktune("export", job.toString(), "--set", "export.export_quantization_bit=8",
                "--set", "data.tokenized_path="), err.toString());
        eval = printedReport(dir.resolve("pruned")).getAsJsonObject("eval");
        assertTrue(eval.get("skipped").getAsString().contains("data.tokenized_path is not set"), eval.toString());
    }

    @Test
    void anAdapterExportCopiesTheAdapterWithItsLabelsAndRefusesCompression() throws Exception {
        Path job = classifierJob();
        Path exported = dir.resolve("adapter-only");

        assertEquals(0, sparktune("export", job.toString(), "--set", "export.export_dir=" + exported,
                "--set", "export.export_type=adapter"), err.toString());

        for (String f : List.of(PeftFormat.CONFIG_FILE, PeftFormat.WEIGHTS_FILE, ModelDirectory.CONFIG_FILE)) {
            assertEquals(-1L, Files.mismatch(dir.resolve("run/adapter").resolve(f), exported.resolve(f)), f);
        }
        try (Stream<Path> files = Files.list(exported)) {
            assertEquals(4, files.count(), "the adapter's three files and the report");
        }
        assertEquals("adapter", printedReport(exported).get("export_type").getAsString());

        for (String key : List.of("export.export_quantization_bit=8", "export.prune_sparsity=0.5")) {
            assertEquals(2, sparktune("export", job.toString(), "--set", "export.export_dir=" + exported,
                    "--set", "export.export_type=adapter", "--set", key));
            assertTrue(err.toString().contains(key.substring(0, key.indexOf('='))), err.toString());
        }
    }

    @Test
    void otherBitWidthsAndAnotherSparsityWithTwoFourAreRefusedNamingTheKey() throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "export:\n  export_dir: out\n");
        for (Map.Entry<String, List<String>> e : Map.of(
                "export.export_quantization_bit", List.of("export.export_quantization_bit=4"),
                "export.prune_sparsity", List.of("export.prune_pattern=2:4", "export.prune_sparsity=0.3"),
                "export.prune_pattern", List.of("export.prune_pattern=4:8")).entrySet()) {
            List<String> args = new ArrayList<>(List.of("export", job.toString()));
            e.getValue().forEach(s -> args.addAll(List.of("--set", s)));
            assertEquals(2, sparktune(args.toArray(String[]::new)), e.getKey());
            assertTrue(err.toString().contains(e.getKey()), err.toString());
        }
    }
}
