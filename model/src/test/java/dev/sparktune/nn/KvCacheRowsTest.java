package dev.sparktune.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rows joining and leaving a KV cache ({@link KvCache#appendRows}, {@link KvCache#keepRows},
 * {@link KvCache#dropPositions}), as continuous batching uses them: each row's logits equal those of its sequence
 * decoded alone, with no padding at all.
 */
class KvCacheRowsTest {
    private static final double TOLERANCE = 1e-5;
    private static final long[] A = {3, 14, 15, 9, 26};
    private static final long[] B = {5, 35};
    private static final long[] C = {8, 1, 2};
    private static final long[] NEXT = {7, 11};

    @TempDir
    Path dir;

    /** Last-position logits of each step: the prompt, then each of {@link #NEXT}, one sequence alone. */
    private static List<float[]> alone(Llama model, NDManager manager, long[] prompt) {
        List<float[]> out = new ArrayList<>();
        try (KvCache cache = new KvCache(manager, model.config().numHiddenLayers())) {
            out.add(step(model, manager, cache, new long[][] {prompt}, new long[][] {range(0, prompt.length)},
                    null)[0]);
            for (int s = 0; s < NEXT.length; s++) {
                out.add(step(model, manager, cache, new long[][] {{NEXT[s]}}, new long[][] {{prompt.length + s}},
                        null)[0]);
            }
        }
        return out;
    }

    private static float[][] step(Llama model, NDManager manager, KvCache cache, long[][] ids, long[][] positions,
                                  long[][] keep) {
        try (NDManager step = manager.newSubManager()) {
            float[] flat = model.logits(step.create(ids), step.create(positions),
                    AttentionMask.causal(keep == null ? null : step.create(keep)), cache)
                    .get(":, -1, :").toFloatArray();
            int vocab = flat.length / ids.length;
            float[][] rows = new float[ids.length][];
            for (int b = 0; b < ids.length; b++) {
                rows[b] = Arrays.copyOfRange(flat, b * vocab, (b + 1) * vocab);
            }
            return rows;
        }
    }

    private static long[] range(long from, long to) {
        long[] r = new long[(int) (to - from)];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    /** A keep-mask row of {@code length} positions whose last {@code real} are tokens. */
    private static long[] keep(int length, int real) {
        long[] row = new long[length];
        Arrays.fill(row, length - real, length, 1);
        return row;
    }

    @Test
    void rowsThatJoinAndLeaveDecodeAsTheirSequenceAlone() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Llama model = (Llama) ModelDirectory.open(TinyModels.writeRandom(dir.resolve("llama"),
                    TinyModels.llamaJson("llama", 4, 2, false, ""), 7)).load(manager, DataType.FLOAT32);
            List<float[]> a = alone(model, manager, A);
            List<float[]> b = alone(model, manager, B);
            List<float[]> c = alone(model, manager, C);

            try (KvCache batch = new KvCache(manager, model.config().numHiddenLayers());
                 KvCache joining = new KvCache(manager, model.config().numHiddenLayers())) {
                assertClose(a.get(0), step(model, manager, batch, new long[][] {A},
                        new long[][] {range(0, A.length)}, null)[0]);
                // B and C are prefilled together (B left-padded to C's length) and join A's batch
                float[][] joined = step(model, manager, joining, new long[][] {{0, B[0], B[1]}, C},
                        new long[][] {{0, 0, 1}, range(0, 3)}, new long[][] {keep(3, 2), keep(3, 3)});
                assertClose(b.get(0), joined[0]);
                assertClose(c.get(0), joined[1]);
                batch.appendRows(joining, 0);
                assertEquals(3, batch.rows());
                assertEquals(A.length, batch.length(), "the shorter rows are padded to the longest");

                // one decoding step for all three: A has 5 real positions, B 2, C 3
                float[][] first = step(model, manager, batch, new long[][] {{NEXT[0]}, {NEXT[0]}, {NEXT[0]}},
                        new long[][] {{A.length}, {B.length}, {C.length}},
                        new long[][] {keep(6, 6), keep(6, 3), keep(6, 4)});
                assertClose(a.get(1), first[0]);
                assertClose(b.get(1), first[1]);
                assertClose(c.get(1), first[2]);

                // A leaves; the two leading positions no remaining row uses are dropped
                batch.keepRows(new long[] {1, 2});
                batch.dropPositions(0, 2);
                assertEquals(2, batch.rows());
                assertEquals(4, batch.length());
                float[][] second = step(model, manager, batch, new long[][] {{NEXT[1]}, {NEXT[1]}},
                        new long[][] {{B.length + 1}, {C.length + 1}}, new long[][] {keep(5, 4), keep(5, 5)});
                assertClose(b.get(2), second[0]);
                assertClose(c.get(2), second[1]);
            }
        }
    }

    private static void assertClose(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        double diff = 0;
        for (int i = 0; i < expected.length; i++) {
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(diff <= TOLERANCE, "max abs difference " + diff);
    }
}
