package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.Activations;
import dev.sparktune.nn.Linear;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * Houlsby bottleneck adapters (Houlsby et al., 2019): after the attention and the MLP sublayer
 * of every block, before the residual add, z + up(gelu(down(z))). The up-projection starts at
 * zero, so the model starts exactly as the base. As in the paper, the adapters, the layer norms
 * and the task head train. Python PEFT has no such method, so these adapters load in sparktune only.
 *
 * @param size the bottleneck width
 */
public record BottleneckAdapter(int size) implements Method {
    static final String[] SUBLAYERS = {"attention", "mlp"};

    public BottleneckAdapter {
        if (size < 1) {
            throw new IllegalArgumentException("adapter_size must be >= 1, got " + size);
        }
    }

    /** {@code model.layers.3.adapter_mlp}: where a block's adapter tensors live. */
    static String module(ModelLayout layout, int layer, String sublayer) {
        return layout.layerPrefixes().get(layer) + ".adapter_" + sublayer;
    }

    @Override
    public Set<String> trainable(ModelLayout layout, Set<String> names) {
        Set<String> out = new TreeSet<>(Select.taskHeads(layout, names));
        for (String name : names) {
            if (name.contains(".adapter_") || name.contains("norm.") || name.contains("LayerNorm.")) {
                out.add(name);
            }
        }
        return out;
    }

    @Override
    public Map<String, NDArray> newTensors(ModelLayout layout, Weights base, NDManager manager, Random random) {
        DataType dtype = base.get(layout.embeddings() + ".weight").getDataType();
        int hidden = layout.hiddenSize();
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (int layer = 0; layer < layout.numLayers(); layer++) {
            for (String sublayer : SUBLAYERS) {
                String m = module(layout, layer, sublayer);
                out.put(m + ".down_proj.weight", Initializers.kaimingUniform(manager, new Shape(size, hidden), dtype, random));
                out.put(m + ".down_proj.bias", manager.zeros(new Shape(size), dtype));
                out.put(m + ".up_proj.weight", manager.zeros(new Shape(hidden, size), dtype));
                out.put(m + ".up_proj.bias", manager.zeros(new Shape(hidden), dtype));
            }
        }
        return out;
    }

    @Override
    public ForwardHooks hooks(ModelLayout layout, boolean training) {
        return new ForwardHooks() {
            @Override
            public NDArray sublayerOutput(Weights w, int layer, String sublayer, NDArray z) {
                String m = module(layout, layer, sublayer);
                NDArray down = Linear.linear(z, w.get(m + ".down_proj.weight"), w.get(m + ".down_proj.bias"));
                return z.add(Linear.linear(Activations.gelu(down), w.get(m + ".up_proj.weight"), w.get(m + ".up_proj.bias")));
            }
        };
    }
}
