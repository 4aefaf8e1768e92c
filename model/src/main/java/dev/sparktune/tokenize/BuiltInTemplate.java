package dev.sparktune.tokenize;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/** Chat formats for models without a chat_template of their own; the Jinja sources live in {@code templates/}. */
enum BuiltInTemplate {
    CHATML("chatml", "qwen"),
    LLAMA3("llama3"),
    ALPACA("alpaca");

    private final List<String> names;

    BuiltInTemplate(String... names) {
        this.names = List.of(names);
    }

    static BuiltInTemplate named(String name) {
        return Arrays.stream(values()).filter(t -> t.names.contains(name)).findFirst().orElse(null);
    }

    static List<String> allNames() {
        return Arrays.stream(values()).flatMap(t -> t.names.stream()).toList();
    }

    String source() {
        String file = "templates/" + names.get(0) + ".jinja";
        try (InputStream in = BuiltInTemplate.class.getResourceAsStream(file)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + file);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
