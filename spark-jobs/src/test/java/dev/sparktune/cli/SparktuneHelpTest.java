package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code sparktune --help} reads well: every command listed with a summary that is a whole sentence. */
class SparktuneHelpTest {

    @Test
    void helpListsEveryCommandWithAOneSentenceSummary() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(0, Sparktune.run(new String[] {"--help"}, new PrintWriter(out, true), new PrintWriter(err, true)));
        assertEquals("", err.toString());

        Map<String, String> summaries = summaries(out.toString());
        assertEquals(new CommandLine(new Sparktune()).getSubcommands().keySet(), summaries.keySet(), out.toString());
        summaries.forEach((command, summary) -> {
            assertTrue(summary.endsWith("."), command + "'s summary ends mid-sentence: " + summary);
            assertFalse(summary.substring(0, summary.length() - 1).contains(". "),
                    command + "'s summary is more than one sentence: " + summary);
        });
    }

    /** The "Commands:" block of the usage text, each command's summary unwrapped onto one line. */
    private static Map<String, String> summaries(String usage) {
        Map<String, String> summaries = new LinkedHashMap<>();
        List<String> lines = usage.lines().toList();
        String command = null;
        List<String> parts = new ArrayList<>();
        for (String line : lines.subList(lines.indexOf("Commands:") + 1, lines.size())) {
            if (line.matches("  \\S.*")) {
                if (command != null) {
                    summaries.put(command, String.join(" ", parts));
                }
                String[] nameAndText = line.trim().split("\\s+", 2);
                command = nameAndText[0];
                parts = new ArrayList<>(List.of(nameAndText[1]));
            } else if (!line.isBlank()) {
                parts.add(line.trim());
            }
        }
        summaries.put(command, String.join(" ", parts));
        return summaries;
    }
}
