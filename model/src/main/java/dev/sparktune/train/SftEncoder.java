package dev.sparktune.train;

import dev.sparktune.io.TokenizedRow;
import dev.sparktune.tokenize.AssistantSpan;
import dev.sparktune.tokenize.ChatMessage;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.EncodedText;
import dev.sparktune.tokenize.RenderedChat;
import dev.sparktune.tokenize.Tokenizer;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a conversation into an SFT sample: the chat template renders it, the tokenizer encodes the whole text once,
 * and every token outside an assistant reply gets label {@value CausalLmLoss#IGNORE_INDEX}, so the model learns the
 * replies (with the end-of-turn text the template's span includes, so it learns to stop) and never the system or
 * user turns. With {@code train_on_prompt} every token is learned.
 */
public final class SftEncoder {
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final int cutoffLen;
    private final boolean trainOnPrompt;

    public SftEncoder(Tokenizer tokenizer, ChatTemplate template, int cutoffLen, boolean trainOnPrompt) {
        if (cutoffLen < 1) {
            throw new IllegalArgumentException("cutoff_len must be at least 1, got " + cutoffLen);
        }
        this.tokenizer = tokenizer;
        this.template = template;
        this.cutoffLen = cutoffLen;
        this.trainOnPrompt = trainOnPrompt;
    }

    /**
     * The sample for one conversation, cut to its first {@code cutoff_len} tokens (so a long conversation loses its
     * last turns first). A conversation whose replies all fall past the cut has no scored token left; callers that
     * must not lose data silently check {@link CausalLmLoss#predictedTokens}.
     */
    public TokenizedRow encode(List<ChatMessage> conversation) {
        RenderedChat chat = template.renderWithAssistantSpans(conversation);
        // Templates write their own BOS, so no special tokens are added (as apply_chat_template does).
        EncodedText encoded = tokenizer.encodeWithOffsets(chat.text(), false);
        int length = Math.min(cutoffLen, encoded.ids().length);
        long[] ids = Arrays.copyOf(encoded.ids(), length);
        long[] labels = new long[length];
        for (int t = 0; t < length; t++) {
            boolean learned = trainOnPrompt || inReply(encoded.starts()[t], chat.assistantSpans());
            labels[t] = learned ? ids[t] : CausalLmLoss.IGNORE_INDEX;
        }
        return TokenizedRow.sample(ids, labels);
    }

    /**
     * A token belongs to a reply when its first character does: a token that merged the end of the generation
     * prompt with the reply's first characters is one the model never has to produce (at inference the prompt
     * already ends with that cue), so it stays masked.
     */
    private static boolean inReply(int start, List<AssistantSpan> spans) {
        if (start < 0) {
            return false;
        }
        for (AssistantSpan span : spans) {
            if (start >= span.start() && start < span.end()) {
                return true;
            }
        }
        return false;
    }
}
