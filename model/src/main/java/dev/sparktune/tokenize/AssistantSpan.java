package dev.sparktune.tokenize;

/**
 * Where one assistant reply lies in a rendered conversation, as char offsets into the prompt text.
 *
 * @param start        where the reply begins: just after the generation prompt (e.g. {@code <|im_start|>assistant\n})
 * @param end          where the turn ends, after the template's end-of-turn text (e.g. {@code <|im_end|>\n});
 *                     {@code [start, end)} is what the model has to produce, the tokens to compute loss on
 * @param contentStart where the message content itself begins, {@code >= start}
 * @param contentEnd   where the message content itself ends, {@code <= end}
 */
public record AssistantSpan(int start, int end, int contentStart, int contentEnd) {
}
