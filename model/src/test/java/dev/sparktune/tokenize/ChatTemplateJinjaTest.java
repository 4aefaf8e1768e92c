package dev.sparktune.tokenize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model-supplied templates written the way Hugging Face templates are: Python-flavoured Jinja2. */
class ChatTemplateJinjaTest {

    /**
     * An [INST]-style template in the manner of Hugging Face model repositories: a namespace to carry state out
     * of a loop, raise_exception on roles out of order, Python string methods, slicing and loop variables.
     */
    private static final String INST_TEMPLATE = """
            {%- set ns = namespace(system='', turns=0) -%}
            {%- if messages[0]['role'] == 'system' -%}
                {%- set ns.system = messages[0]['content'].strip() -%}
                {%- set turns = messages[1:] -%}
            {%- else -%}
                {%- set turns = messages -%}
            {%- endif -%}
            {%- for message in turns -%}
                {%- if (message['role'] == 'user') != (ns.turns % 2 == 0) -%}
                    {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
                {%- endif -%}
                {%- set ns.turns = ns.turns + 1 -%}
            {%- endfor -%}
            {{- bos_token -}}
            {%- for message in turns -%}
                {%- if message['role'] == 'user' -%}
                    {{- '[INST] ' -}}
                    {%- if loop.first and ns.system -%}
                        {{- '<<SYS>>\\n' + ns.system + '\\n<</SYS>>\\n\\n' -}}
                    {%- endif -%}
                    {{- message['content'].strip() + ' [/INST]' -}}
                {%- else -%}
                    {{- ' ' + message['content'].strip() + eos_token -}}
                {%- endif -%}
                {%- if loop.last and message['role'] == 'user' and add_generation_prompt -%}
                    {{- ' ' -}}
                {%- endif -%}
            {%- endfor -%}
            """;

    @TempDir
    Path dir;

    private ChatTemplate instTemplateFromModelDir() throws Exception {
        JsonObject config = new JsonObject();
        config.addProperty("bos_token", "<s>");
        JsonObject eos = new JsonObject();
        eos.addProperty("__type", "AddedToken");
        eos.addProperty("content", "</s>");
        config.add("eos_token", eos);
        config.addProperty("chat_template", INST_TEMPLATE);
        Files.writeString(dir.resolve("tokenizer_config.json"), config.toString());
        return ChatTemplate.forModel(dir, null);
    }

    @Test
    void rendersAnInstStyleTemplateFromTokenizerConfig() throws Exception {
        ChatTemplate template = instTemplateFromModelDir();
        List<ChatMessage> chat = List.of(
                ChatMessage.system(" Be brief. "),
                ChatMessage.user(" Hi "),
                ChatMessage.assistant("Hello"),
                ChatMessage.user("Bye"));

        assertEquals("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello</s>[INST] Bye [/INST] ",
                template.render(chat, true));
        assertEquals("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello</s>[INST] Bye [/INST]",
                template.render(chat, false));
        assertEquals("<s>[INST] Hi [/INST] ", template.render(List.of(ChatMessage.user("Hi")), true));
    }

    @Test
    void raiseExceptionBecomesAClearError() throws Exception {
        ChatTemplate template = instTemplateFromModelDir();
        List<ChatMessage> twoUsers = List.of(ChatMessage.user("a"), ChatMessage.user("b"));

        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> template.render(twoUsers, true));
        assertEquals("chat template " + dir.resolve("tokenizer_config.json") + " rejected the conversation: "
                + "Conversation roles must alternate user/assistant/user/assistant/...", e.getMessage());
    }

    @Test
    void assistantSpansOfAModelTemplate() throws Exception {
        List<ChatMessage> chat = List.of(
                ChatMessage.user("Hi"), ChatMessage.assistant(" Hello "),
                ChatMessage.user("Bye"), ChatMessage.assistant("Bye now"));
        RenderedChat rendered = instTemplateFromModelDir().renderWithAssistantSpans(chat);

        assertEquals("<s>[INST] Hi [/INST] Hello</s>[INST] Bye [/INST] Bye now</s>", rendered.text());
        List<String> replies = rendered.assistantSpans().stream()
                .map(span -> rendered.text().substring(span.contentStart(), span.contentEnd())).toList();
        assertEquals(List.of("Hello", "Bye now"), replies);
        List<String> targets = rendered.assistantSpans().stream()
                .map(span -> rendered.text().substring(span.start(), span.end())).toList();
        // The generation prompt of this template ends in a space, so the reply's leading space is prompt.
        assertEquals(List.of("Hello</s>", "Bye now</s>"), targets);
    }

    @Test
    void aTemplateThatRewritesEarlierTurnsCannotGiveSpans() {
        // Keeps only the text after </think> in replies that are not the last, as reasoning-model templates do.
        ChatTemplate template = ChatTemplate.jinja("think", """
                {% for m in messages %}
                {% if m.role == 'assistant' and not loop.last %}
                {{ m.content.split('</think>')[-1].lstrip() }}|
                {% else %}
                {{ m.content }}|
                {% endif %}
                {% endfor %}
                """, null, null);
        List<ChatMessage> chat = List.of(ChatMessage.user("q1"), ChatMessage.assistant("<think>x</think> a1"),
                ChatMessage.user("q2"), ChatMessage.assistant("a2"));

        assertEquals("q1|\na1|\nq2|\na2|\n", template.render(chat, false));
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> template.renderWithAssistantSpans(chat));
        assertTrue(e.getMessage().startsWith("chat template think renders the turns before message 1 differently"),
                e.getMessage());
    }

    @Test
    void pythonStringMethodsBehaveAsInPython() {
        String source = """
                {%- set s = messages[0]['content'] -%}
                [{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxaxx'.strip('x') }}]
                {{ s.split() }} {{ 'a,,b'.split(',') }} {{ 'a|b|c'.split('|', 1) }} {{ 'a.b'.split('.')[-1] }}
                {{ s.strip().startswith('Hello') }} {{ s.endswith(('?', 'd ')) }} {{ 'x'.startswith('y') }}
                {{ 'hello wORLD'.title() }} {{ 'hello World'.capitalize() }} {{ 'Ab'.upper() }}{{ 'Ab'.lower() }}
                {{ 'abc'.find('c') }} {{ 'a-b'.replace('-', '+') }} {{ s | trim | length }}""";
        String out = ChatTemplate.jinja("methods", source, null, null)
                .render(List.of(ChatMessage.user("  Hello  world ")), false);
        assertEquals("""
                [Hello  world][Hello  world ][  Hello  world][a]
                [Hello, world] [a, , b] [a, b|c] b
                true true false
                Hello World Hello world ABab
                2 a+b 12""", out);
    }

    @Test
    void messageTextIsNeverRunAsTemplateCode() {
        ChatTemplate template = ChatTemplate.builtIn("chatml", null, null);
        String text = template.render(List.of(ChatMessage.user("{{ 6 * 7 }} {% if true %}x{% endif %} <b>&")),
                false);
        assertEquals("<|im_start|>user\n{{ 6 * 7 }} {% if true %}x{% endif %} <b>&<|im_end|>\n", text);
    }

    @Test
    void brokenTemplatesNameTheTemplateAndTheProblem() {
        List<ChatMessage> chat = List.of(ChatMessage.user("x"));
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> ChatTemplate.jinja("broken.jinja", "{{ messages[0].content.nosuch() }}", null, null)
                        .render(chat, false));
        assertTrue(e.getMessage().startsWith("chat template broken.jinja failed at line 1: "), e.getMessage());
        assertTrue(e.getMessage().contains("nosuch"), e.getMessage());
    }
}
