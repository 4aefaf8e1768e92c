package dev.sparktune.ingest;

import dev.sparktune.config.DataConfig;
import dev.sparktune.rows.PrepRows;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * The dataset registry, {@code dataset_info.yaml}: dataset name → {@link DatasetSpec}. Modelled on LLaMA-Factory's
 * {@code dataset_info.json} and using its key names:
 *
 * <pre>
 * alpaca_demo:
 *   file_name: alpaca_demo.jsonl          # file, folder or glob under data.dataset_dir
 *   formatting: alpaca                    # alpaca (default) | sharegpt | classification | text
 *   columns: {prompt: instruction, query: input, response: output, system: system, history: history}
 * spam:
 *   file_name: spam-assassin/spam-2/*.txt
 *   file_format: email                    # json | jsonl | csv | parquet | text | email; default from the extension
 *   formatting: classification
 *   label: spam                           # one label for every row
 *   task: spam_filter                     # the training task; default the dataset's name
 * </pre>
 *
 * Several datasets with one {@code task} form one task (ham and spam folders, each with a fixed label, make one
 * spam-filter task); the same files can feed two tasks as two entries with different tasks and labels. Task names
 * are folder names of the tokenized output ({@code task=<name>}), so they are letters, digits, {@code _ . -}.
 *
 * Every problem (unknown key, bad value, missing {@code file_name}) is reported at once, naming dataset and key.
 */
public final class DatasetRegistry {
    static final Map<String, Map<String, String>> DEFAULT_COLUMNS = Map.of(
            PrepRows.FORMAT_ALPACA, Map.of("prompt", "instruction", "query", "input", "response", "output"),
            PrepRows.FORMAT_SHAREGPT, Map.of("messages", "conversations"),
            PrepRows.FORMAT_CLASSIFICATION, Map.of("text", "text", "label", "label"),
            PrepRows.FORMAT_TEXT, Map.of("text", "text"));
    static final Map<String, Set<String>> COLUMN_ROLES = Map.of(
            PrepRows.FORMAT_ALPACA, Set.of("prompt", "query", "response", "system", "history"),
            PrepRows.FORMAT_SHAREGPT, Set.of("messages", "system"),
            PrepRows.FORMAT_CLASSIFICATION, Set.of("text", "label"),
            PrepRows.FORMAT_TEXT, Set.of("text"));
    static final Map<String, String> DEFAULT_TAGS = Map.of(
            "role_tag", "from", "content_tag", "value", "user_tag", "human", "assistant_tag", "gpt",
            "system_tag", "system");
    private static final Set<String> KEYS = Set.of("file_name", "formatting", "file_format", "columns", "tags", "label",
            "task");
    private static final java.util.regex.Pattern TASK_NAME = java.util.regex.Pattern.compile("[A-Za-z0-9_.-]+");

    private final Map<String, DatasetSpec> datasets;

    private DatasetRegistry(Map<String, DatasetSpec> datasets) {
        this.datasets = datasets;
    }

    /** Where a job's registry is: {@code data.dataset_info}, under {@code data.dataset_dir} unless absolute. */
    public static Path location(DataConfig data) {
        Path info = new Path(data.datasetInfo());
        return info.isAbsolute() || info.toUri().getScheme() != null ? info : new Path(data.datasetDir(), info);
    }

    /** Reads the registry file at {@code path} on any Hadoop file system. */
    public static DatasetRegistry load(Path path, Configuration hadoop) {
        try {
            FileSystem fs = path.getFileSystem(hadoop);
            if (!fs.exists(path)) {
                throw new DatasetInfoException(path.toString(), List.of(
                        "no such file: the dataset registry is data.dataset_info, looked up under data.dataset_dir"));
            }
            try (InputStream in = fs.open(path)) {
                return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), path.toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the dataset registry " + path, e);
        }
    }

    /** Parses registry YAML; {@code source} names it in errors. */
    public static DatasetRegistry parse(String yaml, String source) {
        Object root;
        try {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml);
        } catch (YAMLException e) {
            throw new DatasetInfoException(source, List.of("not valid YAML: " + e.getMessage()));
        }
        if (root == null) {
            return new DatasetRegistry(Map.of());
        }
        List<String> problems = new ArrayList<>();
        if (!(root instanceof Map<?, ?> top)) {
            throw new DatasetInfoException(source, List.of("expected 'dataset_name: {file_name: ..., ...}' entries"));
        }
        Map<String, DatasetSpec> datasets = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : top.entrySet()) {
            String name = String.valueOf(e.getKey());
            if (!(e.getValue() instanceof Map<?, ?> entry)) {
                problems.add(name + ": expected a mapping with file_name, formatting, columns, ...");
                continue;
            }
            DatasetSpec spec = entry(name, entry, problems);
            if (spec != null) {
                datasets.put(name, spec);
            }
        }
        if (!problems.isEmpty()) {
            throw new DatasetInfoException(source, problems);
        }
        return new DatasetRegistry(datasets);
    }

    /** The dataset called {@code name}; an error listing the known names if there is none. */
    public DatasetSpec get(String name) {
        DatasetSpec spec = datasets.get(name);
        if (spec == null) {
            throw new IllegalArgumentException("dataset '" + name + "' is not in the dataset registry; it lists "
                    + (datasets.isEmpty() ? "no datasets" : String.join(", ", datasets.keySet()))
                    + ". Add it to data.dataset_info or fix data.dataset");
        }
        return spec;
    }

    public Set<String> names() {
        return datasets.keySet();
    }

    /** The task of each named dataset, in the order given: what dedup groups by and the tokenize stage writes. */
    public Map<String, String> tasks(List<String> names) {
        Map<String, String> tasks = new LinkedHashMap<>();
        for (String name : names) {
            tasks.put(name, get(name).task());
        }
        return tasks;
    }

    private static DatasetSpec entry(String name, Map<?, ?> entry, List<String> problems) {
        int before = problems.size();
        for (Object key : entry.keySet()) {
            if (!KEYS.contains(String.valueOf(key))) {
                problems.add(name + "." + key + ": unknown key; a dataset takes " + String.join(", ", sorted(KEYS))
                        + " (remote sources such as hf_hub_url are not read: point file_name at a copy)");
            }
        }
        String fileName = scalar(name, entry, "file_name", problems);
        if (fileName == null) {
            problems.add(name + ".file_name: missing; give a file, folder or glob under data.dataset_dir");
        }
        String formatting = scalar(name, entry, "formatting", problems);
        if (formatting == null) {
            formatting = PrepRows.FORMAT_ALPACA;
        } else if (!COLUMN_ROLES.containsKey(formatting)) {
            problems.add(name + ".formatting: '" + formatting + "' is not allowed; choose one of alpaca, sharegpt,"
                    + " classification, text");
            formatting = PrepRows.FORMAT_ALPACA;
        }
        FileFormat fileFormat = null;
        String format = scalar(name, entry, "file_format", problems);
        if (format != null) {
            fileFormat = FileFormat.named(format);
            if (fileFormat == null) {
                problems.add(name + ".file_format: '" + format + "' is not allowed; choose one of " + FileFormat.allowed());
            }
        } else if (fileName != null) {
            fileFormat = FileFormat.fromExtension(fileName);
        }
        String label = scalar(name, entry, "label", problems);
        String task = scalar(name, entry, "task", problems);
        if (task == null) {
            task = name;
        }
        if (!TASK_NAME.matcher(task).matches() || task.startsWith(".")) {
            problems.add(name + (entry.containsKey("task") ? ".task" : "") + ": the task name '" + task + "' becomes a"
                    + " folder name (task=<name>); use letters, digits, '_', '.' and '-'"
                    + (entry.containsKey("task") ? "" : ", or set task: explicitly"));
        }

        Map<String, String> columns = new LinkedHashMap<>(DEFAULT_COLUMNS.get(formatting));
        mapping(name, entry, "columns", COLUMN_ROLES.get(formatting), formatting, problems, columns);
        Map<String, String> tags = new LinkedHashMap<>();
        if (formatting.equals(PrepRows.FORMAT_SHAREGPT)) {
            tags.putAll(DEFAULT_TAGS);
        }
        if (entry.containsKey("tags") && !formatting.equals(PrepRows.FORMAT_SHAREGPT)) {
            problems.add(name + ".tags: only sharegpt datasets have role tags, this one is " + formatting);
        } else {
            mapping(name, entry, "tags", DEFAULT_TAGS.keySet(), formatting, problems, tags);
        }

        boolean wholeFiles = fileFormat == FileFormat.TEXT || fileFormat == FileFormat.EMAIL;
        if (wholeFiles && !(formatting.equals(PrepRows.FORMAT_TEXT) || formatting.equals(PrepRows.FORMAT_CLASSIFICATION))) {
            problems.add(name + ".formatting: " + fileFormat.key() + " files hold one text each; use formatting text,"
                    + " or classification with a fixed label");
        }
        if (wholeFiles && entry.containsKey("columns")) {
            problems.add(name + ".columns: " + fileFormat.key() + " files have no columns; each file is one text");
        }
        if (wholeFiles && formatting.equals(PrepRows.FORMAT_CLASSIFICATION) && label == null) {
            problems.add(name + ".label: classification from " + fileFormat.key() + " files needs a fixed label,"
                    + " e.g. label: spam");
        }
        if (label != null && !formatting.equals(PrepRows.FORMAT_CLASSIFICATION)) {
            problems.add(name + ".label: a fixed label only applies to formatting classification, this one is "
                    + formatting);
        }
        if (problems.size() > before) {
            return null;
        }
        return new DatasetSpec(name, fileName, formatting, fileFormat, columns, tags, label, task);
    }

    private static String scalar(String name, Map<?, ?> entry, String key, List<String> problems) {
        Object v = entry.get(key);
        if (v == null) {
            return null;
        }
        if (v instanceof Map<?, ?> || v instanceof List<?>) {
            problems.add(name + "." + key + ": expected a single value");
            return null;
        }
        String s = v.toString().trim();
        return s.isEmpty() ? null : s;
    }

    private static void mapping(String name, Map<?, ?> entry, String key, Set<String> allowed, String formatting,
                                List<String> problems, Map<String, String> into) {
        Object v = entry.get(key);
        if (v == null) {
            return;
        }
        if (!(v instanceof Map<?, ?> map)) {
            problems.add(name + "." + key + ": expected a mapping, e.g. {" + String.join(": ..., ", sorted(allowed)) + ": ...}");
            return;
        }
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String k = String.valueOf(e.getKey());
            if (!allowed.contains(k)) {
                problems.add(name + "." + key + "." + k + ": unknown key; " + formatting + " takes "
                        + String.join(", ", sorted(allowed)));
            } else if (e.getValue() == null || e.getValue() instanceof Map<?, ?> || e.getValue() instanceof List<?>) {
                problems.add(name + "." + key + "." + k + ": expected a column or tag name");
            } else {
                into.put(k, e.getValue().toString());
            }
        }
    }

    private static List<String> sorted(Set<String> keys) {
        return keys.stream().sorted().toList();
    }
}
