package dev.sparktune.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.io.SafetensorsFile;
import dev.sparktune.io.SafetensorsWriter;
import dev.sparktune.peft.PeftFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One classification task's own export, cut from a multi-task export whose encoder carries a head per task
 * ({@code classifier}, {@code classifier_<task>}): the same files with the task's head renamed to
 * {@code classifier} and the other heads left out, and the task's class names in {@code config.json}. Hugging Face's
 * {@code BertForSequenceClassification} (and PEFT, and {@code FineTunedModel}) load it as a plain classifier.
 */
final class TaskExport {
    /** A head's tensor in a weights file: an optional prefix, the head's module, and the rest of the name. */
    private static final Pattern HEAD_KEY = Pattern.compile("^(.*?)(classifier(?:_[A-Za-z0-9_]+)?)(\\..+)$");

    private TaskExport() {
    }

    /**
     * Writes {@code target} from the whole export {@code source}.
     *
     * @param head   the task's head in {@code source}
     * @param config the classifier config.json for the task (its labels)
     */
    static void write(Path source, Path target, String head, String config) throws IOException {
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(source)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String name = file.getFileName().toString();
                if (name.endsWith(".safetensors")) {
                    renameHead(file, target.resolve(name), head);
                } else if (name.equals(PeftFormat.CONFIG_FILE)) {
                    Files.writeString(target.resolve(name), adapterConfig(Files.readString(file), head),
                            StandardCharsets.UTF_8);
                } else if (!name.equals(ModelDirectory.CONFIG_FILE)) {
                    Files.copy(file, target.resolve(name));
                }
            }
        }
        Files.writeString(target.resolve(ModelDirectory.CONFIG_FILE), config, StandardCharsets.UTF_8);
    }

    private static void renameHead(Path from, Path to, String head) {
        try (NDManager manager = NDManager.newBaseManager(); SafetensorsFile file = SafetensorsFile.open(from)) {
            Map<String, NDArray> kept = new TreeMap<>();
            for (Map.Entry<String, NDArray> e : file.loadAll(manager).entrySet()) {
                Matcher m = HEAD_KEY.matcher(e.getKey());
                if (!m.matches()) {
                    kept.put(e.getKey(), e.getValue());
                } else if (m.group(2).equals(head)) {
                    kept.put(m.group(1) + Bert.CLASSIFIER + m.group(3), e.getValue());
                }
            }
            SafetensorsWriter.write(to, kept, Map.of("format", "pt"));
        }
    }

    /** {@code modules_to_save} naming the task's head as {@code classifier}, the other heads dropped. */
    private static String adapterConfig(String json, String head) {
        JsonObject config = JsonParser.parseString(json).getAsJsonObject();
        if (config.has("modules_to_save") && config.get("modules_to_save").isJsonArray()) {
            Set<String> modules = new LinkedHashSet<>();
            for (JsonElement module : config.getAsJsonArray("modules_to_save")) {
                String name = module.getAsString();
                boolean isHead = name.matches("classifier(_[A-Za-z0-9_]+)?");
                if (!isHead) {
                    modules.add(name);
                } else if (name.equals(head)) {
                    modules.add(Bert.CLASSIFIER);
                }
            }
            JsonArray array = new JsonArray();
            modules.forEach(array::add);
            config.add("modules_to_save", array);
        }
        return new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(config) + "\n";
    }
}
