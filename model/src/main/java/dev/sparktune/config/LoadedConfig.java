package dev.sparktune.config;

import java.util.LinkedHashMap;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * A validated job config together with the value every key resolved to, defaults included.
 *
 * @param source where it was read from
 * @param job    the typed config the commands use
 * @param values {@code section -> key -> value}, in reference-file order
 */
public record LoadedConfig(String source, JobConfig job, Map<String, Map<String, Object>> values) {

    /** The resolved config as YAML: what the job will actually run with. */
    public String toYaml() {
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        options.setIndent(2);
        options.setIndicatorIndent(0);
        return new Yaml(options).dump(new LinkedHashMap<>(values));
    }
}
