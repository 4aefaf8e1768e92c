package dev.sparktune.augment;

/**
 * A batch a {@link Translator} could not translate. {@code unavailable} is true when the server could not be
 * reached or did not answer in time after every retry (the rows pass through unaugmented and are counted as
 * {@code translator_unavailable}); false when it answered with an error or something unreadable
 * ({@code translator_error}).
 */
public final class TranslationException extends Exception {
    private final boolean unavailable;

    public TranslationException(String message, boolean unavailable, Throwable cause) {
        super(message, cause);
        this.unavailable = unavailable;
    }

    public TranslationException(String message, boolean unavailable) {
        this(message, unavailable, null);
    }

    public boolean unavailable() {
        return unavailable;
    }
}
