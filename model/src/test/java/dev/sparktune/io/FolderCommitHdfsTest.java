package dev.sparktune.io;

import dev.sparktune.testing.MiniHdfs;
import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link FolderCommitContract} on a real HDFS (MiniDFSCluster), where a folder rename is one atomic operation. */
@Tag("integration")
class FolderCommitHdfsTest extends FolderCommitContract {
    @RegisterExtension
    static final MiniHdfs HDFS = new MiniHdfs();

    @Override
    FileSystem fs() throws IOException {
        return new Path(HDFS.uri("/")).getFileSystem(HDFS.conf());
    }

    /** JUnit makes an instance per test: one folder each. */
    private final String folder = "/commits/" + unique();

    @Override
    Path root() {
        return new Path(HDFS.uri(folder));
    }
}
