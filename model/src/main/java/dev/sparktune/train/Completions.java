package dev.sparktune.train;

import ai.djl.ndarray.NDManager;
import dev.sparktune.arch.Llama;
import dev.sparktune.dist.Collective;
import dev.sparktune.dist.Reduction;
import dev.sparktune.eval.GenerationSums;
import dev.sparktune.generate.GenerationConfig;
import dev.sparktune.generate.Generator;
import dev.sparktune.io.TokenizedRow;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * How validation completes SFT samples to score the generation metrics (bleu, chrf, rouge, exact_match) during
 * training. A tokenized SFT sample holds its prompt and its reply: the reply is the last run of scored tokens (labels
 * not {@value CausalLmLoss#IGNORE_INDEX}), the prompt everything before it, so the model is asked to complete the
 * prompt and its text is compared with the reply's. Samples whose every token is scored (pretraining text, or SFT with
 * {@code train_on_prompt}) have no prompt to complete and are left out.
 *
 * @param config     the {@code generation} settings with the model's stop ids
 * @param padTokenId pads the prompts of a batch (masked out)
 * @param decoder    token ids to text, special tokens skipped
 */
public record Completions(GenerationConfig config, long padTokenId, Function<long[], String> decoder) {

    /** A prompt and the reply it should get. */
    public record Pair(long[] prompt, long[] reply) {
    }

    /**
     * The prompt and reply of each sample of {@code row} (a packed row holds several); none for a sample without
     * an unscored prefix.
     */
    public static List<Pair> pairs(TokenizedRow row) {
        List<Pair> out = new ArrayList<>();
        for (TokenizedRow sample : Packing.samples(row)) {
            long[] labels = sample.targets();
            int end = labels.length;
            while (end > 0 && labels[end - 1] == CausalLmLoss.IGNORE_INDEX) {
                end--;
            }
            int start = end;
            while (start > 0 && labels[start - 1] != CausalLmLoss.IGNORE_INDEX) {
                start--;
            }
            if (start > 0 && end > start) {
                out.add(new Pair(Arrays.copyOfRange(sample.inputIds(), 0, start),
                        Arrays.copyOfRange(sample.inputIds(), start, end)));
            }
        }
        return out;
    }

    /** The reply up to its first stop token (the end-of-turn a completion stops at and leaves out). */
    public static long[] untilStop(long[] reply, Set<Long> stopTokenIds) {
        for (int i = 0; i < reply.length; i++) {
            if (stopTokenIds.contains(reply[i])) {
                return Arrays.copyOf(reply, i);
            }
        }
        return reply;
    }

    /**
     * Completes the prompts of {@code rows}, {@code batchSize} at a time, adding each to {@code sums}. Every rank of
     * {@code collective} runs as many batches, and as many decoding steps in each, as the rank that needs the most:
     * a rank with fewer prompts completes a padding prompt and drops the result, so that forwards that are collective
     * calls (ZeRO-3) stay in step. A collective call.
     */
    void score(Llama model, Iterator<TokenizedRow> rows, int batchSize, GenerationSums sums, NDManager manager,
               Collective collective) {
        Generator generator = new Generator(model, padTokenId, decoder::apply);
        List<Pair> all = new ArrayList<>();
        rows.forEachRemaining(row -> all.addAll(pairs(row)));
        long batches = (all.size() + batchSize - 1) / batchSize;
        long mostBatches = batches;
        Generator.Decoding inStep = Generator.Decoding.ALONE;
        if (collective.worldSize() > 1) {
            double[] perRank = new double[collective.worldSize()];
            perRank[collective.rank()] = batches;
            collective.allReduce(perRank, 0, perRank.length, Reduction.SUM);
            mostBatches = (long) Arrays.stream(perRank).max().orElseThrow();
            inStep = stillDecoding -> {
                double[] decoding = {stillDecoding ? 1 : 0};
                collective.allReduce(decoding, 0, 1, Reduction.SUM);
                return decoding[0] > 0;
            };
        }
        for (long b = 0; b < mostBatches; b++) {
            List<Pair> now = all.subList((int) Math.min(b * batchSize, all.size()),
                    (int) Math.min((b + 1) * batchSize, all.size()));
            if (now.isEmpty()) {
                generator.generate(manager, List.of(new long[] {padTokenId}), config, inStep);    // dropped
                continue;
            }
            List<Generator.Output> outputs = generator.generate(manager, now.stream().map(Pair::prompt).toList(),
                    config, inStep);
            for (int i = 0; i < now.size(); i++) {
                sums.add(outputs.get(i).text(), decoder.apply(untilStop(now.get(i).reply(), config.stopTokenIds())));
            }
        }
    }
}
