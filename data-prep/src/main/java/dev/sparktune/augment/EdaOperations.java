package dev.sparktune.augment;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The EDA operations besides synonym replacement (Wei &amp; Zou 2019): random swap of two words, random insertion
 * of a synonym of one word at a random place, and random deletion. One copy applies one operation, picked at random
 * among those enabled (the paper makes one augmented sentence per operation); if it cannot change the text (one
 * word to swap, no synonym to insert) the next is tried. Protected tokens are never moved or deleted.
 */
public final class EdaOperations {
    private enum Op { SWAP, INSERT, DELETE }

    private final EdaOptions options;
    private final ProtectedTokens protectedTokens;

    public EdaOperations(EdaOptions options, List<String> protectedTokens) {
        this.options = options;
        this.protectedTokens = new ProtectedTokens(protectedTokens);
    }

    /** The text with one operation applied, or the text itself when none applies. */
    public String apply(String text, SplittableRandom random) {
        Lexicon lexicon = Lexicon.forText(text);
        List<Op> ops = new ArrayList<>();
        if (options.swapRate() > 0) {
            ops.add(Op.SWAP);
        }
        if (options.insertRate() > 0) {
            ops.add(Op.INSERT);
        }
        if (options.deleteRate() > 0) {
            ops.add(Op.DELETE);
        }
        TokenEdits.shuffle(ops, random);
        for (Op op : ops) {
            List<Token> tokens = new ArrayList<>(lexicon.tokenize(text, protectedTokens));
            List<Integer> words = wordIndices(tokens);
            switch (op) {
                case SWAP -> swap(tokens, words, times(options.swapRate(), words.size()), random);
                case INSERT -> insert(tokens, words, times(options.insertRate(), words.size()), lexicon, random);
                case DELETE -> tokens = delete(tokens, options.deleteRate(), random);
            }
            String result = TokenEdits.join(tokens);
            if (!result.equals(text)) {
                return result;
            }
        }
        return text;
    }

    private static int times(double rate, int words) {
        return Math.max(1, (int) Math.round(rate * words));
    }

    private static List<Integer> wordIndices(List<Token> tokens) {
        List<Integer> words = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) {
            if (tokens.get(i).word()) {
                words.add(i);
            }
        }
        return words;
    }

    private static void swap(List<Token> tokens, List<Integer> words, int n, SplittableRandom random) {
        if (words.size() < 2) {
            return;
        }
        for (int k = 0; k < n; k++) {
            int a = words.get(random.nextInt(words.size()));
            int b = words.get(random.nextInt(words.size()));
            Token t = tokens.get(a);
            tokens.set(a, tokens.get(b));
            tokens.set(b, t);
        }
    }

    private static void insert(List<Token> tokens, List<Integer> words, int n, Lexicon lexicon, SplittableRandom random) {
        List<String> pool = new ArrayList<>();
        for (int i : words) {
            pool.addAll(lexicon.synonyms(tokens.get(i)));
        }
        if (pool.isEmpty()) {
            return;
        }
        String sep = lexicon.wordSeparator();
        for (int k = 0; k < n; k++) {
            String synonym = pool.get(random.nextInt(pool.size()));
            List<Integer> at = wordIndices(tokens);
            int before = at.get(random.nextInt(at.size()));
            String lower = synonym.toLowerCase(java.util.Locale.ROOT);
            tokens.add(before, Token.word(lower, null));
            if (!sep.isEmpty()) {
                tokens.add(before + 1, Token.other(sep));
            }
        }
    }

    /** Deletes each word with probability {@code p}, keeping at least one; a space after a deleted word goes too. */
    private static List<Token> delete(List<Token> tokens, double p, SplittableRandom random) {
        List<Integer> words = wordIndices(tokens);
        if (words.size() < 2) {
            return tokens;
        }
        boolean[] drop = new boolean[tokens.size()];
        int dropped = 0;
        for (int i : words) {
            if (random.nextDouble() < p) {
                drop[i] = true;
                dropped++;
            }
        }
        if (dropped == words.size()) {
            drop[words.get(random.nextInt(words.size()))] = false;
        }
        List<Token> kept = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) {
            if (drop[i]) {
                if (i + 1 < tokens.size() && tokens.get(i + 1).text().isBlank()) {
                    i++; // the space after it
                }
                continue;
            }
            kept.add(tokens.get(i));
        }
        return kept;
    }
}
