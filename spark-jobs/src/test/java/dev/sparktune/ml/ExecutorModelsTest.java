package dev.sparktune.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.testing.SparkClusterExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The per-JVM model cache under concurrent tasks, on {@code local[3]}: three task threads in one JVM. */
@Tag("integration")
class ExecutorModelsTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(3);

    @TempDir
    static Path dir;

    @Test
    void concurrentTasksInOneJvmShareTheModelAndScoreAsOneProcessDoes() {
        Path llama = ScoringModels.tinyLlama(dir.resolve("shared-llama"));
        List<long[][]> rows = TokenRows.mixed(new Random(4));
        List<Row> scored = new ArrayList<>(FineTunedModel.of(llama.toString(), null).setBatchSize(2)
                .transform(TokenRows.frame(spark.session(), rows).repartition(6)).collectAsList());
        scored.sort((a, b) -> Integer.compare(a.getInt(0), b.getInt(0)));

        Double[] expected = SingleProcessReference.meanTokenLosses(llama, rows);
        for (int i = 0; i < rows.size(); i++) {
            if (expected[i] == null) {
                assertTrue(scored.get(i).isNullAt(4), "row " + i);
            } else {
                assertEquals(expected[i], scored.get(i).getDouble(4), 1e-5 * expected[i], "loss of row " + i);
            }
        }
    }

    @Test
    void threadsAcquiringAtOnceGetOneCopyAndAnIdleModelIsClosedWhenAnotherLoads() throws Exception {
        ModelFiles first = ModelFiles.resolve(ScoringModels.tinyLlama(dir.resolve("first")).toString(), null,
                spark.session());
        ModelFiles second = ModelFiles.resolve(ScoringModels.tinyLlama(dir.resolve("second")).toString(), null,
                spark.session());
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<LoadedModel>> acquired = new ArrayList<>();
        try {
            for (int t = 0; t < threads; t++) {
                acquired.add(pool.submit(() -> {
                    start.await();
                    return ExecutorModels.acquire(first);
                }));
            }
            start.countDown();
            Set<LoadedModel> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
            for (Future<LoadedModel> f : acquired) {
                distinct.add(f.get());
            }
            assertEquals(1, distinct.size());
            LoadedModel model = distinct.iterator().next();
            assertNull(model.tokenizer(), "the tiny Llama folder ships no tokenizer");

            // while a task still uses it, loading another model leaves it open
            for (int t = 0; t < threads - 1; t++) {
                ExecutorModels.release(first);
            }
            LoadedModel other = ExecutorModels.acquire(second);
            assertNotSame(model, other);
            assertTrue(model.manager().isOpen());
            ExecutorModels.release(second);
            ExecutorModels.release(first);

            // once idle, it is closed when another model is needed
            ModelFiles third = ModelFiles.resolve(ScoringModels.tinyLlama(dir.resolve("third")).toString(), null,
                    spark.session());
            ExecutorModels.acquire(third);
            assertFalse(model.manager().isOpen());
            assertFalse(other.manager().isOpen());
            ExecutorModels.release(third);
        } finally {
            pool.shutdownNow();
        }
    }
}
