package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sparktune.testing.LocalS3;
import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link FolderCommitContract} on s3a against a real S3 API (S3Proxy on loopback), where a folder rename is a copy
 * and a delete per object and a folder is only a prefix.
 */
@Tag("integration")
class FolderCommitS3aTest extends FolderCommitContract {
    @RegisterExtension
    static final LocalS3 S3 = new LocalS3();

    /** JUnit makes an instance per test: one folder each. */
    private final String folder = "/commits/" + unique();

    @Override
    FileSystem fs() throws IOException {
        return new Path(S3.uri("/")).getFileSystem(S3.conf());
    }

    @Override
    Path root() {
        return new Path(S3.uri(folder));
    }

    @Override
    boolean createsAtomically() {
        return false;
    }

    @Test
    void theseTestsRunOnTheS3aClient() throws IOException {
        assertEquals("org.apache.hadoop.fs.s3a.S3AFileSystem", fs().getClass().getName());
    }
}
