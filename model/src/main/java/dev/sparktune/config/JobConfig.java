package dev.sparktune.config;

/** One job's whole configuration: the eight sections of the job YAML (DESIGN.md §6). */
public record JobConfig(
        DataConfig data,
        ModelConfig model,
        MethodConfig method,
        TrainConfig train,
        DistConfig dist,
        EvalConfig eval,
        ExportConfig export,
        GeneratingConfig generation) {
}
