package dev.sparktune.augment;

/**
 * The result of translating one text: the translation, or why there is none ({@code unavailable}: the server was
 * down or too slow; otherwise it answered with an error).
 */
public record TranslationOutcome(String text, String failure, boolean unavailable) {
    public static TranslationOutcome ok(String text) {
        return new TranslationOutcome(text, null, false);
    }

    public static TranslationOutcome failed(TranslationException e) {
        return new TranslationOutcome(null, e.getMessage(), e.unavailable());
    }

    public boolean succeeded() {
        return failure == null;
    }
}
