package dev.sparktune.ingest;

import java.io.Serializable;
import java.util.Map;

/**
 * One entry of {@code dataset_info.yaml}: where a dataset's files are, how its records are formatted and which
 * of their columns hold what (LLaMA-Factory's {@code dataset_info.json} entries, same key names).
 *
 * @param name       the dataset's name, as listed in {@code data.dataset}
 * @param fileName   a file, a folder (read recursively) or a Hadoop glob, relative to {@code data.dataset_dir}
 *                   unless it is an absolute path or URI
 * @param formatting {@code alpaca}, {@code sharegpt}, {@code classification} or {@code text}
 * @param fileFormat the file format, or null to infer it from each file's extension
 * @param columns    role → column name, every role of the formatting filled in (defaults included)
 * @param tags       sharegpt role tags ({@code role_tag}, {@code content_tag}, {@code user_tag},
 *                   {@code assistant_tag}, {@code system_tag}), defaults included; empty for other formattings
 * @param label      a fixed label for every row (classification from text or e-mail files), or null
 * @param task       the training task the rows belong to (registry key {@code task}, default the dataset's name):
 *                   datasets with the same task train as one (a ham folder and a spam folder make one spam
 *                   filter), and dedup never compares rows of different tasks
 */
public record DatasetSpec(
        String name,
        String fileName,
        String formatting,
        FileFormat fileFormat,
        Map<String, String> columns,
        Map<String, String> tags,
        String label,
        String task) implements Serializable {

    public DatasetSpec {
        columns = Map.copyOf(columns);
        tags = Map.copyOf(tags);
    }

    /** The column that holds {@code role} (e.g. {@code prompt}), or null when the dataset has none. */
    public String column(String role) {
        return columns.get(role);
    }

    /** A sharegpt tag (e.g. {@code user_tag}), or null. */
    public String tag(String tag) {
        return tags.get(tag);
    }
}
