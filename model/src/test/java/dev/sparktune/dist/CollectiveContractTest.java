package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every {@link Collective} must do, checked against references computed here: gathers and broadcasts
 * bit-exact, reductions within float rounding of a double-precision sum, elements outside the region untouched,
 * and the same bits on every rank and on every run.
 *
 * <p>The rounding bound: a sum of N values evaluated in any order in a precision with unit roundoff u differs
 * from the exact sum by at most (N-1)u / (1-(N-1)u) times the sum of their magnitudes (Higham, Accuracy and
 * Stability of Numerical Algorithms, §4.2); we allow N·u·Σ|x|, since cancellation makes a bound relative to the
 * result itself impossible. An average adds one rounding of the division, u·|mean|. The float64 reference is
 * exact enough for float inputs (N ≤ 4 terms of 24 bits); for double inputs it carries the same kind of error, so
 * the bound doubles.
 */
@ExtendWith(NoLeaks.class)
abstract class CollectiveContractTest {
    private static final int OFFSET = 3;
    private static final int TAIL = 2;
    private static final float SENTINEL = -7.25f;

    /** {@code n} connected members, member r being rank r. */
    protected abstract List<Collective> open(int n);

    static Stream<Arguments> worldsAndSizes() {
        List<Arguments> cases = new ArrayList<>();
        for (int n = 1; n <= 4; n++) {
            for (int size : new int[] {0, 1, n - 1, 2, 13, 1009, 100_003}) {
                cases.add(Arguments.of(n, size));
            }
        }
        return cases.stream().distinct();
    }

    @ParameterizedTest(name = "N={0}, {1} elements")
    @MethodSource("worldsAndSizes")
    void allReduceFloatIsWithinRoundingOfDoubleSumAndSameOnEveryRank(int n, int size) {
        for (Reduction reduction : Reduction.values()) {
            float[][] inputs = floatInputs(n, size, 1);
            List<float[]> results = withGroup(n, c -> {
                float[] buffer = withMargins(inputs[c.rank()]);
                c.allReduce(buffer, OFFSET, size, reduction);
                return buffer;
            });
            for (float[] result : results) {
                checkMargins(result, size);
                assertArrayEquals(results.get(0), result, "every rank holds the same bits");
                for (int i = 0; i < size; i++) {
                    checkReduced(reduction, n, i, result[OFFSET + i], inputs, Math.ulp(1.0f) / 2);
                }
            }
        }
    }

    @ParameterizedTest(name = "N={0}, {1} elements")
    @MethodSource("worldsAndSizes")
    void allReduceDoubleIsWithinRoundingOfDoubleSumAndSameOnEveryRank(int n, int size) {
        for (Reduction reduction : Reduction.values()) {
            double[][] inputs = doubleInputs(n, size, 2);
            List<double[]> results = withGroup(n, c -> {
                double[] buffer = withMargins(inputs[c.rank()]);
                c.allReduce(buffer, OFFSET, size, reduction);
                return buffer;
            });
            for (double[] result : results) {
                checkMargins(result, size);
                assertArrayEquals(results.get(0), result, "every rank holds the same bits");
                for (int i = 0; i < size; i++) {
                    checkReduced(reduction, n, i, result[OFFSET + i], inputs, Math.ulp(1.0));
                }
            }
        }
    }

    @ParameterizedTest(name = "N={0}, {1} elements")
    @MethodSource("worldsAndSizes")
    void reduceScatterLeavesEachRankItsShardReduced(int n, int size) {
        float[][] floats = floatInputs(n, size, 3);
        double[][] doubles = doubleInputs(n, size, 4);
        List<Object[]> results = withGroup(n, c -> {
            float[] f = withMargins(floats[c.rank()]);
            double[] d = withMargins(doubles[c.rank()]);
            c.reduceScatter(f, OFFSET, size, Reduction.AVERAGE);
            c.reduceScatter(d, OFFSET, size, Reduction.SUM);
            return new Object[] {f, d};
        });
        Shards shards = new Shards(size, n);
        for (int r = 0; r < n; r++) {
            float[] f = (float[]) results.get(r)[0];
            double[] d = (double[]) results.get(r)[1];
            checkMargins(f, size);
            checkMargins(d, size);
            for (long i = shards.start(r); i < shards.end(r); i++) {
                checkReduced(Reduction.AVERAGE, n, (int) i, f[OFFSET + (int) i], floats, Math.ulp(1.0f) / 2);
                checkReduced(Reduction.SUM, n, (int) i, d[OFFSET + (int) i], doubles, Math.ulp(1.0));
            }
        }
    }

    @ParameterizedTest(name = "N={0}, {1} elements")
    @MethodSource("worldsAndSizes")
    void allGatherAssemblesEveryRanksShardBitExact(int n, int size) {
        float[] fullFloat = floatInputs(1, size, 5)[0];
        double[] fullDouble = doubleInputs(1, size, 6)[0];
        Shards shards = new Shards(size, n);
        List<Object[]> results = withGroup(n, c -> {
            // each rank knows only its own shard; the rest is NaN until gathered
            float[] f = new float[size];
            double[] d = new double[size];
            Arrays.fill(f, Float.NaN);
            Arrays.fill(d, Double.NaN);
            int from = (int) shards.start(c.rank());
            int to = (int) shards.end(c.rank());
            System.arraycopy(fullFloat, from, f, from, to - from);
            System.arraycopy(fullDouble, from, d, from, to - from);
            float[] fb = withMargins(f);
            double[] db = withMargins(d);
            c.allGather(fb, OFFSET, size);
            c.allGather(db, OFFSET, size);
            return new Object[] {fb, db};
        });
        for (Object[] result : results) {
            assertArrayEquals(withMargins(fullFloat), (float[]) result[0]);
            assertArrayEquals(withMargins(fullDouble), (double[]) result[1]);
        }
    }

    @ParameterizedTest(name = "N={0}, {1} elements")
    @MethodSource("worldsAndSizes")
    void broadcastCopiesTheRootsRegionBitExact(int n, int size) {
        float[][] floats = floatInputs(n, size, 7);
        double[][] doubles = doubleInputs(n, size, 8);
        for (int root = 0; root < n; root++) {
            int from = root;
            List<Object[]> results = withGroup(n, c -> {
                float[] f = withMargins(floats[c.rank()]);
                double[] d = withMargins(doubles[c.rank()]);
                c.broadcast(f, OFFSET, size, from);
                c.broadcast(d, OFFSET, size, from);
                return new Object[] {f, d};
            });
            for (Object[] result : results) {
                assertArrayEquals(withMargins(floats[root]), (float[]) result[0]);
                assertArrayEquals(withMargins(doubles[root]), (double[]) result[1]);
            }
        }
    }

    @Test
    void sameInputsGiveTheSameBitsOnEveryRun() {
        int n = 3;
        int size = 10_007;
        float[][] inputs = floatInputs(n, size, 9);
        List<float[]> first = withGroup(n, c -> {
            float[] b = inputs[c.rank()].clone();
            c.allReduce(b, 0, size, Reduction.AVERAGE);
            return b;
        });
        List<float[]> second = withGroup(n, c -> {
            float[] b = inputs[c.rank()].clone();
            c.allReduce(b, 0, size, Reduction.AVERAGE);
            return b;
        });
        assertArrayEquals(first.get(0), second.get(0));
    }

    @Test
    void manyCallsInARowStayInStep() {
        int n = 4;
        List<Integer> finished = withGroup(n, c -> {
            for (int i = 0; i < 200; i++) {
                float[] b = {c.rank() + 1f, i};
                c.allReduce(b, 0, 2, Reduction.SUM);
                assertEquals(10f, b[0]);
                assertEquals(4f * i, b[1]);
                c.barrier();
            }
            return 1;
        });
        assertEquals(List.of(1, 1, 1, 1), finished);
    }

    /** One buffer over 64 MiB (2^24 + 5 floats), at N = 2, 3 and 4. */
    @Test
    void allReduceOfABufferOver64MiB() {
        int size = (1 << 24) + 5;
        for (int n = 2; n <= 4; n++) {
            int world = n;
            List<float[]> results = withGroup(n, c -> {
                float[] b = new float[size];
                for (int i = 0; i < size; i++) {
                    b[i] = (i % 1000) * (c.rank() + 1) * 0.5f;     // exact in float: sums carry no rounding
                }
                c.allReduce(b, 0, size, Reduction.SUM);
                return b;
            });
            float factor = world * (world + 1) / 2 * 0.5f;
            for (float[] b : results) {
                for (int i = 0; i < size; i++) {
                    if (b[i] != (i % 1000) * factor) {
                        fail("N=" + world + ": element " + i + " is " + b[i] + ", expected " + (i % 1000) * factor);
                    }
                }
            }
            results.clear();
        }
    }

    /**
     * A {@link FlatBuffer} (off-heap; the ring sends from it and receives gathered elements into it in place) gives
     * exactly the bits a Java array gives, for every operation, in floats and doubles, for a region that starts past
     * the buffer's first element; elements outside the region stay untouched.
     */
    @ParameterizedTest(name = "N={0}, {1} elements")
    @MethodSource("worldsAndSizes")
    void offHeapBuffersGiveTheSameBitsAsArrays(int n, int size) {
        float[][] floats = floatInputs(n, size, 21);
        double[][] doubles = doubleInputs(n, size, 22);
        List<String> ops = List.of("allReduce", "average", "reduceScatter", "allGather", "broadcast");
        List<List<Object>> results = withGroup(n, c -> {
            List<Object> out = new ArrayList<>();       // per operation: float[], its off-heap twin, double[], its twin
            for (String op : ops) {
                float[] fa = withMargins(floats[c.rank()]);
                FlatBuffer fb = offHeap(fa);
                double[] da = withMargins(doubles[c.rank()]);
                FlatBuffer db = offHeap(da);
                call(c, op, fa, size);
                call(c, op, fb, size);
                call(c, op, da, size);
                call(c, op, db, size);
                out.addAll(List.of(fa, floats(fb), da, doubles(db)));
            }
            return out;
        });
        for (int r = 0; r < n; r++) {
            List<Object> mine = results.get(r);
            Shards shards = new Shards(size, n);
            for (int k = 0; k < ops.size(); k++) {
                float[] fa = (float[]) mine.get(4 * k);
                float[] fb = (float[]) mine.get(4 * k + 1);
                double[] da = (double[]) mine.get(4 * k + 2);
                double[] db = (double[]) mine.get(4 * k + 3);
                if (ops.get(k).equals("reduceScatter")) {
                    // only the rank's own shard is defined afterwards
                    int from = OFFSET + (int) shards.start(r);
                    int to = OFFSET + (int) shards.end(r);
                    assertArrayEquals(Arrays.copyOfRange(fa, from, to), Arrays.copyOfRange(fb, from, to), "rank " + r);
                    assertArrayEquals(Arrays.copyOfRange(da, from, to), Arrays.copyOfRange(db, from, to), "rank " + r);
                } else {
                    assertArrayEquals(fa, fb, ops.get(k) + " of floats, rank " + r);
                    assertArrayEquals(da, db, ops.get(k) + " of doubles, rank " + r);
                }
            }
        }
    }

    private static void call(Collective c, String op, float[] b, int size) {
        switch (op) {
            case "allReduce" -> c.allReduce(b, OFFSET, size, Reduction.SUM);
            case "average" -> c.allReduce(b, OFFSET, size, Reduction.AVERAGE);
            case "reduceScatter" -> c.reduceScatter(b, OFFSET, size, Reduction.SUM);
            case "allGather" -> c.allGather(b, OFFSET, size);
            default -> c.broadcast(b, OFFSET, size, c.worldSize() - 1);
        }
    }

    private static void call(Collective c, String op, double[] b, int size) {
        switch (op) {
            case "allReduce" -> c.allReduce(b, OFFSET, size, Reduction.SUM);
            case "average" -> c.allReduce(b, OFFSET, size, Reduction.AVERAGE);
            case "reduceScatter" -> c.reduceScatter(b, OFFSET, size, Reduction.SUM);
            case "allGather" -> c.allGather(b, OFFSET, size);
            default -> c.broadcast(b, OFFSET, size, c.worldSize() - 1);
        }
    }

    private static void call(Collective c, String op, FlatBuffer b, int size) {
        switch (op) {
            case "allReduce" -> c.allReduce(b, OFFSET, size, Reduction.SUM);
            case "average" -> c.allReduce(b, OFFSET, size, Reduction.AVERAGE);
            case "reduceScatter" -> c.reduceScatter(b, OFFSET, size, Reduction.SUM);
            case "allGather" -> c.allGather(b, OFFSET, size);
            default -> c.broadcast(b, OFFSET, size, c.worldSize() - 1);
        }
    }

    static FlatBuffer offHeap(float[] values) {
        FlatBuffer b = FlatBuffer.of(DataType.FLOAT32, values.length);
        b.asFloatBuffer().put(values);
        return b;
    }

    static FlatBuffer offHeap(double[] values) {
        FlatBuffer b = FlatBuffer.of(DataType.FLOAT64, values.length);
        b.asDoubleBuffer().put(values);
        return b;
    }

    static float[] floats(FlatBuffer b) {
        float[] out = new float[b.length()];
        b.asFloatBuffer().get(out);
        return out;
    }

    static double[] doubles(FlatBuffer b) {
        double[] out = new double[b.length()];
        b.asDoubleBuffer().get(out);
        return out;
    }

    protected <T> List<T> withGroup(int n, java.util.function.Function<Collective, T> task) {
        List<Collective> group = open(n);
        try {
            return RankThreads.all(group, task);
        } finally {
            group.forEach(Collective::close);
        }
    }

    static void checkReduced(Reduction reduction, int n, int i, double actual, Object inputs, double u) {
        double sum = 0;
        double magnitude = 0;
        for (int r = 0; r < n; r++) {
            double x = inputs instanceof float[][] f ? f[r][i] : ((double[][]) inputs)[r][i];
            sum += x;
            magnitude += Math.abs(x);
        }
        double bound = n * u * magnitude * (inputs instanceof double[][] ? 2 : 1);
        double expected = sum;
        if (reduction == Reduction.AVERAGE) {
            expected = sum / n;
            bound = bound / n + u * Math.abs(expected);
        }
        if (!(Math.abs(actual - expected) <= bound)) {
            fail(reduction + " over " + n + " ranks, element " + i + ": " + actual + " differs from the float64 reference "
                    + expected + " by " + Math.abs(actual - expected) + ", more than the rounding bound " + bound);
        }
    }

    static float[][] floatInputs(int n, int size, long seed) {
        float[][] out = new float[n][size];
        for (int r = 0; r < n; r++) {
            SplittableRandom random = new SplittableRandom(seed * 1000 + r);
            for (int i = 0; i < size; i++) {
                out[r][i] = (float) value(random);
            }
        }
        return out;
    }

    static double[][] doubleInputs(int n, int size, long seed) {
        double[][] out = new double[n][size];
        for (int r = 0; r < n; r++) {
            SplittableRandom random = new SplittableRandom(seed * 1000 + r);
            for (int i = 0; i < size; i++) {
                out[r][i] = value(random);
            }
        }
        return out;
    }

    /** Mixed signs and magnitudes across 2^-10 .. 2^10, so that sums round and cancel. */
    private static double value(SplittableRandom random) {
        return (random.nextDouble() * 2 - 1) * Math.scalb(1.0, random.nextInt(-10, 11));
    }

    private static float[] withMargins(float[] values) {
        float[] b = new float[OFFSET + values.length + TAIL];
        Arrays.fill(b, SENTINEL);
        System.arraycopy(values, 0, b, OFFSET, values.length);
        return b;
    }

    private static double[] withMargins(double[] values) {
        double[] b = new double[OFFSET + values.length + TAIL];
        Arrays.fill(b, SENTINEL);
        System.arraycopy(values, 0, b, OFFSET, values.length);
        return b;
    }

    private static void checkMargins(float[] b, int size) {
        IntStream.concat(IntStream.range(0, OFFSET), IntStream.range(OFFSET + size, b.length))
                .forEach(i -> assertEquals(SENTINEL, b[i], "element " + i + " outside the region was changed"));
    }

    private static void checkMargins(double[] b, int size) {
        IntStream.concat(IntStream.range(0, OFFSET), IntStream.range(OFFSET + size, b.length))
                .forEach(i -> assertEquals(SENTINEL, b[i], "element " + i + " outside the region was changed"));
    }
}
