package dev.sparktune.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * The tokenizer of a Hugging Face model directory: {@code tokenizer.json} run by DJL's binding of the Rust
 * tokenizers library, with the special tokens, sides and length limit of {@code tokenizer_config.json}.
 *
 * <p>DJL pads and truncates on its own defaults (and reads tokenizer_config.json its own way), so we switch that
 * off and do framing, truncation and padding here, the way {@code transformers} does. Holds native memory: close it.
 */
public final class Tokenizer implements AutoCloseable {

    private static final String TOKENIZER_JSON = "tokenizer.json";

    private final HuggingFaceTokenizer hf;
    private final Vocabulary vocabulary;
    private final TokenizerConfig config;
    private final SpecialTokens specialTokens;
    private final Framing framing;
    private final Path tokenizerJson;

    private Tokenizer(HuggingFaceTokenizer hf, Vocabulary vocabulary, TokenizerConfig config,
                      SpecialTokens specialTokens, Framing framing, Path tokenizerJson) {
        this.hf = hf;
        this.vocabulary = vocabulary;
        this.config = config;
        this.specialTokens = specialTokens;
        this.framing = framing;
        this.tokenizerJson = tokenizerJson;
    }

    /** Loads {@code tokenizer.json} and, if present, {@code tokenizer_config.json} from a model directory. */
    public static Tokenizer load(Path modelDir) {
        Path json = modelDir.resolve(TOKENIZER_JSON);
        if (!Files.isRegularFile(json)) {
            throw new TokenizerException(json, "no such file; a Hugging Face model directory needs tokenizer.json "
                    + "(the fast tokenizer), e.g. saved by tokenizer.save_pretrained(...) in Python");
        }
        TokenizerConfig config = TokenizerConfig.read(modelDir);
        Vocabulary vocabulary = Vocabulary.read(json);
        SpecialTokens special = new SpecialTokens(
                resolve(config.bosToken(), "bos_token", vocabulary, config),
                resolve(config.eosToken(), "eos_token", vocabulary, config),
                resolve(config.padToken(), "pad_token", vocabulary, config),
                resolve(config.unkToken(), "unk_token", vocabulary, config));
        HuggingFaceTokenizer tokenizer = open(json);
        try {
            Framing framing = framing(config, special, tokenizer, json);
            return new Tokenizer(tokenizer, vocabulary, config, special, framing, json);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /** Encodes with the model's special tokens (e.g. {@code [CLS] ... [SEP]}, {@code <s> ...}); never truncates. */
    public long[] encode(String text) {
        return encode(text, true);
    }

    /**
     * Encodes one text. Use {@code addSpecialTokens = false} for a rendered chat prompt: chat templates write
     * their own BOS.
     */
    public long[] encode(String text, boolean addSpecialTokens) {
        long[] content = hf.encode(text, false, false).getIds();
        return addSpecialTokens ? framing.wrap(content) : content;
    }

    /** Encodes one text and says which characters each token covers. */
    public EncodedText encodeWithOffsets(String text, boolean addSpecialTokens) {
        Encoding encoding = hf.encode(text, false, false);
        long[] content = encoding.getIds();
        CharSpan[] spans = encoding.getCharTokenSpans();
        int[] charIndex = charIndexOfCodePoints(text);
        int before = addSpecialTokens ? framing.prefix().length : 0;
        long[] ids = addSpecialTokens ? framing.wrap(content) : content;
        int[] starts = new int[ids.length];
        int[] ends = new int[ids.length];
        Arrays.fill(starts, -1);
        Arrays.fill(ends, -1);
        for (int i = 0; i < content.length; i++) {
            if (spans[i] != null) {
                starts[before + i] = charIndex[spans[i].getStart()];
                ends[before + i] = charIndex[spans[i].getEnd()];
            }
        }
        return new EncodedText(ids, starts, ends);
    }

    /** Encodes a batch, each row truncated to {@code model_max_length} (if the model has one) and padded. */
    public EncodedBatch encodeBatch(List<String> texts) {
        return encodeBatch(texts, config.modelMaxLength().orElse(Integer.MAX_VALUE));
    }

    /**
     * Encodes a batch with special tokens. Each row is cut to {@code maxLength} tokens (special tokens included,
     * content cut on the {@code truncation_side}), then all rows are padded to the longest on the
     * {@code padding_side}.
     */
    public EncodedBatch encodeBatch(List<String> texts, int maxLength) {
        return encodeBatch(texts, maxLength, 0);
    }

    /**
     * Encodes a batch with special tokens, each row cut to {@code maxLength} tokens (special tokens included), then
     * padded to the longest row on the {@code padding_side}. With {@code tailLength} 0 a longer text's content is cut
     * on the {@code truncation_side}; otherwise it keeps its first tokens and its last {@code tailLength}
     * (head-and-tail truncation, which Sun et al. 2019 found best for long-document classification: an e-mail's
     * subject and opening, and its signature or mailing-list footer).
     */
    public EncodedBatch encodeBatch(List<String> texts, int maxLength, int tailLength) {
        int contentLength = maxLength - framing.size();
        if (contentLength <= 0) {
            throw new IllegalArgumentException("maxLength " + maxLength + " leaves no room for text next to the "
                    + framing.size() + " special tokens every sequence gets");
        }
        if (tailLength < 0 || tailLength >= contentLength) {
            throw new IllegalArgumentException("tailLength " + tailLength + " must be at least 0 and below the "
                    + contentLength + " text tokens that maxLength " + maxLength + " leaves beside the special tokens,"
                    + " so that the start of the text is kept too");
        }
        Encoding[] encodings = hf.batchEncode(texts.toArray(String[]::new), false, false);
        List<long[]> rows = new ArrayList<>(encodings.length);
        for (Encoding encoding : encodings) {
            long[] ids = encoding.getIds();
            long[] content = tailLength == 0
                    ? config.truncationSide().truncate(ids, contentLength)
                    : headAndTail(ids, contentLength, tailLength);
            rows.add(framing.wrap(content));
        }
        return EncodedBatch.pad(rows, padId(rows), config.paddingSide());
    }

    private static long[] headAndTail(long[] ids, int length, int tailLength) {
        if (ids.length <= length) {
            return ids;
        }
        long[] kept = Arrays.copyOf(ids, length);
        System.arraycopy(ids, ids.length - tailLength, kept, length - tailLength, tailLength);
        return kept;
    }

    public String decode(long[] ids, boolean skipSpecialTokens) {
        return hf.decode(ids, skipSpecialTokens);
    }

    /** Number of distinct tokens, added tokens included (Hugging Face's {@code len(tokenizer)}). */
    public int vocabSize() {
        return vocabulary.size();
    }

    public OptionalLong tokenId(String token) {
        return vocabulary.id(token);
    }

    public Optional<String> token(long id) {
        return Optional.ofNullable(vocabulary.token(id));
    }

    public SpecialTokens specialTokens() {
        return specialTokens;
    }

    public Side paddingSide() {
        return config.paddingSide();
    }

    public Side truncationSide() {
        return config.truncationSide();
    }

    public OptionalInt modelMaxLength() {
        return config.modelMaxLength();
    }

    /** The tokenizer_config.json this tokenizer was loaded with (defaults if the directory has none). */
    public TokenizerConfig config() {
        return config;
    }

    @Override
    public void close() {
        hf.close();
    }

    /**
     * The pad token of tokenizer_config.json, else of tokenizer.json's padding section; a model with neither
     * (Llama, Mistral) pads with eos_token, as fine-tuning recipes do. Padded positions are masked out of attention
     * and loss, so the choice only has to be a valid id.
     */
    private long padId(List<long[]> rows) {
        if (specialTokens.pad() != null) {
            return specialTokens.pad().id();
        }
        OptionalLong own = vocabulary.padToken() == null ? OptionalLong.empty() : vocabulary.id(vocabulary.padToken());
        if (own.isPresent()) {
            return own.getAsLong();
        }
        if (specialTokens.eos() != null) {
            return specialTokens.eos().id();
        }
        if (rows.stream().mapToInt(row -> row.length).distinct().count() > 1) {
            throw new TokenizerException(config.source(), "cannot pad: no pad_token or eos_token here and no "
                    + "padding section in " + tokenizerJson);
        }
        return 0;
    }

    private static SpecialToken resolve(String text, String key, Vocabulary vocabulary, TokenizerConfig config) {
        if (text == null) {
            return null;
        }
        OptionalLong id = vocabulary.id(text);
        if (id.isEmpty()) {
            throw new TokenizerException(config.source(), key + " '" + text + "' is not a token of the "
                    + "tokenizer.json beside it");
        }
        return new SpecialToken(text, id.getAsLong());
    }

    private static HuggingFaceTokenizer open(Path json) {
        // Padding and truncation off: tokenizer.json often carries its own (all-MiniLM-L6-v2: pad every text
        // to 128), and DJL would otherwise cut to 512 by default.
        Map<String, String> options = Map.of("padding", "false", "truncation", "false");
        try (InputStream in = Files.newInputStream(json)) {
            return HuggingFaceTokenizer.newInstance(in, options);
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException(json, "the tokenizers library cannot load it: " + e.getMessage(), e);
        }
    }

    private static Framing framing(TokenizerConfig config, SpecialTokens special, HuggingFaceTokenizer tokenizer,
                                   Path json) {
        if (config.framesWithFlags()) {
            boolean bos = Boolean.TRUE.equals(config.addBosToken());
            boolean eos = Boolean.TRUE.equals(config.addEosToken());
            if (bos && special.bos() == null) {
                throw new TokenizerException(config.source(), "add_bos_token is true but bos_token is not set");
            }
            if (eos && special.eos() == null) {
                throw new TokenizerException(config.source(), "add_eos_token is true but eos_token is not set");
            }
            return Framing.fromFlags(bos ? special.bos() : null, eos ? special.eos() : null);
        }
        Framing framing = Framing.probe(tokenizer);
        if (framing == null) {
            throw new TokenizerException(json, "its post_processor does more than put special tokens around a "
                    + "sequence; sparktune cannot frame sequences for it");
        }
        return framing;
    }

    /** DJL reports offsets in code points; Java strings index UTF-16 chars (an emoji is two). */
    private static int[] charIndexOfCodePoints(String text) {
        int[] index = new int[text.codePointCount(0, text.length()) + 1];
        int chars = 0;
        for (int cp = 0; cp < index.length - 1; cp++) {
            index[cp] = chars;
            chars += Character.charCount(text.codePointAt(chars));
        }
        index[index.length - 1] = chars;
        return index;
    }
}
