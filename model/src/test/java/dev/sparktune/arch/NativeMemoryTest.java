package dev.sparktune.arch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import dev.sparktune.nn.AttentionMask;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** DESIGN.md §2: every step runs in a child NDManager, so native memory stays flat over many steps. */
class NativeMemoryTest {

    @Test
    void thousandForwardBackwardStepsKeepResidentMemoryFlat() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaConfig config = TinyModels.llamaConfig(TinyModels.llamaJson("qwen2", 4, 2, false, ""));
            Weights weights = TinyModels.randomWeights(config.parameterShapes(), manager, DataType.FLOAT32, 5);
            weights.asMap().values().forEach(w -> w.setRequiresGradient(true));
            Llama model = new Llama(config, weights);

            long warm = 0;
            for (int step = 0; step < 1300; step++) {
                // regular collections keep Java heap growth out of the reading, which is about native memory
                if (step % 100 == 0) {
                    System.gc();
                }
                if (step == 300) {
                    warm = ResidentMemory.bytes();
                }
                try (NDManager stepManager = manager.newSubManager();
                     GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray ids = stepManager.randomInteger(0, 61, new ai.djl.ndarray.types.Shape(4, 16), DataType.INT64);
                    NDArray positions = TinyModels.positions(stepManager, 4, 16);
                    NDArray logits = model.logits(ids, positions, AttentionMask.causal(null), null);
                    collector.backward(logits.square().mean());   // not pow(2): see nn.Scalars
                }
            }
            System.gc();
            long end = ResidentMemory.bytes();
            double growth = (end - warm) / (double) warm;
            System.out.printf("RSS after warm-up %.1f MiB, after 1000 more steps %.1f MiB (%+.2f%%)%n",
                    warm / 1048576.0, end / 1048576.0, 100 * growth);
            assertTrue(growth <= 0.05, "resident memory grew by " + 100 * growth + "% over 1000 steps");
        }
    }
}
