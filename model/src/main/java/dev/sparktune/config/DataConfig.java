package dev.sparktune.config;

import java.util.List;

/** Section {@code data}: which datasets, how they are formatted, cut and mixed, and how prep cleans and augments them. */
public record DataConfig(
        List<String> dataset,
        List<String> evalDataset,
        String datasetDir,
        String datasetInfo,
        String template,
        int cutoffLen,
        int cutoffTailLen,
        double valSize,
        double testSize,
        boolean packing,
        boolean trainOnPrompt,
        String mixStrategy,
        List<Double> interleaveProbs,
        double mixTemperature,
        String tokenizedPath,
        String preparedPath,
        long maxRecordBytes,
        PrepConfig prep) {

    static DataConfig read(Section s) {
        List<String> dataset = s.strings("dataset", List.of());
        List<String> evalDataset = s.strings("eval_dataset", List.of());
        String datasetDir = s.string("dataset_dir", "data");
        String datasetInfo = s.string("dataset_info", "dataset_info.yaml");
        String template = s.string("template", null);
        int cutoffLen = s.integer("cutoff_len", 1024, Range.atLeast(1));
        int cutoffTailLen = s.integer("cutoff_tail_len", 0, Range.atLeast(0));
        s.require(cutoffTailLen < cutoffLen, "cutoff_tail_len", "must be below cutoff_len (" + cutoffLen
                + ") so that the start of a text is kept too");
        double valSize = s.number("val_size", 0.0, Range.closedOpen(0, 1));
        double testSize = s.number("test_size", 0.0, Range.closedOpen(0, 1));
        s.require(valSize + testSize < 1, "test_size", "val_size (" + valSize + ") + test_size (" + testSize
                + ") must be below 1 so that rows are left for training; lower one of them");
        boolean packing = s.flag("packing", false);
        boolean trainOnPrompt = s.flag("train_on_prompt", false);
        String mixStrategy = s.choice("mix_strategy", "concat", "concat", "interleave_under", "interleave_over");
        List<Double> interleaveProbs = s.numbers("interleave_probs", List.of(), Range.closed(0, 1));

        if (!interleaveProbs.isEmpty()) {
            s.require(interleaveProbs.size() == dataset.size(), "interleave_probs",
                    "needs one probability per dataset: " + dataset.size() + " datasets, "
                            + interleaveProbs.size() + " probabilities");
            double sum = interleaveProbs.stream().mapToDouble(Double::doubleValue).sum();
            s.require(Math.abs(sum - 1.0) < 1e-6, "interleave_probs", "must sum to 1, sums to " + sum);
            s.require(!mixStrategy.equals("concat"), "interleave_probs",
                    "only used with mix_strategy interleave_under or interleave_over");
        }
        double mixTemperature = s.number("mix_temperature", 0.0, Range.atLeast(0));
        if (mixTemperature != 0) {
            s.require(interleaveProbs.isEmpty(), "mix_temperature", "set interleave_probs or mix_temperature, not both");
            s.require(!mixStrategy.equals("concat"), "mix_temperature",
                    "only used with mix_strategy interleave_under or interleave_over");
        }
        String tokenizedPath = s.string("tokenized_path", null);
        String preparedPath = s.string("prepared_path", null);
        long maxRecordBytes = s.longInteger("max_record_bytes", 1_048_576L, Range.atLeast(1));
        return new DataConfig(dataset, evalDataset, datasetDir, datasetInfo, template, cutoffLen, cutoffTailLen, valSize,
                testSize, packing, trainOnPrompt, mixStrategy, interleaveProbs, mixTemperature, tokenizedPath, preparedPath,
                maxRecordBytes, PrepConfig.read(s));
    }
}
