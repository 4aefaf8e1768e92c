package dev.sparktune.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class SparkLocalModeTest {

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    @Test
    void localModeRunsTasksOnTheRequestedNumberOfThreads() {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.session().sparkContext());
        assertEquals("local[2]", sc.master());
        assertEquals(2, sc.defaultParallelism());

        List<Long> squares = sc.parallelize(List.of(1L, 2L, 3L, 4L), 2).map(x -> x * x).collect();
        assertEquals(List.of(1L, 4L, 9L, 16L), squares);
    }
}
