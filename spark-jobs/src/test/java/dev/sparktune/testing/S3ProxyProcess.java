package dev.sparktune.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3 API for a test class of this module: S3Proxy over jclouds' in-memory ("transient") blob store with one
 * bucket, on a loopback port, reached through Hadoop's s3a client. S3Proxy runs from its own executable jar
 * ({@code target/s3proxy/s3proxy.jar}, copied there by the build) in a JVM of its own, because it needs Jetty 11 and
 * this module's classpath holds Jetty 12 (sparktune serve) under the same class names. (The model module, without
 * Jetty 12, runs it in-process: {@code LocalS3}.)
 *
 * <p>The port is chosen when the object is made, so a Spark cluster made after it can be given the endpoint
 * ({@link #sparkConf()}); register this extension first ({@code @Order}) so the server is up before the cluster.
 */
public final class S3ProxyProcess implements BeforeAllCallback, AfterAllCallback {
    public static final String BUCKET = "sparktune";
    private static final String ACCESS_KEY = "local-access";
    private static final String SECRET_KEY = "local-secret";
    private static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final Path home = Path.of("target", "s3proxy").toAbsolutePath();
    private final int port = freeLoopbackPort();
    private Process process;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        Path jar = home.resolve("s3proxy.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: the build copies it there"
                    + " (maven-dependency-plugin, execution s3proxy-jar); run the tests through Maven");
        }
        Path properties = home.resolve("s3proxy-" + port + ".properties");
        Files.writeString(properties, String.join("\n",
                "s3proxy.endpoint=" + endpoint(),
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + ACCESS_KEY,
                "s3proxy.credential=" + SECRET_KEY,
                "jclouds.provider=transient",
                "jclouds.identity=" + ACCESS_KEY,
                "jclouds.credential=" + SECRET_KEY,
                ""));
        Path log = home.resolve("s3proxy-" + port + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(List.of(java, "-Xmx512m", "-jar", jar.toString(), "--properties",
                properties.toString())).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        awaitListening(log);
        try (S3Client client = S3Client.builder().endpointOverride(URI.create(endpoint())).region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build()) {
            client.createBucket(b -> b.bucket(BUCKET));
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        FileSystem.closeAll();    // s3a clients cached for this endpoint; a later class gets another port
        if (process != null) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
            }
        }
    }

    /** The s3a client settings for this server: path-style requests, plain HTTP, fixed keys, no retries. */
    public Map<String, String> hadoopConf() {
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("fs.s3a.endpoint", endpoint());
        conf.put("fs.s3a.endpoint.region", "us-east-1");
        conf.put("fs.s3a.path.style.access", "true");
        conf.put("fs.s3a.connection.ssl.enabled", "false");
        conf.put("fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
        conf.put("fs.s3a.access.key", ACCESS_KEY);
        conf.put("fs.s3a.secret.key", SECRET_KEY);
        conf.put("fs.s3a.attempts.maximum", "1");
        conf.put("fs.s3a.retry.limit", "1");
        // copyFromLocalFile through the stream every other write uses: S3Proxy refuses the signed payload of s3a's
        // optimized whole-file upload (the SDK's async client) with XAmzContentSHA256Mismatch
        conf.put("fs.s3a.optimized.copy.from.local.enabled", "false");
        return conf;
    }

    /** {@link #hadoopConf()} as Spark settings, {@code spark.hadoop.*}: the driver's and every executor's Hadoop. */
    public Map<String, String> sparkConf() {
        Map<String, String> spark = new LinkedHashMap<>();
        hadoopConf().forEach((key, value) -> spark.put("spark.hadoop." + key, value));
        return spark;
    }

    public Configuration conf() {
        Configuration conf = new Configuration();
        hadoopConf().forEach(conf::set);
        return conf;
    }

    /** {@code s3a://BUCKET<absolutePath>}. */
    public String uri(String absolutePath) {
        if (!absolutePath.startsWith("/")) {
            throw new IllegalArgumentException("give an absolute path inside the bucket, got " + absolutePath);
        }
        return "s3a://" + BUCKET + absolutePath;
    }

    private String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    private void awaitListening(Path log) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT_NANOS;
        while (true) {
            if (!process.isAlive()) {
                throw new IllegalStateException("S3Proxy exited with " + process.exitValue() + ":\n"
                        + Files.readString(log));
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
                return;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadline) {
                    process.destroyForcibly();
                    throw new IllegalStateException("S3Proxy did not listen on port " + port + " within 60 s; see "
                            + log);
                }
                Thread.sleep(100);
            }
        }
    }

    private static int freeLoopbackPort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        }
    }
}
