package dev.sparktune.training;

import dev.sparktune.train.StepListener;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Serializable;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rank 0's end of progress reporting: every {@code logging_steps} steps (and the last) it sends a
 * {@link ProgressUpdate} to the driver's {@link ProgressServer}. Progress is best effort: when the driver cannot be
 * reached the rank logs it once and trains on.
 */
final class ProgressReporter implements StepListener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressReporter.class);
    private static final int CONNECT_TIMEOUT_MILLIS = 10_000;

    /** The driver's progress socket and the token that opens it. */
    public record Target(String host, int port, String token) implements Serializable {
    }

    private final Target target;
    private final int loggingSteps;
    private Socket socket;
    private Writer out;
    private boolean failed;

    /** Sends to {@code target}; a null target (progress off on the driver) sends nothing. */
    ProgressReporter(Target target, int loggingSteps) {
        this.target = target;
        this.loggingSteps = loggingSteps;
    }

    @Override
    public void afterStep(StepProgress progress) {
        long step = progress.metrics().step();
        if (target == null || progress.rank() != 0 || failed
                || (step % loggingSteps != 0 && step != progress.totalSteps() && !progress.metrics().validated())) {
            return;
        }
        try {
            if (out == null) {
                socket = new Socket();
                socket.connect(new InetSocketAddress(target.host(), target.port()), CONNECT_TIMEOUT_MILLIS);
                out = new BufferedWriter(new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8));
                out.write(target.token() + "\n");
            }
            out.write(ProgressUpdate.of(progress).toJson() + "\n");
            out.flush();
        } catch (IOException e) {
            failed = true;
            LOG.warn("cannot send progress to the driver at {}:{} ({}); training goes on, see metrics.jsonl",
                    target.host(), target.port(), e.toString());
            close();
        }
    }

    @Override
    public void close() {
        try {
            if (socket != null) {
                socket.close();
            }
        } catch (IOException e) {
            LOG.debug("closing the progress connection", e);
        }
    }
}
