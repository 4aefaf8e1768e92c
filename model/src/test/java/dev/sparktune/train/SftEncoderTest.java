package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.tokenize.ChatMessage;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SFT samples from a real tokenizer (all-MiniLM-L6-v2's WordPiece) and the built-in chatml template. The expected
 * samples are built from chatml written out by hand, each piece encoded on its own: whitespace and punctuation split
 * WordPiece words, so the pieces' tokens concatenate to the whole text's.
 */
class SftEncoderTest {
    private static final long X = CausalLmLoss.IGNORE_INDEX;
    private static final ChatTemplate CHATML = ChatTemplate.builtIn("chatml", null, "<|im_end|>");

    @TempDir
    static Path dir;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, dir.resolve("tokenizer.json"));
        tokenizer = Tokenizer.load(dir);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static TokenizedRow encode(List<ChatMessage> chat, int cutoffLen, boolean trainOnPrompt) {
        return new SftEncoder(tokenizer, CHATML, cutoffLen, trainOnPrompt).encode(chat);
    }

    /** The sample expected from text pieces that alternate prompt, reply, prompt, reply, ... */
    private static TokenizedRow expected(String... pieces) {
        long[] ids = new long[0];
        long[] labels = new long[0];
        for (int i = 0; i < pieces.length; i++) {
            long[] piece = tokenizer.encode(pieces[i], false);
            ids = concat(ids, piece);
            labels = concat(labels, i % 2 == 1 ? piece : LongStream.generate(() -> X).limit(piece.length).toArray());
        }
        return TokenizedRow.sample(ids, labels);
    }

    private static long[] concat(long[] a, long[] b) {
        return LongStream.concat(Arrays.stream(a), Arrays.stream(b)).toArray();
    }

    private static final List<ChatMessage> MULTI_TURN = List.of(
            ChatMessage.system("You are terse."),
            ChatMessage.user("Name a colour."),
            ChatMessage.assistant("Blue."),
            ChatMessage.user("Another one?"),
            ChatMessage.assistant("Green, of course."),
            ChatMessage.user("Thanks!"));

    private static final String[] MULTI_TURN_PIECES = {
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n"
                    + "<|im_start|>assistant\n",
            "Blue.<|im_end|>\n",
            "<|im_start|>user\nAnother one?<|im_end|>\n<|im_start|>assistant\n",
            "Green, of course.<|im_end|>\n",
            "<|im_start|>user\nThanks!<|im_end|>\n"};

    @Test
    void everyNonAssistantTurnIsMaskedAndEveryReplyWithItsEndOfTurnIsLearned() {
        TokenizedRow sample = encode(MULTI_TURN, 1024, false);
        assertEquals(expected(MULTI_TURN_PIECES), sample);
        // the learned tokens, read back: both replies and their end-of-turn text, nothing else
        long[] learned = Arrays.stream(sample.labels()).filter(l -> l != X).toArray();
        assertEquals("blue. < | im _ end | > green, of course. < | im _ end | >", tokenizer.decode(learned, true));
    }

    @Test
    void trainOnPromptLearnsEveryToken() {
        TokenizedRow sample = encode(MULTI_TURN, 1024, true);
        assertEquals(TokenizedRow.pretraining(expected(MULTI_TURN_PIECES).inputIds()), sample);
    }

    @Test
    void cutoffLenKeepsTheFirstTokens() {
        TokenizedRow full = encode(MULTI_TURN, 1024, false);
        TokenizedRow cut = encode(MULTI_TURN, 30, false);
        assertEquals(30, cut.length());
        assertArrayEquals(Arrays.copyOf(full.inputIds(), 30), cut.inputIds());
        assertArrayEquals(Arrays.copyOf(full.labels(), 30), cut.labels());
        assertEquals(0, CausalLmLoss.predictedTokens(encode(MULTI_TURN, 5, false)), "the first reply starts past token 5");
    }

    /**
     * The loss on a tiny random Llama whose vocabulary is the tokenizer's (30522 ids, so no id is remapped), with
     * the inputs held fixed: labels from a conversation whose prompt says dog instead of cat leave the loss exactly
     * as it was, labels from one whose reply says dog instead of cat change it.
     */
    @Test
    void theLossSeesResponseTokensAndNeverPromptTokens() {
        List<ChatMessage> original = List.of(ChatMessage.user("my cat is black"), ChatMessage.assistant("the cat sleeps"));
        List<ChatMessage> promptChanged = List.of(ChatMessage.user("my dog is black"), original.get(1));
        List<ChatMessage> replyChanged = List.of(original.get(0), ChatMessage.assistant("the dog sleeps"));

        String json = TinyModels.llamaJson("llama", 4, 2, false, "")
                .replace("\"vocab_size\": 61", "\"vocab_size\": " + tokenizer.vocabSize());
        assertTrue(json.contains("\"vocab_size\": 30522"), json);
        LlamaConfig config = TinyModels.llamaConfig(json);
        try (NDManager manager = NDManager.newBaseManager()) {
            Llama model = new Llama(config, TinyModels.randomWeights(config.parameterShapes(), manager, DataType.FLOAT32, 9));
            TokenizedRow sample = encode(original, 1024, false);
            NDArray ids = manager.create(new long[][] {sample.inputIds()});
            NDArray logits = model.logits(ids, TinyModels.positions(manager, 1, sample.length()),
                    AttentionMask.causal(null), null);

            double base = loss(logits, sample, manager);
            TokenizedRow promptSample = encode(promptChanged, 1024, false);
            TokenizedRow replySample = encode(replyChanged, 1024, false);
            assertEquals(sample.length(), promptSample.length(), "cat and dog are one token each");
            assertEquals(sample.length(), replySample.length(), "cat and dog are one token each");

            assertEquals(base, loss(logits, promptSample, manager), "a prompt token's label must not matter");
            assertNotEquals(base, loss(logits, replySample, manager), "a reply token's label must matter");
            // and the prompt token did have a say once the prompt is trained on
            assertNotEquals(loss(logits, encode(original, 1024, true), manager),
                    loss(logits, encode(promptChanged, 1024, true), manager));
        }
    }

    private static double loss(NDArray logits, TokenizedRow sample, NDManager manager) {
        return CausalLmLoss.FLOAT32.mean(logits, manager.create(new long[][] {sample.labels()}))
                .toType(DataType.FLOAT64, false).getDouble();
    }
}
