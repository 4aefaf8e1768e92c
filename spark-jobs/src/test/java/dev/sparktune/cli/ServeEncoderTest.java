package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.ml.FineTunedModel;
import dev.sparktune.ml.ScoringModels;
import dev.sparktune.serve.OpenAiServer;
import dev.sparktune.serve.ServerSettings;
import dev.sparktune.testing.SparkClusterExtension;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sparktune serve} on encoders over real HTTP: the imported all-MiniLM-L6-v2 for /v1/embeddings, checked against
 * {@code sparktune embed} on the same folder, and a classifier on it for /v1/classify, checked against
 * {@code FineTunedModel} on local Spark.
 */
class ServeEncoderTest {
    private static final List<String> TEXTS = List.of(
            "A man is eating food.",
            "the server crashed after the update",
            "ok",
            "The meeting has been moved to Thursday at 3pm, please update your calendars.");
    private static final List<String> LABELS = List.of("sport", "food", "tech");

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(1);

    @TempDir
    static Path dir;
    private static Path classifier;
    private static Path encoder;

    @BeforeAll
    static void writeModels() {
        Path unnamed = ScoringModels.miniLmClassifier(dir);
        encoder = dir.resolve("all-MiniLM-L6-v2");
        classifier = ScoringModels.withId2label(unnamed, LABELS, dir.resolve("topic-classifier"));
    }

    private static String body(String model, String extra) {
        JsonObject body = new JsonObject();
        body.addProperty("model", model);
        JsonArray input = new JsonArray();
        TEXTS.forEach(input::add);
        body.add("input", input);
        String json = body.toString();
        return extra.isEmpty() ? json : json.substring(0, json.length() - 1) + "," + extra + "}";
    }

    @Test
    void embeddingsAreSparktuneEmbedsFloatForFloat() {
        GenerateCommandTest.Run embed = GenerateCommandTest.sparktune(String.join("\n", TEXTS) + "\n",
                "embed", "--model", encoder.toString());
        assertEquals(0, embed.exitCode(), embed.stderr());
        List<float[]> expected = embed.lines().stream().map(ServeEncoderTest::floats).toList();

        try (ServeCommand.Models loaded = ServeCommand.Models.load(encoder, List.of());
             OpenAiServer server = OpenAiServer.start(ServerSettings.loopback(0))) {
            server.ready(loaded.served(), loaded.base().manager());
            ServeHttp http = new ServeHttp(server.uri());

            HttpResponse<String> response = http.post("/v1/embeddings", body("all-MiniLM-L6-v2", ""));
            assertEquals(200, response.statusCode(), response.body());
            JsonObject answer = ServeHttp.json(response);
            assertEquals("list", answer.get("object").getAsString());
            JsonArray data = answer.getAsJsonArray("data");
            assertEquals(TEXTS.size(), data.size());
            for (int i = 0; i < TEXTS.size(); i++) {
                JsonObject item = data.get(i).getAsJsonObject();
                assertEquals(i, item.get("index").getAsInt());
                assertEquals(384, expected.get(i).length);
                assertArrayEquals(expected.get(i), floats(item.get("embedding").toString()), "text " + i);
            }
            assertTrue(answer.getAsJsonObject("usage").get("prompt_tokens").getAsInt() > TEXTS.size());

            JsonObject base64 = ServeHttp.json(http.post("/v1/embeddings",
                    body("all-MiniLM-L6-v2", "\"encoding_format\": \"base64\"")));
            byte[] bytes = Base64.getDecoder().decode(base64.getAsJsonArray("data").get(0).getAsJsonObject()
                    .get("embedding").getAsString());
            float[] decoded = new float[bytes.length / 4];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(decoded);
            assertArrayEquals(expected.get(0), decoded);

            HttpResponse<String> noHead = http.post("/v1/classify", body("all-MiniLM-L6-v2", ""));
            assertEquals(400, noHead.statusCode());
            assertEquals("model", ServeHttp.error(noHead).get("param").getAsString());
            HttpResponse<String> chat = http.post("/v1/chat/completions",
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}");
            assertEquals(400, chat.statusCode(), "an encoder does not chat");
        }
    }

    @Test
    void classifyGivesFineTunedModelsProbabilitiesAndLabelNames() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < TEXTS.size(); i++) {
            rows.add(RowFactory.create(i, TEXTS.get(i)));
        }
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType);
        List<Row> scored = new ArrayList<>(FineTunedModel.of(classifier.toString(), null).setBatchSize(TEXTS.size())
                .transform(spark.session().createDataFrame(rows, schema)).collectAsList());
        scored.sort(Comparator.comparingInt(r -> r.getInt(0)));

        try (ServeCommand.Models loaded = ServeCommand.Models.load(classifier, List.of());
             OpenAiServer server = OpenAiServer.start(ServerSettings.loopback(0))) {
            server.ready(loaded.served(), loaded.base().manager());
            HttpResponse<String> response = new ServeHttp(server.uri()).post("/v1/classify",
                    body("topic-classifier", ""));

            assertEquals(200, response.statusCode(), response.body());
            JsonArray data = ServeHttp.json(response).getAsJsonArray("data");
            for (int i = 0; i < TEXTS.size(); i++) {
                JsonObject item = data.get(i).getAsJsonObject();
                Row row = scored.get(i);
                double[] expected = ((Vector) row.getAs("probability")).toArray();
                double[] served = new double[expected.length];
                for (int c = 0; c < served.length; c++) {
                    served[c] = item.getAsJsonArray("probs").get(c).getAsDouble();
                }
                assertArrayEquals(expected, served, 1e-6, "text " + i);
                assertEquals(row.<String>getAs("predictedLabel"), item.get("label").getAsString());
                assertTrue(LABELS.contains(item.get("label").getAsString()));
                assertEquals(LABELS.size(), item.get("num_classes").getAsInt());
            }
        }
    }

    private static float[] floats(String jsonArray) {
        JsonArray array = JsonParser.parseString(jsonArray).getAsJsonArray();
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).getAsFloat();
        }
        return out;
    }
}
