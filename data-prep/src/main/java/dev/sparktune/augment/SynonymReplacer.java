package dev.sparktune.augment;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Synonym replacement (the "SR" of EDA, Wei &amp; Zou 2019): replaces {@code rate} of a text's replaceable words,
 * at least one and at most {@code maxReplacements}, each by a synonym drawn from the text's {@link Lexicon}.
 * Protected tokens and stop words are never touched. The same text and random stream give the same result.
 */
public final class SynonymReplacer {
    private final SynonymOptions options;
    private final ProtectedTokens protectedTokens;

    public SynonymReplacer(SynonymOptions options) {
        this.options = options;
        this.protectedTokens = new ProtectedTokens(options.protectedTokens());
    }

    /** The text with some words replaced, or the text itself when no word has a synonym. */
    public String replace(String text, SplittableRandom random) {
        Lexicon lexicon = Lexicon.forText(text);
        List<Token> tokens = new ArrayList<>(lexicon.tokenize(text, protectedTokens));
        List<Integer> candidates = new ArrayList<>();
        int words = 0;
        for (int i = 0; i < tokens.size(); i++) {
            if (tokens.get(i).word()) {
                words++;
                if (!lexicon.synonyms(tokens.get(i)).isEmpty()) {
                    candidates.add(i);
                }
            }
        }
        if (candidates.isEmpty()) {
            return text;
        }
        int n = Math.min(candidates.size(),
                Math.min(options.maxReplacements(), Math.max(1, (int) Math.round(options.rate() * words))));
        TokenEdits.shuffle(candidates, random);
        for (int i : candidates.subList(0, n)) {
            Token token = tokens.get(i);
            List<String> synonyms = lexicon.synonyms(token);
            tokens.set(i, Token.word(synonyms.get(random.nextInt(synonyms.size())), token.pos()));
        }
        return TokenEdits.join(tokens);
    }
}
