package dev.sparktune.pack;

import dev.sparktune.io.TokenizedRow;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.RecordFailure;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.SpecialToken;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.SftEncoder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Tokenizes one prepared row by its format, with the model module's classes:
 * <ul>
 *   <li>{@code alpaca} / {@code sharegpt}: {@link SftEncoder} (chat template, labels -100 outside assistant
 *       replies unless {@code train_on_prompt}, cut to {@code cutoff_len}); a row left with no scored token (every
 *       reply past the cut, or no reply at all) is rejected;</li>
 *   <li>{@code text}: the text with the tokenizer's special tokens, then EOS if the model has one and the tokenizer
 *       did not add it (LLaMA-Factory's pretraining stage appends it too, so the model learns where a document
 *       ends), cut into consecutive pieces of {@code cutoff_len} tokens; every token is kept, none dropped;</li>
 *   <li>{@code classification}: the text with special tokens, cut to {@code cutoff_len} (keeping its last
 *       {@code cutoff_tail_len} tokens beside its start, or on the tokenizer's truncation side when that is 0), and
 *       the label's index in the label vocabulary; an unknown label is rejected.</li>
 * </ul>
 */
final class RowTokenizer {

    /** What one row became: causal-LM samples, a classification sample, or the reason it was rejected. */
    record Encoded(List<TokenizedRow> samples, long[] classInputIds, Long classIndex, String reason) {
        static Encoded causal(List<TokenizedRow> samples) {
            return new Encoded(samples, null, null, null);
        }

        static Encoded classified(long[] inputIds, long index) {
            return new Encoded(List.of(), inputIds, index, null);
        }

        static Encoded rejected(String reason) {
            return new Encoded(List.of(), null, null, reason);
        }

        boolean isRejected() {
            return reason != null;
        }
    }

    private final Tokenizer tokenizer;
    private final Supplier<ChatTemplate> template;
    private final int cutoffLen;
    private final int cutoffTailLen;
    private final boolean trainOnPrompt;
    private final Map<String, Long> labelIndex;
    private SftEncoder sft;

    /**
     * @param template   called once, on the first SFT row (a model without a chat template still tokenizes text
     *                   and classification rows)
     * @param labelIndex class label to index
     */
    RowTokenizer(Tokenizer tokenizer, Supplier<ChatTemplate> template, int cutoffLen, int cutoffTailLen,
                 boolean trainOnPrompt, Map<String, Long> labelIndex) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.cutoffLen = cutoffLen;
        this.cutoffTailLen = cutoffTailLen;
        this.trainOnPrompt = trainOnPrompt;
        this.labelIndex = labelIndex;
    }

    Encoded encode(PreparedRow row) {
        String format = row.format() == null ? "" : row.format();
        try {
            return switch (format) {
                case PrepRows.FORMAT_ALPACA, PrepRows.FORMAT_SHAREGPT -> conversation(row);
                case PrepRows.FORMAT_TEXT -> text(row);
                case PrepRows.FORMAT_CLASSIFICATION -> classification(row);
                default -> Encoded.rejected("unknown format '" + format + "'; the tokenize stage reads "
                        + String.join(", ", PrepRows.FORMAT_ALPACA, PrepRows.FORMAT_SHAREGPT, PrepRows.FORMAT_TEXT,
                        PrepRows.FORMAT_CLASSIFICATION));
            };
        } catch (RuntimeException e) {
            // template errors (ChatTemplateException), tokenizer errors: this row cannot be tokenized
            return Encoded.rejected(e.getClass().getSimpleName() + ": " + e.getMessage());
        } catch (Error e) {
            return Encoded.rejected(RecordFailure.reason("tokenizing", e)); // rethrows the JVM's own errors
        }
    }

    private Encoded conversation(PreparedRow row) {
        if (row.messages() == null || row.messages().isEmpty()) {
            return Encoded.rejected("a " + row.format() + " row without messages; nothing to learn");
        }
        boolean hasReply = row.messages().stream()
                .anyMatch(m -> m.role().equals(PrepRows.ROLE_ASSISTANT) && !m.content().isEmpty());
        if (!hasReply && !trainOnPrompt) {
            return Encoded.rejected("no non-empty assistant reply; SFT learns only replies (or set "
                    + "data.train_on_prompt)");
        }
        if (sft == null) {
            sft = new SftEncoder(tokenizer, template.get(), cutoffLen, trainOnPrompt);
        }
        TokenizedRow sample = sft.encode(row.conversation());
        if (CausalLmLoss.predictedTokens(sample) == 0) {
            return Encoded.rejected("every assistant reply falls past data.cutoff_len = " + cutoffLen
                    + " tokens, so no token is left to learn; raise cutoff_len or shorten the prompt");
        }
        return Encoded.causal(List.of(sample));
    }

    private Encoded text(PreparedRow row) {
        if (row.text() == null || row.text().isBlank()) {
            return Encoded.rejected("a text row with empty text");
        }
        long[] ids = tokenizer.encode(row.text(), true);
        SpecialToken eos = tokenizer.specialTokens().eos();
        if (eos != null && (ids.length == 0 || ids[ids.length - 1] != eos.id())) {
            ids = Arrays.copyOf(ids, ids.length + 1);
            ids[ids.length - 1] = eos.id();
        }
        if (ids.length == 0) {
            return Encoded.rejected("the text gives no tokens (and the tokenizer adds no special tokens)");
        }
        List<TokenizedRow> pieces = new ArrayList<>((ids.length + cutoffLen - 1) / cutoffLen);
        for (int start = 0; start < ids.length; start += cutoffLen) {
            pieces.add(TokenizedRow.pretraining(Arrays.copyOfRange(ids, start, Math.min(ids.length, start + cutoffLen))));
        }
        return Encoded.causal(pieces);
    }

    private Encoded classification(PreparedRow row) {
        if (row.text() == null || row.text().isBlank()) {
            return Encoded.rejected("a classification row with empty text");
        }
        if (row.label() == null) {
            return Encoded.rejected("a classification row without a label");
        }
        Long index = labelIndex.get(row.label());
        if (index == null) {
            return Encoded.rejected("label '" + row.label() + "' is not one of the class labels "
                    + labelIndex.keySet() + "; add it to the label list or fix the row");
        }
        long[] ids = tokenizer.encodeBatch(List.of(row.text()), cutoffLen, cutoffTailLen).inputIds()[0];
        if (ids.length == 0) {
            return Encoded.rejected("the text gives no tokens (and the tokenizer adds no special tokens)");
        }
        return Encoded.classified(ids, index);
    }
}
