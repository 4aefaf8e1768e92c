package dev.sparktune.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.ModelFormatException;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.embed.SentenceEmbedder;
import dev.sparktune.generate.StopTokens;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.serve.OpenAiServer;
import dev.sparktune.serve.ServedModel;
import dev.sparktune.serve.ServerSettings;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.ChatTemplateException;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.tokenize.TokenizerException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code sparktune serve}: a model folder and its adapters behind the OpenAI HTTP API, without Spark. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model and its adapters over an OpenAI-compatible HTTP API.",
            "Routes: GET /v1/models, POST /v1/completions and /v1/chat/completions (decoders, stream: true for",
            "server-sent events), POST /v1/embeddings and /v1/classify (encoders), GET /health, GET /metrics.",
            "Concurrent completions share forward passes (continuous batching); a full queue answers 429.",
            "Binds to loopback unless --host says otherwise; stops gracefully on SIGTERM / Ctrl-C."})
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Hugging Face model folder (config.json, safetensors weights, tokenizer.json); served as"
                    + " the folder's name")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR",
            description = "a PEFT adapter folder for the model, served as its folder's name (repeatable)")
    List<Path> adapters = new ArrayList<>();

    @Option(names = "--host", paramLabel = "ADDR", defaultValue = "127.0.0.1",
            description = "address to bind; default ${DEFAULT-VALUE} (loopback only); 0.0.0.0 for every interface")
    String host;

    @Option(names = "--port", paramLabel = "N", defaultValue = "8000", description = "default ${DEFAULT-VALUE}")
    int port;

    @Option(names = "--api-key-env", paramLabel = "NAME",
            description = "require 'Authorization: Bearer <key>', the key read from this environment variable")
    String apiKeyEnv;

    @Option(names = "--max-batch", paramLabel = "N", defaultValue = "32",
            description = "most sequences decoded in one forward pass; default ${DEFAULT-VALUE}")
    int maxBatch;

    @Option(names = "--max-queue", paramLabel = "N", defaultValue = "256",
            description = "most sequences waiting per model; beyond it requests get 429; default ${DEFAULT-VALUE}")
    int maxQueue;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "2048",
            description = "largest max_tokens a request may ask for; default ${DEFAULT-VALUE}")
    int maxTokens;

    @Option(names = "--max-body-bytes", paramLabel = "N", defaultValue = "1048576",
            description = "larger request bodies get 413; default ${DEFAULT-VALUE}")
    long maxBodyBytes;

    @Option(names = "--request-timeout", paramLabel = "SECONDS", defaultValue = "600",
            description = "a request still unanswered after this is cancelled (504); default ${DEFAULT-VALUE}")
    long requestTimeout;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        OpenAiServer server;
        Models loaded;
        try {
            ServerSettings settings = settings();
            server = OpenAiServer.start(settings);
            out.println("serve: listening on " + server.uri() + " (loading " + model + ")");
            out.flush();
            try {
                loaded = Models.load(model, adapters);
                server.ready(loaded.served(), loaded.base().manager());
            } catch (RuntimeException e) {
                server.close();
                throw e;
            }
        } catch (IllegalArgumentException | IllegalStateException | ModelFormatException | TokenizerException
                 | UncheckedIOException e) {
            err.println("serve: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
        out.println("serve: ready, serving " + String.join(", ", loaded.served().stream().map(ServedModel::id).toList()));
        out.flush();
        Thread stop = new Thread(() -> {
            int unfinished = server.shutdown();
            loaded.close();
            err.println("serve: stopped" + (unfinished == 0 ? "" : "; " + unfinished + " requests were cut off"));
            err.flush();
        }, "sparktune-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(stop);
        server.join();
        return 0;
    }

    private ServerSettings settings() {
        String key = null;
        if (apiKeyEnv != null) {
            key = System.getenv(apiKeyEnv);
            if (key == null || key.isEmpty()) {
                throw new IllegalArgumentException("--api-key-env " + apiKeyEnv + ": that environment variable is "
                        + (key == null ? "not set" : "empty") + "; export the key in it before starting the server");
            }
        }
        if (requestTimeout < 1) {
            throw new IllegalArgumentException("--request-timeout must be at least 1 second, got " + requestTimeout);
        }
        ServerSettings defaults = ServerSettings.loopback(port);
        return new ServerSettings(host, port, key, maxBatch, maxQueue, maxBodyBytes, maxTokens,
                defaults.maxChoices(), Duration.ofSeconds(requestTimeout), defaults.shutdownGrace());
    }

    /**
     * The base model loaded once ({@link LocalModel}) and each adapter applied to it: the models a server answers
     * for, the base first.
     */
    record Models(LocalModel base, List<ServedModel> served) implements AutoCloseable {

        static Models load(Path modelDir, List<Path> adapterDirs) {
            LocalModel base = LocalModel.open(modelDir, null);
            try {
                String baseId = name(modelDir);
                List<ServedModel> served = new ArrayList<>();
                served.add(describe(baseId, null, base.model(), base, null));
                for (Path adapterDir : adapterDirs) {
                    LocalModel.requireAdapterFolder(adapterDir);
                    PretrainedModel adapted = PeftFormat.load(adapterDir, base.model(), base.manager()).model(false);
                    served.add(describe(name(adapterDir), baseId, adapted, base, adapterDir));
                }
                return new Models(base, served);
            } catch (RuntimeException e) {
                base.close();
                throw e;
            }
        }

        private static String name(Path dir) {
            Path name = dir.toAbsolutePath().normalize().getFileName();
            return name == null ? dir.toString() : name.toString();
        }

        private static ServedModel describe(String id, String parent, PretrainedModel model, LocalModel base,
                                            Path adapterDir) {
            Tokenizer tokenizer = base.tokenizer();
            Path dir = base.dir();
            if (model instanceof Llama) {
                ChatTemplate template = null;
                String problem = null;
                try {
                    template = ChatTemplate.forModel(dir, null);
                } catch (ChatTemplateException e) {
                    problem = e.getMessage();
                }
                return new ServedModel(id, parent, model, tokenizer, template, problem, StopTokens.of(tokenizer, dir),
                        StopTokens.padTokenId(tokenizer), null, maxPositions(dir));
            }
            Bert bert = (Bert) model;
            return new ServedModel(id, parent, model, tokenizer, null, null, Set.of(), 0,
                    labels(bert, dir, adapterDir), SentenceEmbedder.maxLength(dir, tokenizer, bert));
        }

        /** config.json's max_position_embeddings, or no limit when it has none. */
        private static int maxPositions(Path dir) {
            JsonElement value = JsonParser.parseString(read(dir.resolve(ModelDirectory.CONFIG_FILE)))
                    .getAsJsonObject().get("max_position_embeddings");
            return value == null || value.isJsonNull() ? Integer.MAX_VALUE : value.getAsInt();
        }

        /**
         * A classifier's class names, as FineTunedModel finds them: id2label of the adapter's config.json, else of the
         * model's; Hugging Face's LABEL_i when neither names as many classes as the head has. Null without a head.
         */
        private static List<String> labels(Bert bert, Path dir, Path adapterDir) {
            if (!bert.weights().has(Bert.CLASSIFIER + ".weight")) {
                return null;
            }
            int classes = (int) bert.weights().get(Bert.CLASSIFIER + ".weight").getShape().get(0);
            Optional<LabelsFile> named = adapterDir == null ? Optional.empty() : id2label(adapterDir);
            List<String> labels = named.or(() -> id2label(dir)).map(LabelsFile::labels).orElse(null);
            return labels != null && labels.size() == classes ? labels : LabelsFile.numbered(classes).labels();
        }

        private static Optional<LabelsFile> id2label(Path folder) {
            Path file = folder.resolve(ModelDirectory.CONFIG_FILE);
            return Files.isRegularFile(file) ? LabelsFile.fromJson(read(file), file.toString()) : Optional.empty();
        }

        private static String read(Path file) {
            try {
                return Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot read", e);
            }
        }

        @Override
        public void close() {
            base.close();
        }
    }
}
