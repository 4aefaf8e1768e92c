package dev.sparktune.clean;

import com.github.pemistahl.lingua.api.Language;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the clean stage does.
 *
 * @param stripHtml       turn HTML into its visible text and decode entities ({@code strip_html})
 * @param minChars        reject rows with fewer characters (Unicode code points, all text fields together) after
 *                        cleaning ({@code min_chars}); 1 rejects only empty rows
 * @param maxChars        reject rows with more characters after cleaning; 0 means no limit ({@code max_chars})
 * @param languages       ISO 639-1 codes of the languages to keep ({@code languages}); empty keeps every language
 *                        and skips identification
 * @param detectLanguages further languages the detector knows so that rows written in them are recognised and
 *                        rejected ({@code detect_languages}); Lingua chooses only among {@code languages} plus these
 * @param languageMinDistance Lingua's minimum relative distance: above 0, rows whose two likeliest languages are
 *                        this close count as unidentified and are rejected ({@code language_min_distance})
 * @param piiMasks        the kinds of personal data to mask and each one's token ({@code pii}); empty masks nothing
 */
public record CleanOptions(
        boolean stripHtml,
        int minChars,
        int maxChars,
        List<String> languages,
        List<String> detectLanguages,
        double languageMinDistance,
        Map<PiiKind, String> piiMasks) implements Serializable {

    public CleanOptions {
        languages = List.copyOf(languages);
        detectLanguages = List.copyOf(detectLanguages);
        piiMasks = piiMasks.isEmpty() ? Map.of() : Map.copyOf(new EnumMap<>(piiMasks));
        if (minChars < 0) {
            throw new IllegalArgumentException("clean option min_chars is " + minChars + ": use 0 or more");
        }
        if (maxChars < 0 || (maxChars > 0 && maxChars < minChars)) {
            throw new IllegalArgumentException("clean option max_chars is " + maxChars
                    + ": use 0 (no limit) or a number at least min_chars (" + minChars + ")");
        }
        if (languageMinDistance < 0 || languageMinDistance >= 1) {
            throw new IllegalArgumentException("clean option language_min_distance is " + languageMinDistance
                    + ": use a number in [0, 0.99]");
        }
        Set<Language> keep = LanguageIdentifier.languages(languages, "clean option languages");
        Set<Language> all = EnumSet.noneOf(Language.class);
        all.addAll(keep);
        all.addAll(LanguageIdentifier.languages(detectLanguages, "clean option detect_languages"));
        if (!keep.isEmpty() && all.size() < 2) {
            throw new IllegalArgumentException("clean option languages is " + languages + " and detect_languages is "
                    + detectLanguages + ": a detector that knows one language calls everything that language; add"
                    + " the languages your data may also contain to detect_languages (e.g. [de, fr, es, zh])");
        }
        for (Map.Entry<PiiKind, String> e : piiMasks.entrySet()) {
            if (e.getValue() == null || e.getValue().isEmpty()) {
                throw new IllegalArgumentException("clean option pii: the mask token for "
                        + e.getKey().name().toLowerCase(java.util.Locale.ROOT) + " is empty; give a token such as "
                        + e.getKey().defaultMask());
            }
        }
    }

    /** HTML stripped, empty rows rejected, no length limit, no language filter, every PII kind masked. */
    public static CleanOptions defaults() {
        return new CleanOptions(true, 1, 0, List.of(), List.of(), 0.0, defaultMasks(EnumSet.allOf(PiiKind.class)));
    }

    /** The default token for each of {@code kinds}. */
    public static Map<PiiKind, String> defaultMasks(Set<PiiKind> kinds) {
        Map<PiiKind, String> out = new EnumMap<>(PiiKind.class);
        for (PiiKind k : kinds) {
            out.put(k, k.defaultMask());
        }
        return out;
    }

    public CleanOptions withLanguages(List<String> keep, List<String> alsoDetect) {
        return new CleanOptions(stripHtml, minChars, maxChars, keep, alsoDetect, languageMinDistance, piiMasks);
    }

    public CleanOptions withLengths(int min, int max) {
        return new CleanOptions(stripHtml, min, max, languages, detectLanguages, languageMinDistance, piiMasks);
    }

    public CleanOptions withPiiMasks(Map<PiiKind, String> masks) {
        return new CleanOptions(stripHtml, minChars, maxChars, languages, detectLanguages, languageMinDistance, masks);
    }

    /** Every language the detector is built from: the kept ones first, then the ones only detected. */
    Set<Language> detectorLanguages() {
        List<String> codes = new ArrayList<>(languages);
        codes.addAll(detectLanguages);
        return LanguageIdentifier.languages(codes, "clean option languages");
    }

    Set<Language> keptLanguages() {
        return LanguageIdentifier.languages(languages, "clean option languages");
    }
}
