package dev.sparktune.cli;

import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelFormatException;
import dev.sparktune.embed.SentenceEmbedder;
import dev.sparktune.tokenize.TokenizerException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code sparktune embed}: sentence embeddings of stdin's lines, one JSON array per line, without Spark. */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = {"Embed each line of stdin with a BERT-family encoder, one JSON array per line.",
            "The vectors are sentence-transformers' encode() output (mean pooling over real tokens by default).",
            "Input is cut to max_seq_length of sentence_bert_config.json if the folder has one, else to the",
            "tokenizer's model_max_length. Output is flushed after every batch."})
final class EmbedCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--normalize",
            description = "L2-normalise each embedding (cosine similarity becomes a dot product)")
    boolean normalize;

    @Option(names = "--pooling", paramLabel = "MODE", defaultValue = "mean",
            description = "mean (over non-padding tokens) or cls (the first token); default ${DEFAULT-VALUE}")
    String pooling;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "32",
            description = "lines per forward pass; default ${DEFAULT-VALUE}")
    int batchSize;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        try {
            SentenceEmbedder.Pooling mode = switch (pooling.toLowerCase(Locale.ROOT)) {
                case "mean" -> SentenceEmbedder.Pooling.MEAN;
                case "cls" -> SentenceEmbedder.Pooling.CLS;
                default -> throw new IllegalArgumentException("--pooling must be mean or cls, got '" + pooling + "'");
            };
            if (batchSize < 1) {
                throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
            }
            try (LocalModel loaded = modelOptions.load()) {
                if (!(loaded.model() instanceof Bert bert)) {
                    throw new IllegalArgumentException(loaded.dir() + " is a decoder (a causal language model);"
                            + " embed needs a BERT-family encoder (model_type bert), e.g. all-MiniLM-L6-v2");
                }
                SentenceEmbedder embedder = new SentenceEmbedder(bert, loaded.tokenizer(), mode, normalize,
                        SentenceEmbedder.maxLength(loaded.dir(), loaded.tokenizer(), bert));
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                LineBatches.forEach(in, batchSize, (lines, firstLine) -> {
                    for (float[] vector : embedder.embed(lines, loaded.manager())) {
                        out.println(json(vector));
                    }
                    out.flush();
                });
            }
            return 0;
        } catch (IllegalArgumentException | ModelFormatException | TokenizerException | UncheckedIOException e) {
            err.println("embed: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
    }

    /** A JSON array; Float.toString gives the shortest decimal that reads back as the same float. */
    static String json(float[] vector) {
        StringBuilder s = new StringBuilder(vector.length * 12).append('[');
        for (int i = 0; i < vector.length; i++) {
            if (i > 0) {
                s.append(',');
            }
            s.append(vector[i]);
        }
        return s.append(']').toString();
    }
}
