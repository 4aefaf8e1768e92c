package dev.sparktune.cli;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.prep.PartitionSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * A job whose outputs move into one Hive-style partition folder, as {@code sparktune run --partition dt=2026-11-28}
 * runs it: {@code data.prepared_path}, {@code data.tokenized_path}, {@code train.output_dir} and
 * {@code export.export_dir} each gain {@code /dt=2026-11-28}, so a daily run writes its own folders beside the other
 * days' and its step markers (in {@code train.output_dir}) see only its own steps. Prep itself is given the partition
 * rather than these paths: the translation cache beside {@code prepared_path} stays shared by all partitions.
 */
final class PartitionedJob {
    private PartitionedJob() {
    }

    /** {@code config} with its output paths in {@code partition}'s folder, or {@code config} when there is none. */
    static LoadedConfig of(LoadedConfig config, PartitionSpec partition) {
        if (partition == null) {
            return config;
        }
        JobConfig job = config.job();
        List<String> moved = new ArrayList<>();
        move("data.prepared_path", job.data().preparedPath(), partition, moved);
        move("data.tokenized_path", job.data().tokenizedPath(), partition, moved);
        move("train.output_dir", job.train().outputDir(), partition, moved);
        move("export.export_dir", job.export().exportDir(), partition, moved);
        return ConfigLoader.parse(config.toYaml(), config.source(), moved);
    }

    private static void move(String key, String path, PartitionSpec partition, List<String> overrides) {
        if (path != null) {
            overrides.add(key + "=" + partition.under(path));
        }
    }
}
