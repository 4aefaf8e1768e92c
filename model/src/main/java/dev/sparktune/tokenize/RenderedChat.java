package dev.sparktune.tokenize;

import java.util.List;

/** A conversation rendered for training: the prompt text and where each assistant reply lies in it, in order. */
public record RenderedChat(String text, List<AssistantSpan> assistantSpans) {

    public RenderedChat {
        assistantSpans = List.copyOf(assistantSpans);
    }
}
