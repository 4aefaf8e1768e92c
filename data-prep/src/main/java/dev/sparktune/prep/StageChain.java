package dev.sparktune.prep;

import dev.sparktune.rows.StageResult;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;

/**
 * Runs prep stages one after another: each stage gets the rows the previous one kept; the rejected rows of all
 * stages are gathered. Each stage's kept and rejected rows are persisted so that counting them, the next stage and the final
 * write read them once.
 */
final class StageChain {
    private final List<StageCounts> counts = new ArrayList<>();
    private final List<Dataset<Row>> persisted = new ArrayList<>();
    private Dataset<Row> kept;
    private Dataset<Row> rejected;

    /** Starts from the first stage's result; its {@code in} is what it kept plus what it rejected. */
    StageChain(StageResult first) {
        kept = persist(first.kept());
        rejected = first.rejected();
        long out = kept.count();
        long bad = first.rejected().count();
        counts.add(new StageCounts(first.stage(), out + bad, out, bad));
    }

    StageChain then(Function<Dataset<Row>, StageResult> stage) {
        long in = counts.get(counts.size() - 1).out();
        StageResult result = stage.apply(kept);
        kept = persist(result.kept());
        Dataset<Row> bad = persist(result.rejected());
        rejected = rejected.unionByName(bad);
        counts.add(new StageCounts(result.stage(), in, kept.count(), bad.count()));
        return this;
    }

    /**
     * Records a stage that ran beside the chain (tokenize: its kept rows are written elsewhere, not handed on): its
     * counts and rejected rows join the report and {@code _rejected/}; the kept rows stay those of the last stage.
     */
    StageChain alongside(StageCounts stage, Dataset<Row> stageRejected) {
        counts.add(stage);
        rejected = rejected.unionByName(stageRejected);
        return this;
    }

    Dataset<Row> kept() {
        return kept;
    }

    Dataset<Row> rejected() {
        return rejected;
    }

    List<StageCounts> counts() {
        return List.copyOf(counts);
    }

    void release() {
        persisted.forEach(Dataset::unpersist);
    }

    private Dataset<Row> persist(Dataset<Row> rows) {
        Dataset<Row> p = rows.persist(StorageLevel.MEMORY_AND_DISK());
        persisted.add(p);
        return p;
    }
}
