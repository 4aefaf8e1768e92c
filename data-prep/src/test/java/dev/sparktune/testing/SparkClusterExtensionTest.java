package dev.sparktune.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

@Tag("integration")
class SparkClusterExtensionTest {

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.localCluster(2, 1024);

    /** Each barrier task publishes its process id and returns what every task published. */
    static final class GatherProcessIds extends AbstractFunction1<Iterator<Integer>, Iterator<String>>
            implements Serializable {
        @Override
        public Iterator<String> apply(Iterator<Integer> partition) {
            BarrierTaskContext task = BarrierTaskContext.get();
            String[] everyRank = task.allGather(Long.toString(ProcessHandle.current().pid()));
            return CollectionConverters.asScala(List.of(String.join(",", everyRank)).iterator());
        }
    }

    @Test
    void barrierTasksOfLocalClusterRunInTwoSeparateExecutorJvms() {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.session().sparkContext());
        RDD<String> gathered = sc.parallelize(List.of(0, 1), 2).rdd()
                .barrier()
                .mapPartitions(new GatherProcessIds(), false, ClassTag$.MODULE$.apply(String.class));

        List<String> seenByEachTask = gathered.toJavaRDD().collect();

        assertEquals(2, seenByEachTask.size());
        assertEquals(seenByEachTask.get(0), seenByEachTask.get(1), "allGather gives every rank the same view");
        Set<String> pids = new TreeSet<>(Arrays.asList(seenByEachTask.get(0).split(",")));
        assertEquals(2, pids.size(), "two tasks, two executor processes: " + pids);
        assertFalse(pids.contains(Long.toString(ProcessHandle.current().pid())), "no task ran in the driver JVM");
        System.out.println("barrier tasks ran in executor JVMs " + pids + "; driver JVM is " + ProcessHandle.current().pid());
    }
}
