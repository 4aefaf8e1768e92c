package dev.sparktune.peft;

import dev.sparktune.arch.ModelLayout;
import java.util.Set;
import java.util.TreeSet;

/** Every parameter trains. */
public record FullFineTuning() implements Method {

    @Override
    public Set<String> trainable(ModelLayout layout, Set<String> names) {
        return new TreeSet<>(names);
    }
}
