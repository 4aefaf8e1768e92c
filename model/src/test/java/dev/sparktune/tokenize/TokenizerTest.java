package dev.sparktune.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the real all-MiniLM-L6-v2 tokenizer (BERT uncased). Expected ids are looked up by hand in its vocabulary:
 * [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, hello 7592, world 2088, again 2153, 中 1746, 国 1799, 的 1916,
 * 大 1810, 学 1817.
 */
class TokenizerTest {

    private static final long PAD = 0, UNK = 100, CLS = 101, SEP = 102;
    private static final long HELLO = 7592, WORLD = 2088, AGAIN = 2153;

    private static final String BERT_CONFIG = """
            {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
             "unk_token": {"content": "[UNK]", "lstrip": false, "normalized": false, "special": true},
             "padding_side": "%s", "truncation_side": "%s", "model_max_length": %s}
            """;

    @TempDir
    Path dir;

    private Tokenizer load(String paddingSide, String truncationSide, String modelMaxLength) throws Exception {
        return Tokenizer.load(MiniLmModelDir.create(dir, BERT_CONFIG.formatted(paddingSide, truncationSide,
                modelMaxLength)));
    }

    @Test
    void helloWorldIsClsHelloWorldSep() throws Exception {
        try (Tokenizer tokenizer = Tokenizer.load(MiniLmModelDir.create(dir))) {
            assertArrayEquals(new long[] {CLS, HELLO, WORLD, SEP}, tokenizer.encode("hello world"));
            assertArrayEquals(new long[] {HELLO, WORLD}, tokenizer.encode("Hello World", false), "uncased");
        }
    }

    @Test
    void specialTokensGivenAsTextOrAddedTokenObjectResolveToIds() throws Exception {
        try (Tokenizer tokenizer = load("right", "right", "512")) {
            SpecialTokens special = tokenizer.specialTokens();
            assertEquals(new SpecialToken("[PAD]", PAD), special.pad());
            assertEquals(new SpecialToken("[UNK]", UNK), special.unk());
            assertEquals(Optional.empty(), special.bosToken(), "BERT's config names no bos_token");
            assertEquals(30522, tokenizer.vocabSize());
            assertEquals(OptionalLong.of(HELLO), tokenizer.tokenId("hello"));
            assertEquals(Optional.of("world"), tokenizer.token(WORLD));
            assertEquals(OptionalLong.empty(), tokenizer.tokenId("no-such-token"));
        }
    }

    @Test
    void batchIsPaddedToTheLongestRowOnTheConfiguredSide() throws Exception {
        List<String> texts = List.of("hello", "hello world again");
        try (Tokenizer right = load("right", "right", "512")) {
            EncodedBatch batch = right.encodeBatch(texts);
            assertArrayEquals(new long[] {CLS, HELLO, SEP, PAD, PAD}, batch.inputIds()[0]);
            assertArrayEquals(new long[] {CLS, HELLO, WORLD, AGAIN, SEP}, batch.inputIds()[1]);
            assertArrayEquals(new long[] {1, 1, 1, 0, 0}, batch.attentionMask()[0]);
            assertArrayEquals(new long[] {1, 1, 1, 1, 1}, batch.attentionMask()[1]);
        }
        try (Tokenizer left = load("left", "right", "512")) {
            assertEquals(Side.LEFT, left.paddingSide());
            EncodedBatch batch = left.encodeBatch(texts);
            assertArrayEquals(new long[] {PAD, PAD, CLS, HELLO, SEP}, batch.inputIds()[0]);
            assertArrayEquals(new long[] {CLS, HELLO, WORLD, AGAIN, SEP}, batch.inputIds()[1]);
            assertArrayEquals(new long[] {0, 0, 1, 1, 1}, batch.attentionMask()[0]);
        }
    }

    @Test
    void truncationCutsTheConfiguredSideAndKeepsTheSpecialTokens() throws Exception {
        List<String> texts = List.of("hello world again", "hello");
        try (Tokenizer right = load("right", "right", "512")) {
            EncodedBatch batch = right.encodeBatch(texts, 4);
            assertArrayEquals(new long[] {CLS, HELLO, WORLD, SEP}, batch.inputIds()[0]);
            assertArrayEquals(new long[] {CLS, HELLO, SEP, PAD}, batch.inputIds()[1]);
        }
        try (Tokenizer left = load("right", "left", "512")) {
            assertArrayEquals(new long[] {CLS, WORLD, AGAIN, SEP}, left.encodeBatch(texts, 4).inputIds()[0]);
            assertThrows(IllegalArgumentException.class, () -> left.encodeBatch(texts, 2),
                    "two tokens hold only [CLS] and [SEP]");
        }
    }

    @Test
    void headAndTailTruncationKeepsTheStartAndTheLastTokensOfALongText() throws Exception {
        List<String> texts = List.of("hello world again hello", "hello again");
        try (Tokenizer tokenizer = load("right", "left", "512")) {
            EncodedBatch batch = tokenizer.encodeBatch(texts, 5, 1);
            assertArrayEquals(new long[] {CLS, HELLO, WORLD, HELLO, SEP}, batch.inputIds()[0],
                    "two head tokens and one tail token; truncation_side is not used");
            assertArrayEquals(new long[] {CLS, HELLO, AGAIN, SEP, PAD}, batch.inputIds()[1], "a short text is whole");
            assertArrayEquals(tokenizer.encodeBatch(texts, 5).inputIds()[1], batch.inputIds()[1]);
            assertThrows(IllegalArgumentException.class, () -> tokenizer.encodeBatch(texts, 5, 3),
                    "a tail of all three text tokens would keep nothing of the start");
            assertThrows(IllegalArgumentException.class, () -> tokenizer.encodeBatch(texts, 5, -1));
        }
    }

    @Test
    void modelMaxLengthIsTheDefaultTruncationAndHuggingFacesHugeValueMeansNone() throws Exception {
        try (Tokenizer tokenizer = load("right", "right", "3")) {
            assertArrayEquals(new long[] {CLS, HELLO, SEP}, tokenizer.encodeBatch(List.of("hello world again"))
                    .inputIds()[0]);
            assertArrayEquals(new long[] {CLS, HELLO, WORLD, AGAIN, SEP}, tokenizer.encode("hello world again"),
                    "a single encode does not truncate, as in transformers");
        }
        try (Tokenizer tokenizer = load("right", "right", "1000000000000000019884624838656")) {
            assertTrue(tokenizer.modelMaxLength().isEmpty());
            assertEquals(5, tokenizer.encodeBatch(List.of("hello world again")).length());
        }
    }

    @Test
    void decodeRoundTripsAndSkipsSpecialTokensOnRequest() throws Exception {
        try (Tokenizer tokenizer = load("left", "right", "512")) {
            long[] ids = tokenizer.encode("Hello, world again!");
            assertEquals("hello, world again!", tokenizer.decode(ids, true));
            assertEquals("[CLS] hello, world again! [SEP]", tokenizer.decode(ids, false));
            assertArrayEquals(ids, tokenizer.encode(tokenizer.decode(ids, true)));

            long[] padded = tokenizer.encodeBatch(List.of("hello", "hello world")).inputIds()[0];
            assertEquals(PAD, padded[0]);
            assertEquals("hello", tokenizer.decode(padded, true));
        }
    }

    @Test
    void chineseIsSplitOneCharacterPerTokenAndRoundTrips() throws Exception {
        try (Tokenizer tokenizer = Tokenizer.load(MiniLmModelDir.create(dir))) {
            long[] ids = tokenizer.encode("中国的大学");
            assertArrayEquals(new long[] {CLS, 1746, 1799, 1916, 1810, 1817, SEP}, ids);
            String decoded = tokenizer.decode(ids, true);
            assertEquals("中 国 的 大 学", decoded, "BERT's decoder joins tokens with spaces");
            assertArrayEquals(ids, tokenizer.encode(decoded));
            // 你 is not among the 244 CJK characters of this vocabulary.
            assertArrayEquals(new long[] {CLS, 1746, UNK, SEP}, tokenizer.encode("中你"));
        }
    }

    @Test
    void offsetsAreJavaCharIndicesEvenPastCharactersOutsideTheBmp() throws Exception {
        try (Tokenizer tokenizer = Tokenizer.load(MiniLmModelDir.create(dir))) {
            String text = "héllo 😀 world";
            EncodedText encoded = tokenizer.encodeWithOffsets(text, true);
            assertArrayEquals(new long[] {CLS, HELLO, UNK, WORLD, SEP}, encoded.ids());
            assertArrayEquals(new int[] {-1, 0, 6, 9, -1}, encoded.starts());
            assertArrayEquals(new int[] {-1, 5, 8, 14, -1}, encoded.ends());
            assertEquals("world", text.substring(encoded.starts()[3], encoded.ends()[3]));
            assertEquals("😀", text.substring(encoded.starts()[2], encoded.ends()[2]));
        }
    }

    @Test
    void llamaStyleFlagsReplaceThePostProcessorsFraming() throws Exception {
        String config = """
                {"bos_token": "[CLS]", "eos_token": "[SEP]", "add_bos_token": %s, "add_eos_token": %s}""";
        try (Tokenizer bosOnly = Tokenizer.load(MiniLmModelDir.create(dir, config.formatted("true", "false")))) {
            assertArrayEquals(new long[] {CLS, HELLO, WORLD}, bosOnly.encode("hello world"));
        }
        MiniLmModelDir.create(dir, config.formatted("false", "true"));
        MiniLmModelDir.dropPaddingSection(dir);
        try (Tokenizer eosOnly = Tokenizer.load(dir)) {
            assertArrayEquals(new long[] {HELLO, WORLD, SEP}, eosOnly.encode("hello world"));
            // No pad token anywhere: batches pad with eos, and truncation keeps the eos.
            EncodedBatch batch = eosOnly.encodeBatch(List.of("hello world again", "hello"), 3);
            assertArrayEquals(new long[] {HELLO, WORLD, SEP}, batch.inputIds()[0]);
            assertArrayEquals(new long[] {HELLO, SEP, SEP}, batch.inputIds()[1]);
            assertArrayEquals(new long[] {1, 1, 0}, batch.attentionMask()[1]);
        }
    }

    @Test
    void missingTokenizerJsonIsNamed() {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer.json") + ": no such file"), e.getMessage());
    }

    @Test
    void brokenTokenizerJsonIsNamed() throws Exception {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {\"a\": 0}, ");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer.json") + ": not a Hugging Face tokenizer.json"),
                e.getMessage());
    }

    @Test
    void specialTokenOutsideTheVocabularyIsNamed() throws Exception {
        MiniLmModelDir.create(dir, "{\"pad_token\": \"<pad>\"}");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertEquals(dir.resolve("tokenizer_config.json") + ": pad_token '<pad>' is not a token of the "
                + "tokenizer.json beside it", e.getMessage());
    }
}
