package dev.sparktune.cli;

import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.LoadedConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sparktune config validate FILE}: check a job YAML and print what the job would run with. */
@Command(name = "config", description = "Work with job configuration files.",
        subcommands = ConfigCommand.Validate.class, mixinStandardHelpOptions = true)
final class ConfigCommand {

    @Command(name = "validate", mixinStandardHelpOptions = true,
            description = {"Check a job YAML and print the resolved config, defaults included.",
                "Exits with 2 and lists every problem when the file does not validate."})
    static final class Validate implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "the job YAML")
        Path file;

        @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
                description = "override one key, e.g. --set train.learning_rate=1.0e-4 (repeatable)")
        List<String> overrides = new ArrayList<>();

        @Override
        public Integer call() {
            try {
                LoadedConfig loaded = ConfigLoader.load(file, overrides);
                spec.commandLine().getOut().print(loaded.toYaml());
                spec.commandLine().getOut().flush();
                return 0;
            } catch (ConfigException e) {
                return ConfigProblems.report(spec.commandLine().getErr(), e, file);
            }
        }
    }
}
