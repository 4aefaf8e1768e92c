package dev.sparktune.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Llama;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.KvCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Autoregressive decoding for a causal LM: prompts batched with left padding, one prefill
 * pass, then one token per step through the KV cache. Each step runs in its own NDManager.
 */
public final class Generator {
    private final Llama model;
    private final long padTokenId;
    private final Function<long[], String> decoder;

    /**
     * @param decoder turns generated ids into text, for stop strings; may be null when none are used
     */
    public Generator(Llama model, long padTokenId, Function<long[], String> decoder) {
        this.model = model;
        this.padTokenId = padTokenId;
        this.decoder = decoder;
    }

    /** The result for one prompt: the new token ids, the decoded text (when a decoder is set) and why it ended. */
    public record Output(long[] tokenIds, String text, String finishReason) {
    }

    /**
     * Whether decoding goes on, asked after each step: ranks whose forwards are collective calls (ZeRO-3 gathers
     * parameters in each) agree on it, so that every rank runs as many steps as the last one still decoding needs.
     */
    @FunctionalInterface
    public interface Decoding {
        /** Decoding alone: it goes on while this batch has a row still decoding. */
        Decoding ALONE = stillDecoding -> stillDecoding;

        /** Whether to run another step, given whether this batch still has a row decoding. */
        boolean goesOn(boolean stillDecoding);
    }

    public List<Output> generate(NDManager manager, List<long[]> prompts, GenerationConfig config) {
        return generate(manager, prompts, config, Decoding.ALONE);
    }

    /**
     * Completes {@code prompts}, decoding until {@code decoding} says to stop or {@code max_new_tokens} are made; rows
     * that finished idle (masked out) while others decode, so the outputs are the same however long it goes on.
     */
    public List<Output> generate(NDManager manager, List<long[]> prompts, GenerationConfig config, Decoding decoding) {
        if (!config.stopStrings().isEmpty() && decoder == null) {
            throw new IllegalArgumentException("stop strings need a decoder");
        }
        int batch = prompts.size();
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        int total = longest + config.maxNewTokens();
        long[][] ids = new long[batch][longest];
        long[][] keep = new long[batch][total];
        long[] nextPosition = new long[batch];
        long[][] positions = new long[batch][longest];
        List<List<Long>> seen = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            long[] prompt = prompts.get(b);
            if (prompt.length == 0) {
                throw new IllegalArgumentException("prompt " + b + " is empty");
            }
            int pad = longest - prompt.length;
            List<Long> tokens = new ArrayList<>();
            for (int t = 0; t < longest; t++) {
                boolean real = t >= pad;
                ids[b][t] = real ? prompt[t - pad] : padTokenId;
                keep[b][t] = real ? 1 : 0;
                positions[b][t] = real ? t - pad : 0;
                if (real) {
                    tokens.add(ids[b][t]);
                }
            }
            nextPosition[b] = prompt.length;
            seen.add(tokens);
        }

        NextToken picker = new NextToken(config);
        List<List<Long>> generated = new ArrayList<>();
        String[] finish = new String[batch];
        for (int b = 0; b < batch; b++) {
            generated.add(new ArrayList<>());
        }
        try (KvCache cache = new KvCache(manager, model.config().numHiddenLayers())) {
            long[][] stepIds = ids;
            long[][] stepPositions = positions;
            int length = longest;
            for (int step = 0; step < config.maxNewTokens(); step++) {
                float[][] last = lastLogits(manager, stepIds, stepPositions, keep, length, cache);
                long[][] nextIds = new long[batch][1];
                long[][] nextPositions = new long[batch][1];
                for (int b = 0; b < batch; b++) {
                    if (finish[b] != null) {
                        nextIds[b][0] = padTokenId;   // finished rows idle, masked out
                        continue;
                    }
                    long token = picker.pick(last[b], seen.get(b));
                    generated.get(b).add(token);
                    seen.get(b).add(token);
                    nextIds[b][0] = token;
                    nextPositions[b][0] = nextPosition[b]++;
                    keep[b][length] = 1;
                    finish[b] = stopReason(token, generated.get(b), config);
                }
                length++;
                stepIds = nextIds;
                stepPositions = nextPositions;
                if (!decoding.goesOn(!Arrays.stream(finish).allMatch(Objects::nonNull))) {
                    break;
                }
            }
        }

        List<Output> outputs = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            long[] tokens = generated.get(b).stream().mapToLong(Long::longValue).toArray();
            String text = decoder == null ? null : cutAtStops(decoder.apply(tokens), config.stopStrings());
            outputs.add(new Output(tokens, text, finish[b] == null ? "length" : finish[b]));
        }
        return outputs;
    }

    private float[][] lastLogits(NDManager manager, long[][] ids, long[][] positions, long[][] keep, int length,
                                 KvCache cache) {
        long[][] keepSoFar = new long[keep.length][];
        for (int b = 0; b < keep.length; b++) {
            keepSoFar[b] = Arrays.copyOf(keep[b], length);
        }
        return lastLogits(model, manager, ids, positions, keepSoFar, cache);
    }

    /**
     * Runs one decoding pass in its own sub-manager of {@code manager} and returns each row's logits at its last
     * position, [rows][vocab].
     *
     * @param keep [rows][cached + new] 1 for a real token, 0 for padding
     */
    public static float[][] lastLogits(Llama model, NDManager manager, long[][] ids, long[][] positions,
                                       long[][] keep, KvCache cache) {
        try (NDManager step = manager.newSubManager()) {
            NDArray logits = model.logits(step.create(ids), step.create(positions),
                    AttentionMask.causal(step.create(keep)), cache);
            NDArray last = logits.get(new NDIndex(":, -1, :")).toType(DataType.FLOAT32, false);
            float[] flat = last.toFloatArray();
            int vocab = (int) last.getShape().get(1);
            float[][] rows = new float[ids.length][];
            for (int b = 0; b < ids.length; b++) {
                rows[b] = Arrays.copyOfRange(flat, b * vocab, (b + 1) * vocab);
            }
            return rows;
        }
    }

    private String stopReason(long token, List<Long> generated, GenerationConfig config) {
        return stopReason(token, generated, config, decoder);
    }

    /**
     * Why a sequence ends with {@code token}, the last of {@code generated}: {@code "stop"} for a stop token or when
     * the decoded text contains a stop string; null when it goes on (running out of tokens is the caller's "length").
     */
    public static String stopReason(long token, List<Long> generated, GenerationConfig config,
                                    Function<long[], String> decoder) {
        if (config.stopTokenIds().contains(token)) {
            return "stop";
        }
        if (!config.stopStrings().isEmpty()) {
            String text = decoder.apply(generated.stream().mapToLong(Long::longValue).toArray());
            if (config.stopStrings().stream().anyMatch(text::contains)) {
                return "stop";
            }
        }
        return null;
    }

    /** A completion's text as it is returned: cut before the first occurrence of each stop string, in turn. */
    public static String cutAtStops(String text, List<String> stops) {
        for (String stop : stops) {
            int at = text.indexOf(stop);
            if (at >= 0) {
                text = text.substring(0, at);
            }
        }
        return text;
    }
}
