package dev.sparktune.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.representer.Representer;

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
        Map<String, Object> copy = new LinkedHashMap<>();
        // Fresh lists per key: SnakeYAML would otherwise write shared empty lists as &anchors.
        values.forEach((section, keys) -> {
            Map<String, Object> sectionCopy = new LinkedHashMap<>();
            keys.forEach((k, v) -> sectionCopy.put(k, v instanceof List<?> list ? new ArrayList<>(list) : v));
            copy.put(section, sectionCopy);
        });
        return new Yaml(new NumbersAsWritten(options), options).dump(copy);
    }

    /** Writes 5.0e-05 rather than Java's 5.0E-5; both are YAML 1.1 floats, the first is what users write. */
    private static final class NumbersAsWritten extends Representer {
        NumbersAsWritten(DumperOptions options) {
            super(options);
            representers.put(Double.class, data -> representScalar(Tag.FLOAT, format((Double) data)));
        }

        private static String format(double d) {
            String s = Double.toString(d);
            int e = s.indexOf('E');
            if (e < 0) {
                return s;
            }
            String exponent = s.substring(e + 1);
            String sign = exponent.startsWith("-") ? "-" : "+";
            String digits = exponent.replace("-", "");
            return s.substring(0, e) + "e" + sign + (digits.length() == 1 ? "0" + digits : digits);
        }
    }
}
