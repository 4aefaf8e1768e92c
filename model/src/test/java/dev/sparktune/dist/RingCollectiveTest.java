package dev.sparktune.dist;

import java.time.Duration;
import java.util.List;

/** The contract over real TCP connections on loopback, ranks as threads of this JVM. */
class RingCollectiveTest extends CollectiveContractTest {

    @Override
    protected List<Collective> open(int n) {
        return LoopbackRing.open(n, LoopbackRing.options(Duration.ofSeconds(60)));
    }
}
