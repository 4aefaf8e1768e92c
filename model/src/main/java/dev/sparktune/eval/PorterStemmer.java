package dev.sparktune.eval;

import java.util.Map;
import java.util.function.Predicate;

/**
 * The Porter stemmer (M. F. Porter, 1980, "An algorithm for suffix stripping", Program 14(3): 130-137) in the
 * variant NLTK calls {@code PorterStemmer.NLTK_EXTENSIONS}, its default mode and the one Google's
 * {@code rouge-score} uses ({@code porter.PorterStemmer()} in {@code rouge/tokenizers.py}). NLTK's extensions to
 * the paper, each marked below: a table of irregular forms, words of one or two letters left alone,
 * {@code -ies}/{@code -ied} on four-letter words to {@code -ie}, step 1c's y to i only after a consonant that is not
 * the first letter, {@code -alli} tried first in step 2, {@code -bli} to {@code -ble} (for the paper's
 * {@code -abli}), and the {@code -fulli} and {@code -logi} rules, and *o true for a two-letter vowel-consonant stem.
 * Input is expected in lower case.
 */
public final class PorterStemmer {

    /** NLTK extension: irregular forms mapped straight to their stem. */
    private static final Map<String, String> IRREGULAR = Map.ofEntries(
            Map.entry("sky", "sky"), Map.entry("skies", "sky"), Map.entry("dying", "die"), Map.entry("lying", "lie"),
            Map.entry("tying", "tie"), Map.entry("news", "news"), Map.entry("innings", "inning"),
            Map.entry("inning", "inning"), Map.entry("outings", "outing"), Map.entry("outing", "outing"),
            Map.entry("cannings", "canning"), Map.entry("canning", "canning"), Map.entry("howe", "howe"),
            Map.entry("proceed", "proceed"), Map.entry("exceed", "exceed"), Map.entry("succeed", "succeed"));

    private PorterStemmer() {
    }

    public static String stem(String word) {
        String irregular = IRREGULAR.get(word);
        if (irregular != null) {
            return irregular;
        }
        if (word.length() <= 2) { // NLTK extension
            return word;
        }
        String stem = step1a(word);
        stem = step1b(stem);
        stem = step1c(stem);
        stem = step2(stem);
        stem = step3(stem);
        stem = step4(stem);
        stem = step5a(stem);
        return step5b(stem);
    }

    /** A consonant is a letter other than a, e, i, o, u, and other than y preceded by a consonant. */
    private static boolean isConsonant(String word, int i) {
        switch (word.charAt(i)) {
            case 'a', 'e', 'i', 'o', 'u':
                return false;
            case 'y':
                return i == 0 || !isConsonant(word, i - 1);
            default:
                return true;
        }
    }

    /** m in {@code [C](VC){m}[V]}: the number of vowel-consonant sequences. */
    private static int measure(String stem) {
        int m = 0;
        for (int i = 1; i < stem.length(); i++) {
            if (!isConsonant(stem, i - 1) && isConsonant(stem, i)) {
                m++;
            }
        }
        return m;
    }

    private static boolean positiveMeasure(String stem) {
        return measure(stem) > 0;
    }

    private static boolean measureAboveOne(String stem) {
        return measure(stem) > 1;
    }

    private static boolean containsVowel(String stem) {
        for (int i = 0; i < stem.length(); i++) {
            if (!isConsonant(stem, i)) {
                return true;
            }
        }
        return false;
    }

    /** *d: ends with a double consonant. */
    private static boolean endsDoubleConsonant(String word) {
        int n = word.length();
        return n >= 2 && word.charAt(n - 1) == word.charAt(n - 2) && isConsonant(word, n - 1);
    }

    /** *o: ends consonant-vowel-consonant, the last not w, x or y (NLTK extension: or is a two-letter vc). */
    private static boolean endsCvc(String word) {
        int n = word.length();
        if (n >= 3 && isConsonant(word, n - 3) && !isConsonant(word, n - 2) && isConsonant(word, n - 1)) {
            char last = word.charAt(n - 1);
            return last != 'w' && last != 'x' && last != 'y';
        }
        return n == 2 && !isConsonant(word, 0) && isConsonant(word, 1);
    }

    /** One rule of the paper: suffix, replacement, condition on the stem (null: none). */
    private record Rule(String suffix, String replacement, Predicate<String> condition) {
    }

    /**
     * The first rule whose suffix the word ends with decides: replaced when its condition holds, else the word
     * is returned unchanged (the paper's longest-matching-suffix reading of each step).
     */
    private static String applyFirst(String word, Rule... rules) {
        for (Rule rule : rules) {
            if (word.endsWith(rule.suffix)) {
                String stem = word.substring(0, word.length() - rule.suffix.length());
                return rule.condition == null || rule.condition.test(stem) ? stem + rule.replacement : word;
            }
        }
        return word;
    }

    /** Step 1a: plurals (sses to ss, ies to i, ss kept, s dropped). */
    private static String step1a(String word) {
        if (word.endsWith("ies") && word.length() == 4) { // NLTK extension: dies -> die, but flies -> fli
            return word.charAt(0) + "ie";
        }
        return applyFirst(word, new Rule("sses", "ss", null), new Rule("ies", "i", null), new Rule("ss", "ss", null),
                new Rule("s", "", null));
    }

    /** Step 1b: -eed, -ed, -ing, then restoring an e or undoubling the last consonant. */
    private static String step1b(String word) {
        if (word.endsWith("ied")) { // NLTK extension: died -> die, spied -> spi
            return word.substring(0, word.length() - 3) + (word.length() == 4 ? "ie" : "i");
        }
        if (word.endsWith("eed")) {
            String stem = word.substring(0, word.length() - 3);
            return measure(stem) > 0 ? stem + "ee" : word;
        }
        String stem = null;
        if (word.endsWith("ed") && containsVowel(word.substring(0, word.length() - 2))) {
            stem = word.substring(0, word.length() - 2);
        } else if (word.endsWith("ing") && containsVowel(word.substring(0, word.length() - 3))) {
            stem = word.substring(0, word.length() - 3);
        }
        if (stem == null) {
            return word;
        }
        if (stem.endsWith("at") || stem.endsWith("bl") || stem.endsWith("iz")) {
            return stem + "e";
        }
        if (endsDoubleConsonant(stem)) {
            char last = stem.charAt(stem.length() - 1);
            return last == 'l' || last == 's' || last == 'z' ? stem : stem.substring(0, stem.length() - 1);
        }
        return measure(stem) == 1 && endsCvc(stem) ? stem + "e" : stem;
    }

    /** Step 1c: y to i. NLTK extension: only after a consonant that is not the word's first letter. */
    private static String step1c(String word) {
        return applyFirst(word, new Rule("y", "i", stem -> stem.length() > 1 && isConsonant(stem, stem.length() - 1)));
    }

    /** Step 2: double suffixes to single ones when m > 0. */
    private static String step2(String word) {
        if (word.endsWith("alli") && positiveMeasure(word.substring(0, word.length() - 4))) { // NLTK extension
            return step2(word.substring(0, word.length() - 4) + "al");
        }
        Predicate<String> m0 = PorterStemmer::positiveMeasure;
        return applyFirst(word,
                new Rule("ational", "ate", m0), new Rule("tional", "tion", m0), new Rule("enci", "ence", m0),
                new Rule("anci", "ance", m0), new Rule("izer", "ize", m0),
                new Rule("bli", "ble", m0), // NLTK (and Porter's own later) departure: the paper has abli -> able
                new Rule("alli", "al", m0), new Rule("entli", "ent", m0), new Rule("eli", "e", m0),
                new Rule("ousli", "ous", m0), new Rule("ization", "ize", m0), new Rule("ation", "ate", m0),
                new Rule("ator", "ate", m0), new Rule("alism", "al", m0), new Rule("iveness", "ive", m0),
                new Rule("fulness", "ful", m0), new Rule("ousness", "ous", m0), new Rule("aliti", "al", m0),
                new Rule("iviti", "ive", m0), new Rule("biliti", "ble", m0),
                new Rule("fulli", "ful", m0), // NLTK extension
                // NLTK extension: logi -> log, the l counted with the stem (geo-logi like archaeo-logi)
                new Rule("logi", "log", stem -> positiveMeasure(word.substring(0, word.length() - 3))));
    }

    /** Step 3: -ic-, -full, -ness and the like when m > 0. */
    private static String step3(String word) {
        Predicate<String> m0 = PorterStemmer::positiveMeasure;
        return applyFirst(word, new Rule("icate", "ic", m0), new Rule("ative", "", m0), new Rule("alize", "al", m0),
                new Rule("iciti", "ic", m0), new Rule("ical", "ic", m0), new Rule("ful", "", m0),
                new Rule("ness", "", m0));
    }

    /** Step 4: the remaining suffixes when m > 1 ({@code -ion} only after s or t). */
    private static String step4(String word) {
        Predicate<String> m1 = PorterStemmer::measureAboveOne;
        return applyFirst(word, new Rule("al", "", m1), new Rule("ance", "", m1), new Rule("ence", "", m1),
                new Rule("er", "", m1), new Rule("ic", "", m1), new Rule("able", "", m1), new Rule("ible", "", m1),
                new Rule("ant", "", m1), new Rule("ement", "", m1), new Rule("ment", "", m1), new Rule("ent", "", m1),
                new Rule("ion", "", stem -> measureAboveOne(stem) && (stem.endsWith("s") || stem.endsWith("t"))),
                new Rule("ou", "", m1), new Rule("ism", "", m1), new Rule("ate", "", m1), new Rule("iti", "", m1),
                new Rule("ous", "", m1), new Rule("ive", "", m1), new Rule("ize", "", m1));
    }

    /** Step 5a: a final e goes when m > 1, or when m = 1 and the stem does not end cvc. */
    private static String step5a(String word) {
        if (word.endsWith("e")) {
            String stem = word.substring(0, word.length() - 1);
            int m = measure(stem);
            if (m > 1 || (m == 1 && !endsCvc(stem))) {
                return stem;
            }
        }
        return word;
    }

    /** Step 5b: -ll to -l when m > 1. */
    private static String step5b(String word) {
        return word.endsWith("ll") && measureAboveOne(word.substring(0, word.length() - 1))
                ? word.substring(0, word.length() - 1) : word;
    }
}
