package dev.sparktune.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Loads a job YAML, applies {@code --set section.key=value} overrides and checks every key.
 * All problems are collected and thrown together as one {@link ConfigException}, each naming
 * the file, the key and what is allowed.
 */
public final class ConfigLoader {

    /** The sections of a job YAML, in the order they are printed. */
    public static final List<String> SECTIONS = List.of("data", "model", "method", "train", "dist", "eval", "export",
            "generation");

    private static final String OVERRIDE = "--set";

    private ConfigLoader() {
    }

    public static LoadedConfig load(Path file, List<String> overrides) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(new ConfigError(file.toString(), "(file)", "", "no such file")));
        } catch (IOException e) {
            throw new ConfigException(List.of(new ConfigError(file.toString(), "(file)", "", "cannot read: " + e)));
        }
        return parse(text, file.toString(), overrides);
    }

    public static LoadedConfig parse(String yaml, String source, List<String> overrides) {
        List<ConfigError> errors = new ArrayList<>();
        Map<String, Map<String, ConfigValue>> raw = YamlSections.parse(yaml, source, errors);
        applyOverrides(raw, overrides, errors);

        for (String section : raw.keySet()) {
            if (!SECTIONS.contains(section)) {
                errors.add(new ConfigError(source, section, "",
                        "unknown section; did you mean '" + Nearest.of(section, SECTIONS) + "'? Sections are "
                                + String.join(", ", SECTIONS)));
            }
        }

        Map<String, Section> sections = new LinkedHashMap<>();
        for (String name : SECTIONS) {
            sections.put(name, new Section(name, source, raw.getOrDefault(name, Map.of()), errors));
        }
        JobConfig job = new JobConfig(
                DataConfig.read(sections.get("data")),
                ModelConfig.read(sections.get("model")),
                MethodConfig.read(sections.get("method")),
                TrainConfig.read(sections.get("train")),
                DistConfig.read(sections.get("dist")),
                EvalConfig.read(sections.get("eval")),
                ExportConfig.read(sections.get("export")),
                GeneratingConfig.read(sections.get("generation")));
        // fp16 mixed precision computes in float16 whatever the dtype the model section names, so a wider one it
        // would silently narrow is refused (float32, the default, is where the float32 master weights live)
        sections.get("train").require(!job.train().fp16() || !job.model().computeDtype().equals("float64"), "fp16",
                "fp16 mixed precision computes in float16 with float32 master weights; it contradicts"
                        + " model.compute_dtype: float64 (set compute_dtype to float32 or float16, or turn fp16 off)");

        sections.get("dist").require(!job.train().fp16() || job.dist().zeroStage() != 3, "zero_stage",
                "stage 3 with train.fp16 is not built (float32 master weights are kept for whole tensors only); use"
                        + " zero_stage 2 with fp16, or stage 3 in float32");

        requireFrozenBase(job, sections);

        Map<String, Set<String>> keysBySection = new LinkedHashMap<>();
        sections.forEach((name, s) -> keysBySection.put(name, new LinkedHashSet<>(s.resolved().keySet())));
        sections.values().forEach(s -> s.rejectUnknownKeys(keysBySection));

        if (!errors.isEmpty()) {
            throw new ConfigException(errors);
        }
        Map<String, Map<String, Object>> resolved = new LinkedHashMap<>();
        sections.forEach((name, s) -> resolved.put(name, s.resolved()));
        return new LoadedConfig(source, job, resolved);
    }

    /**
     * A packed frozen base ({@code model.quantization_bit}, {@code train.bf16}) needs a method that leaves the linear
     * weights frozen: quantisation only under LoRA (QLoRA; LLaMA-Factory refuses it for the other methods), bfloat16
     * under every method whose export is an adapter rather than the whole model.
     */
    private static void requireFrozenBase(JobConfig job, Map<String, Section> sections) {
        String method = job.method().finetuningType();
        sections.get("model").require(job.model().quantizationBit() == 0 || method.equals("lora"), "quantization_bit",
                "quantises the frozen base under LoRA adapters (QLoRA), but method.finetuning_type is '" + method
                        + "'; use finetuning_type: lora or remove quantization_bit");
        sections.get("train").require(!job.train().bf16() || !Set.of("full", "freeze", "bitfit").contains(method), "bf16",
                "stores the frozen linear weights as bfloat16 under an adapter method, but method.finetuning_type '"
                        + method + "' trains base weights and exports the whole model; use lora, adapter, prefix or"
                        + " prompt, or remove bf16");
    }

    /** Every key the loader knows, as {@code section -> keys}; the reference file documents exactly these. */
    public static Map<String, Set<String>> knownKeys() {
        Map<String, Set<String>> keys = new LinkedHashMap<>();
        parse("", "(defaults)", List.of()).values().forEach((section, values) -> keys.put(section, values.keySet()));
        return keys;
    }

    private static void applyOverrides(Map<String, Map<String, ConfigValue>> raw, List<String> overrides,
                                       List<ConfigError> errors) {
        for (String override : overrides) {
            int eq = override.indexOf('=');
            int dot = override.indexOf('.');
            if (eq < 0 || dot < 0 || dot > eq) {
                errors.add(new ConfigError(OVERRIDE, override, "",
                        "expected section.key=value, e.g. train.learning_rate=1e-4"));
                continue;
            }
            String section = override.substring(0, dot).trim();
            String key = override.substring(dot + 1, eq).trim();
            String value = override.substring(eq + 1).trim();
            raw.computeIfAbsent(section, s -> new LinkedHashMap<>())
                    .put(key, new ConfigValue(value.equals("null") ? null : value, OVERRIDE, ""));
        }
    }
}
