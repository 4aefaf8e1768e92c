package dev.sparktune.io.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.tokenize.EncodedBatch;
import dev.sparktune.tokenize.Tokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The imported all-MiniLM-L6-v2 on DJL PyTorch against ONNX Runtime running the original ONNX
 * file: an independent engine on the same weights and inputs.
 */
class MiniLmOnnxParityTest {
    private static final List<String> SENTENCES = List.of(
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
            "A man is riding a horse.",
            "A woman is playing violin.",
            "Two men pushed carts through the woods.",
            "A man is riding a white horse on an enclosed ground.",
            "A monkey is playing drums.",
            "Someone in a gorilla costume is playing a set of drums.",
            "The new movie is awesome",
            "The cat sits outside",
            "A man is playing guitar",
            "I love pasta",
            "Do you like pizza?",
            "Congratulations! You have been selected for a free cruise; reply with your bank details to claim it.",
            "The meeting has been moved to Thursday at 3pm, please update your calendars accordingly.",
            "Spark schedules barrier tasks together so that every rank starts at the same time.",
            "Gradient accumulation trades memory for time by summing several micro-batches before each update.",
            "ok",
            "Why?",
            "Unsubscribe",
            "This sentence is deliberately rather long so that the batch it lands in needs a good deal of padding"
                    + " for its shorter neighbours, which exercises the attention mask on every layer of the encoder.",
            "Low-rank adapters add fewer than one percent extra parameters to a transformer.",
            "Hello, world!",
            "今天天气很好。",
            "我喜欢吃面条。",
            "机器学习是人工智能的一个分支。",
            "请在周四下午三点前回复这封邮件。",
            "他在公园里跑步。",
            "这部电影非常精彩，我推荐你去看。",
            "北京是中国的首都。",
            "分布式训练可以在多台机器上并行计算梯度。",
            "恭喜您中奖了！请点击链接领取奖品。",
            "Mixed 语言 sentence with English and 中文 together.");

    private static OrtEnvironment ort;
    private static OrtSession session;
    private static Tokenizer tokenizer;
    private static Path onnxFile;
    private static Path imported;

    @BeforeAll
    static void open(@TempDir Path dir) throws Exception {
        onnxFile = MiniLmArtifact.extract(MiniLmArtifact.ONNX_ENTRY, dir.resolve("model.onnx"));
        Path tokenizerFile = MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, dir.resolve("tokenizer.json"));
        ort = OrtEnvironment.getEnvironment();
        session = ort.createSession(onnxFile.toString(), new OrtSession.SessionOptions());
        imported = BertOnnxImport.importTo(onnxFile, tokenizerFile, dir.resolve("all-MiniLM-L6-v2")).path();
        tokenizer = Tokenizer.load(imported);
    }

    @AfterAll
    static void close() throws Exception {
        session.close();
        tokenizer.close();
    }

    @Test
    void tokenEmbeddingsMatchOnnxRuntimeOnEnglishAndChineseBatchesWithPadding() throws Exception {
        assertTrue(SENTENCES.size() >= 32);
        double worstAbs = 0;
        double worstCosine = 1;
        try (NDManager manager = NDManager.newBaseManager()) {
            Bert bert = (Bert) ModelDirectory.open(imported).load(manager, DataType.FLOAT32);
            assertEquals(12, bert.config().numAttentionHeads());
            assertEquals(6, bert.config().numHiddenLayers());
            assertEquals(1e-12, bert.config().layerNormEps(), 1e-18);

            for (int start = 0; start < SENTENCES.size(); start += 8) {
                List<String> batch = SENTENCES.subList(start, Math.min(start + 8, SENTENCES.size()));
                long[][][] inputs = padded(batch);
                float[][][] reference = onnxRuntime(inputs);
                try (NDManager step = manager.newSubManager()) {
                    NDArray ids = step.create(inputs[0]);
                    NDArray keep = step.create(inputs[1]);
                    NDArray types = step.create(inputs[2]);
                    NDArray positions = step.arange(0L, inputs[0][0].length, 1L, DataType.INT64)
                            .reshape(1, -1).repeat(0, batch.size());
                    NDArray hidden = bert.hiddenStates(ids, types, positions, AttentionMask.bidirectional(keep));
                    NDArray expected = step.create(flatten(reference), hidden.getShape());
                    worstAbs = Math.max(worstAbs, hidden.sub(expected).abs().max().getFloat());
                    NDArray ours = Bert.meanPool(hidden, keep);
                    NDArray theirs = Bert.meanPool(expected, keep);
                    NDArray cosine = ours.mul(theirs).sum(new int[] {1})
                            .div(ours.norm(new int[] {1}).mul(theirs.norm(new int[] {1})));
                    worstCosine = Math.min(worstCosine, cosine.min().getFloat());
                }
            }
        }
        System.out.printf("MiniLM vs ONNX Runtime over %d sentences: max |diff| %.3g, min mean-pooled cosine %.8f%n",
                SENTENCES.size(), worstAbs, worstCosine);
        assertTrue(worstAbs <= 1e-4, "max abs difference " + worstAbs);
        assertTrue(worstCosine >= 0.99999, "min cosine " + worstCosine);
    }

    /** input_ids, attention_mask, token_type_ids (all zero: single sentences), padded by our tokenizer. */
    private static long[][][] padded(List<String> batch) {
        EncodedBatch encoded = tokenizer.encodeBatch(batch);
        return new long[][][] {encoded.inputIds(), encoded.attentionMask(), new long[batch.size()][encoded.length()]};
    }

    private static float[] flatten(float[][][] x) {
        int b = x.length;
        int t = x[0].length;
        int d = x[0][0].length;
        float[] flat = new float[b * t * d];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                System.arraycopy(x[i][j], 0, flat, (i * t + j) * d, d);
            }
        }
        return flat;
    }

    private static float[][][] onnxRuntime(long[][][] inputs) throws Exception {
        try (OnnxTensor ids = OnnxTensor.createTensor(ort, inputs[0]);
             OnnxTensor mask = OnnxTensor.createTensor(ort, inputs[1]);
             OnnxTensor types = OnnxTensor.createTensor(ort, inputs[2]);
             OrtSession.Result result = session.run(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
            return (float[][][]) result.get(0).getValue();
        }
    }
}
