package dev.sparktune.doctor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A back-translation server answers: an Apertium APY ({@code GET /listPairs}, then one real
 * translation) or an OpenAI-compatible endpoint ({@code GET /v1/models}).
 */
public final class TranslatorCheck {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();

    private TranslatorCheck() {
    }

    public static CheckResult run(URI url) {
        String name = "Translator";
        HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
        try {
            HttpResponse<String> pairs = get(http, url, "/listPairs");
            if (pairs.statusCode() == 200 && JSON.readTree(pairs.body()).has("responseData")) {
                return apertium(http, url, JSON.readTree(pairs.body()).get("responseData"));
            }
            HttpResponse<String> models = get(http, url, "/v1/models");
            if (models.statusCode() == 200 && JSON.readTree(models.body()).has("data")) {
                List<String> ids = new ArrayList<>();
                JSON.readTree(models.body()).get("data").forEach(m -> ids.add(m.path("id").asText()));
                return CheckResult.pass(name, "OpenAI-compatible endpoint at " + url + " serves " + ids);
            }
            return CheckResult.fail(name, url + " answered HTTP " + pairs.statusCode() + " to /listPairs and "
                            + models.statusCode() + " to /v1/models",
                    "point --translator at an Apertium APY or an OpenAI-compatible server's base URL");
        } catch (IOException e) {
            return CheckResult.fail(name, "nothing answers at " + url + " (" + e + ")",
                    "start a server, e.g. apertium-apy -p 2737 -i 2 -u 2 /usr/share/apertium (Debian packages apertium-apy"
                            + " and apertium-eng-spa), or fix the URL");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return CheckResult.fail(name, "interrupted", "run it again");
        }
    }

    private static CheckResult apertium(HttpClient http, URI url, JsonNode pairs) throws IOException, InterruptedException {
        String name = "Translator";
        List<String> names = new ArrayList<>();
        pairs.forEach(p -> names.add(p.path("sourceLanguage").asText() + "|" + p.path("targetLanguage").asText()));
        if (names.isEmpty()) {
            return CheckResult.fail(name, "Apertium APY at " + url + " serves no language pairs",
                    "install a pair, e.g. the Debian package apertium-eng-spa, and restart the server");
        }
        String pair = names.contains("eng|spa") ? "eng|spa" : names.get(0);
        String query = "/translate?langpair=" + URLEncoder.encode(pair, StandardCharsets.UTF_8)
                + "&q=" + URLEncoder.encode("The cat sleeps.", StandardCharsets.UTF_8);
        HttpResponse<String> translated = get(http, url, query);
        String text = translated.statusCode() == 200
                ? JSON.readTree(translated.body()).path("responseData").path("translatedText").asText("")
                : "";
        if (text.isBlank()) {
            return CheckResult.fail(name, "Apertium APY at " + url + " lists " + names + " but translating with "
                    + pair + " gave HTTP " + translated.statusCode(), "check the server's log");
        }
        return CheckResult.pass(name, "Apertium APY at " + url + " serves " + names + "; " + pair
                + " translated 'The cat sleeps.' to '" + text + "'");
    }

    private static HttpResponse<String> get(HttpClient http, URI base, String pathAndQuery)
            throws IOException, InterruptedException {
        String root = base.toString().endsWith("/") ? base.toString().substring(0, base.toString().length() - 1) : base.toString();
        HttpRequest request = HttpRequest.newBuilder(URI.create(root + pathAndQuery)).timeout(TIMEOUT).GET().build();
        return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }
}
