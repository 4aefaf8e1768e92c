package dev.sparktune.dist;

import java.time.Duration;
import java.util.List;

/** The whole contract again with every frame sealed (dist.ring_encryption: aes-gcm). */
class RingCollectiveAesGcmTest extends CollectiveContractTest {
    @Override
    protected List<Collective> open(int n) {
        return LoopbackRing.open(n, LoopbackRing.options(Duration.ofSeconds(60)).withEncryption(RingEncryption.AES_GCM));
    }
}
