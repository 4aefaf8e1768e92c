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
    /** A first guess of the characters a token takes, generous for English (about 4) so that one try usually does. */
    private static final int CHARS_PER_TOKEN = 8;

    private final HuggingFaceTokenizer hf;
    private final Vocabulary vocabulary;
    private final TokenizerConfig config;
    private final SpecialTokens specialTokens;
    private final Framing framing;
    private final Path tokenizerJson;
    private final boolean cutsAtWhitespace;

    private Tokenizer(HuggingFaceTokenizer hf, Vocabulary vocabulary, TokenizerConfig config,
                      SpecialTokens specialTokens, Framing framing, Path tokenizerJson) {
        this.cutsAtWhitespace = WhitespaceCuts.exact(tokenizerJson);
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
        int first;
        int last;
        if (tailLength > 0) {
            first = contentLength - tailLength;
            last = tailLength;
        } else {
            first = config.truncationSide() == Side.RIGHT ? contentLength : 0;
            last = contentLength - first;
        }
        List<long[]> rows = new ArrayList<>(texts.size());
        for (long[] content : contents(texts, contentLength, first, last)) {
            rows.add(framing.wrap(content));
        }
        return EncodedBatch.pad(rows, padId(rows), config.paddingSide());
    }

    /**
     * Each text's tokens, cut to {@code length}: a longer text keeps its {@code first} and its {@code last} tokens
     * ({@code first + last == length}). Where the tokenizer allows it ({@link WhitespaceCuts}), a long text is not
     * encoded whole: only a start and an end long enough for the tokens kept, which gives the same tokens (an e-mail
     * of thousands of tokens cut to 128 costs about 128 tokens' work instead).
     */
    private List<long[]> contents(List<String> texts, int length, int first, int last) {
        int guess = charsFor(length + 1L);
        String[] pieces = new String[texts.size()];
        for (int i = 0; i < pieces.length; i++) {
            // the side that tells whether a text is longer than length: its start, unless only its end is kept
            pieces[i] = first > 0 ? start(texts.get(i), guess) : end(texts.get(i), guess);
        }
        Encoding[] encodings = hf.batchEncode(pieces, false, false);
        List<long[]> contents = new ArrayList<>(pieces.length);
        for (int i = 0; i < pieces.length; i++) {
            String text = texts.get(i);
            long[] ids = encodings[i].getIds();
            for (int chars = charsFor(2L * (length + 1)); pieces[i].length() < text.length() && ids.length <= length;
                    chars = (int) Math.min(2L * chars, text.length())) {
                pieces[i] = first > 0 ? start(text, chars) : end(text, chars);     // too short a piece: a longer one
                ids = hf.encode(pieces[i], false, false).getIds();
            }
            if (ids.length <= length) {
                contents.add(ids);                      // the whole text, which fits
            } else if (pieces[i].length() == text.length()) {
                contents.add(headAndTail(ids, first, last));
            } else {
                long[] content = Arrays.copyOf(first > 0 ? ids : new long[0], length);
                if (last > 0) {
                    long[] tail = first > 0 ? lastTokens(text, last) : ids;    // no start kept: the piece is the end
                    System.arraycopy(tail, tail.length - last, content, first, last);
                }
                contents.add(content);
            }
        }
        return contents;
    }

    /** A first guess of the characters that many tokens take. */
    private static int charsFor(long tokens) {
        return (int) Math.min(Integer.MAX_VALUE, tokens * CHARS_PER_TOKEN);
    }

    /** At least {@code count} of the text's last tokens, from an end of it that is long enough. */
    private long[] lastTokens(String text, int count) {
        for (int chars = charsFor(count + 1L); ; chars = (int) Math.min(2L * chars, text.length())) {
            String piece = end(text, chars);
            long[] ids = hf.encode(piece, false, false).getIds();
            if (ids.length >= count || piece.length() == text.length()) {
                return ids;
            }
        }
    }

    /**
     * The text up to an ASCII whitespace character near {@code chars} (at or before it, else the first after it),
     * or the whole text when it is no longer, has no such cut, or the tokenizer cannot be cut exactly.
     */
    private String start(String text, int chars) {
        if (!cutsAtWhitespace || text.length() <= chars) {
            return text;
        }
        for (int i = chars; i > 0; i--) {
            if (isAsciiWhitespace(text.charAt(i))) {
                return text.substring(0, i);
            }
        }
        for (int i = chars + 1; i < text.length(); i++) {
            if (isAsciiWhitespace(text.charAt(i))) {
                return text.substring(0, i);
            }
        }
        return text;
    }

    /** As {@link #start}, for the text's end: from just after an ASCII whitespace character. */
    private String end(String text, int chars) {
        if (!cutsAtWhitespace || text.length() <= chars) {
            return text;
        }
        for (int i = text.length() - chars; i < text.length(); i++) {
            if (isAsciiWhitespace(text.charAt(i - 1))) {
                return text.substring(i);
            }
        }
        for (int i = text.length() - chars - 1; i > 0; i--) {
            if (isAsciiWhitespace(text.charAt(i - 1))) {
                return text.substring(i);
            }
        }
        return text;
    }

    private static boolean isAsciiWhitespace(char c) {
        return c == ' ' || c == '\n' || c == '\t' || c == '\r';
    }

    /** The first {@code first} and the last {@code last} of {@code ids}, or all of them when they are no more. */
    private static long[] headAndTail(long[] ids, int first, int last) {
        if (ids.length <= first + last) {
            return ids;
        }
        long[] kept = Arrays.copyOf(ids, first + last);
        System.arraycopy(ids, ids.length - last, kept, first, last);
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
