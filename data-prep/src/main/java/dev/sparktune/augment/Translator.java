package dev.sparktune.augment;

import java.util.List;

/** A machine translation service, one request's worth of texts at a time. */
public interface Translator {
    /** What produced a translation, part of the cache key: a different engine or model is a different entry. */
    String id();

    /**
     * The texts translated from {@code source} to {@code target} (ISO 639-3 codes), in order.
     *
     * @throws TranslationException when the server is down, slow, or answers with an error after every retry
     */
    List<String> translate(String source, String target, List<String> texts) throws TranslationException;
}
