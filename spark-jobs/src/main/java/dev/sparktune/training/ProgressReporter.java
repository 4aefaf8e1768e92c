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
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rank 0's end of progress reporting: every {@code logging_steps} steps (and the last) it sends a
 * {@link ProgressUpdate} to the driver's {@link ProgressServer}. Progress is best effort: when the driver cannot be
 * reached the rank logs it once and trains on. A connection that breaks after it was made (the driver turned it away
 * while strangers held its connections, or dropped it) is made again at a logged step at least
 * {@link #RECONNECT_PAUSE} later; the lines sent in between are lost.
 */
final class ProgressReporter implements StepListener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressReporter.class);
    private static final int CONNECT_TIMEOUT_MILLIS = 10_000;
    static final Duration RECONNECT_PAUSE = Duration.ofSeconds(5);

    /** The driver's progress socket and the token that opens it. */
    public record Target(String host, int port, String token) implements Serializable {
    }

    private final Target target;
    private final int loggingSteps;
    private Socket socket;
    private Writer out;
    private boolean failed;             // the driver could not be reached: no more tries
    private long reconnectAfter;        // System.nanoTime() before which a broken connection is not made again
    private int breaks;

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
        if (out == null && breaks > 0 && System.nanoTime() - reconnectAfter < 0) {
            return;
        }
        try {
            if (out == null) {
                socket = new Socket();
                socket.connect(new InetSocketAddress(target.host(), target.port()), CONNECT_TIMEOUT_MILLIS);
                out = new BufferedWriter(new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8));
                out.write(target.token() + "\n");
            }
        } catch (IOException e) {
            failed = true;
            LOG.warn("cannot send progress to the driver at {}:{} ({}); training goes on, see metrics.jsonl",
                    target.host(), target.port(), e.toString());
            close();
            return;
        }
        try {
            out.write(ProgressUpdate.of(progress).toJson() + "\n");
            out.flush();
        } catch (IOException e) {
            breaks++;
            reconnectAfter = System.nanoTime() + RECONNECT_PAUSE.toNanos();
            if (breaks == 1) {
                LOG.warn("the progress connection to the driver at {}:{} broke ({}); connecting again in {} s or later",
                        target.host(), target.port(), e.toString(), RECONNECT_PAUSE.toSeconds());
            } else {
                LOG.debug("the progress connection broke again ({} times)", breaks, e);
            }
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
        } finally {
            socket = null;
            out = null;
        }
    }
}
