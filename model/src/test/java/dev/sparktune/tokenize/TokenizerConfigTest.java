package dev.sparktune.tokenize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerConfigTest {

    @TempDir
    Path dir;

    private TokenizerConfig read(String json) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), json);
        return TokenizerConfig.read(dir);
    }

    private String problem(String json) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), json);
        TokenizerException e = assertThrows(TokenizerException.class, () -> TokenizerConfig.read(dir));
        String prefix = dir.resolve("tokenizer_config.json") + ": ";
        assertTrue(e.getMessage().startsWith(prefix), e.getMessage());
        return e.getMessage().substring(prefix.length());
    }

    @Test
    void llamaStyleConfigIsRead() throws Exception {
        TokenizerConfig config = read("""
                {"add_bos_token": true, "add_eos_token": false,
                 "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false, "special": true},
                 "eos_token": "</s>", "pad_token": null, "unk_token": "<unk>",
                 "padding_side": "left", "model_max_length": 4096, "legacy": false,
                 "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}
                """);
        assertEquals("<s>", config.bosToken());
        assertEquals("</s>", config.eosToken());
        assertNull(config.padToken());
        assertEquals("<unk>", config.unkToken());
        assertEquals(true, config.addBosToken());
        assertEquals(false, config.addEosToken());
        assertTrue(config.framesWithFlags());
        assertEquals(Side.LEFT, config.paddingSide());
        assertEquals(Side.RIGHT, config.truncationSide());
        assertEquals(OptionalInt.of(4096), config.modelMaxLength());
        assertEquals("D", config.chatTemplate());
    }

    @Test
    void aDirectoryWithoutTheFileGetsHuggingFaceDefaults() {
        TokenizerConfig config = TokenizerConfig.read(dir);
        assertEquals(Side.RIGHT, config.paddingSide());
        assertEquals(Side.RIGHT, config.truncationSide());
        assertTrue(config.modelMaxLength().isEmpty());
        assertNull(config.eosToken());
        assertNull(config.chatTemplate());
    }

    @Test
    void brokenConfigsSayWhichKeyAndWhatIsWrong() throws Exception {
        assertTrue(problem("{\"eos_token\": \"</s>\",").startsWith("not valid JSON: "));
        assertEquals("expected a JSON object at the top level, got [1,2]", problem("[1, 2]"));
        assertEquals("padding_side: expected \"left\" or \"right\", got \"middle\"",
                problem("{\"padding_side\": \"middle\"}"));
        assertEquals("eos_token: expected a string or an object with a string \"content\", got 2",
                problem("{\"eos_token\": 2}"));
        assertEquals("add_bos_token: expected true or false, got \"yes\"", problem("{\"add_bos_token\": \"yes\"}"));
        assertEquals("model_max_length: must be positive, got 0", problem("{\"model_max_length\": 0}"));
        assertEquals("chat_template: the list has no template named \"default\", only [rag, tool_use]",
                problem("{\"chat_template\": [{\"name\": \"rag\", \"template\": \"R\"}, "
                        + "{\"name\": \"tool_use\", \"template\": \"T\"}]}"));
    }
}
