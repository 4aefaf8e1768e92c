package dev.sparktune.pack;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The bytes of a model folder's tokenizer files, read once on the driver and broadcast, so executors need no access
 * to the model folder and every executor tokenizes with exactly the files the fingerprint was taken of.
 */
public record TokenizerFiles(TreeMap<String, byte[]> files) implements Serializable {

    /** The files a tokenizer and its chat template are loaded from; only tokenizer.json is required. */
    static final List<String> NAMES = List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
            "special_tokens_map.json");

    public static TokenizerFiles read(Path modelDir) {
        Path json = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(json)) {
            throw new IllegalArgumentException(json + " does not exist; model.model_name_or_path must be a Hugging "
                    + "Face model folder with the fast tokenizer's tokenizer.json");
        }
        TreeMap<String, byte[]> files = new TreeMap<>();
        for (String name : NAMES) {
            Path file = modelDir.resolve(name);
            if (Files.isRegularFile(file)) {
                try {
                    files.put(name, Files.readAllBytes(file));
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read " + file, e);
                }
            }
        }
        return new TokenizerFiles(files);
    }

    /** SHA-256 over every file's name and bytes, in name order. */
    public String sha256() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                digest.update(file.getKey().getBytes(StandardCharsets.UTF_8));
                digest.update((byte) 0);
                digest.update(Long.toString(file.getValue().length).getBytes(StandardCharsets.UTF_8));
                digest.update((byte) 0);
                digest.update(file.getValue());
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes the files into {@code dir}, which then loads as a model folder's tokenizer. */
    Path writeTo(Path dir) {
        try {
            Files.createDirectories(dir);
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                Files.write(dir.resolve(file.getKey()), file.getValue());
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the tokenizer files to " + dir, e);
        }
    }
}
