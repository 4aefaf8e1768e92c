package dev.sparktune.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * References in sacreBLEU's shape: a list of streams, stream {@code k} holding the k-th reference of every
 * hypothesis (one file per stream on the command line).
 */
final class ReferenceStreams {
    private ReferenceStreams() {
    }

    static void requireAligned(List<String> hypotheses, List<List<String>> streams) {
        if (streams.isEmpty()) {
            throw new IllegalArgumentException("no references: give at least one reference stream");
        }
        for (int k = 0; k < streams.size(); k++) {
            if (streams.get(k).size() != hypotheses.size()) {
                throw new IllegalArgumentException("reference stream " + k + " has " + streams.get(k).size()
                        + " segments, the hypotheses " + hypotheses.size());
            }
        }
    }

    /** The references of hypothesis {@code i}, one from each stream. */
    static List<String> column(List<List<String>> streams, int i) {
        List<String> references = new ArrayList<>(streams.size());
        for (List<String> stream : streams) {
            references.add(stream.get(i));
        }
        return references;
    }
}
