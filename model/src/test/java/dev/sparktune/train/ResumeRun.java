package dev.sparktune.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;

/**
 * The second half of {@link TrainerTest}'s resume check, run as its own process: a new JVM
 * loads the model folder, applies the method, and resumes from the checkpoint.
 * Arguments: model folder, data folder, output folder, checkpoint folder, then config overrides.
 */
public final class ResumeRun {
    static final Method METHOD = new Lora(4, 8, 0.1, List.of("all"), false, false, List.of());
    static final long SEED = 3;

    private ResumeRun() {
    }

    public static void main(String[] args) {
        List<String> overrides = Arrays.asList(args).subList(4, args.length);
        try (NDManager manager = NDManager.newBaseManager()) {
            PeftModel model = PeftModel.apply(ModelDirectory.open(Path.of(args[0])).load(manager, DataType.FLOAT32),
                    METHOD, manager, SEED);
            new Trainer(model, ConfigLoader.parse("", "resume run", overrides).job().train(), 0)
                    .train(TrainerTest.run(TrainingData.open(new Configuration(), args[1]), Path.of(args[2]),
                            Optional.of(OutputFolder.localLocation(Path.of(args[3])))), manager);
        }
    }
}
