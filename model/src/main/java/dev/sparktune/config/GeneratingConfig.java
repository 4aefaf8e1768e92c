package dev.sparktune.config;

import dev.sparktune.generate.GenerationConfig;
import java.io.Serializable;
import java.util.List;
import java.util.Set;

/**
 * Section {@code generation}: how {@code sparktune eval} (and the Spark ML {@code FineTunedModel}) complete the
 * prompts of SFT tasks, with LLaMA-Factory's GeneratingArguments names and Hugging Face {@code generate()}'s meaning.
 * Greedy by default, so an evaluation is reproducible; sampling is seeded by {@code train.seed}.
 *
 * @param maxNewTokens      at most this many tokens per completion
 * @param doSample          false: greedy; true: sample with temperature, top_k and top_p
 * @param temperature       sampling: logits are divided by this
 * @param topK              sampling: keep the k most likely tokens; 0 = all
 * @param topP              sampling: keep the most likely tokens up to this probability
 * @param repetitionPenalty CTRL's penalty on tokens already in the sequence; 1 = none
 * @param stop              a completion ends where its text contains one of these, cut before it
 */
public record GeneratingConfig(int maxNewTokens, boolean doSample, double temperature, int topK, double topP,
                               double repetitionPenalty, List<String> stop) implements Serializable {

    public GeneratingConfig {
        stop = List.copyOf(stop);
    }

    static GeneratingConfig read(Section s) {
        int maxNewTokens = s.integer("max_new_tokens", 128, Range.atLeast(1));
        boolean doSample = s.flag("do_sample", false);
        double temperature = s.number("temperature", 1.0, Range.above(0));
        int topK = s.integer("top_k", 50, Range.atLeast(0));
        double topP = s.number("top_p", 1.0, Range.closed(0, 1));
        s.require(topP > 0, "top_p", "must be above 0");
        double penalty = s.number("repetition_penalty", 1.0, Range.above(0));
        List<String> stop = s.strings("stop", List.of());
        return new GeneratingConfig(maxNewTokens, doSample, temperature, topK, topP, penalty, stop);
    }

    /** The decoding settings for a model whose end-of-sequence ids are {@code stopTokenIds}. */
    public GenerationConfig toGenerationConfig(Set<Long> stopTokenIds, long seed) {
        GenerationConfig greedy = GenerationConfig.greedy(maxNewTokens).withRepetitionPenalty(repetitionPenalty)
                .withStops(stopTokenIds, stop);
        return doSample ? greedy.sampling(temperature, topK, topP, seed) : greedy;
    }
}
