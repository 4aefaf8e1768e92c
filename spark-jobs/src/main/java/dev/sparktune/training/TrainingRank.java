package dev.sparktune.training;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.JobConfig;
import dev.sparktune.config.MethodConfig;
import dev.sparktune.dist.Collective;
import dev.sparktune.generate.StopTokens;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.ModelFolderCache;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.quant.FrozenBase;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.CheckpointFence;
import dev.sparktune.train.ClassificationLoss;
import dev.sparktune.train.Completions;
import dev.sparktune.train.Objective;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.StepListener;
import dev.sparktune.train.TaskMix;
import dev.sparktune.train.Trainer;
import dev.sparktune.train.TrainingCheckpoints;
import dev.sparktune.train.TrainingData;
import dev.sparktune.train.TrainingTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;

/**
 * One rank's whole run, from the job's configuration and the {@link TrainingInputs} the driver checked: it loads its
 * own model replica from {@code model_name_or_path} (nothing is broadcast), gives each classification task a head
 * ({@code classifier} for the first task, {@code classifier_<task>} for the others, on one shared encoder), applies
 * the method, opens its share of each task's rows and trains them mixed by {@code data.mix_strategy}. The same code
 * runs in a Spark barrier task and, for reference runs, in one process with in-process ranks.
 *
 * <p>With a validation split beside the training rows (as {@code sparktune prep} writes it), the ranks validate on
 * it, each on its share, every {@code eval.eval_steps} steps, or with {@code eval_steps: 0} at the end of each epoch
 * and of the run ({@code early_stopping_patience} applies).
 *
 * <p>Where it starts: from the newest complete checkpoint in {@code output_dir} when there is one (a retried Spark
 * stage, or a rerun of a scheduled job), else from {@code resume_from_checkpoint} when it is set, else from the
 * pretrained weights.
 */
public final class TrainingRank {

    private TrainingRank() {
    }

    /**
     * How a rank's run went: where it started ({@code resumedFrom}, null from the pretrained weights), how it ended,
     * and (rank 0 only, else null) where the trained model was exported.
     */
    public record Run(Trainer.Result result, String resumedFrom, String export) {
    }

    /** As below, reading the inputs and the starting point itself: for reference runs in one process. */
    public static Run run(JobConfig job, Collective collective, Configuration hadoop, StepListener listener,
                          Device device) {
        return run(job, TrainingInputs.read(job, hadoop, java.util.Map.of()), collective, hadoop, listener, device,
                startingPoint(job, new OutputFolder(hadoop, job.train().outputDir())), null);
    }

    /**
     * Trains {@code inputs} (the rank reads its share of each task), starting from {@code start}: in a Spark job
     * rank 0 picks it and every rank gets the same, so ranks never resume from different checkpoints. Rank 0 writes
     * its checkpoints under {@code fence}, its claim on the output folder (null: it claims when training starts).
     */
    static Run run(JobConfig job, TrainingInputs inputs, Collective collective, Configuration hadoop,
                   StepListener listener, Device device, Optional<String> start, CheckpointFence fence) {
        return run(job, inputs, collective, hadoop, listener, device, start, fence,
                task -> TrainingData.open(hadoop, task.folder()));
    }

    /** As above, each task's rows opened by {@code rows}: a reference run in a test reads them its own way. */
    static Run run(JobConfig job, TrainingInputs inputs, Collective collective, Configuration hadoop,
                   StepListener listener, Device device, Optional<String> start, CheckpointFence fence,
                   Function<TrainingInputs.Task, TrainingData> rows) {
        // train.fp16 computes in float16 (the config refuses it beside compute_dtype float64)
        DataType dtype = job.train().fp16() ? DataType.FLOAT16 : dataType(job.model().computeDtype());
        MethodConfig m = job.method();
        long seed = job.train().seed();
        try (ModelFolderCache.Lease copy = ModelFolderCache.jvm().acquire(hadoop, job.model().modelNameOrPath());
             NDManager manager = NDManager.newBaseManager(device); Tokenizer tokenizer = tokenizer(copy.folder())) {
            ModelDirectory folder = ModelDirectory.open(copy.folder());
            long[] promptInit = m.promptTuningInitText() == null || tokenizer == null ? null
                    : tokenizer.encode(m.promptTuningInitText(), false);
            Method method = Method.from(m, promptInit);
            FrozenBase.Storage storage = FrozenBase.Storage.of(job.model().quantizationBit(), job.train().bf16());
            PretrainedModel base = withHeads(FrozenBase.load(folder, method, manager, dtype, storage), inputs.tasks(),
                    manager, seed);
            PeftModel model = FrozenBase.pack(PeftModel.apply(base, method, manager, seed), storage);
            List<TrainingTask> tasks = trainingTasks(inputs.tasks(), inputs.tasks(), m.stage(), dtype, rows);
            Trainer trainer = new Trainer(model, job.train(), tokenizer == null ? 0 : StopTokens.padTokenId(tokenizer))
                    .withDataParallel(collective, job.dist())
                    .withStepListener(listener);
            if (!inputs.validation().isEmpty()) {
                trainer = trainer.withValidation(trainingTasks(inputs.validation(), inputs.tasks(), m.stage(), dtype,
                        task -> TrainingData.open(hadoop, task.folder())), job.eval(),
                        completions(job, tokenizer, copy.folder()));
            }
            OutputFolder output = new OutputFolder(hadoop, job.train().outputDir());
            Trainer.Run run = new Trainer.Run(tasks, inputs.mix(), output, start);
            Trainer.Result result = trainer.train(fence == null ? run : run.fencedBy(fence), manager);
            String export = collective.rank() != 0 ? null
                    : FinalExport.write(model, m.finetuningType(), folder, job.model().modelNameOrPath(), output,
                            classifiers(inputs), fence);
            return new Run(result, start.orElse(null), export);
        }
    }

    /**
     * The head of the {@code index}-th training task: {@code classifier} for the first, as Hugging Face's
     * {@code *ForSequenceClassification} names it, {@code classifier_<task>} for the others.
     */
    static String head(List<TrainingInputs.Task> trained, String task) {
        int index = trained.stream().map(TrainingInputs.Task::name).toList().indexOf(task);
        return index == 0 ? Bert.CLASSIFIER : Bert.CLASSIFIER + "_" + task.replaceAll("[^A-Za-z0-9_]", "_");
    }

    /** The encoder with a head for each classification task it does not have yet. */
    private static PretrainedModel withHeads(PretrainedModel base, List<TrainingInputs.Task> tasks, NDManager manager,
                                             long seed) {
        if (!(base instanceof Bert bert)) {
            return base;
        }
        for (int i = 0; i < tasks.size(); i++) {
            TrainingInputs.Task task = tasks.get(i);
            String head = head(tasks, task.name());
            if (task.labels() != null && !bert.weights().has(head + ".weight")) {
                bert = bert.withClassifier(head, task.labels().size(), manager, seed + i);
            }
        }
        return bert;
    }

    static List<TrainingTask> trainingTasks(List<TrainingInputs.Task> tasks, List<TrainingInputs.Task> trained,
                                                    String stage, DataType dtype,
                                                    Function<TrainingInputs.Task, TrainingData> rows) {
        List<TrainingTask> out = new ArrayList<>();
        for (TrainingInputs.Task task : tasks) {
            Objective objective = stage.equals("cls")
                    ? new Objective.Classification(ClassificationLoss.PLAIN, head(trained, task.name()))
                    : Objective.forStage(stage, ClassificationLoss.PLAIN, dtype);
            out.add(new TrainingTask(task.name(), rows.apply(task), objective));
        }
        return out;
    }

    /** The classification tasks, each with its head and class names, for the export. */
    private static List<FinalExport.Classifier> classifiers(TrainingInputs inputs) {
        return inputs.tasks().stream().filter(t -> t.labels() != null)
                .map(t -> new FinalExport.Classifier(t.name(), head(inputs.tasks(), t.name()), new LabelsFile(t.labels())))
                .toList();
    }

    /** The newest complete checkpoint in the output folder, else {@code resume_from_checkpoint}, else none. */
    static Optional<String> startingPoint(JobConfig job, OutputFolder output) {
        Optional<String> latest = new TrainingCheckpoints(output.conf(), output.location(), job.train().saveTotalLimit())
                .latest();
        if (latest.isPresent()) {
            return latest;
        }
        return Optional.ofNullable(job.train().resumeFromCheckpoint());
    }

    static DataType dataType(String computeDtype) {
        return switch (computeDtype) {
            case "float64" -> DataType.FLOAT64;
            case "float16" -> DataType.FLOAT16;
            default -> DataType.FLOAT32;
        };
    }

    /**
     * How validation completes SFT prompts for the generation metrics: the generation section's settings and the
     * model's stop tokens; null when {@code eval.metrics} names none or the model folder has no tokenizer to decode.
     */
    private static Completions completions(JobConfig job, Tokenizer tokenizer, Path modelDir) {
        if (!job.eval().needsGeneration() || tokenizer == null) {
            return null;
        }
        return new Completions(job.generation().toGenerationConfig(StopTokens.of(tokenizer, modelDir),
                job.train().seed()), StopTokens.padTokenId(tokenizer), ids -> tokenizer.decode(ids, true));
    }

    static Tokenizer tokenizer(Path modelDir) {
        return Files.isRegularFile(modelDir.resolve("tokenizer.json")) ? Tokenizer.load(modelDir) : null;
    }
}
