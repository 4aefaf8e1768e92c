/**
 * The clean stage of data prep ({@link dev.sparktune.clean.CleanStage}): per text field ({@code text},
 * {@code system}, each message's {@code content}) MIME leftovers, HTML (jsoup), Unicode NFKC, control characters
 * and whitespace ({@link dev.sparktune.clean.TextNormalizer}), then PII masking
 * ({@link dev.sparktune.clean.PiiMasker}); per row the emptiness, length and language checks (Lingua, built from the
 * configured languages once per executor JVM, {@link dev.sparktune.clean.LanguageIdentifier}).
 * Options: {@link dev.sparktune.clean.CleanOptions}.
 */
package dev.sparktune.clean;
