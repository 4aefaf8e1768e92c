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
        int exitCode = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
        if (inYarnApplicationMaster()) {
            // YARN cluster mode: the ApplicationMaster runs this method in a thread and reports the application's
            // final status when it returns or throws. System.exit would end the ApplicationMaster before it
            // reports, and YARN would mark every run FAILED ("Shutdown hook called before final status was reported")
            if (exitCode != 0) {
                throw new IllegalStateException("sparktune exited with code " + exitCode);
            }
            return;
        }
        System.exit(exitCode);
    }

    /** What YARN's ApplicationMaster sets before it runs the driver's main class (cluster mode). */
    private static boolean inYarnApplicationMaster() {
        return System.getProperty("spark.yarn.app.id") != null
                && "cluster".equals(System.getProperty("spark.submit.deployMode"));
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
