package dev.sparktune.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sparktune.eval.Bleu.Smoothing;
import dev.sparktune.eval.Bleu.Tokenizer;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Expected values are sacreBLEU's own (github.com/mjpost/sacrebleu): its README and {@code test/test_bleu.py},
 * {@code test/test_sentence_bleu.py}, each cited next to the value, compared with the tolerance that test uses.
 */
class BleuTest {

    // README "Using SacreBLEU from Python" and test/test_bleu.py (_hyps, _refs): two reference streams
    static final List<String> HYPS = List.of("The dog bit the man.", "It wasn't surprising.", "The man had just bitten him.");
    static final List<List<String>> REFS = List.of(
            List.of("The dog bit the man.", "It was not unexpected.", "The man bit him first."),
            List.of("The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."));

    private static Bleu raw(double floor) {
        // sacrebleu.raw_corpus_bleu: tokenize='none', smooth_method='floor', use_effective_order=True
        return new Bleu(Tokenizer.NONE, Smoothing.FLOOR, floor, 4, true);
    }

    @Test
    void readmeCorpusBleuWithTwoReferences() {
        Bleu.Score score = Bleu.corpus().corpusScore(HYPS, REFS);
        // test_bleu.py test_corpus_bleu (_hyps, _refs, {}, 48.530827), EPSILON = 1e-8
        assertEquals(48.530827, score.score(), 1e-8);
        // README: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
        assertEquals("48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)",
                String.format(Locale.ROOT, "%.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
                        score.score(), score.precisions()[0], score.precisions()[1], score.precisions()[2],
                        score.precisions()[3], score.bp(), score.ratio(), score.sysLen(), score.refLen()));
    }

    @Test
    void corpusBleuVariantsFromTestBleu() {
        // test_bleu.py test_corpus_bleu: (('', '', ''), _refs, {}, 0.0)
        assertEquals(0.0, Bleu.corpus().corpusScore(List.of("", "", ""), REFS).score());
        // test_bleu.py test_corpus_bleu: {'tokenize': 'none'} -> 49.1919566
        assertEquals(49.1919566, new Bleu(Tokenizer.NONE, Smoothing.EXP, Double.NaN, 4, false)
                .corpusScore(HYPS, REFS).score(), 1e-8);
        // test_bleu.py test_corpus_bleu: {'smooth_method': 'none'} -> 48.530827
        assertEquals(48.530827, new Bleu(Tokenizer.MTEVAL_13A, Smoothing.NONE, Double.NaN, 4, false)
                .corpusScore(HYPS, REFS).score(), 1e-8);
    }

    @Test
    void maxNgramOrderFromTestBleu() {
        // test_bleu.py test_bleu_max_order: orders 1..6 -> "77.65", "60.50", "53.93", "48.53", "46.14", "43.28"
        String[] expected = {"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"};
        for (int order = 1; order <= 6; order++) {
            double score = new Bleu(Tokenizer.MTEVAL_13A, Smoothing.EXP, Double.NaN, order, false).corpusScore(HYPS, REFS).score();
            assertEquals(expected[order - 1], String.format(Locale.ROOT, "%.2f", score), "max order " + order);
        }
    }

    @Test
    void rawCorpusBleuFromTestBleu() {
        // test_bleu.py test_raw_bleu, raw_corpus_bleu(..., .01).score / 100, EPSILON = 1e-8
        assertEquals(0.0, raw(0.01).corpusScore(List.of("this is a test", "another test"),
                List.of(List.of("ref1", "ref2"))).score() / 100, 1e-8);
        assertEquals(1.0, raw(0.01).corpusScore(List.of("this is a test"), List.of(List.of("this is a test"))).score() / 100, 1e-8);
        assertEquals(0.223606797749979, raw(0.01).corpusScore(List.of("this is a fest"),
                List.of(List.of("this is a test"))).score() / 100, 1e-8);
        // test_bleu.py test_effective_order
        assertEquals(0.3678794411714425, raw(0.01).corpusScore(List.of("test"), List.of(List.of("a test"))).score() / 100, 1e-8);
        assertEquals(1.0, raw(0.01).corpusScore(List.of("a test"), List.of(List.of("a test"))).score() / 100, 1e-8);
        assertEquals(0.03218297948685433, raw(0.01).corpusScore(List.of("a little test"),
                List.of(List.of("a test"))).score() / 100, 1e-8);
    }

    @Test
    void statisticsAndOffsetFromTestBleu() {
        List<String> hyp = List.of("am I am a character sequence");
        List<List<String>> ref = List.of(List.of("I am a symbol string sequence a a"));
        // test_bleu.py test_statistics: Statistics([4, 2, 1, 0], [6, 5, 4, 3])
        Bleu.Score score = raw(0.01).corpusScore(hyp, ref);
        assertArrayEquals(new long[] {4, 2, 1, 0}, score.counts());
        assertArrayEquals(new long[] {6, 5, 4, 3}, score.totals());
        // test_bleu.py test_offset: 0.0 with floor 0.0, 0.1555722182 with the default floor 0.1
        assertEquals(0.0, raw(0.0).corpusScore(hyp, ref).score() / 100, 1e-8);
        assertEquals(0.1555722182, raw(Double.NaN).corpusScore(hyp, ref).score() / 100, 1e-8);
    }

    @Test
    void scoringFromStatisticsFromTestBleu() {
        // test_bleu.py test_scoring: compute_bleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11) / 100 -> 0.8375922397
        Bleu none = new Bleu(Tokenizer.MTEVAL_13A, Smoothing.NONE, Double.NaN, 4, false);
        assertEquals(0.8375922397, none.compute(new long[] {9, 7, 5, 3}, new long[] {10, 8, 6, 4}, 11, 11).score() / 100, 1e-8);
        // test_bleu.py test_degenerate_statistics (smooth_method='floor'): all 0.0
        Bleu floor = new Bleu(Tokenizer.MTEVAL_13A, Smoothing.FLOOR, 0.0, 4, false);
        assertEquals(0.0, floor.compute(new long[] {0, 0, 0, 0}, new long[] {4, 4, 2, 1}, 0, 1).score());
        assertEquals(0.0, floor.compute(new long[] {6, 5, 4, 0}, new long[] {6, 5, 4, 3}, 6, 6).score());
        assertEquals(0.0, new Bleu(Tokenizer.MTEVAL_13A, Smoothing.FLOOR, 0.01, 4, false)
                .compute(new long[] {0, 0, 0, 0}, new long[] {0, 0, 0, 0}, 1, 5).score());
    }

    // test_sentence_bleu.py: example taken from sacreBLEU issue #98
    static final String REF = "producţia de zahăr brut se exprimă în zahăr alb;";
    static final String SYS = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";

    private static double sentence(Smoothing smoothing, double value, Tokenizer tokenizer, String sys, String ref) {
        return new Bleu(tokenizer, smoothing, value, 4, true).sentenceScore(sys, List.of(ref)).score();
    }

    @Test
    void sentenceBleuFromTestSentenceBleu() {
        // test_sentence_bleu.py test_cases, EPSILON = 1e-3
        assertEquals(8.493, Bleu.sentence().sentenceScore(SYS, List.of(REF)).score(), 1e-3); // ('exp', None, '13a')
        assertEquals(0.0, sentence(Smoothing.NONE, Double.NaN, Tokenizer.MTEVAL_13A, SYS, REF), 1e-3);
        assertEquals(4.51688, sentence(Smoothing.FLOOR, Double.NaN, Tokenizer.MTEVAL_13A, SYS, REF), 1e-3);
        assertEquals(4.51688, sentence(Smoothing.FLOOR, 0.1, Tokenizer.MTEVAL_13A, SYS, REF), 1e-3);
        assertEquals(10.10, sentence(Smoothing.FLOOR, 0.5, Tokenizer.MTEVAL_13A, SYS, REF), 1e-3);
        assertEquals(14.882, sentence(Smoothing.ADD_K, Double.NaN, Tokenizer.MTEVAL_13A, SYS, REF), 1e-3);
        assertEquals(14.882, sentence(Smoothing.ADD_K, 1, Tokenizer.MTEVAL_13A, SYS, REF), 1e-3);
        assertEquals(21.389, sentence(Smoothing.ADD_K, 2, Tokenizer.MTEVAL_13A, SYS, REF), 1e-3);
        assertEquals(7.347, sentence(Smoothing.EXP, Double.NaN, Tokenizer.NONE, SYS, REF), 1e-3);
        // test_cases_zero_bleu (issue #141): "this is a cat" against "okay thanks" is 0.0 with every smoothing
        for (Smoothing smoothing : Smoothing.values()) {
            assertEquals(0.0, sentence(smoothing, Double.NaN, Tokenizer.MTEVAL_13A, "this is a cat", "okay thanks"));
        }
    }
}
