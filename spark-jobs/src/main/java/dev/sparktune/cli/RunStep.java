package dev.sparktune.cli;

import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * The steps of {@code sparktune run}, in the order they run, each with the config sections it reads and the step whose
 * output it reads. A step's fingerprint ({@link StepMarkers}) hashes those sections and its upstream step's
 * fingerprint, so a changed key reruns the step that reads it and every step downstream of it.
 */
enum RunStep {
    /** Reads the datasets and the model's tokenizer; its fingerprint also covers those files' listings. */
    PREP(null, List.of("data", "model")),
    /** The whole eval section: training validates with it (eval_steps, metrics, batch size). */
    TRAIN(PREP, List.of("model", "method", "train", "dist", "eval")),
    EVAL(TRAIN, List.of("eval", "generation")),
    /** eval and generation too: the export report scores the exported model on the validation rows. */
    EXPORT(TRAIN, List.of("export", "eval", "generation"));

    private final RunStep upstream;
    private final List<String> sections;

    RunStep(RunStep upstream, List<String> sections) {
        this.upstream = upstream;
        this.sections = sections;
    }

    /** The step whose output this one reads; null for prep. */
    RunStep upstream() {
        return upstream;
    }

    List<String> sections() {
        return sections;
    }

    /** The name on the command line and in the marker file, e.g. {@code prep}. */
    String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The step names, in pipeline order: {@code run --steps}' completion candidates, listed in its help. */
    static final class Labels implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(values()).map(RunStep::label).iterator();
        }
    }

    /** The step named {@code label}, or null. */
    static RunStep of(String label) {
        for (RunStep step : values()) {
            if (step.label().equals(label.trim().toLowerCase(Locale.ROOT))) {
                return step;
            }
        }
        return null;
    }
}
