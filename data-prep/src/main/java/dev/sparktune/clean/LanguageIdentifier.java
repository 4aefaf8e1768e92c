package dev.sparktune.clean;

import com.github.pemistahl.lingua.api.IsoCode639_1;
import com.github.pemistahl.lingua.api.Language;
import com.github.pemistahl.lingua.api.LanguageDetector;
import com.github.pemistahl.lingua.api.LanguageDetectorBuilder;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Language identification with Lingua, built only from the languages a job names (its n-gram models take
 * tens of megabytes per language), once per JVM: executors share one detector across tasks and threads.
 * The models are loaded when the detector is built (detection reads every candidate language's models anyway),
 * so concurrent tasks only ever read them.
 */
public final class LanguageIdentifier {
    private static final Map<Key, LanguageDetector> DETECTORS = new ConcurrentHashMap<>();

    private record Key(Set<Language> languages, double minimumRelativeDistance) {
    }

    private LanguageIdentifier() {
    }

    /**
     * The ISO 639-1 code ({@code en}, {@code zh}) of the language {@code text} is written in, chosen among
     * {@code languages}, or null when Lingua cannot tell (no letters, or the two best languages are closer than
     * {@code minimumRelativeDistance}).
     */
    public static String identify(String text, Set<Language> languages, double minimumRelativeDistance) {
        LanguageDetector detector = DETECTORS.computeIfAbsent(new Key(languages, minimumRelativeDistance),
                key -> LanguageDetectorBuilder.fromLanguages(key.languages().toArray(new Language[0]))
                        .withMinimumRelativeDistance(key.minimumRelativeDistance())
                        .withPreloadedLanguageModels()
                        .build());
        Language language = detector.detectLanguageOf(text);
        return language == Language.UNKNOWN ? null : code(language);
    }

    /** The Lingua languages for ISO 639-1 codes; {@code key} names the config key in the error. */
    public static Set<Language> languages(Collection<String> isoCodes, String key) {
        EnumSet<Language> out = EnumSet.noneOf(Language.class);
        for (String code : isoCodes) {
            out.add(language(code, key));
        }
        return out;
    }

    static Language language(String isoCode, String key) {
        try {
            Language l = Language.Companion.getByIsoCode639_1(
                    IsoCode639_1.valueOf(isoCode.trim().toUpperCase(Locale.ROOT)));
            if (l != Language.UNKNOWN) {
                return l;
            }
        } catch (IllegalArgumentException | IllegalStateException | java.util.NoSuchElementException e) {
            // reported below with the key's name
        }
        throw new IllegalArgumentException(key + ": '" + isoCode + "' is not an ISO 639-1 language code Lingua knows"
                + " (use two-letter codes such as en, de, zh; known: " + knownCodes() + ")");
    }

    static String code(Language language) {
        return language.getIsoCode639_1().name().toLowerCase(Locale.ROOT);
    }

    private static List<String> knownCodes() {
        return Language.Companion.all().stream().map(LanguageIdentifier::code).sorted().toList();
    }
}
