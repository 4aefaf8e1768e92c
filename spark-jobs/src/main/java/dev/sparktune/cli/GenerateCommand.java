package dev.sparktune.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelFormatException;
import dev.sparktune.generate.GenerationConfig;
import dev.sparktune.generate.Generator;
import dev.sparktune.generate.StopTokens;
import dev.sparktune.tokenize.ChatMessage;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.ChatTemplateException;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.tokenize.TokenizerException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code sparktune generate}: a completion of each prompt line on stdin by a decoder model, without Spark. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Complete each line of stdin with a decoder model (Llama, Qwen2, Mistral).",
            "Prints one completion per prompt, or with --json one {\"prompt\": ..., \"completion\": ...} per line.",
            "Greedy unless --temperature > 0. Generation ends at the tokenizer's (and generation_config.json's)",
            "eos token, at a --stop string (cut off), or after --max-new-tokens. Prompts are batched",
            "(--batch-size, left-padded) and output is flushed after every batch."})
final class GenerateCommand implements Callable<Integer> {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--chat", description = "send each line as a user turn through the model's chat template")
    boolean chat;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "256",
            description = "at most this many new tokens per prompt; default ${DEFAULT-VALUE}")
    int maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
            description = "0 (default): greedy, the most likely token each step; > 0: sample, logits divided by T")
    double temperature;

    @Option(names = "--top-p", paramLabel = "P",
            description = "sampling: keep the most likely tokens up to probability P")
    Double topP;

    @Option(names = "--top-k", paramLabel = "K", description = "sampling: keep the K most likely tokens")
    Integer topK;

    @Option(names = "--seed", paramLabel = "S", description = "sampling: seed, for a reproducible run (default 0)")
    Long seed;

    @Option(names = "--stop", paramLabel = "STR", arity = "1..*",
            description = "end a completion when its text contains STR, and cut it there (repeatable)")
    List<String> stops = new ArrayList<>();

    @Option(names = "--json", description = "print JSON lines {\"prompt\": ..., \"completion\": ...}")
    boolean json;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "8",
            description = "prompts generated together; default ${DEFAULT-VALUE}")
    int batchSize;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        try {
            if (batchSize < 1) {
                throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
            }
            if (temperature < 0) {
                throw new IllegalArgumentException("--temperature must be 0 (greedy) or more, got " + temperature);
            }
            if (temperature == 0 && (topP != null || topK != null || seed != null)) {
                throw new IllegalArgumentException("--top-p, --top-k and --seed apply to sampling only;"
                        + " set --temperature above 0 to sample");
            }
            try (LocalModel loaded = modelOptions.load()) {
                if (!(loaded.model() instanceof Llama llama)) {
                    throw new IllegalArgumentException(loaded.dir() + " is an encoder (model_type bert); generate"
                            + " needs a decoder (a causal language model such as Llama, Qwen2 or Mistral); for"
                            + " embeddings use sparktune embed");
                }
                Tokenizer tokenizer = loaded.tokenizer();
                ChatTemplate template = chat ? ChatTemplate.forModel(loaded.dir(), null) : null;
                GenerationConfig config = config(tokenizer, loaded.dir());
                Generator generator = new Generator(llama, StopTokens.padTokenId(tokenizer), ids -> tokenizer.decode(ids, true));
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                LineBatches.forEach(in, batchSize, (prompts, firstLine) -> {
                    List<long[]> ids = new ArrayList<>(prompts.size());
                    for (String prompt : prompts) {
                        long[] tokens = template == null ? tokenizer.encode(prompt)
                                : tokenizer.encode(template.render(List.of(ChatMessage.user(prompt)), true), false);
                        if (tokens.length == 0) {
                            throw new IllegalArgumentException("line " + (firstLine + ids.size()) + " of the input is"
                                    + " empty and this tokenizer adds no special tokens, so there is nothing to"
                                    + " complete; leave out empty lines or use --chat");
                        }
                        ids.add(tokens);
                    }
                    List<Generator.Output> outputs = generator.generate(loaded.manager(), ids, config);
                    for (int i = 0; i < prompts.size(); i++) {
                        String completion = outputs.get(i).text();
                        out.println(json ? jsonLine(prompts.get(i), completion) : completion);
                    }
                    out.flush();
                });
            }
            return 0;
        } catch (IllegalArgumentException | ModelFormatException | TokenizerException | ChatTemplateException
                 | UncheckedIOException e) {
            err.println("generate: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
    }

    private static String jsonLine(String prompt, String completion) {
        JsonObject line = new JsonObject();
        line.addProperty("prompt", prompt);
        line.addProperty("completion", completion);
        return GSON.toJson(line);
    }

    private GenerationConfig config(Tokenizer tokenizer, Path modelDir) {
        GenerationConfig greedy = GenerationConfig.greedy(maxNewTokens)
                .withStops(StopTokens.of(tokenizer, modelDir), stops);
        return temperature == 0 ? greedy : greedy.sampling(temperature, topK == null ? 0 : topK,
                topP == null ? 1.0 : topP, seed == null ? 0 : seed);
    }
}
