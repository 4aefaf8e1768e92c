package dev.sparktune.generate;

import java.util.List;
import java.util.Set;

/**
 * How to pick each next token, with Hugging Face {@code generate()}'s names and semantics.
 *
 * @param maxNewTokens      at most this many tokens are added to each prompt
 * @param doSample          false: greedy (argmax); true: sample from the processed distribution
 * @param temperature       logits are divided by this before sampling (> 0)
 * @param topK              keep only the k most likely tokens; 0 keeps all
 * @param topP              keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all
 * @param repetitionPenalty CTRL's penalty (Keskar et al., 2019) on tokens already in the sequence; 1 is none
 * @param stopTokenIds      generation of a row ends after it emits one of these (e.g. eos)
 * @param stopStrings       generation of a row ends when its decoded text contains one; the text is cut before it
 * @param seed              seeds sampling, so a run is reproducible
 */
public record GenerationConfig(
        int maxNewTokens,
        boolean doSample,
        double temperature,
        int topK,
        double topP,
        double repetitionPenalty,
        Set<Long> stopTokenIds,
        List<String> stopStrings,
        long seed) {

    public GenerationConfig {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max_new_tokens must be >= 1, got " + maxNewTokens);
        }
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (!(repetitionPenalty > 0)) {
            throw new IllegalArgumentException("repetition_penalty must be > 0, got " + repetitionPenalty);
        }
        stopTokenIds = Set.copyOf(stopTokenIds);
        stopStrings = List.copyOf(stopStrings);
    }

    public static GenerationConfig greedy(int maxNewTokens) {
        return new GenerationConfig(maxNewTokens, false, 1.0, 0, 1.0, 1.0, Set.of(), List.of(), 0);
    }

    public GenerationConfig sampling(double temperature, int topK, double topP, long seed) {
        return new GenerationConfig(maxNewTokens, true, temperature, topK, topP, repetitionPenalty, stopTokenIds,
                stopStrings, seed);
    }

    public GenerationConfig withRepetitionPenalty(double penalty) {
        return new GenerationConfig(maxNewTokens, doSample, temperature, topK, topP, penalty, stopTokenIds,
                stopStrings, seed);
    }

    public GenerationConfig withStops(Set<Long> tokenIds, List<String> strings) {
        return new GenerationConfig(maxNewTokens, doSample, temperature, topK, topP, repetitionPenalty, tokenIds,
                strings, seed);
    }
}
