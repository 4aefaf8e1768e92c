package dev.sparktune.pack;

import java.util.List;
import java.util.Map;

/**
 * What the tokenize-and-pack stage needs from a job config.
 *
 * @param modelDir       the model folder ({@code model.model_name_or_path}) on any Hadoop file system (without a
 *                       scheme: on {@code fs.defaultFS}); only its tokenizer files ({@code tokenizer.json},
 *                       {@code tokenizer_config.json}, {@code chat_template.jinja}, {@code special_tokens_map.json})
 *                       are read, by the driver and every executor through its JVM's {@code ModelFolderCache}
 * @param cutoffLen      {@code data.cutoff_len}: most tokens per sample, and the length of a packed row
 * @param cutoffTailLen  {@code data.cutoff_tail_len}: how many of a classification row's {@code cutoffLen} tokens come
 *                       from the end of a longer text; 0 cuts on the tokenizer's truncation side
 * @param packing        {@code data.packing}: lay SFT and text samples end to end in rows of {@code cutoffLen}
 * @param trainOnPrompt  {@code data.train_on_prompt}: SFT loss on prompt tokens too
 * @param template       {@code data.template}: a built-in chat template name, or null for the model's own
 * @param tokenizedPath  {@code data.tokenized_path}: where the tokenized Parquet is written (any Hadoop FS path),
 *                       and reused while its fingerprint matches
 * @param labels         the class labels of classification rows in index order, or null to discover them (sorted);
 *                       a given list wins, and rows with a label outside it are rejected
 * @param tasks          dataset name to training task (the registry's {@code task:} keys); a dataset not listed is
 *                       its own task. The output holds one folder {@code task=<name>} per task
 * @param partitions     how many partitions rows are hashed into by id before tokenizing and packing; each is
 *                       packed on its own, so this is part of the output's identity; 0 = the session's
 *                       {@code spark.sql.shuffle.partitions}
 */
public record PackOptions(String modelDir, int cutoffLen, int cutoffTailLen, boolean packing, boolean trainOnPrompt, String template,
                          String tokenizedPath, List<String> labels, Map<String, String> tasks, int partitions) {

    public PackOptions {
        if (modelDir == null || modelDir.isBlank()) {
            throw new IllegalArgumentException("model.model_name_or_path is not set; tokenizing needs the model "
                    + "folder that holds tokenizer.json");
        }
        if (cutoffLen < 1) {
            throw new IllegalArgumentException("data.cutoff_len must be at least 1, got " + cutoffLen);
        }
        if (cutoffTailLen < 0 || cutoffTailLen >= cutoffLen) {
            throw new IllegalArgumentException("data.cutoff_tail_len must be at least 0 and below data.cutoff_len ("
                    + cutoffLen + "), got " + cutoffTailLen);
        }
        if (tokenizedPath == null || tokenizedPath.isBlank()) {
            throw new IllegalArgumentException("data.tokenized_path is not set; the tokenize stage writes its "
                    + "Parquet there");
        }
        if (partitions < 0) {
            throw new IllegalArgumentException("partitions must be 0 (the session default) or more, got "
                    + partitions);
        }
        labels = labels == null ? null : List.copyOf(labels);
        tasks = Map.copyOf(tasks);
        if (labels != null && labels.stream().distinct().count() != labels.size()) {
            throw new IllegalArgumentException("the class label list " + labels + " names a label twice");
        }
    }

    /** The options with the defaults a job config leaves unset: model's own template, discovered labels. */
    public static PackOptions of(String modelDir, int cutoffLen, boolean packing, boolean trainOnPrompt,
                                 String template, String tokenizedPath) {
        return new PackOptions(modelDir, cutoffLen, 0, packing, trainOnPrompt, template, tokenizedPath, null,
                Map.of(), 0);
    }

    public PackOptions withCutoffTailLen(int cutoffTailLen) {
        return new PackOptions(modelDir, cutoffLen, cutoffTailLen, packing, trainOnPrompt, template, tokenizedPath,
                labels, tasks, partitions);
    }

    public PackOptions withLabels(List<String> labels) {
        return new PackOptions(modelDir, cutoffLen, cutoffTailLen, packing, trainOnPrompt, template, tokenizedPath,
                labels, tasks, partitions);
    }

    public PackOptions withTasks(Map<String, String> tasks) {
        return new PackOptions(modelDir, cutoffLen, cutoffTailLen, packing, trainOnPrompt, template, tokenizedPath,
                labels, tasks, partitions);
    }

    public PackOptions withPartitions(int partitions) {
        return new PackOptions(modelDir, cutoffLen, cutoffTailLen, packing, trainOnPrompt, template, tokenizedPath,
                labels, tasks, partitions);
    }

    public PackOptions withPacking(boolean packing) {
        return new PackOptions(modelDir, cutoffLen, cutoffTailLen, packing, trainOnPrompt, template, tokenizedPath,
                labels, tasks, partitions);
    }
}
