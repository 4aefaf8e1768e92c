package dev.sparktune.dedup;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.min;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Connected components of an undirected graph by min-label propagation: every vertex starts with the smallest
 * id among itself and its neighbours, then repeatedly takes the smallest label among its neighbours, until no
 * label changes. The label is then the component's smallest id. Rounds needed = the longest shortest path in a
 * component; near-duplicate groups built from star-shaped LSH buckets are shallow, so a few rounds suffice.
 * Each round is checkpointed locally so the plan does not grow with the number of rounds.
 */
final class ConnectedComponents {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ConnectedComponents.class);

    private ConnectedComponents() {
    }

    /**
     * @param edges both directions of every edge, columns {@code v} and {@code w}
     * @return {@code v} and {@code label} for every vertex that has an edge
     */
    static Dataset<Row> minLabels(Dataset<Row> edges, int maxRounds) {
        Dataset<Row> vw = edges.select(col("v"), col("w"));
        Dataset<Row> labels = vw.groupBy("v").agg(min("w").as("m"))
                .select(col("v"), least(col("v"), col("m")).as("label"))
                .localCheckpoint();
        for (int round = 1; round <= maxRounds; round++) {
            Dataset<Row> neighbourLabels = labels.select(col("v").as("w"), col("label").as("nl"));
            Dataset<Row> next = vw.join(neighbourLabels, "w").groupBy("v").agg(min("nl").as("m"))
                    .join(labels, "v")
                    .select(col("v"), least(col("label"), col("m")).as("label"))
                    .localCheckpoint();
            long changed = next.join(labels.select(col("v"), col("label").as("old")), "v")
                    .filter(col("label").notEqual(col("old"))).count();
            labels = next;
            if (changed == 0) {
                return labels;
            }
        }
        LOG.warn("near-duplicate grouping stopped after max_iterations={} rounds with labels still changing: some"
                + " long chains of similar rows stay split into several groups; raise max_iterations to merge them",
                maxRounds);
        return labels;
    }
}
