package dev.sparktune.generate;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.tokenize.SpecialToken;
import dev.sparktune.tokenize.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/** The token ids a model folder says end a completion, and the id that pads a batch of prompts. */
public final class StopTokens {
    public static final String GENERATION_CONFIG_FILE = "generation_config.json";

    private StopTokens() {
    }

    /**
     * The ids that end a completion, as Hugging Face's {@code generate} takes them: {@code eos_token_id} of
     * {@code generation_config.json} (a number or a list) if the folder has one, and the tokenizer's eos token.
     */
    public static Set<Long> of(Tokenizer tokenizer, Path modelDir) {
        Set<Long> ids = new LinkedHashSet<>();
        tokenizer.specialTokens().eosToken().ifPresent(t -> ids.add(t.id()));
        Path file = modelDir.resolve(GENERATION_CONFIG_FILE);
        if (Files.isRegularFile(file)) {
            try {
                JsonObject config = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8))
                        .getAsJsonObject();
                JsonElement eos = config.get("eos_token_id");
                if (eos != null && eos.isJsonArray()) {
                    eos.getAsJsonArray().forEach(id -> ids.add(id.getAsLong()));
                } else if (eos != null && !eos.isJsonNull()) {
                    ids.add(eos.getAsLong());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot read", e);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ": eos_token_id should be a token id or a list of them ("
                        + e.getMessage() + ")", e);
            }
        }
        return ids;
    }

    /** Padding is masked out, so any id works; the tokenizer's pad (else eos, else 0) keeps it a real token. */
    public static long padTokenId(Tokenizer tokenizer) {
        return tokenizer.specialTokens().padToken()
                .or(() -> tokenizer.specialTokens().eosToken())
                .map(SpecialToken::id).orElse(0L);
    }
}
