package dev.sparktune.dedup;

import java.util.SplittableRandom;

/** Reproducible English-like texts and small edits of them, for near-duplicate tests. */
public final class SyntheticCorpus {
    private static final String[] WORDS = ("time person year way day thing man world life hand part child eye woman"
            + " place work week case point government company number group problem fact be have do say get make go"
            + " know take see come think look want give use find tell ask seem feel try leave call good new first"
            + " last long great little own other old right big high different small large next early young important"
            + " few public bad same able river garden window market letter station kitchen mountain winter summer"
            + " morning evening coffee bread music story teacher doctor engine bridge forest island village harbor"
            + " ticket table paper pencil camera orange yellow purple silver golden quiet loud gentle brave clever"
            + " careful happy simple strange ancient modern famous hidden narrow wide").split(" ");

    private SyntheticCorpus() {
    }

    /** {@code words} random words, lower case, single spaces. */
    public static String sentence(int words, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) {
            sb.append(i == 0 ? "" : " ").append(WORDS[r.nextInt(WORDS.length)]);
        }
        return sb.append('.').toString();
    }

    /** {@code edits} single-letter substitutions at random positions, each to a different letter. */
    public static String substitute(String s, int edits, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        char[] c = s.toCharArray();
        for (int i = 0; i < edits; i++) {
            int at = r.nextInt(c.length - 1);
            char replacement;
            do {
                replacement = (char) ('a' + r.nextInt(26));
            } while (replacement == c[at]);
            c[at] = replacement;
        }
        return new String(c);
    }

    /** Replaces every {@code every}-th word with a random one. */
    public static String rewriteWords(String s, int every, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        String[] w = s.split(" ");
        for (int i = 0; i < w.length; i += every) {
            w[i] = WORDS[r.nextInt(WORDS.length)];
        }
        return String.join(" ", w);
    }
}
