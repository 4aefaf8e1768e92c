package dev.sparktune.tokenize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The built-in formats, written out by hand, and how a job picks its template. */
class ChatTemplateTest {

    private static final String ALPACA_PREAMBLE = "Below is an instruction that describes a task. Write a response "
            + "that appropriately completes the request.\n\n";

    private static final List<ChatMessage> CHAT = List.of(
            ChatMessage.system("You are terse."),
            ChatMessage.user("Hi!"),
            ChatMessage.assistant("Hello."),
            ChatMessage.user("Bye?"));

    @TempDir
    Path dir;

    @Test
    void chatmlAndItsQwenAlias() {
        String expected = "<|im_start|>system\nYou are terse.<|im_end|>\n"
                + "<|im_start|>user\nHi!<|im_end|>\n"
                + "<|im_start|>assistant\nHello.<|im_end|>\n"
                + "<|im_start|>user\nBye?<|im_end|>\n"
                + "<|im_start|>assistant\n";
        assertEquals(expected, ChatTemplate.builtIn("chatml", null, "<|im_end|>").render(CHAT, true));
        assertEquals(expected, ChatTemplate.builtIn("qwen", null, "<|im_end|>").render(CHAT, true));
        assertEquals(expected.substring(0, expected.length() - "<|im_start|>assistant\n".length()),
                ChatTemplate.builtIn("chatml", null, null).render(CHAT, false));
    }

    @Test
    void llama3() {
        String expected = "<|begin_of_text|>"
                + "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nBye?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        assertEquals(expected, ChatTemplate.builtIn("llama3", "<|begin_of_text|>", "<|eot_id|>").render(CHAT, true));
    }

    @Test
    void alpacaWithAndWithoutASystemMessage() {
        ChatTemplate alpaca = ChatTemplate.builtIn("alpaca", "<s>", "</s>");
        assertEquals("You are terse.\n\n"
                + "### Instruction:\nHi!\n\n"
                + "### Response:\nHello.</s>\n\n"
                + "### Instruction:\nBye?\n\n"
                + "### Response:\n", alpaca.render(CHAT, true));
        assertEquals(ALPACA_PREAMBLE
                + "### Instruction:\nName a colour.\n\n"
                + "### Response:\nBlue.</s>\n\n",
                alpaca.render(List.of(ChatMessage.user("Name a colour."), ChatMessage.assistant("Blue.")), false));

        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> alpaca.render(List.of(ChatMessage.user("q"), new ChatMessage("tool", "42")), true));
        assertEquals("chat template 'alpaca' rejected the conversation: the alpaca template has no place for a "
                + "'tool' message at position 1", e.getMessage());
    }

    @Test
    void assistantSpansCoverExactlyTheRepliesInEveryBuiltIn() {
        List<ChatMessage> chat = new ArrayList<>(CHAT);
        chat.add(ChatMessage.assistant("  Bye.\n"));
        // Per format: the replies as they appear (llama3 trims them), then what ends each turn.
        record Format(String name, String eos, List<String> replies, String endOfTurn) {
        }
        List<Format> formats = List.of(
                new Format("chatml", "<|im_end|>", List.of("Hello.", "  Bye.\n"), "<|im_end|>\n"),
                new Format("llama3", "<|eot_id|>", List.of("Hello.", "Bye."), "<|eot_id|>"),
                new Format("alpaca", "</s>", List.of("Hello.", "  Bye.\n"), "</s>\n\n"));
        for (Format format : formats) {
            ChatTemplate template = ChatTemplate.builtIn(format.name(), null, format.eos());
            RenderedChat rendered = template.renderWithAssistantSpans(chat);
            String text = rendered.text();
            assertEquals(template.render(chat, false), text);
            assertEquals(2, rendered.assistantSpans().size(), format.name());
            for (int i = 0; i < 2; i++) {
                AssistantSpan span = rendered.assistantSpans().get(i);
                assertEquals(format.replies().get(i), text.substring(span.contentStart(), span.contentEnd()));
                assertEquals(span.start(), span.contentStart(), format.name() + ": nothing between cue and reply");
                assertEquals(format.endOfTurn(), text.substring(span.contentEnd(), span.end()), format.name());
            }
            // Everything outside the spans is prompt: it has none of the replies' text.
            String prompt = text.substring(0, rendered.assistantSpans().get(0).start())
                    + text.substring(rendered.assistantSpans().get(0).end(), rendered.assistantSpans().get(1).start());
            assertTrue(!prompt.contains("Hello.") && !prompt.contains("Bye."), format.name() + ": " + prompt);
            assertEquals(text.length(), rendered.assistantSpans().get(1).end(), format.name());
        }
    }

    @Test
    void spansPickOutTheReplyTokensForLossMasking() throws Exception {
        List<ChatMessage> chat = List.of(ChatMessage.user("Say hello"), ChatMessage.assistant("Hello world"),
                ChatMessage.user("Again"), ChatMessage.assistant("Hello again"));
        RenderedChat rendered = ChatTemplate.builtIn("chatml", null, null).renderWithAssistantSpans(chat);
        try (Tokenizer tokenizer = Tokenizer.load(MiniLmModelDir.create(dir))) {
            EncodedText encoded = tokenizer.encodeWithOffsets(rendered.text(), false);
            for (int s = 0; s < 2; s++) {
                AssistantSpan span = rendered.assistantSpans().get(s);
                List<Long> reply = new ArrayList<>();
                for (int t = 0; t < encoded.ids().length; t++) {
                    if (encoded.starts()[t] >= span.contentStart() && encoded.ends()[t] <= span.contentEnd()) {
                        reply.add(encoded.ids()[t]);
                    }
                }
                long[] ids = reply.stream().mapToLong(Long::longValue).toArray();
                assertEquals(chat.get(1 + 2 * s).content().toLowerCase(), tokenizer.decode(ids, true));
            }
        }
    }

    @Test
    void forModelUsesTheNamedBuiltInElseTheModelsOwnTemplate() throws Exception {
        JsonObject config = new JsonObject();
        config.addProperty("eos_token", "</s>");
        JsonArray templates = new JsonArray();
        templates.add(named("tool_use", "TOOLS"));
        templates.add(named("default", "{% for m in messages %}{{ m['role'] }}:{{ m['content'] }}{{ eos_token }}"
                + "{% endfor %}"));
        config.add("chat_template", templates);
        Files.writeString(dir.resolve("tokenizer_config.json"), config.toString());

        List<ChatMessage> chat = List.of(ChatMessage.user("a"), ChatMessage.assistant("b"));
        assertEquals("user:a</s>assistant:b</s>", ChatTemplate.forModel(dir, null).render(chat, false));
        assertEquals(ALPACA_PREAMBLE + "### Instruction:\na\n\n### Response:\nb</s>\n\n",
                ChatTemplate.forModel(dir, "alpaca").render(chat, false));
    }

    @Test
    void aModelWithoutATemplateOfItsOwnIsToldWhatToSet() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.forModel(dir, null));
        assertEquals(dir + " has no chat template (no chat_template in tokenizer_config.json, no "
                + "chat_template.jinja); set data.template to one of chatml, qwen, llama3, alpaca", e.getMessage());

        Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages[0]['content'] }}{{ eos_token }}");
        assertEquals("x</s>", ChatTemplate.forModel(dir, null).render(List.of(ChatMessage.user("x")), false));

        e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.forModel(dir, "vicuna"));
        assertEquals("unknown chat template 'vicuna'; built-in templates are chatml, qwen, llama3, alpaca",
                e.getMessage());
    }

    private static JsonObject named(String name, String template) {
        JsonObject entry = new JsonObject();
        entry.addProperty("name", name);
        entry.addProperty("template", template);
        return entry;
    }
}
