package dev.sparktune.deploy;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sparktune.cli.Sparktune;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * Checks the arguments a deploy file hands to {@code dev.sparktune.cli.Sparktune} against the CLI's own picocli
 * model: the subcommand exists, every option is one of that subcommand's, and an option with a fixed set of values
 * (such as {@code run --steps}) gets one of them. Parses only: nothing runs.
 */
final class CliArguments {
    private CliArguments() {
    }

    /** The parse result of the subcommand {@code arguments} name; fails the test with {@code where} otherwise. */
    static ParseResult check(List<String> arguments, String where) {
        CommandLine cli = new CommandLine(new Sparktune());
        assertTrue(!arguments.isEmpty() && cli.getSubcommands().containsKey(arguments.get(0)),
                where + ": '" + (arguments.isEmpty() ? "" : arguments.get(0)) + "' is not a sparktune subcommand (they"
                        + " are " + cli.getSubcommands().keySet() + ")");
        CommandSpec command = cli.getSubcommands().get(arguments.get(0)).getCommandSpec();
        for (String argument : arguments) {
            if (argument.startsWith("--")) {
                String name = argument.contains("=") ? argument.substring(0, argument.indexOf('=')) : argument;
                assertNotNull(command.findOption(name), where + ": sparktune " + command.name() + " has no option "
                        + name + " (its options: " + names(command) + ")");
            }
        }
        ParseResult parsed;
        try {
            parsed = cli.parseArgs(arguments.toArray(String[]::new)).subcommand();
        } catch (CommandLine.ParameterException e) {
            return fail(where + ": sparktune refuses " + arguments + ": " + e.getMessage());
        }
        for (OptionSpec option : command.options()) {
            if (option.completionCandidates() == null || !parsed.hasMatchedOption(option)) {
                continue;
            }
            List<String> allowed = new ArrayList<>();
            option.completionCandidates().forEach(allowed::add);
            List<String> given = parsed.matchedOptionValue(option.longestName(), List.<String>of());
            assertTrue(allowed.containsAll(given), where + ": " + option.longestName() + " " + given
                    + " is not among " + allowed);
        }
        return parsed;
    }

    private static List<String> names(CommandSpec command) {
        return command.options().stream().map(OptionSpec::longestName).toList();
    }
}
