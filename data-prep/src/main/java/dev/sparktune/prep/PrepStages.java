package dev.sparktune.prep;

import dev.sparktune.augment.AugmentCounts;
import dev.sparktune.augment.AugmentOptions;
import dev.sparktune.augment.AugmentResult;
import dev.sparktune.augment.AugmentStage;
import dev.sparktune.augment.BackTranslationOptions;
import dev.sparktune.augment.EdaOptions;
import dev.sparktune.augment.SynonymOptions;
import dev.sparktune.clean.CleanOptions;
import dev.sparktune.clean.CleanStage;
import dev.sparktune.clean.PiiKind;
import dev.sparktune.config.DataConfig;
import dev.sparktune.config.PrepConfig;
import dev.sparktune.dedup.DedupOptions;
import dev.sparktune.dedup.DedupStage;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;

/**
 * The stages that run after ingest, in order: clean, dedup, split, augment (each switchable off in the config but
 * split). Each takes the rows the previous stage kept (schema {@link PrepRows#PREPARED}) and returns the rows it
 * keeps and the rows it rejects ({@link StageResult}); the job counts them, gathers the rejected rows and writes
 * what the last stage kept. Tokenize/pack runs after them in {@link PrepJob}, since its rows are not prepared rows.
 * One instance per run: it holds what the stages persisted until {@link #release()}, and the augment counts.
 * Public for {@code sparktune bench prep}, which times these same stages one by one.
 */
public final class PrepStages {
    private final DataConfig data;
    private final Path prepared;
    private final Map<String, String> tasks;
    private final List<Dataset<Row>> persisted = new ArrayList<>();
    private final List<AugmentResult> augmented = new ArrayList<>();

    /**
     * @param prepared {@code data.prepared_path}, beside which the translation cache lives by default
     * @param tasks    dataset name to training task, from the registry
     */
    public PrepStages(DataConfig data, Path prepared, Map<String, String> tasks) {
        this.data = data;
        this.prepared = prepared;
        this.tasks = Map.copyOf(tasks);
    }

    public List<Function<Dataset<Row>, StageResult>> afterIngest() {
        PrepConfig prep = data.prep();
        List<Function<Dataset<Row>, StageResult>> stages = new ArrayList<>();
        if (prep.clean()) {
            CleanOptions clean = cleanOptions(prep);
            // kept and rejected are two filters of one cleaning pass: persist the pass so each row is cleaned once
            stages.add(in -> CleanStage.split(persist(CleanStage.cleaned(in, clean))));
        }
        if (prep.dedup()) {
            DedupOptions dedup = dedupOptions(prep);
            stages.add(in -> DedupStage.apply(in, dedup, tasks));
        }
        StableSplit.Options split = new StableSplit.Options(data.valSize(), data.testSize(), data.evalDataset(),
                tasks);
        stages.add(in -> StableSplit.apply(in, split));
        AugmentOptions augment = augmentOptions(prep);
        if (augment != null) {
            AugmentStage stage = new AugmentStage(augment);
            stages.add(in -> {
                AugmentResult result = stage.apply(in);
                augmented.add(result);
                return result.result();
            });
        }
        return stages;
    }

    /** The augment stage's counts for the report, or null when it did not run. */
    Map<String, Object> augmentation() {
        if (augmented.isEmpty()) {
            return null;
        }
        AugmentCounts c = augmented.get(0).counts();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("input_rows", c.inputRows());
        m.put("train_rows", c.trainRows());
        m.put("output_rows", c.outputRows());
        m.put("augmented", c.augmented());
        m.put("unaugmented", c.unaugmented());
        return m;
    }

    public void release() {
        persisted.forEach(Dataset::unpersist);
        augmented.forEach(AugmentResult::release);
    }

    private Dataset<Row> persist(Dataset<Row> rows) {
        Dataset<Row> p = rows.persist(StorageLevel.MEMORY_AND_DISK());
        persisted.add(p);
        return p;
    }

    /** The dedup stage's options; the leakage check compares test and train rows with the same ones. */
    static DedupOptions dedupOptions(PrepConfig prep) {
        return new DedupOptions(prep.dedupExact(), prep.dedupNear(), prep.dedupThreshold(), prep.dedupNumPerm(),
                prep.dedupShingleSize(), DedupOptions.defaults().maxIterations());
    }

    static CleanOptions cleanOptions(PrepConfig prep) {
        Set<PiiKind> kinds = new LinkedHashSet<>();
        for (String kind : prep.piiMask()) {
            kinds.add(PiiKind.parse(kind));
        }
        return new CleanOptions(prep.stripHtml(), prep.cleanMinChars(), prep.cleanMaxChars(), prep.languages(),
                prep.detectLanguages(), prep.languageMinDistance(), CleanOptions.defaultMasks(kinds));
    }

    /** The augment options, or null when every method's ratio is 0. */
    AugmentOptions augmentOptions(PrepConfig prep) {
        if (prep.synonymRatio() == 0 && prep.edaRatio() == 0 && prep.backTranslationRatio() == 0) {
            return null;
        }
        BackTranslationOptions bt = null;
        if (prep.backTranslationRatio() > 0) {
            String cache = prep.translationCache() != null ? prep.translationCache()
                    : new Path(prepared.getParent(), prepared.getName() + "_translation_cache").toString();
            BackTranslationOptions base = BackTranslationOptions.apertium(URI.create(prep.translatorUrl()), cache);
            bt = new BackTranslationOptions(prep.translator(), base.endpoint(), prep.translatorModel(),
                    prep.translatorApiKeyEnv(), prep.sourceLanguage(), prep.pivotLanguage(), base.batchSize(),
                    base.maxBatchChars(), base.concurrency(), base.maxRetries(), base.initialBackoff(),
                    base.timeout(), cache);
        }
        return new AugmentOptions(prep.augmentSeed(), prep.synonymRatio(), prep.edaRatio(),
                prep.backTranslationRatio(),
                new SynonymOptions(prep.synonymRate(), prep.synonymMaxReplacements(), prep.protectedTokens()),
                EdaOptions.defaults(), bt);
    }
}
