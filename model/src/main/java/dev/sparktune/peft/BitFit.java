package dev.sparktune.peft;

import dev.sparktune.arch.ModelLayout;
import java.util.Set;
import java.util.TreeSet;

/** BitFit (Ben Zaken et al., 2022): only the bias terms train, and the task head. */
public record BitFit() implements Method {

    @Override
    public Set<String> trainable(ModelLayout layout, Set<String> names) {
        Set<String> out = new TreeSet<>(Select.taskHeads(layout, names));
        for (String name : names) {
            if (name.endsWith(".bias")) {
                out.add(name);
            }
        }
        if (out.size() == Select.taskHeads(layout, names).size()) {
            throw new IllegalArgumentException("bitfit trains bias terms, and this model has none outside its task head");
        }
        return out;
    }
}
