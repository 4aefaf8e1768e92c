package dev.sparktune.augment;

import com.hankcs.hanlp.HanLP;
import com.hankcs.hanlp.dictionary.stopword.CoreStopWordDictionary;
import com.hankcs.hanlp.seg.common.Term;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Chinese synonyms from HanLP's {@code CoreSynonym} dictionary (the extended Tongyici Cilin in the HanLP jar) with
 * HanLP's segmenter and part-of-speech tags, loaded once per JVM.
 *
 * <p>Only Cilin groups marked {@code =} (true synonyms) are used; {@code #} groups are merely related words and
 * {@code @} entries stand alone. A word in several groups takes the synonyms of its first group. Only nouns, verbs
 * and adjectives of two or more characters are replaced (single characters are too ambiguous); names of people,
 * places and organisations ({@code nr}, {@code ns}, {@code nt}) and HanLP stop words are left alone.
 */
public final class ChineseLexicon implements Lexicon {
    private static final String CORE_SYNONYM = "data/dictionary/synonym/CoreSynonym.txt";
    private static final Set<String> CONTENT_TAGS = Set.of("n", "nl", "ng", "nz", "v", "vi", "vn", "a", "ad", "an", "al");

    private final Map<String, List<String>> synonyms;

    private ChineseLexicon(Map<String, List<String>> synonyms) {
        this.synonyms = synonyms;
    }

    /** The JVM's one instance; the first call loads the dictionary and the segmenter's model (a few seconds). */
    public static ChineseLexicon get() {
        return Loaded.INSTANCE;
    }

    /** Loaded by the JVM on first use, once, thread-safely (the holder-class idiom). */
    private static final class Loaded {
        static final ChineseLexicon INSTANCE = new ChineseLexicon(loadSynonyms());
    }

    @Override
    public void segment(String free, List<Token> out) {
        int at = 0;
        for (Term term : HanLP.newSegment().seg(free)) {
            int start = free.indexOf(term.word, at);
            if (start < 0) {
                continue; // the segmenter normalised this term; the text around it is kept as it was
            }
            if (start > at) {
                out.add(Token.other(free.substring(at, start)));
            }
            String tag = term.nature == null ? "" : term.nature.toString();
            boolean word = term.word.codePoints().anyMatch(Character::isLetter) && !tag.startsWith("w");
            out.add(word ? Token.word(term.word, tag) : Token.other(term.word));
            at = start + term.word.length();
        }
        if (at < free.length()) {
            out.add(Token.other(free.substring(at)));
        }
    }

    @Override
    public List<String> synonyms(Token word) {
        String w = word.text();
        if (w.codePointCount(0, w.length()) < 2 || word.pos() == null || !CONTENT_TAGS.contains(word.pos())
                || CoreStopWordDictionary.contains(w)) {
            return List.of();
        }
        return synonyms.getOrDefault(w, List.of());
    }

    @Override
    public String wordSeparator() {
        return "";
    }

    /** Whether a text is mostly Chinese: Han characters are at least a third of its letters. */
    public static boolean isChinese(String text) {
        long letters = text.codePoints().filter(Character::isLetter).count();
        long han = text.codePoints()
                .filter(c -> Character.UnicodeScript.of(c) == Character.UnicodeScript.HAN).count();
        return letters > 0 && han * 3 >= letters;
    }

    private static Map<String, List<String>> loadSynonyms() {
        Map<String, List<String>> map = new HashMap<>();
        try (InputStream in = HanLP.class.getClassLoader().getResourceAsStream(CORE_SYNONYM)) {
            if (in == null) {
                throw new IllegalStateException(CORE_SYNONYM + " is not on the classpath: is the jar "
                        + "com.hankcs:hanlp (portable) on it?");
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                line = line.replace("\uFEFF", "").trim();
                int mark = line.indexOf('=');
                if (mark != 7) {
                    continue; // a "#" (related) or "@" (alone) group, or not an entry
                }
                List<String> group = new ArrayList<>();
                for (String w : line.substring(mark + 1).trim().split("\\s+")) {
                    if (w.codePointCount(0, w.length()) >= 2 && !group.contains(w)) {
                        group.add(w);
                    }
                }
                for (String w : group) {
                    if (!map.containsKey(w) && group.size() > 1) {
                        List<String> others = new ArrayList<>(group);
                        others.remove(w);
                        map.put(w, List.copyOf(others));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return map;
    }
}
