package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.Weights;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * Prompt tuning (Lester et al., 2021): P learned embeddings placed before the input tokens.
 * Initialised, as PEFT does, from the embeddings of a text's tokens (repeated or cut to P), or
 * at random.
 *
 * @param initText    the text, or null for random initialisation
 * @param initTokenIds its token ids under the model's tokenizer (null when {@code initText} is)
 */
public record PromptTuning(int numVirtualTokens, String initText, long[] initTokenIds) implements Method {
    static final String EMBEDDING = "prompt_encoder.embedding.weight";

    public PromptTuning {
        if (numVirtualTokens < 1) {
            throw new IllegalArgumentException("num_virtual_tokens must be >= 1, got " + numVirtualTokens);
        }
        if (initText != null && (initTokenIds == null || initTokenIds.length == 0)) {
            throw new IllegalArgumentException("prompt_tuning_init_text '" + initText + "' gave no tokens");
        }
    }

    @Override
    public Set<String> trainable(ModelLayout layout, Set<String> names) {
        Set<String> out = new TreeSet<>(Select.taskHeads(layout, names));
        out.add(EMBEDDING);
        return out;
    }

    @Override
    public Map<String, NDArray> newTensors(ModelLayout layout, Weights base, NDManager manager, Random random) {
        NDArray words = base.get(layout.embeddings() + ".weight");
        DataType dtype = words.getDataType();
        if (initTokenIds == null) {
            return Map.of(EMBEDDING, Initializers.normal(manager, new Shape(numVirtualTokens, layout.hiddenSize()), 1.0, dtype, random));
        }
        long[] ids = new long[numVirtualTokens];
        for (int i = 0; i < numVirtualTokens; i++) {
            ids[i] = initTokenIds[i % initTokenIds.length];
        }
        NDArray rows = words.get(manager.create(ids));
        rows.attach(manager);
        return Map.of(EMBEDDING, rows);
    }

    @Override
    public ForwardHooks hooks(ModelLayout layout, boolean training) {
        return new ForwardHooks() {
            @Override
            public NDArray promptEmbeddings(Weights w, NDArray tokens) {
                long batch = tokens.getShape().get(0);
                return w.borrow(EMBEDDING, tokens.getManager()).expandDims(0).repeat(0, batch);
            }

            @Override
            public int virtualTokens() {
                return numVirtualTokens;
            }
        };
    }
}
