package dev.sparktune.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The repository's {@code deploy/} folder and the build facts its files must agree with, read from the poms. */
final class DeployFiles {
    /** Tests run in the spark-jobs module's folder. */
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path DEPLOY = ROOT.resolve("deploy");

    private DeployFiles() {
    }

    /** {@code <spark.version>} of the root pom, e.g. 4.0.1. */
    static String sparkVersion() {
        return element(ROOT.resolve("pom.xml"), "spark.version");
    }

    /** {@code <scala.binary.version>} of the root pom, e.g. 2.13. */
    static String scalaBinaryVersion() {
        return element(ROOT.resolve("pom.xml"), "scala.binary.version");
    }

    /** The file name of the app jar the build writes to spark-jobs/target/: the shade plugin's finalName + .jar. */
    static String appJarName() {
        return element(ROOT.resolve("spark-jobs/pom.xml"), "finalName") + ".jar";
    }

    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String element(Path pom, String name) {
        Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</" + Pattern.quote(name) + ">")
                .matcher(read(pom));
        if (!m.find()) {
            throw new IllegalStateException(pom + " has no <" + name + ">");
        }
        return m.group(1).trim();
    }
}
