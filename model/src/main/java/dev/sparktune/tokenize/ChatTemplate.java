package dev.sparktune.tokenize;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a conversation into the prompt text a chat model was trained on, from the model's Jinja
 * {@code chat_template} or a built-in format (chatml/qwen, llama3, alpaca). Templates write their own BOS where the
 * format has one, so encode the result with {@code Tokenizer.encode(text, false)}, as {@code apply_chat_template}
 * does.
 */
public final class ChatTemplate {

    /** Newer transformers versions save the template beside tokenizer_config.json instead of inside it. */
    private static final String TEMPLATE_FILE = "chat_template.jinja";

    private final String name;
    private final String source;
    private final String bosToken;
    private final String eosToken;

    private ChatTemplate(String name, String source, String bosToken, String eosToken) {
        this.name = name;
        this.source = source;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
    }

    /**
     * A Jinja template in Hugging Face's dialect.
     *
     * @param name     how error messages refer to it, e.g. the file it came from
     * @param bosToken the model's BOS text, passed to the template as {@code bos_token}; null if none
     * @param eosToken the model's EOS text, passed as {@code eos_token}; null if none
     */
    public static ChatTemplate jinja(String name, String source, String bosToken, String eosToken) {
        return new ChatTemplate(name, source, bosToken, eosToken);
    }

    /** A built-in format by name: {@code chatml} (alias {@code qwen}), {@code llama3} or {@code alpaca}. */
    public static ChatTemplate builtIn(String name, String bosToken, String eosToken) {
        BuiltInTemplate template = BuiltInTemplate.named(name);
        if (template == null) {
            throw new ChatTemplateException("unknown chat template '" + name + "'; built-in templates are "
                    + String.join(", ", builtInNames()));
        }
        return new ChatTemplate("'" + name + "'", template.source(), bosToken, eosToken);
    }

    public static List<String> builtInNames() {
        return BuiltInTemplate.allNames();
    }

    /**
     * The template a job uses: the built-in {@code name} if given (data.template), else the model's own from
     * {@code tokenizer_config.json} or {@code chat_template.jinja}. BOS and EOS come from tokenizer_config.json.
     */
    public static ChatTemplate forModel(Path modelDir, String name) {
        TokenizerConfig config = TokenizerConfig.read(modelDir);
        if (name != null) {
            return builtIn(name, config.bosToken(), config.eosToken());
        }
        if (config.chatTemplate() != null) {
            return jinja(config.source().toString(), config.chatTemplate(), config.bosToken(), config.eosToken());
        }
        Path file = modelDir.resolve(TEMPLATE_FILE);
        if (Files.isRegularFile(file)) {
            try {
                return jinja(file.toString(), Files.readString(file, StandardCharsets.UTF_8), config.bosToken(),
                        config.eosToken());
            } catch (IOException e) {
                throw new TokenizerException(file, "cannot read: " + e.getMessage(), e);
            }
        }
        throw new ChatTemplateException(modelDir + " has no chat template (no chat_template in "
                + TokenizerConfig.FILE + ", no " + TEMPLATE_FILE + "); set data.template to one of "
                + String.join(", ", builtInNames()));
    }

    public String name() {
        return name;
    }

    /**
     * Renders the conversation; with {@code addGenerationPrompt} the text ends with the cue for the assistant's
     * next reply (e.g. {@code <|im_start|>assistant\n}).
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Map<String, Object> variables = new HashMap<>();
        variables.put("messages", asMaps(messages));
        variables.put("add_generation_prompt", addGenerationPrompt);
        if (bosToken != null) {
            variables.put("bos_token", bosToken);
        }
        if (eosToken != null) {
            variables.put("eos_token", eosToken);
        }
        return JinjaEnvironment.render(name, source, variables);
    }

    /**
     * Renders the conversation and finds each assistant reply in it, so a trainer can compute loss on replies
     * only. Reply {@code i} starts where rendering the messages before it with a generation prompt ends, and ends
     * where rendering up to and including it ends. That holds only for templates that render earlier turns the
     * same whatever follows them; for others (some drop old reasoning text) this throws rather than guess.
     */
    public RenderedChat renderWithAssistantSpans(List<ChatMessage> messages) {
        String text = render(messages, false);
        List<AssistantSpan> spans = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).role().equals("assistant")) {
                continue;
            }
            String prompt = render(messages.subList(0, i), true);
            String turn = render(messages.subList(0, i + 1), false);
            if (!turn.startsWith(prompt) || !text.startsWith(turn)) {
                throw new ChatTemplateException("chat template " + name + " renders the turns before message " + i
                        + " differently once later messages follow, so assistant replies cannot be located in "
                        + "the prompt; use a built-in template (data.template) for training");
            }
            spans.add(locate(messages.get(i).content(), turn, prompt.length(), i));
        }
        return new RenderedChat(text, spans);
    }

    /** Finds the reply's content between the generation prompt and the end of its turn; templates may trim it. */
    private AssistantSpan locate(String content, String turn, int start, int index) {
        for (String rendered : List.of(content, content.strip())) {
            int at = turn.indexOf(rendered, start);
            if (at >= 0) {
                return new AssistantSpan(start, turn.length(), at, at + rendered.length());
            }
        }
        throw new ChatTemplateException("chat template " + name + " changes the text of assistant message "
                + index + " beyond trimming it, so its content cannot be located in the prompt");
    }

    private static List<Map<String, Object>> asMaps(List<ChatMessage> messages) {
        List<Map<String, Object>> maps = new ArrayList<>(messages.size());
        for (ChatMessage message : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", message.role());
            map.put("content", message.content());
            maps.add(map);
        }
        return maps;
    }
}
