package dev.sparktune.io;

import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.io.TempDir;

/** {@link FolderCommitContract} on local files, through Hadoop's checksummed local file system as Spark uses it. */
class FolderCommitTest extends FolderCommitContract {
    @TempDir
    java.nio.file.Path dir;

    @Override
    FileSystem fs() throws IOException {
        return FileSystem.getLocal(new Configuration());
    }

    @Override
    Path root() {
        return new Path(dir.toUri());
    }
}
