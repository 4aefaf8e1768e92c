package dev.sparktune.augment;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Any OpenAI-compatible {@code /v1/chat/completions} endpoint (vLLM, llama.cpp server, Ollama, hosted APIs).
 *
 * <p>A batch is one chat request: the user message is a JSON array of the texts, and the system message asks for a
 * JSON array of their translations, same length, same order, at temperature 0. An answer that is not such an array
 * (models do not always comply) makes the texts go one per request, where the whole answer is the translation.
 */
public final class OpenAiChatTranslator implements Translator {
    private static final Gson GSON = new Gson();

    private final URI completions;
    private final String model;
    private final String apiKey;
    private final RetryingHttp http;

    /** {@code apiKey} may be null for servers without authentication. */
    public OpenAiChatTranslator(URI endpoint, String model, String apiKey, RetryingHttp http) {
        String base = endpoint.toString().replaceAll("/+$", "");
        this.completions = URI.create(base.endsWith("/v1") ? base + "/chat/completions" : base + "/v1/chat/completions");
        this.model = model;
        this.apiKey = apiKey;
        this.http = http;
    }

    @Override
    public String id() {
        return "openai-chat:" + model;
    }

    @Override
    public List<String> translate(String source, String target, List<String> texts) throws TranslationException {
        String from = languageName(source);
        String to = languageName(target);
        if (texts.size() > 1) {
            String answer = chat("You translate " + from + " to " + to + ". The user sends a JSON array of "
                    + texts.size() + " strings. Reply with only a JSON array of " + texts.size() + " strings: their "
                    + "translations, in the same order, nothing else.", GSON.toJson(texts));
            List<String> parsed = jsonArray(answer);
            if (parsed != null && parsed.size() == texts.size()) {
                return parsed;
            }
        }
        List<String> out = new ArrayList<>(texts.size());
        for (String text : texts) {
            out.add(chat("You translate " + from + " to " + to + ". Reply with only the translation of the user's "
                    + "text, nothing else.", text).strip());
        }
        return out;
    }

    private String chat(String system, String user) throws TranslationException {
        JsonObject body = new JsonObject();
        body.addProperty("model", model);
        body.addProperty("temperature", 0);
        JsonArray messages = new JsonArray();
        messages.add(message("system", system));
        messages.add(message("user", user));
        body.add("messages", messages);
        HttpRequest.Builder request = HttpRequest.newBuilder(completions)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(GSON.toJson(body)));
        if (apiKey != null && !apiKey.isEmpty()) {
            request.header("Authorization", "Bearer " + apiKey);
        }
        String answer = http.send(request, "chat completion with model " + model, apiKey);
        try {
            JsonObject json = JsonParser.parseString(answer).getAsJsonObject();
            return json.getAsJsonArray("choices").get(0).getAsJsonObject()
                    .getAsJsonObject("message").get("content").getAsString();
        } catch (RuntimeException e) {
            throw new TranslationException("the chat endpoint " + completions + " answered without "
                    + "choices[0].message.content: " + RetryingHttp.excerpt(answer, apiKey), false, e);
        }
    }

    private static JsonObject message(String role, String content) {
        JsonObject m = new JsonObject();
        m.addProperty("role", role);
        m.addProperty("content", content);
        return m;
    }

    /** The strings of a JSON array in the answer (a Markdown code fence around it is allowed), or null. */
    static List<String> jsonArray(String answer) {
        String s = answer.strip();
        int open = s.indexOf('[');
        int close = s.lastIndexOf(']');
        if (open < 0 || close < open) {
            return null;
        }
        try {
            JsonElement parsed = JsonParser.parseString(s.substring(open, close + 1));
            if (!parsed.isJsonArray()) {
                return null;
            }
            List<String> out = new ArrayList<>();
            for (JsonElement e : parsed.getAsJsonArray()) {
                if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                    return null;
                }
                out.add(e.getAsString());
            }
            return out;
        } catch (RuntimeException notJson) {
            return null;
        }
    }

    /** "English" for {@code eng} or {@code en}; the code itself where Java knows no name. */
    static String languageName(String code) {
        String name = Locale.forLanguageTag(code).getDisplayLanguage(Locale.ENGLISH);
        return name.isEmpty() || name.equalsIgnoreCase(code) ? code : name;
    }
}
