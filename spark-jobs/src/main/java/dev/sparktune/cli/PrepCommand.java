package dev.sparktune.cli;

import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.DataConfig;
import dev.sparktune.config.JobConfig;
import dev.sparktune.ingest.DatasetInfoException;
import dev.sparktune.prep.PartitionSpec;
import dev.sparktune.prep.PrepJob;
import dev.sparktune.prep.PrepReport;
import dev.sparktune.prep.StageCounts;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code sparktune prep FILE}: turn the job's datasets into prepared Parquet at {@code data.prepared_path}. */
@Command(name = "prep", mixinStandardHelpOptions = true,
        description = {"Clean, deduplicate, augment and tokenize the job's datasets into Parquet.",
            "Reads the datasets in data.dataset, runs the prep stages and commits the kept rows as Parquet to",
            "data.prepared_path (the test split's in _test/), with _rejected/ (rows no stage could keep, with",
            "the reason) and _report.json (counts per stage and split, test rows found in training);",
            "with model.model_name_or_path and data.tokenized_path set, also the tokenized rows.",
            "Runs on the Spark master spark-submit gives, or on local[*] when there is none."})
final class PrepCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "the job YAML")
    Path file;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "override one key, e.g. --set data.prepared_path=hdfs:///prep/run1 (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--partition", paramLabel = "COLUMN=VALUE",
            description = "write only this partition, e.g. dt=2026-11-28: <prepared_path>/dt=2026-11-28/ (and"
                    + " <tokenized_path>/dt=2026-11-28/); others stay")
    String partition;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        DataConfig data;
        JobConfig job;
        PartitionSpec partitionSpec;
        try {
            job = ConfigLoader.load(file, overrides).job();
            data = job.data();
            partitionSpec = partition == null ? null : PartitionSpec.parse(partition);
            PrepJob.checkConfig(data);
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, file);
        } catch (IllegalArgumentException e) {
            err.println("prep: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }

        try (CommandSession session = CommandSession.open("sparktune prep " + file.getFileName(), Map.of())) {
            return prep(session.spark(), job, partitionSpec, spec.commandLine().getOut(), err);
        }
    }

    /**
     * Runs the prep job of a config that passed {@link PrepJob#checkConfig}, prints every stage's counts and returns
     * the exit code: 0, or {@link ConfigProblems#INVALID} for a dataset the job cannot read. {@code sparktune run}
     * calls it too.
     */
    static int prep(SparkSession spark, JobConfig job, PartitionSpec partitionSpec, PrintWriter out, PrintWriter err) {
        DataConfig data = job.data();
        try {
            PrepReport report = PrepJob.run(spark, data, job.model().modelNameOrPath(), partitionSpec);
            for (StageCounts s : report.stages()) {
                out.printf("%-8s in %,d  out %,d  rejected %,d%n", s.stage(), s.in(), s.out(), s.rejected());
            }
            String target = data.preparedPath() + (partitionSpec == null ? "" : "/" + partitionSpec.folder());
            out.printf("Wrote %,d rows to %s (%,d rejected rows in _rejected/)%n", report.rows(), target, report.rejected());
            out.println("Splits: " + report.splits());
            if (report.leakage() != null) {
                out.println("Test rows in the training split: " + report.leakage());
            }
            out.flush();
            return 0;
        } catch (DatasetInfoException | IllegalArgumentException e) {
            err.println("prep: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
    }
}
