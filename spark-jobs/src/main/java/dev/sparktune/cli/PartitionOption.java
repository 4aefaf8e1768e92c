package dev.sparktune.cli;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.prep.PartitionSpec;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The {@code --partition COLUMN=VALUE} option of run, train, eval, export and report: which partition of the output
 * paths.
 */
final class PartitionOption {
    @Option(names = "--partition", paramLabel = "COLUMN=VALUE",
            description = {"work in this partition of every output path, e.g. dt=2026-11-28:",
                "<prepared_path>/dt=2026-11-28/, <tokenized_path>/dt=2026-11-28/, <train.output_dir>/dt=2026-11-28/",
                "and <export.export_dir>/dt=2026-11-28/, as prep --partition and run --partition write them"})
    String partition;

    /** The parsed partition, or null when the option is not given; IllegalArgumentException for a malformed one. */
    PartitionSpec spec() {
        return partition == null ? null : PartitionSpec.parse(partition);
    }

    /** The job YAML with its overrides, and its output paths in the partition's folders when one is given. */
    LoadedConfig load(Path file, List<String> overrides) {
        return PartitionedJob.of(ConfigLoader.load(file, overrides), spec());
    }
}
