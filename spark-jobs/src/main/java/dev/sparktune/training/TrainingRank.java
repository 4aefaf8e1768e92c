package dev.sparktune.training;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.JobConfig;
import dev.sparktune.config.MethodConfig;
import dev.sparktune.dist.Collective;
import dev.sparktune.pack.TokenizeStage;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.tokenize.SpecialToken;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.ClassificationLoss;
import dev.sparktune.train.Objective;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.StepListener;
import dev.sparktune.train.TaskMix;
import dev.sparktune.train.Trainer;
import dev.sparktune.train.TrainingCheckpoints;
import dev.sparktune.train.TrainingData;
import dev.sparktune.train.TrainingTask;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * One rank's whole run, from the job's configuration: it loads its own model replica from {@code
 * model_name_or_path} (nothing is broadcast), applies the method, opens its share of {@code data.tokenized_path}
 * and trains. The same code runs in a Spark barrier task and, for reference runs, in one process with in-process
 * ranks.
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
    /** Written beside the tokenized Parquet by the data-prep tokenize stage, in config.json's id2label form. */
    public static final String LABELS_FILE = "_labels.json";
    /** The one task's name, in the metrics ({@code rows/train}, {@code validation/train/loss}). */
    static final String TASK = "train";

    private TrainingRank() {
    }

    /**
     * How a rank's run went: where it started ({@code resumedFrom}, null from the pretrained weights), how it ended,
     * and (rank 0 only, else null) where the trained model was exported.
     */
    public record Run(Trainer.Result result, String resumedFrom, String export) {
    }

    public static Run run(JobConfig job, Collective collective, Configuration hadoop, StepListener listener,
                          Device device) {
        return run(job, collective, hadoop, listener, device, TrainingData.open(hadoop, job.data().tokenizedPath()),
                startingPoint(job, new OutputFolder(hadoop, job.train().outputDir())));
    }

    /**
     * As above over {@code data} (the rank reads its share), starting from {@code start}: in a Spark job rank 0 picks
     * it and every rank gets the same, so ranks never resume from different checkpoints.
     */
    static Run run(JobConfig job, Collective collective, Configuration hadoop, StepListener listener, Device device,
                   TrainingData data, Optional<String> start) {
        Path modelDir = LocalCopy.of(hadoop, job.model().modelNameOrPath());
        DataType dtype = dataType(job.model().computeDtype());
        MethodConfig m = job.method();
        long seed = job.train().seed();
        try (NDManager manager = NDManager.newBaseManager(device); Tokenizer tokenizer = tokenizer(modelDir)) {
            ModelDirectory folder = ModelDirectory.open(modelDir);
            PretrainedModel base = folder.load(manager, dtype);
            if (m.stage().equals("cls") && base instanceof Bert bert && !bert.weights().has(Bert.CLASSIFIER + ".weight")) {
                base = bert.withClassifier(labelCount(hadoop, job.data().tokenizedPath()), manager, seed);
            }
            long[] promptInit = m.promptTuningInitText() == null || tokenizer == null ? null
                    : tokenizer.encode(m.promptTuningInitText(), false);
            PeftModel model = PeftModel.apply(base, Method.from(m, promptInit), manager, seed);
            Objective objective = Objective.forStage(m.stage(), ClassificationLoss.PLAIN, dtype);
            Trainer trainer = new Trainer(model, job.train(), padTokenId(tokenizer))
                    .withDataParallel(collective, job.dist())
                    .withStepListener(listener);
            Optional<TrainingData> validation = validationData(hadoop, job.data().tokenizedPath());
            if (validation.isPresent()) {
                trainer = trainer.withValidation(List.of(new TrainingTask(TASK, validation.get(), objective)), job.eval());
            }
            OutputFolder output = new OutputFolder(hadoop, job.train().outputDir());
            Trainer.Result result = trainer.train(new Trainer.Run(List.of(new TrainingTask(TASK, data, objective)),
                    TaskMix.concat(), output, start), manager);
            String export = collective.rank() != 0 ? null
                    : FinalExport.write(model, folder, job.model().modelNameOrPath(), output);
            return new Run(result, start.orElse(null), export);
        }
    }

    /**
     * The validation split {@code sparktune prep} writes beside the training rows, in
     * {@code <tokenized_path>/_validation}, when there is one. Each rank evaluates its share of its row groups.
     */
    static Optional<TrainingData> validationData(Configuration hadoop, String tokenizedPath) {
        org.apache.hadoop.fs.Path folder = new org.apache.hadoop.fs.Path(tokenizedPath, TokenizeStage.VALIDATION_DIR);
        try {
            if (!folder.getFileSystem(hadoop).exists(folder)) {
                return Optional.empty();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look for the validation split " + folder + ": " + e, e);
        }
        return Optional.of(TrainingData.open(hadoop, folder.toString()));
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

    private static Tokenizer tokenizer(Path modelDir) {
        return Files.isRegularFile(modelDir.resolve("tokenizer.json")) ? Tokenizer.load(modelDir) : null;
    }

    /** The tokenizer's padding token, else its end-of-sequence token, else 0 (padding is masked either way). */
    private static long padTokenId(Tokenizer tokenizer) {
        if (tokenizer == null) {
            return 0;
        }
        return tokenizer.specialTokens().padToken().or(() -> tokenizer.specialTokens().eosToken())
                .map(SpecialToken::id).orElse(0L);
    }

    private static int labelCount(Configuration hadoop, String tokenizedPath) {
        org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(tokenizedPath, LABELS_FILE);
        try {
            FileSystem fs = file.getFileSystem(hadoop);
            if (!fs.exists(file)) {
                throw new IllegalArgumentException(file + " is missing: a classification run (method.stage: cls) on a"
                        + " model without a classifier head takes its labels from the tokenize stage's " + LABELS_FILE);
            }
            try (InputStream in = fs.open(file)) {
                String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                return JsonParser.parseString(json).getAsJsonObject().getAsJsonObject("id2label").size();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e, e);
        }
    }
}
