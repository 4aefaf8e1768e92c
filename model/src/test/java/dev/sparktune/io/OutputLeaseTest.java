package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who may take over a lease that has not gone stale yet: only a run on the dead holder's own host. */
class OutputLeaseTest {
    @TempDir
    Path dir;

    private final FileSystem fs = FileSystem.getLocal(new Configuration()).getRawFileSystem();

    OutputLeaseTest() throws Exception {
    }

    private org.apache.hadoop.fs.Path leaseHeldBy(String host, long pid) throws Exception {
        Path file = dir.resolve("_lease-out");
        Files.writeString(file, "{\"run\": \"other\", \"host\": \"" + host + "\", \"pid\": " + pid + "}\n");
        return new org.apache.hadoop.fs.Path(file.toUri());
    }

    @Test
    void aLeaseOfAProcessGoneFromThisHostIsTakenOverAtOnce() throws Exception {
        Process finished = new ProcessBuilder("true").start();
        finished.waitFor();
        org.apache.hadoop.fs.Path file = leaseHeldBy(InetAddress.getLocalHost().getHostName(), finished.pid());

        try (OutputLease lease = OutputLease.acquire(fs, file, "mine", Duration.ofMinutes(10))) {
            assertTrue(Files.readString(dir.resolve("_lease-out")).contains("\"mine\""));
        }
    }

    @Test
    void aLeaseOfALiveProcessOnThisHostStands() throws Exception {
        org.apache.hadoop.fs.Path file = leaseHeldBy(InetAddress.getLocalHost().getHostName(),
                ProcessHandle.current().pid());

        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> OutputLease.acquire(fs, file, "mine", Duration.ofMinutes(10)));
        assertTrue(refused.getMessage().contains("another run is writing this output"), refused.getMessage());
    }

    @Test
    void aLeaseOfAnotherHostStandsUntilItIsStaleWhateverItsProcessId() throws Exception {
        Process finished = new ProcessBuilder("true").start();
        finished.waitFor();
        org.apache.hadoop.fs.Path file = leaseHeldBy("some-other-host.example", finished.pid());

        assertThrows(IllegalStateException.class, () -> OutputLease.acquire(fs, file, "mine", Duration.ofMinutes(10)));
    }
}
