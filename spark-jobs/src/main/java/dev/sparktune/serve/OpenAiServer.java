package dev.sparktune.serve;

import ai.djl.ndarray.NDManager;
import java.net.URI;
import java.util.List;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * {@code sparktune serve}'s server: Jetty listening on the settings' address at once, answering 503 while the models
 * load, then the OpenAI API. {@link #shutdown} is graceful: new requests get 503 while those in flight finish.
 */
public final class OpenAiServer implements AutoCloseable {
    private final ServerSettings settings;
    private final ServerMetrics metrics = new ServerMetrics();
    private final OpenAiHandler handler;
    private final Server jetty;
    private final ServerConnector connector;
    private ModelRegistry models;

    private OpenAiServer(ServerSettings settings) {
        this.settings = settings;
        this.handler = new OpenAiHandler(settings, metrics);
        // every waiting request holds a thread, so there are enough for a full queue and a full batch
        QueuedThreadPool threads = new QueuedThreadPool(Math.min(2048, 2 * (settings.maxQueue() + settings.maxBatch())
                + 32));
        threads.setName("sparktune-http");
        this.jetty = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        this.connector = new ServerConnector(jetty, new HttpConnectionFactory(http));
        connector.setHost(settings.host());
        connector.setPort(settings.port());
        connector.setIdleTimeout(settings.requestTimeout().toMillis() + 30_000);
        jetty.addConnector(connector);
        jetty.setHandler(handler);
    }

    /** Binds and starts answering (503 until {@link #ready}). */
    public static OpenAiServer start(ServerSettings settings) {
        OpenAiServer server = new OpenAiServer(settings);
        try {
            server.jetty.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot listen on " + settings.host() + ":" + settings.port() + ": "
                    + e.getMessage(), e);
        }
        return server;
    }

    /** Serves {@code served} from now on; {@code manager} owns their weights and is where their batches run. */
    public synchronized void ready(List<ServedModel> served, NDManager manager) {
        models = new ModelRegistry(served, manager, settings, metrics);
        handler.ready(models);
    }

    /** The address clients use, e.g. {@code http://127.0.0.1:8000}. */
    public URI uri() {
        String host = settings.host().contains(":") ? "[" + settings.host() + "]" : settings.host();
        return URI.create("http://" + host + ":" + connector.getLocalPort());
    }

    public int port() {
        return connector.getLocalPort();
    }

    /**
     * New requests get 503 from now on; waits up to the settings' grace period for the requests in flight, then stops
     * listening and ends the batching threads. Returns how many requests were still unfinished (0 normally).
     */
    public synchronized int shutdown() {
        handler.drain();
        long deadline = System.nanoTime() + settings.shutdownGrace().toNanos();
        while (handler.inFlight() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        int unfinished = handler.inFlight();
        try {
            jetty.stop();
        } catch (Exception e) {
            throw new IllegalStateException("stopping the HTTP server failed: " + e.getMessage(), e);
        } finally {
            if (models != null) {
                models.close();
                models = null;
            }
        }
        return unfinished;
    }

    @Override
    public void close() {
        if (jetty.isRunning()) {
            shutdown();
        }
    }

    /** Blocks until the server has stopped. */
    public void join() throws InterruptedException {
        jetty.join();
    }
}
