package dev.sparktune.pack;

import dev.sparktune.io.FolderListing;
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
import org.apache.hadoop.conf.Configuration;

/**
 * The tokenizer files of a model folder on any Hadoop file system, listed once on the driver. Executors take exactly
 * these files (the listing's fingerprint) from their {@code ModelFolderCache}, never the weights beside them.
 *
 * @param listing the files of {@link #NAMES} the folder holds
 */
record TokenizerFiles(FolderListing listing) implements Serializable {

    /** The files a tokenizer and its chat template are loaded from; only tokenizer.json is required. */
    static final List<String> NAMES = List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
            "special_tokens_map.json");

    static TokenizerFiles find(Configuration conf, String modelDir) {
        FolderListing listing;
        try {
            listing = FolderListing.of(conf, modelDir, NAMES);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model.model_name_or_path " + e.getMessage(), e);
        }
        if (!listing.has("tokenizer.json")) {
            throw new IllegalArgumentException(listing.location() + "/tokenizer.json does not exist; "
                    + "model.model_name_or_path must be a Hugging Face model folder with the fast tokenizer's "
                    + "tokenizer.json");
        }
        return new TokenizerFiles(listing);
    }

    /** SHA-256 over every listed file's name, length and bytes, in name order, read from a local copy. */
    String sha256(Path copy) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (FolderListing.File file : listing.files()) {
                byte[] bytes = Files.readAllBytes(copy.resolve(file.name()));
                digest.update(file.name().getBytes(StandardCharsets.UTF_8));
                digest.update((byte) 0);
                digest.update(Long.toString(bytes.length).getBytes(StandardCharsets.UTF_8));
                digest.update((byte) 0);
                digest.update(bytes);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokenizer files in " + copy, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
