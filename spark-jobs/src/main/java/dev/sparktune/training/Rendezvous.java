package dev.sparktune.training;

import dev.sparktune.dist.RingCollective;
import dev.sparktune.dist.RingListener;
import dev.sparktune.dist.RingOptions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.apache.spark.BarrierTaskContext;

/**
 * How the ranks of a barrier stage find each other: each binds its ring listener first, then every rank publishes
 * {@code host:port} through {@link BarrierTaskContext#allGather}, rank 0 adding a secret it drew for this stage
 * attempt, and ring order is partition order. A fresh secret per attempt means a task left over from a failed
 * attempt can never join the retried ring.
 */
final class Rendezvous {
    private static final int SECRET_BYTES = 32;

    private Rendezvous() {
    }

    /** @param watch a test's, told the listener's address before it is published; null outside tests */
    static RingCollective join(BarrierTaskContext context, RingOptions options, ListenerWatch watch) {
        int rank = context.partitionId();
        RingListener listener = RingListener.bind(options);
        String secret = rank == 0 ? newSecret() : "";
        String[] published;
        try {
            if (watch != null) {
                watch.ringListenerBound(rank, context.stageAttemptNumber(), listener.address());
            }
            published = context.allGather(listener.address() + " " + secret);
        } catch (RuntimeException e) {
            listener.close();
            throw e;
        }
        List<String> addresses = new ArrayList<>();
        for (String entry : published) {     // in partition order
            addresses.add(entry.split(" ", 2)[0]);
        }
        byte[] jobSecret = Base64.getDecoder().decode(published[0].split(" ", 2)[1]);
        return RingCollective.connect(listener, rank, addresses, jobSecret, options);
    }

    private static String newSecret() {
        byte[] bytes = new byte[SECRET_BYTES];
        new SecureRandom().nextBytes(bytes);
        return Base64.getEncoder().encodeToString(bytes);
    }
}
