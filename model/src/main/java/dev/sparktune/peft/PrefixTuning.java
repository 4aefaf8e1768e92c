package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.Linear;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * Prefix tuning (Li and Liang, 2021): P learned keys and values per layer that every token
 * attends to first, laid out as PEFT's {@code prompt_embeddings} [P, layers * 2 * kvHeads * headDim]
 * (per row: layer-major, then key/value, then head). With {@code projection}, PEFT's
 * reparameterisation: an embedding [P, hidden] through Linear-tanh-Linear gives that table.
 *
 * @param encoderHiddenSize width of the reparameterisation MLP
 */
public record PrefixTuning(int numVirtualTokens, boolean projection, int encoderHiddenSize) implements Method {
    /** PEFT's default for {@code encoder_hidden_size} follows the model; we fix a modest width. */
    public static final int DEFAULT_ENCODER_HIDDEN = 512;
    static final String EMBEDDING = "prefix_encoder.embedding.weight";

    public PrefixTuning {
        if (numVirtualTokens < 1) {
            throw new IllegalArgumentException("num_virtual_tokens must be >= 1, got " + numVirtualTokens);
        }
    }

    static long tableWidth(ModelLayout layout) {
        return 2L * layout.numLayers() * layout.numKeyValueHeads() * layout.headDim();
    }

    @Override
    public Set<String> trainable(ModelLayout layout, Set<String> names) {
        Set<String> out = new TreeSet<>(Select.taskHeads(layout, names));
        names.stream().filter(n -> n.startsWith("prefix_encoder.")).forEach(out::add);
        return out;
    }

    @Override
    public Map<String, NDArray> newTensors(ModelLayout layout, Weights base, NDManager manager, Random random) {
        DataType dtype = base.get(layout.embeddings() + ".weight").getDataType();
        Map<String, NDArray> out = new LinkedHashMap<>();
        long width = projection ? layout.hiddenSize() : tableWidth(layout);
        // nn.Embedding starts N(0, 1), as PEFT's PrefixEncoder does
        out.put(EMBEDDING, Initializers.normal(manager, new Shape(numVirtualTokens, width), 1.0, dtype, random));
        if (projection) {
            out.put("prefix_encoder.transform.0.weight",
                    Initializers.kaimingUniform(manager, new Shape(encoderHiddenSize, layout.hiddenSize()), dtype, random));
            out.put("prefix_encoder.transform.0.bias", manager.zeros(new Shape(encoderHiddenSize), dtype));
            out.put("prefix_encoder.transform.2.weight",
                    Initializers.kaimingUniform(manager, new Shape(tableWidth(layout), encoderHiddenSize), dtype, random));
            out.put("prefix_encoder.transform.2.bias", manager.zeros(new Shape(tableWidth(layout)), dtype));
        }
        return out;
    }

    /** The [P, layers * 2 * kvHeads * headDim] table of keys and values, computed in {@code step}. */
    NDArray table(Weights w, NDManager step) {
        NDArray embedding = w.borrow(EMBEDDING, step);
        if (!projection) {
            return embedding;
        }
        NDArray hidden = Linear.linear(embedding, w.get("prefix_encoder.transform.0.weight"),
                w.get("prefix_encoder.transform.0.bias")).tanh();
        return Linear.linear(hidden, w.get("prefix_encoder.transform.2.weight"), w.get("prefix_encoder.transform.2.bias"));
    }

    @Override
    public ForwardHooks hooks(ModelLayout layout, boolean training) {
        return new ForwardHooks() {
            @Override
            public NDList prefixKeyValues(Weights w, int layer, NDArray x) {
                long batch = x.getShape().get(0);
                NDArray perLayer = table(w, x.getManager())
                        .reshape(numVirtualTokens, layout.numLayers(), 2, layout.numKeyValueHeads(), layout.headDim())
                        .get(new NDIndex(":, {}, :, :, :", layer))            // [P, 2, kvHeads, d]
                        .transpose(1, 2, 0, 3)                                // [2, kvHeads, P, d]
                        .expandDims(1).repeat(1, batch);                      // [2, B, kvHeads, P, d]
                return new NDList(perLayer.get(0), perLayer.get(1));
            }

            @Override
            public int virtualTokens() {
                return numVirtualTokens;
            }
        };
    }
}
