package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.nn.AttentionMask;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Packed rows: their layout, the round trip back to the samples, and losses equal to each sample run alone. */
class PackingTest {
    private static final long X = CausalLmLoss.IGNORE_INDEX;
    private static final long PAD = 0;

    private static TokenizedSample sample(long[] ids, long[] labels) {
        return new TokenizedSample(ids, labels);
    }

    /** Random samples of 1 to 9 tokens over ids 1..60: pretraining ones, and SFT ones whose prompt is masked. */
    private static List<TokenizedSample> randomSamples(int count, long seed) {
        Random random = new Random(seed);
        List<TokenizedSample> samples = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long[] ids = random.longs(1 + random.nextInt(9), 1, 61).toArray();
            long[] labels = ids.clone();
            if (i % 2 == 1) {
                int prompt = random.nextInt(ids.length);
                for (int t = 0; t < prompt; t++) {
                    labels[t] = X;
                }
            }
            samples.add(sample(ids, labels));
        }
        return samples;
    }

    @Test
    void aRowLaysSamplesEndToEndWithSegmentsRestartedPositionsAndPadding() {
        List<TokenizedSample> samples = List.of(
                sample(new long[] {3, 14, 15, 9}, new long[] {X, X, 15, 9}),
                sample(new long[] {26, 5, 35}, new long[] {26, 5, 35}),
                sample(new long[] {8, 44}, new long[] {8, 44}));
        List<PackedRow> rows = new SequencePacker(11, PAD).pack(samples);

        assertEquals(1, rows.size());
        PackedRow row = rows.get(0);
        assertArrayEquals(new long[] {3, 14, 15, 9, 26, 5, 35, 8, 44, PAD, PAD}, row.inputIds());
        assertArrayEquals(new long[] {X, X, 15, 9, 26, 5, 35, 8, 44, X, X}, row.labels());
        assertArrayEquals(new long[] {X, X, 15, 9, X, 5, 35, X, 44, X, X}, row.lossLabels());
        assertArrayEquals(new long[] {1, 1, 1, 1, 2, 2, 2, 3, 3, 0, 0}, row.segmentIds());
        assertArrayEquals(new long[] {0, 1, 2, 3, 0, 1, 2, 0, 1, 0, 0}, row.positionIds());
        assertArrayEquals(new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, row.keep());
        assertArrayEquals(new int[] {0, 1, 2}, row.sources());
    }

    @Test
    void eachSampleGoesToTheTightestRowThatHoldsIt() {
        // 6 opens row 0 (4 left); 5 opens row 1 (5 left); 3 fits both, row 0 is tighter; 4 fits only row 1
        List<TokenizedSample> samples = new ArrayList<>();
        for (int length : new int[] {6, 5, 3, 4}) {
            samples.add(TokenizedSample.pretraining(new long[length]));
        }
        List<PackedRow> rows = new SequencePacker(10, PAD).pack(samples);
        assertEquals(2, rows.size());
        assertArrayEquals(new int[] {0, 2}, rows.get(0).sources());
        assertArrayEquals(new int[] {1, 3}, rows.get(1).sources());
    }

    @Test
    void unpackGivesBackExactlyTheSamplesInTheirOrder() {
        List<TokenizedSample> samples = randomSamples(40, 1);
        List<PackedRow> rows = new SequencePacker(16, PAD).pack(samples);
        assertTrue(rows.size() < samples.size() / 2, "rows must hold several samples: " + rows.size());
        assertEquals(samples, SequencePacker.unpack(rows));
    }

    @Test
    void aSampleLongerThanTheRowIsRejectedNotCut() {
        List<TokenizedSample> samples = List.of(TokenizedSample.pretraining(new long[] {1, 2}),
                TokenizedSample.pretraining(new long[] {1, 2, 3, 4, 5}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SequencePacker(4, PAD).pack(samples));
        assertEquals("sample 1 has 5 tokens; packing takes samples of 1 to 4 tokens (cut them to cutoff_len when "
                + "tokenizing)", e.getMessage());
    }

    /**
     * A packed batch through a tiny random Llama (GQA, float32) gives every sample the loss it has alone. The
     * packed row's own labels, first labels included, would not: that term is predicted across the boundary.
     */
    @Test
    void packedLossesEqualEachSampleRunAlone() {
        List<TokenizedSample> samples = randomSamples(12, 2);
        List<PackedRow> rows = new SequencePacker(16, PAD).pack(samples);
        LlamaConfig config = TinyModels.llamaConfig(TinyModels.llamaJson("llama", 4, 2, false, ""));
        try (NDManager manager = NDManager.newBaseManager()) {
            Llama model = new Llama(config, TinyModels.randomWeights(config.parameterShapes(), manager, DataType.FLOAT32, 4));
            double[] alone = new double[samples.size()];
            double[] aloneCounts = new double[samples.size()];
            for (int i = 0; i < samples.size(); i++) {
                try (NDManager step = manager.newSubManager()) {
                    TokenizedSample sample = samples.get(i);
                    NDArray logits = model.logits(step.create(new long[][] {sample.inputIds()}),
                            TinyModels.positions(step, 1, sample.length()), AttentionMask.causal(null), null);
                    LossSums sums = CausalLmLoss.FLOAT32.perRow(logits, step.create(new long[][] {sample.labels()}));
                    alone[i] = sums.means().toType(DataType.FLOAT64, false).getDouble(0);
                    aloneCounts[i] = sums.counts().toType(DataType.FLOAT64, false).getDouble(0);
                }
            }

            PackedBatch batch = PackedBatch.of(rows, manager);
            NDArray logits = model.logits(batch.inputIds(), batch.positionIds(), batch.attentionMask(), null);
            LossSums packed = CausalLmLoss.FLOAT32.perSegment(logits, batch.labels(), batch.segmentIds(), batch.segments());
            double[] means = packed.means().toType(DataType.FLOAT64, false).toDoubleArray();
            double[] counts = packed.counts().toType(DataType.FLOAT64, false).toDoubleArray();
            NDArray rawLabels = manager.create(rows.stream().map(PackedRow::labels).toArray(long[][]::new));
            double[] crossing = CausalLmLoss.FLOAT32.perSegment(logits, rawLabels, batch.segmentIds(), batch.segments())
                    .means().toType(DataType.FLOAT64, false).toDoubleArray();

            int compared = 0;
            int differOnceCrossing = 0;
            for (int r = 0; r < rows.size(); r++) {
                PackedRow row = rows.get(r);
                for (int s = 0; s < row.segments(); s++) {
                    int i = row.sources()[s];
                    int at = r * batch.segments() + s;
                    assertEquals(aloneCounts[i], counts[at], "sample " + i);
                    assertEquals(alone[i], means[at], 1e-5, "sample " + i);
                    compared++;
                    if (s > 0 && samples.get(i).labels()[0] != X && Math.abs(alone[i] - crossing[at]) > 1e-3) {
                        differOnceCrossing++;
                    }
                }
            }
            assertEquals(samples.size(), compared);
            assertTrue(differOnceCrossing > 0, "scoring the first label across a boundary must show");
        }
    }
}
