package dev.sparktune.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Reads a job YAML into {@code section -> key -> value}, keeping the line of every value so
 * that errors can point at it. Works on SnakeYAML's node tree rather than its Java objects
 * for that reason.
 */
final class YamlSections {
    private YamlSections() {
    }

    static Map<String, Map<String, ConfigValue>> parse(String text, String source, List<ConfigError> errors) {
        Map<String, Map<String, ConfigValue>> sections = new LinkedHashMap<>();
        Node root;
        try {
            root = new Yaml(new LoaderOptions()).compose(new java.io.StringReader(text));
        } catch (MarkedYAMLException e) {
            errors.add(new ConfigError(source, "(file)", line(e.getProblemMark().getLine()),
                    "not valid YAML: " + e.getProblem()));
            return sections;
        } catch (YAMLException e) {
            errors.add(new ConfigError(source, "(file)", "", "not valid YAML: " + e.getMessage()));
            return sections;
        }
        if (root == null) {
            return sections;
        }
        if (!(root instanceof MappingNode top)) {
            errors.add(new ConfigError(source, "(file)", origin(root), "expected sections (data:, model:, ...) at the top"));
            return sections;
        }
        for (NodeTuple t : top.getValue()) {
            String section = scalarKey(t.getKeyNode());
            if (sections.containsKey(section)) {
                errors.add(new ConfigError(source, section, origin(t.getKeyNode()), "section appears twice"));
                continue;
            }
            Node body = t.getValueNode();
            Map<String, ConfigValue> keys = new LinkedHashMap<>();
            sections.put(section, keys);
            if (isNull(body)) {
                continue;
            }
            if (!(body instanceof MappingNode mapping)) {
                errors.add(new ConfigError(source, section, origin(body), "a section holds 'key: value' lines"));
                continue;
            }
            for (NodeTuple kv : mapping.getValue()) {
                String key = scalarKey(kv.getKeyNode());
                if (keys.containsKey(key)) {
                    errors.add(new ConfigError(source, section + "." + key, origin(kv.getKeyNode()),
                            "key appears twice (first at " + keys.get(key).origin() + ")"));
                    continue;
                }
                keys.put(key, new ConfigValue(toJava(kv.getValueNode()), source, origin(kv.getKeyNode())));
            }
        }
        return sections;
    }

    private static Object toJava(Node node) {
        if (node instanceof ScalarNode scalar) {
            return scalar(scalar);
        }
        if (node instanceof SequenceNode seq) {
            List<Object> items = new ArrayList<>();
            for (Node item : seq.getValue()) {
                items.add(toJava(item));
            }
            return items;
        }
        Map<String, Object> map = new LinkedHashMap<>();
        for (NodeTuple t : ((MappingNode) node).getValue()) {
            map.put(scalarKey(t.getKeyNode()), toJava(t.getValueNode()));
        }
        return map;
    }

    private static Object scalar(ScalarNode node) {
        String text = node.getValue();
        Tag tag = node.getTag();
        if (Tag.NULL.equals(tag)) {
            return null;
        }
        if (Tag.BOOL.equals(tag)) {
            String t = text.toLowerCase(java.util.Locale.ROOT);
            return t.equals("true") || t.equals("yes") || t.equals("on");
        }
        if (Tag.INT.equals(tag)) {
            try {
                return Long.parseLong(text.replace("_", ""));
            } catch (NumberFormatException octalOrHex) {
                return text;
            }
        }
        if (Tag.FLOAT.equals(tag)) {
            try {
                return Double.parseDouble(text.replace("_", ""));
            } catch (NumberFormatException infinityOrNan) {
                return text;
            }
        }
        return text;
    }

    private static boolean isNull(Node node) {
        return node instanceof ScalarNode s && Tag.NULL.equals(s.getTag());
    }

    private static String scalarKey(Node node) {
        return node instanceof ScalarNode s ? s.getValue() : String.valueOf(toJava(node));
    }

    private static String origin(Node node) {
        return line(node.getStartMark().getLine());
    }

    private static String line(int zeroBased) {
        return "line " + (zeroBased + 1);
    }
}
