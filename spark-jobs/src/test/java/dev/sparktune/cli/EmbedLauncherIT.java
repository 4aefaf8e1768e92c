package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import dev.sparktune.io.onnx.ImportedMiniLm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/sparktune embed} as a user pipes text into it, against ONNX Runtime running the original
 * all-MiniLM-L6-v2 ONNX file with sentence-transformers' mean pooling and normalisation: an independent engine and
 * an independent tokenizer instance, each sentence on its own (no padding), the CLI in batches of 4 (with padding).
 */
@Tag("integration")
class EmbedLauncherIT {
    private static final Path LAUNCHER = Path.of("..", "bin", "sparktune").toAbsolutePath().normalize();
    private static final List<String> SENTENCES = List.of(
            "A man is eating food.",
            "A man is riding a white horse on an enclosed ground.",
            "The new movie is awesome",
            "Do you like pizza?",
            "Congratulations! You have been selected for a free cruise; reply with your bank details to claim it.",
            "The meeting has been moved to Thursday at 3pm, please update your calendars accordingly.",
            "Spark schedules barrier tasks together so that every rank starts at the same time.",
            "ok",
            "机器学习是人工智能的一个分支。",
            "Mixed 语言 sentence with English and 中文 together.",
            "Low-rank adapters add fewer than one percent extra parameters to a transformer.");

    @TempDir
    static Path dir;
    private static Path model;

    @BeforeAll
    static void importMiniLm() {
        model = ImportedMiniLm.importTo(dir);
    }

    @Test
    void normalizedEmbeddingsMatchOnnxRuntimeThroughTheCli() throws Exception {
        Path input = dir.resolve("sentences.txt");
        Files.write(input, SENTENCES, StandardCharsets.UTF_8);
        Path stdout = dir.resolve("stdout.jsonl");
        Path stderr = dir.resolve("stderr.txt");
        Process p = new ProcessBuilder(LAUNCHER.toString(), "embed", "--model", model.toString(), "--normalize",
                "--batch-size", "4")
                .redirectInput(input.toFile()).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "sparktune embed did not finish");
        String err = Files.readString(stderr, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), err);
        List<String> lines = Files.readAllLines(stdout, StandardCharsets.UTF_8);
        assertEquals(SENTENCES.size(), lines.size(), "one line per sentence; stderr: " + err);

        double worst = 1;
        try (OrtEnvironment ort = OrtEnvironment.getEnvironment();
             OrtSession session = ort.createSession(dir.resolve("onnx/model.onnx").toString(),
                     new OrtSession.SessionOptions());
             HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(dir.resolve("onnx/tokenizer.json"))) {
            for (int i = 0; i < SENTENCES.size(); i++) {
                JsonArray array = JsonParser.parseString(lines.get(i)).getAsJsonArray();
                double[] ours = new double[array.size()];
                for (int d = 0; d < ours.length; d++) {
                    ours[d] = array.get(d).getAsDouble();
                }
                double[] reference = onnxEmbedding(ort, session, tokenizer.encode(SENTENCES.get(i)));
                assertEquals(384, ours.length);
                assertEquals(1.0, norm(ours), 1e-5, "--normalize gives unit vectors");
                double cosine = dot(ours, reference) / (norm(ours) * norm(reference));
                worst = Math.min(worst, cosine);
            }
        }
        System.out.printf("sparktune embed --normalize vs ONNX Runtime over %d sentences: min cosine %.12f"
                + " (1 - cosine = %.3g)%n", SENTENCES.size(), worst, 1 - worst);
        assertTrue(worst >= 0.99999, "min cosine " + worst);
    }

    @Test
    void eachBatchIsPrintedBeforeTheInputEnds() throws Exception {
        Process p = new ProcessBuilder(LAUNCHER.toString(), "embed", "--model", model.toString(), "--batch-size", "1")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (Writer in = new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8);
             BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String sentence : SENTENCES.subList(0, 3)) {
                in.write(sentence + "\n");
                in.flush();
                // stdin stays open: the line can only come back if the command streams
                String line = CompletableFuture.supplyAsync(() -> readLine(out)).get(3, TimeUnit.MINUTES);
                assertEquals(384, JsonParser.parseString(line).getAsJsonArray().size());
            }
            in.close();
            assertEquals(null, out.readLine());
        } finally {
            assertTrue(p.waitFor(1, TimeUnit.MINUTES), "sparktune embed did not end with its input");
        }
        assertEquals(0, p.exitValue());
    }

    private static String readLine(BufferedReader reader) {
        try {
            return reader.readLine();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** sentence-transformers' Pooling(mean) then Normalize, in double, on ONNX Runtime's last_hidden_state. */
    private static double[] onnxEmbedding(OrtEnvironment ort, OrtSession session, Encoding encoding) throws Exception {
        long[][] ids = {encoding.getIds()};
        long[][] mask = {encoding.getAttentionMask()};
        long[][] types = {new long[ids[0].length]};
        try (OnnxTensor a = OnnxTensor.createTensor(ort, ids);
             OnnxTensor b = OnnxTensor.createTensor(ort, mask);
             OnnxTensor c = OnnxTensor.createTensor(ort, types);
             OrtSession.Result result = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
            float[][] hidden = ((float[][][]) result.get(0).getValue())[0];
            double[] mean = new double[hidden[0].length];
            int count = 0;
            for (int t = 0; t < hidden.length; t++) {
                if (mask[0][t] == 1) {
                    count++;
                    for (int d = 0; d < mean.length; d++) {
                        mean[d] += hidden[t][d];
                    }
                }
            }
            for (int d = 0; d < mean.length; d++) {
                mean[d] /= count;
            }
            double n = norm(mean);
            for (int d = 0; d < mean.length; d++) {
                mean[d] /= n;
            }
            return mean;
        }
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double norm(double[] a) {
        return Math.sqrt(dot(a, a));
    }
}
