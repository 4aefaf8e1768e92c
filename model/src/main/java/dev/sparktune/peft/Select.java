package dev.sparktune.peft;

import dev.sparktune.arch.ModelLayout;
import java.util.Collection;
import java.util.Set;
import java.util.TreeSet;

/** Picking parameter names by module. */
final class Select {
    private Select() {
    }

    /** The names that belong to any of {@code modules} (a module's parameters are {@code module.*}). */
    static Set<String> inModules(Set<String> names, Collection<String> modules) {
        Set<String> out = new TreeSet<>();
        for (String name : names) {
            for (String m : modules) {
                if (name.startsWith(m + ".")) {
                    out.add(name);
                }
            }
        }
        return out;
    }

    /** The parameters of the new task heads, which train under every method. */
    static Set<String> taskHeads(ModelLayout layout, Set<String> names) {
        return inModules(names, layout.taskHeads());
    }

    /**
     * The modules among {@code candidates} that a user's name selects, PEFT's way: the module
     * path itself or any path ending in {@code .name} ({@code q_proj} selects every layer's q_proj).
     */
    static Set<String> modulesNamed(Collection<String> candidates, Collection<String> userNames) {
        Set<String> out = new TreeSet<>();
        for (String module : candidates) {
            for (String n : userNames) {
                if (module.equals(n) || module.endsWith("." + n)) {
                    out.add(module);
                }
            }
        }
        return out;
    }
}
