package dev.sparktune.testing;

import java.net.URI;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real S3 API for a test class: S3Proxy on a loopback port over jclouds' in-memory ("transient") blob store, with
 * one bucket, reached through Hadoop's s3a client. (Not the file-system blob store: it lists a folder left empty on
 * its disk as a prefix, which S3 itself never does.) Started before the class's first
 * test and stopped after its last.
 *
 * <pre>
 * &#64;RegisterExtension
 * static final LocalS3 s3 = new LocalS3();
 * ...
 * Path out = new Path(s3.uri("/runs/x"));    // s3a://sparktune/runs/x
 * FileSystem fs = out.getFileSystem(s3.conf());
 * </pre>
 */
public final class LocalS3 implements BeforeAllCallback, AfterAllCallback {
    public static final String BUCKET = "sparktune";
    private static final String ACCESS_KEY = "local-access";
    private static final String SECRET_KEY = "local-secret";

    private BlobStoreContext blobs;
    private S3Proxy proxy;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        blobs = ContextBuilder.newBuilder("transient").credentials(ACCESS_KEY, SECRET_KEY)
                .build(BlobStoreContext.class);
        blobs.getBlobStore().createContainerInLocation(null, BUCKET);
        proxy = S3Proxy.builder().blobStore(blobs.getBlobStore()).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY).build();
        proxy.start();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("S3Proxy did not start: " + proxy.getState());
            }
            Thread.sleep(20);
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        try {
            FileSystem.closeAll();    // s3a clients cached for this endpoint; a later class gets another port
            if (proxy != null) {
                proxy.stop();
            }
        } finally {
            if (blobs != null) {
                blobs.close();
            }
        }
    }

    /** A client configuration for s3a against this server: path-style requests, plain HTTP, fixed keys. */
    public Configuration conf() {
        Configuration conf = new Configuration();
        conf.set("fs.s3a.endpoint", "http://127.0.0.1:" + proxy.getPort());
        conf.set("fs.s3a.endpoint.region", "us-east-1");
        conf.setBoolean("fs.s3a.path.style.access", true);
        conf.setBoolean("fs.s3a.connection.ssl.enabled", false);
        conf.set("fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
        conf.set("fs.s3a.access.key", ACCESS_KEY);
        conf.set("fs.s3a.secret.key", SECRET_KEY);
        conf.setInt("fs.s3a.attempts.maximum", 1);
        conf.setInt("fs.s3a.retry.limit", 1);
        return conf;
    }

    /** {@code s3a://BUCKET<absolutePath>}. */
    public String uri(String absolutePath) {
        if (!absolutePath.startsWith("/")) {
            throw new IllegalArgumentException("give an absolute path inside the bucket, got " + absolutePath);
        }
        return "s3a://" + BUCKET + absolutePath;
    }
}
