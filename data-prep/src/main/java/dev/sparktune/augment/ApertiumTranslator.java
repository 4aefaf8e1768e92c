package dev.sparktune.augment;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * An Apertium APY server: {@code POST /translate} with {@code langpair=eng|spa} and {@code q}, answering JSON
 * {@code responseData.translatedText}.
 *
 * <p>APY has no batch endpoint ({@code q} given several times translates only the last), so a batch is sent as one
 * HTML document whose texts are separated by {@code <hr>}: in APY's default HTML format a tag is a "superblank"
 * Apertium carries through untouched, and each piece is translated as its own sentence. Placeholders such as
 * {@code <EMAIL>} pass through the same way. If the answer does not split back into as many pieces, or a text
 * holds an {@code <hr>} of its own, the texts go one per request.
 */
public final class ApertiumTranslator implements Translator {
    private static final String SEPARATOR = "\n<hr>\n";
    private static final Pattern SPLIT = Pattern.compile("\\s*<hr>\\s*");

    private final URI translate;
    private final RetryingHttp http;

    public ApertiumTranslator(URI endpoint, RetryingHttp http) {
        this.translate = endpoint.resolve("/translate");
        this.http = http;
    }

    @Override
    public String id() {
        return "apertium";
    }

    @Override
    public List<String> translate(String source, String target, List<String> texts) throws TranslationException {
        boolean batchable = texts.size() > 1
                && texts.stream().noneMatch(t -> t.toLowerCase(Locale.ROOT).contains("<hr"));
        if (batchable) {
            String joined = one(source, target, String.join(SEPARATOR, texts));
            String[] parts = SPLIT.split(joined.strip(), -1);
            if (parts.length == texts.size()) {
                return List.of(parts);
            }
        }
        List<String> out = new ArrayList<>(texts.size());
        for (String text : texts) {
            out.add(one(source, target, text));
        }
        return out;
    }

    private String one(String source, String target, String text) throws TranslationException {
        String form = "langpair=" + encode(source + "|" + target) + "&markUnknown=no&q=" + encode(text);
        HttpRequest.Builder request = HttpRequest.newBuilder(translate)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form));
        String body = http.send(request, "Apertium translation " + source + "|" + target);
        try {
            JsonObject json = JsonParser.parseString(body).getAsJsonObject();
            JsonElement data = json.get("responseData");
            if (data == null || !data.isJsonObject() || !data.getAsJsonObject().has("translatedText")) {
                throw new TranslationException("Apertium at " + translate + " answered without "
                        + "responseData.translatedText: " + RetryingHttp.excerpt(body), false);
            }
            return data.getAsJsonObject().get("translatedText").getAsString();
        } catch (RuntimeException e) {
            throw new TranslationException("Apertium at " + translate + " answered with unreadable JSON: "
                    + RetryingHttp.excerpt(body), false, e);
        }
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
