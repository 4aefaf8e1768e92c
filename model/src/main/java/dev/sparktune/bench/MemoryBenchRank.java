package dev.sparktune.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.Weights;
import dev.sparktune.config.DistConfig;
import dev.sparktune.dist.DataParallelOptimizer;
import dev.sparktune.dist.RingCollective;
import dev.sparktune.dist.RingListener;
import dev.sparktune.dist.ShardedParameters;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.nn.ThreadGradients;
import dev.sparktune.optim.AdamW;
import dev.sparktune.optim.Optimizer;
import dev.sparktune.optim.ParameterGroups;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.quant.FrozenBase;
import dev.sparktune.train.CausalLmLoss;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;

/**
 * One rank of {@link MemoryBench}, alone in its JVM so that its peak resident memory is its own: a random Llama
 * trained as a {@link MemoryBench.Training} says (full fine-tuning in float32 or fp16, LoRA over a float or packed
 * base) for a few AdamW steps through {@link DataParallelOptimizer} at one ZeRO stage over the TCP ring; at stage 3
 * with the parameters partitioned ({@link ShardedParameters}), the weights held counting this rank's shards.
 *
 * <p>Talks to the parent on stdin / stdout: prints {@code ADDRESS <host:port>} of its ring listener, reads every
 * rank's address (comma-separated, in rank order) from one stdin line, trains, then prints {@code MEMORY} with the
 * engine's accounting, its VmRSS / VmHWM from {@code /proc/self/status} and the bytes of the weights it holds.
 * Arguments: stage, ranks, rank, quick, the global batch's rows and tokens, whether the blocks are checkpointed, and
 * the {@link MemoryBench.Training}'s name.
 * The ring's secret comes in the environment, never on the command line.
 */
public final class MemoryBenchRank {
    static final String SECRET_VARIABLE = "SPARKTUNE_BENCH_RING_SECRET";
    static final String ADDRESS = "ADDRESS ";
    static final String MEMORY = "MEMORY ";
    /** Global batch rows of the ZeRO comparison, split between the ranks. */
    static final int GLOBAL_ROWS = 2;
    static final int STEPS = 3;

    private MemoryBenchRank() {
    }

    public static void main(String[] args) throws IOException {
        int stage = Integer.parseInt(args[0]);
        int ranks = Integer.parseInt(args[1]);
        int rank = Integer.parseInt(args[2]);
        boolean quick = Boolean.parseBoolean(args[3]);
        int rows = Integer.parseInt(args[4]);
        int tokens = Integer.parseInt(args[5]);
        // at stage 3 replaced below by checkpoints that gather each block's partitioned parameters
        BlockCheckpoints blocks = Boolean.parseBoolean(args[6]) ? new BlockCheckpoints() : null;
        MemoryBench.Training training = MemoryBench.Training.valueOf(args[7]);
        PrintStream out = System.out;
        Engine.getInstance();    // loads libtorch, which the next call needs
        JniUtils.setNumThreads(Math.max(1, Runtime.getRuntime().availableProcessors() / ranks));
        RingListener listener = RingListener.bind(MemoryBench.RING_OPTIONS);
        out.println(ADDRESS + listener.address());
        out.flush();
        String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        if (line == null) {
            throw new IllegalStateException("stdin closed before the ranks' addresses came");
        }
        List<String> addresses = Arrays.asList(line.trim().split(","));
        byte[] secret = System.getenv(SECRET_VARIABLE).getBytes(StandardCharsets.UTF_8);
        try (RingCollective ring = RingCollective.connect(listener, rank, addresses, secret, MemoryBench.RING_OPTIONS);
             NDManager manager = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(1);       // the same weights on every rank
            Llama llama = TrainStepBench.randomLlama(quick ? TrainStepBench.LLAMA_QUICK : TrainStepBench.LLAMA_100M,
                    manager);
            PeftModel peft = model(llama, training, manager);
            peft.requireGradients();
            SortedMap<String, NDArray> trainable = peft.trainableTensors();
            long trainableBytes = trainable.values().stream().mapToLong(t -> t.size() * t.getDataType().getNumOfBytes())
                    .sum();
            // stage 3 partitions the parameters and runs the blocks one by one in backward too
            ShardedParameters sharded = stage == 3
                    ? new ShardedParameters(ring, peft.weights(), llama.layout(), peft.trainable(),
                    DistConfig.DEFAULT_ALLGATHER_BUCKET_SIZE) : null;
            if (sharded != null) {
                trainable.keySet().removeAll(sharded.trainableNames());
                blocks = new BlockCheckpoints(sharded);
            }
            try (DataParallelOptimizer engine = new DataParallelOptimizer(ring, stage,
                    quick ? MemoryBench.QUICK_BUCKET_ELEMENTS : MemoryBench.BUCKET_ELEMENTS,
                    new Optimizer(new AdamW(0.9, 0.999, 1e-8), ParameterGroups.huggingFace(0.0), manager),
                    trainable, training == MemoryBench.Training.FULL_FP16, sharded)) {
                Llama model = blocks == null ? (Llama) peft.model(true) : (Llama) peft.model(true).withBlocks(blocks);
                if (sharded != null) {
                    sharded.partition();
                }
                long weightBytes = peft.weights().bytesByKind().values().stream().mapToLong(Long::longValue).sum()
                        + (sharded == null ? 0 : sharded.parameterBytes());
                long rssBeforeTraining = ProcessStatus.self("VmRSS");
                Engine.getInstance().setRandomSeed(100 + rank);    // each rank its own rows
                long vocabulary = llama.config().vocabSize();
                for (int s = 0; s < STEPS; s++) {
                    step(model, blocks, manager, rows / ranks, tokens, vocabulary);
                    engine.step(1e-5, 1.0);
                }
                if (sharded != null) {
                    sharded.close();
                }
                ring.barrier();
                out.printf(Locale.ROOT, MEMORY + "%d %d %d %d %d %d %d%n", trainableBytes, engine.gradientBufferBytes(),
                        engine.optimizerStateBytes(), rssBeforeTraining, ProcessStatus.self("VmRSS"),
                        ProcessStatus.self("VmHWM"), weightBytes);
                out.flush();
            }
        }
    }

    /** {@code llama} set up for {@code training}: its weights in float16, or LoRA over a packed base. */
    private static PeftModel model(Llama llama, MemoryBench.Training training, NDManager manager) {
        return switch (training) {
            case FULL -> PeftModel.apply(llama, new FullFineTuning(), manager, 1);
            case FULL_FP16 -> {
                Map<String, NDArray> half = new LinkedHashMap<>();
                llama.weights().asMap().forEach((name, t) -> {
                    half.put(name, t.toType(DataType.FLOAT16, false));
                    t.close();
                });
                yield PeftModel.apply(llama.with(new Weights(half, "random weights, float16"), ForwardHooks.NONE),
                        new FullFineTuning(), manager, 1);
            }
            case LORA, LORA_BF16, LORA_INT8, LORA_NF4 -> FrozenBase.pack(PeftModel.apply(llama, new Lora(16, 32, 0.0,
                    List.of("all"), false, false, List.of()), manager, 1), switch (training) {
                        case LORA_BF16 -> FrozenBase.Storage.BF16;
                        case LORA_INT8 -> FrozenBase.Storage.INT8;
                        case LORA_NF4 -> FrozenBase.Storage.NF4;
                        default -> FrozenBase.Storage.FLOAT;
                    });
        };
    }

    /**
     * Forward and backward of one micro-batch of random ids, its blocks checkpointed unless {@code blocks} is null;
     * the gradients stay in the tensors' {@code .grad}.
     */
    private static void step(Llama model, BlockCheckpoints blocks, NDManager manager, int rows, int tokens,
                             long vocabulary) {
        try (NDManager step = manager.newSubManager(); ThreadGradients gradients = new ThreadGradients()) {
            NDArray ids = step.randomInteger(0, vocabulary, new Shape(rows, tokens), DataType.INT64);
            NDArray keep = step.ones(new Shape(rows, tokens), DataType.INT64);
            NDArray positions = step.arange(0L, tokens, 1L, DataType.INT64).reshape(1, -1).repeat(0, rows);
            NDArray logits = model.logits(ids, positions, AttentionMask.causal(keep), null);
            gradients.backward(CausalLmLoss.FLOAT32.mean(logits, ids));
            if (blocks != null) {
                blocks.backward();
            }
        }
    }
}
