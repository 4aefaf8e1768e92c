package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test that leaves behind a thread it started or a socket it opened: compares this JVM's live threads and
 * its socket file descriptors ({@code /proc/self/fd}) before and after each test.
 */
final class NoLeaks implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(NoLeaks.class);
    /** JVM housekeeping threads that start on demand and live on; not ours. */
    private static final List<String> JVM_THREADS = List.of("process reaper", "Attach Listener", "Common-Cleaner",
            "ForkJoinPool.commonPool", "surefire-forkedjvm", "Signal Dispatcher");

    static {
        // the JDK keeps one socket for the life of the JVM once the first NIO channel closes (FileDispatcherImpl's
        // pre-close descriptor); make it exist before any test counts sockets
        try {
            SocketChannel.open().close();
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(NS).put("threads", Set.copyOf(Thread.getAllStackTraces().keySet()));
        context.getStore(NS).put("sockets", sockets());
    }

    @Override
    @SuppressWarnings("unchecked")
    public void afterEach(ExtensionContext context) throws InterruptedException {
        Set<Thread> before = (Set<Thread>) context.getStore(NS).get("threads");
        Set<String> socketsBefore = (Set<String>) context.getStore(NS).get("sockets");
        Set<Thread> extra = Set.of();
        Set<String> extraSockets = Set.of();
        // threads that were joined may take a moment to leave the live set
        for (int attempt = 0; attempt < 50; attempt++) {
            extra = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.isAlive() && !before.contains(t))
                    .filter(t -> JVM_THREADS.stream().noneMatch(t.getName()::startsWith))
                    .collect(Collectors.toSet());
            extraSockets = new HashSet<>(sockets());
            extraSockets.removeAll(socketsBefore);
            if (extra.isEmpty() && extraSockets.isEmpty()) {
                return;
            }
            Thread.sleep(100);
        }
        fail("the test left behind threads " + extra.stream().map(Thread::getName).toList() + " and sockets " + extraSockets);
    }

    private static Set<String> sockets() {
        Set<String> out = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:") || target.startsWith("anon_inode:") || target.startsWith("pipe:")) {
                        out.add(fd.getFileName() + "->" + target);
                    }
                } catch (IOException ignored) {
                    // the descriptor closed while listing
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc/self/fd", e);
        }
        return out;
    }
}
