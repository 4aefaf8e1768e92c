package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.cli.GenerateCommandTest.Run;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.tokenize.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sparktune embed} in-process on a tiny random BERT with MiniLM's tokenizer, against each sentence run alone
 * through the encoder and pooled in double. (EmbedLauncherIT checks the real all-MiniLM-L6-v2 against ONNX Runtime.)
 */
class EmbedCommandTest {
    private static final List<String> SENTENCES = List.of(
            "A man is eating food.",
            "ok",
            "The meeting has been moved to Thursday at 3pm, please update your calendars.",
            "",
            "机器学习是人工智能的一个分支。");

    @TempDir
    static Path dir;
    private static Path model;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyModels.writeRandom(dir.resolve("tiny-bert"), TinyModels.bertJson()
                .replace("\"vocab_size\": 50", "\"vocab_size\": 30522"), 4);
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, model.resolve("tokenizer.json"));
    }

    /** Last-layer token embeddings of one sentence alone, [tokens][hidden], in double. */
    private static double[][] tokenEmbeddings(String sentence) {
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizer.load(model)) {
            Bert bert = (Bert) ModelDirectory.open(model).load(manager, DataType.FLOAT32);
            long[] ids = tokenizer.encode(sentence);
            NDArray hidden = bert.hiddenStates(manager.create(new long[][] {ids}), null,
                    TinyModels.positions(manager, 1, ids.length), AttentionMask.bidirectional(null));
            float[] flat = hidden.toFloatArray();
            int width = (int) hidden.getShape().get(2);
            double[][] out = new double[ids.length][width];
            for (int t = 0; t < ids.length; t++) {
                for (int d = 0; d < width; d++) {
                    out[t][d] = flat[t * width + d];
                }
            }
            return out;
        }
    }

    private static double[] parse(String line) {
        JsonArray array = JsonParser.parseString(line).getAsJsonArray();
        double[] v = new double[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).getAsDouble();
        }
        return v;
    }

    private static String stdin() {
        return String.join("\n", SENTENCES) + "\n";
    }

    @Test
    void meanPoolingInBatchesWithPaddingMatchesEachSentenceAlone() {
        Run run = GenerateCommandTest.sparktune(stdin(), "embed", "--model", model.toString(), "--batch-size", "2");

        assertEquals(0, run.exitCode(), run.stderr());
        List<String> lines = run.lines();
        assertEquals(SENTENCES.size(), lines.size());
        for (int i = 0; i < SENTENCES.size(); i++) {
            double[][] tokens = tokenEmbeddings(SENTENCES.get(i));
            double[] ours = parse(lines.get(i));
            assertEquals(32, ours.length);
            for (int d = 0; d < ours.length; d++) {
                double mean = 0;
                for (double[] token : tokens) {
                    mean += token[d] / tokens.length;
                }
                assertEquals(mean, ours[d], 1e-4, "sentence " + i + ", dimension " + d);
            }
        }
    }

    @Test
    void clsPoolingTakesTheFirstTokenAndNormalizeGivesUnitVectors() {
        Run run = GenerateCommandTest.sparktune(stdin(), "embed", "--model", model.toString(), "--pooling", "cls",
                "--normalize", "--batch-size", "3");

        assertEquals(0, run.exitCode(), run.stderr());
        List<String> lines = run.lines();
        assertEquals(SENTENCES.size(), lines.size());
        for (int i = 0; i < SENTENCES.size(); i++) {
            double[] first = tokenEmbeddings(SENTENCES.get(i))[0];
            double norm = Math.sqrt(java.util.Arrays.stream(first).map(x -> x * x).sum());
            double[] ours = parse(lines.get(i));
            for (int d = 0; d < ours.length; d++) {
                assertEquals(first[d] / norm, ours[d], 1e-5, "sentence " + i + ", dimension " + d);
            }
        }
    }

    @Test
    void userErrorsExitWithTwoAndAMessage() throws IOException {
        Run missing = GenerateCommandTest.sparktune("hi\n", "embed", "--model", dir.resolve("nowhere").toString());
        assertEquals(2, missing.exitCode());
        assertTrue(missing.stderr().contains("does not exist"), missing.stderr());

        Path llama = TinyModels.writeRandom(dir.resolve("tiny-llama"), TinyModels.llamaJson("llama", 4, 2, false, "")
                .replace("\"vocab_size\": 61", "\"vocab_size\": 30522"), 3);
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, llama.resolve("tokenizer.json"));
        Run decoder = GenerateCommandTest.sparktune("hi\n", "embed", "--model", llama.toString());
        assertEquals(2, decoder.exitCode());
        assertTrue(decoder.stderr().contains("is a decoder"), decoder.stderr());

        Run pooling = GenerateCommandTest.sparktune("hi\n", "embed", "--model", model.toString(), "--pooling", "max");
        assertEquals(2, pooling.exitCode());
        assertTrue(pooling.stderr().contains("--pooling must be mean or cls"), pooling.stderr());
    }
}
