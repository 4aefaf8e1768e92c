package dev.sparktune.dist;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Ring members for ranks that are threads of this JVM, listening on loopback. */
final class LoopbackRing {
    static final byte[] SECRET = "secret-of-this-test-job".getBytes(StandardCharsets.UTF_8);

    private LoopbackRing() {
    }

    static RingOptions options(Duration timeout) {
        return RingOptions.defaults().withTimeout(timeout).withNetworkCidr("127.0.0.0/8");
    }

    /** Binds n listeners, then connects every rank, each on its own thread, as Spark barrier tasks would. */
    static List<Collective> open(int n, RingOptions options) {
        List<RingListener> listeners = bind(n, options);
        List<String> addresses = addresses(listeners);
        List<Collective> ring = new ArrayList<>();
        for (RankThreads.Outcome<Collective> o : RankThreads.outcomes(n,
                r -> (Collective) RingCollective.connect(listeners.get(r), r, addresses, SECRET, options), Duration.ofMinutes(2))) {
            ring.add(o.get());
        }
        return ring;
    }

    /** n listeners on loopback, bound before anyone knows the others' addresses. */
    static List<RingListener> bind(int n, RingOptions options) {
        List<RingListener> listeners = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            listeners.add(RingListener.bind(options));
        }
        return listeners;
    }

    static List<String> addresses(List<RingListener> listeners) {
        return listeners.stream().map(RingListener::address).toList();
    }
}
