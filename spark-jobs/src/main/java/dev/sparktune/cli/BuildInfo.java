package dev.sparktune.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** What this build of sparktune was built against, from the Maven-filtered sparktune-build.properties. */
public final class BuildInfo implements IVersionProvider {
    private static final Properties PROPERTIES = load();

    public static String version() {
        return PROPERTIES.getProperty("version");
    }

    /**
     * The git commit the build was made from ({@code git describe --always --dirty}: "-dirty" when the work tree had
     * changes), or "unknown" for a build outside a git checkout.
     */
    public static String commit() {
        String commit = PROPERTIES.getProperty("commit", "");
        return commit.isBlank() || commit.startsWith("${") ? "unknown" : commit;
    }

    public static String sparkVersion() {
        return PROPERTIES.getProperty("spark.version");
    }

    public static String djlVersion() {
        return PROPERTIES.getProperty("djl.version");
    }

    public static String pytorchVersion() {
        return PROPERTIES.getProperty("pytorch.version");
    }

    @Override
    public String[] getVersion() {
        return new String[] {
            "sparktune " + version() + " (commit " + commit() + ")",
            "built for Spark " + sparkVersion() + " (Scala " + PROPERTIES.getProperty("scala.binary.version")
                    + "), DJL " + djlVersion() + " with PyTorch " + pytorchVersion()
        };
    }

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("/sparktune-build.properties")) {
            if (in == null) {
                throw new IllegalStateException("sparktune-build.properties is missing from the classpath: rebuild with Maven");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }
}
