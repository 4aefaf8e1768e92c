package dev.sparktune.train;

import ai.djl.ndarray.NDManager;
import dev.sparktune.arch.Llama;
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

    /** Completes the prompts of {@code rows}, {@code batchSize} at a time, adding each to {@code sums}. */
    void score(Llama model, Iterator<TokenizedRow> rows, int batchSize, GenerationSums sums, NDManager manager) {
        Generator generator = new Generator(model, padTokenId, decoder::apply);
        List<Pair> batch = new ArrayList<>();
        while (rows.hasNext() || !batch.isEmpty()) {
            while (batch.size() < batchSize && rows.hasNext()) {
                batch.addAll(pairs(rows.next()));
            }
            if (batch.isEmpty()) {
                continue;
            }
            List<Pair> now = batch.subList(0, Math.min(batchSize, batch.size()));
            List<Generator.Output> outputs = generator.generate(manager, now.stream().map(Pair::prompt).toList(),
                    config);
            for (int i = 0; i < now.size(); i++) {
                sums.add(outputs.get(i).text(), decoder.apply(untilStop(now.get(i).reply(), config.stopTokenIds())));
            }
            batch = new ArrayList<>(batch.subList(now.size(), batch.size()));
        }
    }
}
