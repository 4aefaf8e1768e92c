package dev.sparktune.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Expected values are those of Google's rouge-score test suite, {@code rouge/rouge_scorer_test.py} in
 * github.com/google-research/google-research, whose "ground truth" for the *AgainstRouge155 tests comes from runs
 * of the official ROUGE-1.5.5.pl. The inputs are copied from that suite's {@code rouge/testdata} files.
 */
class RougeTest {

    // rouge/testdata/target.txt, lines 1 and 2 (f.readlines(), newline kept)
    static final String TARGET_0 = "ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM"
            + " EKBDXkME,yz'RBr q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L\n";
    static final String TARGET_1 = "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m"
            + " qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T"
            + " BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN\n";
    // rouge/testdata/prediction.txt, lines 1 and 2
    static final String PREDICTION_0 = "rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi\n";
    static final String PREDICTION_1 = "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed"
            + " HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD\n";
    // rouge/testdata/pyrouge_files/target_multi.0.txt and prediction_multi.0.txt (whole files)
    static final String TARGET_MULTI_0 = TARGET_0 + TARGET_1
            + "NhETebUbBk'er WOvoHMTjSRizKgH'vHiing Xu,hWxfs VkNE QhgKiLHE -HidivzoM.dO anhtion jbLQiSGDTCsuhREebUaKM dv J dVN tmbOT\n"
            + "vMR HDm,xOAetion D,tion HJtodT.mHl UIv-p VjWH'BdyWjnfGU-OjT aEMdFICyLWfQMtion wEMfdOKing AwkeKbO 'DxqNOHBH qKtVvm OYJl mM\n";
    static final String PREDICTION_MULTI_0 = PREDICTION_0 + PREDICTION_1
            + "xfs VkJE QhgKiLHE -HidivzoM.dO anhing jbLQiSGDTCsuhREebUaKM dv J\n"
            + "VjWH'BdyWjnfGU-OjTNaEMdFICyLWfQMing wEMfdOKijg AwkeKbO 'DxqNO\n";

    /** assertAlmostEqual(expected, actual, places=5). */
    private static void assertScore(double recall, double precision, double fmeasure, Rouge.Score actual) {
        assertEquals(recall, actual.recall(), 5e-6, "recall");
        assertEquals(precision, actual.precision(), 5e-6, "precision");
        assertEquals(fmeasure, actual.fmeasure(), 5e-6, "fmeasure");
    }

    @Test
    void smallExamples() {
        Rouge rouge = new Rouge(false);
        // testRouge1: score("testing one two", "testing") -> P 1, R 1/3, F 1/2
        Map<String, Rouge.Score> s = rouge.score("testing one two", "testing");
        assertScore(1.0 / 3, 1, 0.5, s.get("rouge1"));
        // testRouge2 and testRougeLConsecutive: score("testing one two", "testing one")
        s = rouge.score("testing one two", "testing one");
        assertScore(0.5, 1, 2.0 / 3, s.get("rouge2"));
        assertScore(2.0 / 3, 1, 4.0 / 5, s.get("rougeL"));
        // testRougeLNonConsecutive: score("testing one two", "testing two")
        assertScore(2.0 / 3, 1, 4.0 / 5, rouge.score("testing one two", "testing two").get("rougeL"));
        // testRougeEmpty: score("testing one two", "") is 0 for every type
        rouge.score("testing one two", "").values().forEach(e -> assertScore(0, 0, 0, e));
    }

    @Test
    void rougeLsum() {
        Rouge rouge = new Rouge(false);
        // testRougeLsum: score("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5") -> R 0.8, P 0.4, F 0.5333 (places=3)
        Rouge.Score s = rouge.score("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5").get("rougeLsum");
        assertEquals(0.8, s.recall(), 1e-7);
        assertEquals(0.4, s.precision(), 1e-7);
        assertEquals(0.5333, s.fmeasure(), 5e-4);
        // the empty cases and a summary of non-word characters only: all 0
        assertScore(0, 0, 0, rouge.score("w1 w2 w3 w4 w5", "").get("rougeLsum"));
        assertScore(0, 0, 0, rouge.score("", "w1").get("rougeLsum"));
        assertScore(0, 0, 0, rouge.score("w1 w2 w3 w4 w5", "/").get("rougeLsum"));
    }

    @Test
    void againstRouge155WithoutStemming() {
        Rouge rouge = new Rouge(false);
        Map<String, Rouge.Score> first = rouge.score(TARGET_0, PREDICTION_0);
        Map<String, Rouge.Score> second = rouge.score(TARGET_1, PREDICTION_1);
        // testRouge1AgainstRouge155
        assertScore(0.40741, 0.68750, 0.51163, first.get("rouge1"));
        assertScore(0.40476, 0.65385, 0.50000, second.get("rouge1"));
        // testRouge2AgainstRouge155
        assertScore(0.30769, 0.53333, 0.39024, first.get("rouge2"));
        assertScore(0.29268, 0.48000, 0.36364, second.get("rouge2"));
        // testRougeLAgainstRouge155
        assertScore(0.40741, 0.68750, 0.51163, first.get("rougeL"));
        assertScore(0.40476, 0.65385, 0.50000, second.get("rougeL"));
    }

    @Test
    void againstRouge155WithStemming() {
        Rouge rouge = new Rouge(true);
        Map<String, Rouge.Score> first = rouge.score(TARGET_0, PREDICTION_0);
        Map<String, Rouge.Score> second = rouge.score(TARGET_1, PREDICTION_1);
        // testRouge1AgainstRouge155WithStemming
        assertScore(0.40741, 0.68750, 0.51163, first.get("rouge1"));
        assertScore(0.42857, 0.69231, 0.52941, second.get("rouge1"));
        // testRouge2AgainstRouge155WithStemming
        assertScore(0.30769, 0.53333, 0.39024, first.get("rouge2"));
        assertScore(0.29268, 0.48000, 0.36364, second.get("rouge2"));
        // testRougeLSumAgainstRouge155WithStemming (multi-line files)
        assertScore(0.36538, 0.66667, 0.47205, rouge.score(TARGET_MULTI_0, PREDICTION_MULTI_0).get("rougeLsum"));
    }

    @Test
    void scoreMultiKeepsTheBestReferencePerType() {
        // rouge_scorer.py score_multi: per type, the target with the highest F. With "testing" as the prediction,
        // "testing one two" gives rouge1 F 1/2 (testRouge1) and an unrelated target gives 0.
        Map<String, Rouge.Score> best = new Rouge(false).scoreMulti(List.of("nothing alike", "testing one two"), "testing");
        assertScore(1.0 / 3, 1, 0.5, best.get("rouge1"));
    }
}
