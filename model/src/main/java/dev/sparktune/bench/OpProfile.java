package dev.sparktune.bench;

import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a stretch of libtorch work spends its time, op by op: libtorch's own (legacy autograd) profiler, which DJL
 * exposes, records every op the calling thread runs, forward and backward; each op's self time is its duration less
 * that of the ops it called. What no op accounts for is the JVM's share: our Java code, JNI crossings, and the
 * allocation and freeing of tensors between ops.
 *
 * @param wallSeconds the stretch's wall time, profiler overhead included
 * @param steps       how many training steps the stretch ran, to report per step
 * @param ops         self time per op name, the largest first
 */
public record OpProfile(double wallSeconds, int steps, List<Op> ops) {

    /** One op name's calls and summed self time. */
    public record Op(String name, long calls, double selfSeconds) {
    }

    /** Runs {@code work} (which runs {@code steps} training steps) under the profiler. */
    public static OpProfile record(int steps, Runnable work) {
        Path trace;
        try {
            trace = Files.createTempFile("sparktune-ops", ".json");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            JniUtils.startProfile(false, false, false);
            long start = System.nanoTime();
            try {
                work.run();
            } finally {
                JniUtils.stopProfile(trace.toString());
            }
            double wall = (System.nanoTime() - start) / 1e9;
            return new OpProfile(wall, steps, selfTimes(JsonParser.parseString(
                    Files.readString(trace, StandardCharsets.UTF_8)).getAsJsonArray()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read libtorch's profile " + trace + ": " + e, e);
        } finally {
            try {
                Files.deleteIfExists(trace);
            } catch (IOException ignored) {
                // a temporary file left behind
            }
        }
    }

    /**
     * Self time per op name from a Chrome-trace event list ({@code name}, {@code ts} and {@code dur} in
     * microseconds, {@code tid}): within a thread, an event that starts inside another's span is its child.
     */
    static List<Op> selfTimes(JsonArray events) {
        Map<Long, List<Span>> byThread = new HashMap<>();
        for (JsonElement element : events) {
            JsonObject e = element.getAsJsonObject();
            byThread.computeIfAbsent(e.get("tid").getAsLong(), t -> new ArrayList<>()).add(new Span(
                    e.get("name").getAsString(), e.get("ts").getAsDouble(), e.get("dur").getAsDouble()));
        }
        Map<String, long[]> calls = new HashMap<>();
        Map<String, double[]> self = new HashMap<>();
        for (List<Span> spans : byThread.values()) {
            // parents first: by start, and the longer of two spans that start together
            spans.sort(Comparator.comparingDouble((Span span) -> span.start)
                    .thenComparing(Comparator.comparingDouble((Span span) -> span.duration).reversed()));
            Deque<Span> open = new ArrayDeque<>();
            for (Span span : spans) {
                while (!open.isEmpty() && open.peek().end() <= span.start) {
                    open.pop();
                }
                if (!open.isEmpty()) {
                    open.peek().children += span.duration;
                }
                open.push(span);
            }
            for (Span span : spans) {
                calls.computeIfAbsent(span.name, n -> new long[1])[0]++;
                self.computeIfAbsent(span.name, n -> new double[1])[0] += Math.max(0, span.duration - span.children);
            }
        }
        List<Op> ops = new ArrayList<>();
        self.forEach((name, micros) -> ops.add(new Op(name, calls.get(name)[0], micros[0] / 1e6)));
        ops.sort(Comparator.comparingDouble(Op::selfSeconds).reversed());
        return ops;
    }

    /** The time every op accounts for; the rest of {@link #wallSeconds} ran outside libtorch's ops. */
    public double inOpsSeconds() {
        return ops.stream().mapToDouble(Op::selfSeconds).sum();
    }

    public long callsPerStep() {
        return ops.stream().mapToLong(Op::calls).sum() / steps;
    }

    /** One op's span on a thread; {@code children} sums the spans directly inside it. */
    private static final class Span {
        final String name;
        final double start;
        final double duration;
        double children;

        Span(String name, double start, double duration) {
            this.name = name;
            this.start = start;
            this.duration = duration;
        }

        double end() {
            return start + duration;
        }
    }
}
