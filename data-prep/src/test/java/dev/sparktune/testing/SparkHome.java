package dev.sparktune.testing;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Comparator;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * The {@code SPARK_HOME} that {@code local-cluster} executors start from. A Spark worker
 * launches each executor JVM with {@code SPARK_HOME/jars/*} as its classpath, so this folder's
 * {@code jars/} must hold the test classpath: jars are linked, class directories are packed.
 * Built once per test JVM; the parent pom's surefire configuration sets {@code SPARK_HOME}.
 */
final class SparkHome {
    private static Path prepared;

    private SparkHome() {
    }

    static synchronized Path prepare() {
        if (prepared != null) {
            return prepared;
        }
        String env = System.getenv("SPARK_HOME");
        if (env == null || env.isBlank()) {
            throw new IllegalStateException("SPARK_HOME is not set. local-cluster tests build their own Spark home:"
                    + " run them through Maven (the parent pom sets SPARK_HOME to target/spark-home), or set"
                    + " SPARK_HOME and SPARK_SCALA_VERSION=2.13 yourself");
        }
        Path home = Path.of(env).toAbsolutePath();
        Path jars = home.resolve("jars");
        try {
            deleteRecursively(jars);
            Files.createDirectories(jars);
            List<Path> classpath = testClasspath();
            for (int i = 0; i < classpath.size(); i++) {
                Path entry = classpath.get(i);
                String prefix = String.format("%03d-", i);
                if (Files.isDirectory(entry)) {
                    packDirectory(entry, jars.resolve(prefix + entry.getParent().getFileName() + "-" + entry.getFileName() + ".jar"));
                } else if (entry.toString().endsWith(".jar") && Files.isRegularFile(entry)) {
                    Files.createSymbolicLink(jars.resolve(prefix + entry.getFileName()), entry.toAbsolutePath());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build the Spark home for local-cluster at " + home, e);
        }
        prepared = home;
        return home;
    }

    /** Surefire runs tests from a manifest-only jar and passes the real classpath in this property. */
    private static List<Path> testClasspath() {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return Stream.of(cp.split(File.pathSeparator)).filter(s -> !s.isBlank()).map(Path::of).toList();
    }

    private static void packDirectory(Path dir, Path jar) throws IOException {
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream zip = new JarOutputStream(out)) {
            List<Path> files;
            try (Stream<Path> walk = Files.walk(dir)) {
                files = walk.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path file : files) {
                zip.putNextEntry(new JarEntry(dir.relativize(file).toString().replace(File.separatorChar, '/')));
                Files.copy(file, zip);
                zip.closeEntry();
            }
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
