package dev.sparktune.peft;

import dev.sparktune.arch.ModelLayout;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * LLaMA-Factory's freeze tuning: the top {@code trainableLayers} blocks train (the bottom ones
 * when negative), plus the named modules outside the blocks ({@code embed_tokens}, {@code norm})
 * and the task head; everything else is frozen.
 */
public record Freeze(int trainableLayers, List<String> extraModules) implements Method {

    public Freeze {
        if (trainableLayers == 0) {
            throw new IllegalArgumentException("freeze_trainable_layers must not be 0");
        }
        extraModules = List.copyOf(extraModules);
    }

    @Override
    public Set<String> trainable(ModelLayout layout, Set<String> names) {
        int layers = layout.numLayers();
        if (Math.abs(trainableLayers) > layers) {
            throw new IllegalArgumentException("freeze_trainable_layers is " + trainableLayers + " but the model has "
                    + layers + " layers");
        }
        int from = trainableLayers > 0 ? layers - trainableLayers : 0;
        int to = trainableLayers > 0 ? layers : -trainableLayers;
        Set<String> out = new TreeSet<>(Select.taskHeads(layout, names));
        for (String name : names) {
            OptionalInt layer = ModelLayout.layerOf(name);
            if (layer.isPresent() && layer.getAsInt() >= from && layer.getAsInt() < to) {
                out.add(name);
            } else if (layer.isEmpty() && extraModules.stream().anyMatch(m -> name.startsWith(m + ".") || name.contains("." + m + "."))) {
                out.add(name);
            }
        }
        return out;
    }
}
