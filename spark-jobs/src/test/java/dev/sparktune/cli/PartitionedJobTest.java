package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.prep.PartitionSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

class PartitionedJobTest {
    private static final PartitionSpec DAY = PartitionSpec.parse("dt=2026-11-28");

    @Test
    void everyOutputPathGainsThePartitionFolderAndNothingElseChanges() {
        LoadedConfig whole = ConfigLoader.parse(String.join("\n",
                "data: {prepared_path: hdfs:///prep/, tokenized_path: s3a://bucket/tok, cutoff_len: 64}",
                "train: {output_dir: out/run, learning_rate: 2.0e-4}",
                "export: {export_dir: /models/merged}", ""), "job.yaml", List.of());

        LoadedConfig day = PartitionedJob.of(whole, DAY);

        assertEquals("hdfs:///prep/dt=2026-11-28", day.job().data().preparedPath());
        assertEquals("s3a://bucket/tok/dt=2026-11-28", day.job().data().tokenizedPath());
        assertEquals("out/run/dt=2026-11-28", day.job().train().outputDir());
        assertEquals("/models/merged/dt=2026-11-28", day.job().export().exportDir());
        assertEquals(64, day.job().data().cutoffLen());
        assertEquals(2.0e-4, day.job().train().learningRate());
        whole.values().forEach((section, keys) -> keys.forEach((key, value) -> {
            if (!List.of("prepared_path", "tokenized_path", "output_dir", "export_dir").contains(key)) {
                assertEquals(value, day.values().get(section).get(key), section + "." + key);
            }
        }));
    }

    @Test
    void unsetPathsStayUnsetAndNoPartitionIsTheJobItself() {
        LoadedConfig whole = ConfigLoader.parse("train: {output_dir: run}\n", "job.yaml", List.of());

        LoadedConfig day = PartitionedJob.of(whole, DAY);

        assertNull(day.job().data().tokenizedPath());
        assertNull(day.job().export().exportDir());
        assertEquals("run/dt=2026-11-28", day.job().train().outputDir());
        assertSame(whole, PartitionedJob.of(whole, null));
    }
}
