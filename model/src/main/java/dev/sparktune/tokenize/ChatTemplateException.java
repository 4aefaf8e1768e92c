package dev.sparktune.tokenize;

/** A chat template that cannot be found or rendered, or that rejected a conversation via raise_exception. */
public final class ChatTemplateException extends RuntimeException {

    public ChatTemplateException(String message) {
        super(message);
    }

    /**
     * The {@code raise_exception(message)} function Hugging Face chat templates call to reject a conversation.
     * Public because jinjava invokes template functions by reflection.
     */
    public static String raise(String message) {
        throw new Raised(message);
    }

    /** Thrown inside the template engine; {@link JinjaEnvironment} turns it into a ChatTemplateException. */
    static final class Raised extends RuntimeException {
        Raised(String message) {
            super(message);
        }
    }
}
