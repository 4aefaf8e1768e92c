package dev.sparktune.training;

import dev.sparktune.config.JobConfig;
import dev.sparktune.io.FolderCommit;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.pack.TokenizeStage;
import dev.sparktune.train.MixStrategy;
import dev.sparktune.train.TaskMix;
import dev.sparktune.train.TrainingData;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * What a training job trains on, decided once on the driver from the files {@code sparktune prep} (or
 * {@code FineTuner}) wrote, and checked there: every problem that would fail every attempt of the barrier stage the
 * same way (no data, too few rows or row groups for the ranks, missing or unusable labels) is raised here, before
 * the stage, and never retried. The ranks receive this value and open the folders it names.
 *
 * <p>The folder must be a complete commit ({@code _SUCCESS} listing its files, all present): a folder whose commit
 * stopped half-way is refused, with a message saying to rerun prep, rather than trained on in part.
 *
 * <p>Tasks are the {@code task=<name>} folders of {@code data.tokenized_path} in name order, or the folder itself as
 * one task named {@value #SINGLE_TASK}; validation tasks likewise under {@code _validation/}, when it has rows.
 *
 * @param tasks      the training tasks
 * @param validation the validation tasks (empty: no validation split)
 * @param mix        how the tasks share the steps ({@code data.mix_strategy} and its probabilities, per task)
 */
public record TrainingInputs(List<Task> tasks, List<Task> validation, TaskMix mix) implements Serializable {
    /** The name of the one task of a folder without task folders. */
    public static final String SINGLE_TASK = "train";

    /**
     * One task's rows: its name, its folder (any Hadoop FS location) and, for classification, its class names.
     *
     * @param labels null unless the task classifies
     */
    public record Task(String name, String folder, List<String> labels) implements Serializable {
        public Task {
            labels = labels == null ? null : List.copyOf(labels);
        }
    }

    public TrainingInputs {
        tasks = List.copyOf(tasks);
        validation = List.copyOf(validation);
    }

    /**
     * Reads and checks the inputs of {@code job}, whose locations are already qualified.
     *
     * @param datasetTasks each dataset of {@code data.dataset} to its task (the registry's {@code task:}), used to
     *                     turn per-dataset {@code interleave_probs} into per-task ones; empty when unknown
     */
    static TrainingInputs read(JobConfig job, Configuration conf, Map<String, String> datasetTasks) {
        String path = job.data().tokenizedPath();
        FolderCommit.requireComplete(conf, path, "data.tokenized_path");
        List<Task> tasks = tasks(job, conf, path, true);
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException(path + " holds no tokenized rows (data.tokenized_path): run"
                    + " `sparktune prep` with model.model_name_or_path and data.tokenized_path set first");
        }
        String validationPath = new Path(path, TokenizeStage.VALIDATION_DIR).toString();
        List<Task> validation = tasks(job, conf, validationPath, false);
        List<String> trained = tasks.stream().map(Task::name).toList();
        for (Task v : validation) {
            if (v.labels() != null && !trained.contains(v.name())) {
                throw new IllegalArgumentException(v.folder() + ": the validation split has classification task '"
                        + v.name() + "', which has no training rows (tasks: " + trained + "), so no head would be"
                        + " trained for it");
            }
        }
        return new TrainingInputs(tasks, validation, mix(job, trained, datasetTasks));
    }

    /**
     * The tasks of one split; classification tasks (stage cls) must carry their labels file, and each training task
     * must give every rank a micro-batch.
     */
    private static List<Task> tasks(JobConfig job, Configuration conf, String folder, boolean training) {
        String stage = job.method().stage();
        List<Task> tasks = new ArrayList<>();
        SortedMap<String, String> folders = TokenizedParquet.taskFolders(conf, folder);
        for (Map.Entry<String, String> e : folders.entrySet()) {
            List<TokenizedParquet.RowGroup> groups;
            try {
                groups = TokenizedParquet.rowGroups(conf, e.getValue());
            } catch (IllegalArgumentException empty) {
                continue;    // a task folder without rows trains nothing
            }
            String name = e.getKey() == null ? SINGLE_TASK : e.getKey();
            List<String> labels = LabelsFile.read(conf, e.getValue()).map(LabelsFile::labels).orElse(null);
            if (stage.equals("cls")) {
                if (labels == null || labels.size() < 2) {
                    throw new IllegalArgumentException(e.getValue() + ": classification (method.stage: cls) needs the"
                            + " task's " + LabelsFile.NAME + " with at least 2 labels, " + (labels == null
                            ? "and there is none; tokenize classification datasets with `sparktune prep`"
                            : "and it has " + labels));
                }
                long top = TokenizedParquet.maxLabel(conf, groups);
                if (top >= labels.size()) {
                    throw new IllegalArgumentException(e.getValue() + ": a row has label " + top + ", but "
                            + LabelsFile.NAME + " names " + labels.size() + " classes (0.." + (labels.size() - 1) + ")");
                }
            } else if (labels != null) {
                throw new IllegalArgumentException(e.getValue() + ": task '" + name + "' is a classification task ("
                        + LabelsFile.NAME + "), but method.stage is " + stage + "; set method.stage: cls");
            }
            Task task = new Task(name, e.getValue(), labels);
            if (training) {
                checkShares(job, task, TrainingData.of(conf, groups));
            }
            tasks.add(task);
        }
        return tasks;
    }

    /**
     * Every rank must get at least one micro-batch of each task's rows from its share of whole row groups; checked
     * from the row groups already listed from the Parquet footers.
     */
    private static void checkShares(JobConfig job, Task task, TrainingData data) {
        int world = job.dist().worldSize();
        int perRank = job.train().perDeviceTrainBatchSize();
        long smallest = data.shards(job.train().seed(), 0, world).stream().mapToLong(TrainingData::rows).min()
                .orElse(0);
        if (smallest < perRank) {
            throw new IllegalArgumentException(task.folder() + ": dealt out to " + world + " ranks in whole row groups,"
                    + " the smallest share of task '" + task.name() + "' holds " + smallest + " of " + data.rows()
                    + " rows, fewer than one micro-batch (per_device_train_batch_size " + perRank + "); write the data"
                    + " in more row groups (smaller Parquet row groups or more files) or use fewer ranks"
                    + " (dist.world_size)");
        }
    }

    /**
     * {@code data.mix_strategy} with per-task probabilities: {@code interleave_probs} are given per dataset of
     * {@code data.dataset} (LLaMA-Factory's rule); datasets of one task add theirs up.
     */
    private static TaskMix mix(JobConfig job, List<String> tasks, Map<String, String> datasetTasks) {
        MixStrategy strategy = MixStrategy.of(job.data().mixStrategy());
        List<Double> perDataset = job.data().interleaveProbs();
        if (perDataset.isEmpty()) {
            return new TaskMix(strategy, List.of(), job.data().mixTemperature());
        }
        List<String> datasets = job.data().dataset();
        Map<String, Double> perTask = new LinkedHashMap<>();
        tasks.forEach(t -> perTask.put(t, 0.0));
        for (int i = 0; i < datasets.size(); i++) {
            String task = datasetTasks.getOrDefault(datasets.get(i), datasets.get(i));
            if (!perTask.containsKey(task)) {
                throw new IllegalArgumentException("data.interleave_probs: dataset '" + datasets.get(i) + "' (task '"
                        + task + "') has no rows in data.tokenized_path, whose tasks are " + tasks);
            }
            perTask.merge(task, perDataset.get(i), Double::sum);
        }
        perTask.forEach((task, p) -> {
            if (p == 0) {
                throw new IllegalArgumentException("data.interleave_probs: task '" + task + "' in data.tokenized_path"
                        + " comes from no dataset of data.dataset " + datasets + ", so it has no probability");
            }
        });
        return new TaskMix(strategy, List.copyOf(perTask.values()), 0);
    }
}
