package dev.sparktune.cli;

import dev.sparktune.doctor.CheckResult;
import dev.sparktune.doctor.JavaCheck;
import dev.sparktune.doctor.PyTorchCheck;
import dev.sparktune.doctor.SparkCheck;
import dev.sparktune.doctor.TranslatorCheck;
import java.io.PrintWriter;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sparktune doctor}: checks that this machine can run sparktune, and says what to fix. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Check that this machine can run sparktune.",
            "Checks Java, the PyTorch engine (offline), a local SparkSession and, with --translator,",
            "a translation server; says what to fix and exits with 1 when a check fails."})
final class DoctorCommand implements Callable<Integer> {
    static final int CHECK_FAILED = 1;

    @Spec
    CommandSpec spec;

    @Option(names = "--translator", paramLabel = "URL",
            description = "also check this back-translation server (Apertium APY or OpenAI-compatible base URL)")
    URI translator;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.println("sparktune " + BuildInfo.version() + " doctor");
        List<CheckResult> results = new ArrayList<>();
        results.add(report(out, JavaCheck.run()));
        results.add(report(out, PyTorchCheck.run()));
        results.add(report(out, SparkCheck.run()));
        if (translator != null) {
            results.add(report(out, TranslatorCheck.run(translator)));
        }
        long failed = results.stream().filter(r -> !r.passed()).count();
        out.println(failed == 0 ? "All " + results.size() + " checks passed."
                : failed + " of " + results.size() + " checks failed.");
        out.flush();
        return failed == 0 ? 0 : CHECK_FAILED;
    }

    private static CheckResult report(PrintWriter out, CheckResult r) {
        out.printf("  %-6s %-11s %s%n", r.passed() ? "[ok]" : "[FAIL]", r.name(), r.detail());
        if (!r.passed()) {
            out.printf("  %-6s %-11s fix: %s%n", "", "", r.fix());
        }
        out.flush();
        return r;
    }
}
