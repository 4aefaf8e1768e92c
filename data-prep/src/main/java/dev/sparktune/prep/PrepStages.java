package dev.sparktune.prep;

import dev.sparktune.config.DataConfig;
import java.util.List;
import java.util.function.Function;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The stages that run after ingest, in order. Each takes the rows the previous stage kept (schema
 * {@link PrepRows#PREPARED}) and returns the rows it keeps and the rows it rejects ({@link StageResult}); the
 * job counts them, gathers the rejected rows and writes what the last stage kept.
 */
final class PrepStages {
    private PrepStages() {
    }

    static List<Function<Dataset<Row>, StageResult>> afterIngest(DataConfig data) {
        // ---- Stages plug in here, in this order, each a Function<Dataset<Row>, StageResult>: ----
        //   clean    (dev.sparktune.clean)   NFKC, HTML/MIME stripping, length filters, language id, PII masking
        //   dedup    (dev.sparktune.dedup)   exact and MinHash near-duplicates
        //   split    (dev.sparktune.clean)   train / validation by a stable hash of id
        //   augment  (dev.sparktune.augment) synonyms, back-translation: training rows only
        //   pack     (dev.sparktune.pack)    tokenize and pack; its kept rows are the tokenized schema
        return List.of();
    }
}
