package dev.sparktune.clean;

import com.github.pemistahl.lingua.api.Language;
import dev.sparktune.rows.PrepRows;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Cleans one prepared row: every text field ({@code text}, {@code system}, each message's {@code content}) is
 * normalised and PII-masked, then the row is checked for emptiness, length and language. The result is the
 * cleaned row, or the reason it cannot be kept.
 */
class RowCleaner implements Serializable {
    private static final long serialVersionUID = 1L;
    /** Lingua is accurate well before this many characters; longer rows are identified by their start. */
    static final int LANGUAGE_SAMPLE_CHARS = 2000;

    /** A cleaned row (in {@link PrepRows#PREPARED} order) or, when it cannot be kept, why. */
    record Outcome(Row row, String reason) {
    }

    private final CleanOptions options;
    private final PiiMasker masker;
    private final Set<Language> detectorLanguages;
    private final Set<Language> keptLanguages;

    RowCleaner(CleanOptions options) {
        this.options = options;
        this.masker = new PiiMasker(options.piiMasks());
        this.detectorLanguages = options.detectorLanguages();
        this.keptLanguages = options.keptLanguages();
    }

    String cleanText(String s) {
        if (s == null) {
            return null;
        }
        return masker.mask(TextNormalizer.normalize(s, options.stripHtml()));
    }

    Outcome clean(Row in) {
        String system = cleanText(in.getString(in.fieldIndex(PrepRows.SYSTEM)));
        if (system != null && system.isEmpty()) {
            system = null; // a system prompt that was only markup or whitespace is no system prompt
        }
        String text = cleanText(in.getString(in.fieldIndex(PrepRows.TEXT)));
        int messagesAt = in.fieldIndex(PrepRows.MESSAGES);
        List<Row> messages = null;
        StringBuilder sample = new StringBuilder();
        long chars = length(system) + length(text);
        String reason = null;
        if (text != null) {
            sample.append(text);
            if (text.isEmpty()) {
                reason = "text is empty after cleaning (it held only markup, control characters or whitespace)";
            }
        }
        if (!in.isNullAt(messagesAt)) {
            List<Row> turns = in.getList(messagesAt);
            messages = new ArrayList<>(turns.size());
            for (int i = 0; i < turns.size(); i++) {
                Row turn = turns.get(i);
                String role = turn.getString(0);
                String content = cleanText(turn.getString(1));
                if ((content == null || content.isEmpty()) && reason == null) {
                    reason = "message " + (i + 1) + " (" + role + ") is empty after cleaning"
                            + " (it held only markup, control characters or whitespace)";
                }
                content = content == null ? "" : content;
                chars += length(content);
                if (sample.length() < LANGUAGE_SAMPLE_CHARS) {
                    sample.append(sample.length() == 0 ? "" : "\n").append(content);
                }
                messages.add(RowFactory.create(role, content));
            }
            if (turns.isEmpty() && text == null && reason == null) {
                reason = "the row has no messages and no text";
            }
        } else if (text == null && reason == null) {
            reason = "the row has no messages and no text";
        }
        if (reason == null) {
            reason = lengthProblem(chars);
        }
        if (reason == null && !options.languages().isEmpty()) {
            reason = languageProblem(sample.length() > LANGUAGE_SAMPLE_CHARS
                    ? sample.substring(0, LANGUAGE_SAMPLE_CHARS) : sample.toString());
        }
        if (reason != null) {
            return new Outcome(null, reason);
        }
        Object[] values = new Object[PrepRows.PREPARED.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = in.get(in.fieldIndex(PrepRows.PREPARED.fields()[i].name()));
        }
        values[PrepRows.PREPARED.fieldIndex(PrepRows.SYSTEM)] = system;
        values[PrepRows.PREPARED.fieldIndex(PrepRows.TEXT)] = text;
        values[PrepRows.PREPARED.fieldIndex(PrepRows.MESSAGES)] =
                messages == null ? null : CollectionConverters.asScala(messages).toSeq();
        return new Outcome(RowFactory.create(values), null);
    }

    private String lengthProblem(long chars) {
        if (chars < options.minChars()) {
            return "too short: " + chars + " characters after cleaning, fewer than min_chars " + options.minChars();
        }
        if (options.maxChars() > 0 && chars > options.maxChars()) {
            return "too long: " + chars + " characters after cleaning, more than max_chars " + options.maxChars()
                    + " (raise max_chars or split such documents before prep)";
        }
        return null;
    }

    private String languageProblem(String maskedSample) {
        String sample = maskedSample;
        for (String token : options.piiMasks().values()) {
            sample = sample.replace(token, " "); // the letters of <PHONE> would count as a word of some language
        }
        String code = LanguageIdentifier.identify(sample, detectorLanguages, options.languageMinDistance());
        String among = detectorLanguages.stream().map(LanguageIdentifier::code).sorted()
                .collect(Collectors.joining(", ", "[", "]"));
        if (code == null) {
            return "language could not be identified among " + among
                    + " (no letters, or too close between languages; lower language_min_distance or add the"
                    + " language to languages)";
        }
        Set<Language> keep = keptLanguages;
        if (keep.contains(LanguageIdentifier.language(code, "languages"))) {
            return null;
        }
        return "language is " + code + ", not one of the kept languages "
                + keep.stream().map(LanguageIdentifier::code).sorted().collect(Collectors.joining(", ", "[", "]"))
                + " (add " + code + " to languages to keep such rows)";
    }

    private static long length(String s) {
        return s == null ? 0 : s.codePointCount(0, s.length());
    }
}
