package dev.sparktune.training;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.EvalConfig;
import dev.sparktune.config.JobConfig;
import dev.sparktune.generate.StopTokens;
import dev.sparktune.pack.TokenizeStage;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.TrainingData;
import dev.sparktune.train.TrainingTask;
import dev.sparktune.train.Validation;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import org.apache.hadoop.conf.Configuration;

/**
 * The validation split of a job's tokenized data ({@code <data.tokenized_path>/_validation}), scored in this one
 * process exactly as the training run validated on it: the same tasks, the same heads ({@code classifier},
 * {@code classifier_<task>}), the same objectives and metrics ({@link Validation}). {@code sparktune export} uses it
 * to compare an exported model with the model it came from.
 *
 * @param tasks   the validation tasks; empty when there is nothing to score, and then {@code skipped} says why
 * @param stage   {@code method.stage}
 * @param skipped why nothing is scored, or null
 */
public record ValidationSplit(List<TrainingTask> tasks, String stage, String skipped) {
    /** Accuracy and macro-F1 for classification tasks, perplexity for causal-LM ones (and each task's loss). */
    private static final List<String> METRICS = List.of("accuracy", "f1", "perplexity");

    public ValidationSplit {
        tasks = List.copyOf(tasks);
    }

    /** The job's validation tasks, or an empty split that says why there are none; never fails for want of rows. */
    public static ValidationSplit of(JobConfig job, Configuration conf) {
        String stage = job.method().stage();
        String path = job.data().tokenizedPath();
        if (path == null) {
            return new ValidationSplit(List.of(), stage, "data.tokenized_path is not set, so there are no validation"
                    + " rows to score");
        }
        TrainingInputs inputs;
        try {
            inputs = TrainingInputs.read(job, conf, Map.of());
        } catch (IllegalArgumentException e) {
            return new ValidationSplit(List.of(), stage, "no validation rows: " + e.getMessage());
        }
        if (inputs.validation().isEmpty()) {
            return new ValidationSplit(List.of(), stage, "no validation rows in "
                    + new org.apache.hadoop.fs.Path(path, TokenizeStage.VALIDATION_DIR) + " (data.val_size was 0, or"
                    + " prep wrote no validation split)");
        }
        List<TrainingTask> tasks = TrainingRank.trainingTasks(inputs.validation(), inputs.tasks(), stage,
                DataType.FLOAT32, task -> TrainingData.open(conf, task.folder()));
        return new ValidationSplit(tasks, stage, null);
    }

    public boolean isEmpty() {
        return tasks.isEmpty();
    }

    /** Whether the tasks classify (method.stage cls); else they predict the next token. */
    public boolean classifies() {
        return stage.equals("cls");
    }

    /**
     * Every validation metric of {@code model} by Validation's names ({@code validation/<task>/accuracy}, ...), padding
     * with the pad token of the tokenizer in {@code tokenizerFolder} (if any), in batches of
     * {@code eval.per_device_eval_batch_size}.
     */
    public SortedMap<String, Double> score(PretrainedModel model, JobConfig job, Path tokenizerFolder,
                                           NDManager manager) {
        long pad;
        try (Tokenizer tokenizer = TrainingRank.tokenizer(tokenizerFolder)) {
            pad = tokenizer == null ? 0 : StopTokens.padTokenId(tokenizer);
        }
        EvalConfig eval = new EvalConfig(job.eval().perDeviceEvalBatchSize(), 0, METRICS);
        return Validation.evaluateAlone(model, tasks, eval, job.train().seed(), pad, manager);
    }
}
