package dev.sparktune.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sparktune} command line: {@code bin/sparktune} locally, the app jar's main class under spark-submit. */
@Command(
        name = "sparktune",
        mixinStandardHelpOptions = true,
        versionProvider = BuildInfo.class,
        description = "Distributed fine-tuning of large language models on Apache Spark.",
        subcommands = {DoctorCommand.class, ConfigCommand.class, ImportOnnxCommand.class, DemoCommand.class,
            RunCommand.class, PrepCommand.class, TrainCommand.class, EvalCommand.class, ExportCommand.class,
            ReportCommand.class, ServeCommand.class, MetricsCommand.class, EmbedCommand.class, GenerateCommand.class,
            BenchCommand.class})
public final class Sparktune implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs one command line and returns its exit code; {@link #main} exits with it. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Sparktune());
        cli.setOut(out);
        cli.setErr(err);
        return cli.execute(args);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing command: choose one of "
                + String.join(", ", spec.subcommands().keySet()));
    }
}
