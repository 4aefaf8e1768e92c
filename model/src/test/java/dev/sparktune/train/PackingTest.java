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
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.AttentionMask;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Packed rows: their layout, the round trip back to the samples, and losses equal to each sample run alone. */
class PackingTest {
    private static final long X = CausalLmLoss.IGNORE_INDEX;
    private static final long PAD = 0;

    private static TokenizedRow sample(long[] ids, long[] labels) {
        return TokenizedRow.sample(ids, labels);
    }

    private static Map<TokenizedRow, Long> multiset(List<TokenizedRow> rows) {
        return rows.stream().collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
    }

    /** Random samples of 1 to 9 tokens over ids 1..60: pretraining ones, and SFT ones whose prompt is masked. */
    private static List<TokenizedRow> randomSamples(int count, long seed) {
        Random random = new Random(seed);
        List<TokenizedRow> samples = new ArrayList<>();
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
        List<TokenizedRow> samples = List.of(
                sample(new long[] {3, 14, 15, 9}, new long[] {X, X, 15, 9}),
                sample(new long[] {26, 5, 35}, new long[] {26, 5, 35}),
                sample(new long[] {8, 44}, new long[] {8, 44}));
        List<TokenizedRow> rows = new SequencePacker(11, PAD).pack(samples);

        assertEquals(1, rows.size());
        TokenizedRow row = rows.get(0);
        assertArrayEquals(new long[] {3, 14, 15, 9, 26, 5, 35, 8, 44, PAD, PAD}, row.inputIds());
        assertArrayEquals(new long[] {X, X, 15, 9, 26, 5, 35, 8, 44, X, X}, row.labels());
        assertArrayEquals(new long[] {X, X, 15, 9, X, 5, 35, X, 44, X, X}, Packing.lossLabels(row));
        assertArrayEquals(new long[] {1, 1, 1, 1, 2, 2, 2, 3, 3, 0, 0}, row.segmentIds());
        assertArrayEquals(new long[] {0, 1, 2, 3, 0, 1, 2, 0, 1, 0, 0}, Packing.positionIds(row));
        assertArrayEquals(new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, Packing.keep(row));
        assertEquals(samples, Packing.samples(row));
    }

    @Test
    void eachSampleGoesToTheTightestRowThatHoldsIt() {
        // 6 opens row 0 (4 left); 5 opens row 1 (5 left); 3 fits both, row 0 is tighter; 4 fits only row 1
        List<TokenizedRow> samples = new ArrayList<>();
        for (int length : new int[] {6, 5, 3, 4}) {
            samples.add(TokenizedRow.pretraining(new long[length]));
        }
        List<TokenizedRow> rows = new SequencePacker(10, PAD).pack(samples);
        assertEquals(2, rows.size());
        // the samples differ in length, so each is told apart from the others
        assertEquals(List.of(samples.get(0), samples.get(2)), Packing.samples(rows.get(0)));
        assertEquals(List.of(samples.get(1), samples.get(3)), Packing.samples(rows.get(1)));
    }

    @Test
    void unpackGivesBackExactlyTheSamples() {
        List<TokenizedRow> samples = randomSamples(40, 1);
        List<TokenizedRow> rows = new SequencePacker(16, PAD).pack(samples);
        assertTrue(rows.size() < samples.size() / 2, "rows must hold several samples: " + rows.size());
        assertEquals(multiset(samples), multiset(Packing.unpack(rows)));
    }

    @Test
    void aRowNotPackedIsOneSampleThatIgnoresOnlyItsFirstLabel() {
        TokenizedRow sft = sample(new long[] {4, 5, 6}, new long[] {X, 5, 6});
        assertArrayEquals(new long[] {0, 1, 2}, Packing.positionIds(sft));
        assertArrayEquals(new long[] {1, 1, 1}, Packing.keep(sft));
        assertArrayEquals(new long[] {X, 5, 6}, Packing.lossLabels(sft));
        assertEquals(List.of(sft), Packing.samples(sft));
        // plain text without labels: the inputs are the targets
        TokenizedRow text = new TokenizedRow(new long[] {4, 5, 6}, null, null, null, null);
        assertArrayEquals(new long[] {X, 5, 6}, Packing.lossLabels(text));
        assertEquals(2, CausalLmLoss.predictedTokens(text));
    }

    @Test
    void packedRowsKeepTheTaskAndPlainTextLearnsItsIds() {
        List<TokenizedRow> samples = List.of(new TokenizedRow(new long[] {7, 8}, null, null, null, "docs"),
                new TokenizedRow(new long[] {9, 10, 11}, new long[] {X, 10, 11}, null, null, "docs"));
        TokenizedRow row = new SequencePacker(6, PAD).pack(samples).get(0);
        assertEquals("docs", row.task());
        assertArrayEquals(new long[] {7, 8, X, 10, 11, X}, row.labels());
        assertEquals(List.of(new TokenizedRow(new long[] {7, 8}, new long[] {7, 8}, null, null, "docs"), samples.get(1)),
                Packing.samples(row));
    }

    @Test
    void onlySamplesOfOneTaskArePacked() {
        SequencePacker packer = new SequencePacker(8, PAD);
        TokenizedRow chat = new TokenizedRow(new long[] {1, 2}, null, null, null, "chat");
        TokenizedRow doc = new TokenizedRow(new long[] {3}, null, null, null, "docs");
        assertEquals("sample 1 is of task docs, sample 0 of chat; a packed row never mixes tasks, so pack each task "
                + "on its own", assertThrows(IllegalArgumentException.class, () -> packer.pack(List.of(chat, doc)))
                .getMessage());
        TokenizedRow packed = packer.pack(List.of(chat)).get(0);
        assertEquals("sample 0 is already packed; packing takes causal-LM samples",
                assertThrows(IllegalArgumentException.class, () -> packer.pack(List.of(packed))).getMessage());
        TokenizedRow classified = new TokenizedRow(new long[] {1, 2}, null, null, 1L, "chat");
        assertEquals("sample 0 is a classification row; packing takes causal-LM samples",
                assertThrows(IllegalArgumentException.class, () -> packer.pack(List.of(classified))).getMessage());
    }

    @Test
    void aSampleLongerThanTheRowIsRejectedNotCut() {
        List<TokenizedRow> samples = List.of(TokenizedRow.pretraining(new long[] {1, 2}),
                TokenizedRow.pretraining(new long[] {1, 2, 3, 4, 5}));
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
        List<TokenizedRow> samples = randomSamples(12, 2);
        List<TokenizedRow> rows = new SequencePacker(16, PAD).pack(samples);
        assertEquals(multiset(samples), multiset(Packing.unpack(rows)));
        LlamaConfig config = TinyModels.llamaConfig(TinyModels.llamaJson("llama", 4, 2, false, ""));
        try (NDManager manager = NDManager.newBaseManager()) {
            Llama model = new Llama(config, TinyModels.randomWeights(config.parameterShapes(), manager, DataType.FLOAT32, 4));

            TrainingBatch batch = TrainingBatch.of(rows, PAD, manager);
            NDArray segmentIds = manager.create(rows.stream().map(TokenizedRow::segmentIds).toArray(long[][]::new));
            int segments = rows.stream().mapToInt(r -> Packing.samples(r).size()).max().orElseThrow();
            NDArray logits = model.logits(batch.inputIds(), batch.positions(), batch.mask(), null);
            LossSums packed = CausalLmLoss.FLOAT32.perSegment(logits, batch.labels(), segmentIds, segments);
            double[] means = packed.means().toType(DataType.FLOAT64, false).toDoubleArray();
            double[] counts = packed.counts().toType(DataType.FLOAT64, false).toDoubleArray();
            NDArray rawLabels = manager.create(rows.stream().map(TokenizedRow::labels).toArray(long[][]::new));
            double[] crossing = CausalLmLoss.FLOAT32.perSegment(logits, rawLabels, segmentIds, segments)
                    .means().toType(DataType.FLOAT64, false).toDoubleArray();

            int compared = 0;
            int differOnceCrossing = 0;
            for (int r = 0; r < rows.size(); r++) {
                List<TokenizedRow> held = Packing.samples(rows.get(r));
                for (int s = 0; s < held.size(); s++) {
                    TokenizedRow sample = held.get(s);
                    double alone;
                    double aloneCount;
                    try (NDManager step = manager.newSubManager()) {
                        NDArray aloneLogits = model.logits(step.create(new long[][] {sample.inputIds()}),
                                TinyModels.positions(step, 1, sample.length()), AttentionMask.causal(null), null);
                        LossSums sums = CausalLmLoss.FLOAT32.perRow(aloneLogits, step.create(new long[][] {sample.labels()}));
                        alone = sums.means().toType(DataType.FLOAT64, false).getDouble(0);
                        aloneCount = sums.counts().toType(DataType.FLOAT64, false).getDouble(0);
                    }
                    int at = r * segments + s;
                    String which = "row " + r + " segment " + (s + 1);
                    assertEquals(aloneCount, counts[at], which);
                    assertEquals(alone, means[at], 1e-5, which);
                    compared++;
                    if (s > 0 && sample.labels()[0] != X && Math.abs(alone - crossing[at]) > 1e-3) {
                        differOnceCrossing++;
                    }
                }
            }
            assertEquals(samples.size(), compared);
            assertTrue(differOnceCrossing > 0, "scoring the first label across a boundary must show");
        }
    }
}
