package dev.sparktune.bench;

import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.peft.PeftModel;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The matmul FLOPs of one training step (forward and backward) of a fine-tuning method, counted from the model's own
 * modules and which of its tensors train, rather than assumed as 6 N per token:
 * <ul>
 *   <li>forward: 2 in·out per token for every linear layer (a classifier head and BERT's pooler once per row), plus
 *       a LoRA pair's 2 r (in + out), plus attention's scores and weighted values, 4 T d per token per layer;</li>
 *   <li>backward: a weight's gradient (2 in·out) only when it trains; the gradient to a layer's input (2 in·out, and
 *       attention twice its forward) only when something at or below that block trains, so that a frozen bottom
 *       costs its forward alone.</li>
 * </ul>
 * Element-wise work (norms, activations, softmax) is left out, as in the usual model-FLOPs count. The per-block rule
 * also counts the input gradient of the lowest training block's first projections, which libtorch skips when the
 * block's input needs none: for LoRA on every layer of MiniLM at 128 tokens that is about 2% of the step.
 */
public final class StepFlops {
    private static final Pattern LAYER = Pattern.compile("\\.layers?\\.(\\d+)\\.");

    private StepFlops() {
    }

    /** FLOPs of one forward and backward over {@code rows} sequences of {@code tokens} tokens. */
    public static double count(PeftModel model, int rows, int tokens) {
        ModelLayout layout = model.base().layout();
        Map<String, Shape> shapes = new HashMap<>();
        model.weights().asMap().forEach((name, tensor) -> shapes.put(name, tensor.getShape()));
        int lowestTraining = lowestTrainingLayer(model, layout);
        double perToken = 0;
        double perRow = 0;
        for (String module : layout.linearModules()) {
            Shape weight = shapes.get(module + ".weight");
            double matmul = 2.0 * weight.get(0) * weight.get(1);
            boolean flows = gradientFlowsInto(layer(module), lowestTraining, layout);
            double flops = matmul
                    + (model.trainable().contains(module + ".weight") ? matmul : 0)
                    + (flows ? matmul : 0);
            Shape loraA = shapes.get(module + ".lora_A.weight");
            if (loraA != null) {
                double pair = 2.0 * loraA.get(0) * (weight.get(0) + weight.get(1));
                flops += pair + pair + (flows ? pair : 0);     // forward, A and B gradients, input gradient
            }
            if (layout.outputHeads().contains(module) && layout.encoder() || module.endsWith("pooler.dense")) {
                perRow += flops;
            } else {
                perToken += flops;
            }
        }
        int attentionWidth = layout.hiddenSize();
        for (int l = 0; l < layout.numLayers(); l++) {
            double forward = 4.0 * tokens * attentionWidth;
            perToken += forward + (gradientFlowsInto(OptionalInt.of(l), lowestTraining, layout) ? 2 * forward : 0);
        }
        return perToken * rows * tokens + perRow * rows;
    }

    /** The lowest block with a training tensor; -1 when the embeddings train, numLayers when no block does. */
    private static int lowestTrainingLayer(PeftModel model, ModelLayout layout) {
        int lowest = layout.numLayers();
        for (String name : model.trainable()) {
            if (name.startsWith(layout.embeddings()) || layout.embeddingTables().stream().anyMatch(name::startsWith)) {
                return -1;
            }
            OptionalInt layer = layer(name);
            if (layer.isPresent()) {
                lowest = Math.min(lowest, layer.getAsInt());
            }
        }
        return lowest;
    }

    /** Into a block at or above the lowest training one; into a head (outside the blocks) when any block trains. */
    private static boolean gradientFlowsInto(OptionalInt layer, int lowestTraining, ModelLayout layout) {
        return layer.isPresent() ? layer.getAsInt() >= lowestTraining : lowestTraining < layout.numLayers();
    }

    private static OptionalInt layer(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
    }
}
