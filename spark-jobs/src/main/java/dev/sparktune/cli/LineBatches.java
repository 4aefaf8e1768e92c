package dev.sparktune.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Lines of a reader in batches of up to {@code size}, each handed on as soon as it is full (or the input ends), so a
 * command streams: it never holds more than one batch of input.
 */
final class LineBatches {
    interface BatchHandler {
        /** @param firstLine the 1-based number of the batch's first line in the input */
        void handle(List<String> lines, long firstLine) throws IOException;
    }

    private LineBatches() {
    }

    /** Returns the number of lines read. */
    static long forEach(BufferedReader in, int size, BatchHandler handler) throws IOException {
        long count = 0;
        List<String> batch = new ArrayList<>(size);
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            batch.add(line);
            count++;
            if (batch.size() == size) {
                handler.handle(List.copyOf(batch), count - batch.size() + 1);
                batch.clear();
            }
        }
        if (!batch.isEmpty()) {
            handler.handle(List.copyOf(batch), count - batch.size() + 1);
        }
        return count;
    }
}
