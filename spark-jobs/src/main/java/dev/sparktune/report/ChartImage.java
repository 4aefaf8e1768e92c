package dev.sparktune.report;

/** One chart of the report as a PNG: its file name under {@code report/} and the text that describes it. */
public record ChartImage(String file, String alt, byte[] png) {
}
