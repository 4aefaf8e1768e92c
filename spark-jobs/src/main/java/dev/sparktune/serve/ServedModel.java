package dev.sparktune.serve;

import dev.sparktune.arch.Llama;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.Tokenizer;
import java.util.List;
import java.util.Set;

/**
 * One model id the server answers for: the base model or the base with one adapter applied, as vLLM lists LoRA
 * adapters beside their base. The weights belong to the caller, who closes them after the server has stopped.
 *
 * @param id              the name clients send as {@code model}
 * @param parent          the base model's id for an adapter, null for the base
 * @param model           a {@link Llama} decoder, or a {@link dev.sparktune.arch.Bert} encoder (with or without a
 *                        classifier head)
 * @param tokenizer       the model folder's tokenizer
 * @param chatTemplate    the decoder's chat template, or null when it has none
 * @param templateProblem why {@code chatTemplate} is null (a decoder only)
 * @param stopTokenIds    ids that end a completion (eos, generation_config.json's eos_token_id)
 * @param padTokenId      fills left padding in a batch of prompts (masked out)
 * @param labels          a classifier's class names, head order; null for other models
 * @param contextLength   a decoder: the most positions a prompt plus its completion may take (config.json's
 *                        max_position_embeddings); an encoder: where inputs are cut (sentence-transformers'
 *                        max_seq_length)
 */
public record ServedModel(String id, String parent, PretrainedModel model, Tokenizer tokenizer,
                          ChatTemplate chatTemplate, String templateProblem, Set<Long> stopTokenIds, long padTokenId,
                          List<String> labels, int contextLength) {

    public boolean generates() {
        return model instanceof Llama;
    }

    public boolean classifies() {
        return labels != null;
    }

}
