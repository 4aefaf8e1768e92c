package dev.sparktune.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.EvalConfig;
import dev.sparktune.dist.Collective;
import dev.sparktune.dist.InProcessCollective;
import dev.sparktune.dist.Reduction;
import dev.sparktune.eval.GenerationSums;
import dev.sparktune.io.TokenizedRow;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Validation during training, as the {@code eval} section configures it. Each rank evaluates every
 * {@code world_size}-th row of each task's validation rows ({@link #share}) in micro-batches of
 * {@code per_device_eval_batch_size} rows, without dropout or gradients; the ranks then add up their sums (loss,
 * scored items, per-class counts) in one all-reduce, so every rank computes the same metrics from the same bits, and a
 * rank whose share is empty still joins. Every rank runs as many forwards as the largest share needs, a smaller share
 * topped up with forwards whose results are dropped: at ZeRO stage 3 each forward gathers parameters from all ranks.
 *
 * <p>Metrics, by task: {@code validation/<task>/loss}, the mean over the task's scored items (tokens, or rows for
 * classification); for a causal-LM task {@code perplexity}, exp of that mean token loss (Hugging Face's
 * {@code run_clm}); for a classification task {@code accuracy} and {@code f1} (macro-F1); for a causal-LM task, when
 * {@link Completions} are given, the generation metrics of its samples' prompts completed and compared with their
 * replies ({@code bleu}, {@code chrf}, {@code rouge1} / {@code rouge2} / {@code rougeL} / {@code rougeLsum},
 * {@code exact_match}; {@link GenerationSums}). Which of these are computed follows {@code eval.metrics}. Beside
 * them, {@code validation} is the mean of the tasks' losses, which early stopping watches.
 *
 * <p>{@link #evaluateAlone} scores the same way in one process, without a collective: {@code sparktune export}
 * compares an exported (pruned, quantised) model with the model it came from on the validation split.
 */
public final class Validation {
    /** The mean of the tasks' losses; the prefix of every other validation metric. */
    public static final String LOSS = "validation";

    private final List<TrainingTask> tasks;
    private final EvalConfig eval;
    private final long seed;
    private final long padTokenId;
    /** Null when the generation metrics are not computed. */
    private final Completions completions;

    /**
     * @param completions how to complete SFT prompts for the generation metrics of {@code eval.metrics}; null leaves
     *                    those metrics to {@code sparktune eval}
     */
    Validation(List<TrainingTask> tasks, EvalConfig eval, long seed, long padTokenId, Completions completions) {
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("validation needs at least one task");
        }
        if (new HashSet<>(tasks.stream().map(TrainingTask::name).toList()).size() != tasks.size()) {
            throw new IllegalArgumentException("validation tasks need distinct names, got "
                    + tasks.stream().map(TrainingTask::name).toList());
        }
        this.tasks = List.copyOf(tasks);
        this.eval = eval;
        this.seed = seed;
        this.padTokenId = padTokenId;
        this.completions = eval.needsGeneration() ? completions : null;
    }

    /**
     * Whether to validate after {@code step}: every {@code eval_steps} steps; with {@code eval_steps: 0} at the end of
     * each epoch (Hugging Face's {@code eval_strategy="epoch"}) and at the run's last step, so that a run that ends
     * in the middle of an epoch is validated at its end too.
     */
    boolean dueAfter(long step, boolean epochEnded, long totalSteps) {
        return eval.evalSteps() > 0 ? step % eval.evalSteps() == 0 : epochEnded || step == totalSteps;
    }

    /** Every metric, by name, over all ranks' shares; a collective call, made by every rank. */
    SortedMap<String, Double> evaluate(PretrainedModel model, Collective collective, NDManager manager) {
        JniUtils.setGradMode(false);
        List<Sums> sums = new ArrayList<>();
        for (TrainingTask task : tasks) {
            sums.add(evaluateShare(task, model, collective, manager));
        }
        double[] flat = Sums.flatten(sums);
        if (collective.worldSize() > 1) {
            collective.allReduce(flat, 0, flat.length, Reduction.SUM);
        }
        sums = Sums.unflatten(flat, sums);
        SortedMap<String, Double> metrics = new TreeMap<>();
        double sumOfLosses = 0;
        for (int t = 0; t < tasks.size(); t++) {
            TrainingTask task = tasks.get(t);
            Sums s = sums.get(t);
            String prefix = LOSS + "/" + task.name() + "/";
            double loss = s.lossSum / Math.max(s.items, 1);
            sumOfLosses += loss;
            metrics.put(prefix + "loss", loss);
            if (task.objective() instanceof Objective.CausalLm && eval.metrics().contains("perplexity")) {
                metrics.put(prefix + "perplexity", Math.exp(loss));
            }
            if (s.generation.length > 0) {
                GenerationSums.metrics(s.generation, eval.metrics()).forEach((name, v) -> metrics.put(prefix + name, v));
            }
            if (task.objective() instanceof Objective.Classification) {
                if (eval.metrics().contains("accuracy")) {
                    metrics.put(prefix + "accuracy", accuracy(s.truePositives, s.actual));
                }
                if (eval.metrics().contains("f1")) {
                    metrics.put(prefix + "f1", macroF1(s.truePositives, s.predicted, s.actual));
                }
            }
        }
        metrics.put(LOSS, sumOfLosses / tasks.size());
        return Collections.unmodifiableSortedMap(metrics);
    }

    /**
     * Every metric of {@code tasks} for {@code model}, computed by this process alone over all their rows: the
     * metrics {@link #evaluate} gives on one rank.
     */
    public static SortedMap<String, Double> evaluateAlone(PretrainedModel model, List<TrainingTask> tasks,
                                                          EvalConfig eval, long seed, long padTokenId,
                                                          NDManager manager) {
        return new Validation(tasks, eval, seed, padTokenId, null).evaluate(model, InProcessCollective.group(1).get(0),
                manager);
    }

    /** This rank's sums over its share of {@code task}'s rows. */
    private Sums evaluateShare(TrainingTask task, PretrainedModel model, Collective collective, NDManager manager) {
        int rank = collective.rank();
        int worldSize = collective.worldSize();
        int classes = task.objective() instanceof Objective.Classification c ? c.classes(model) : 0;
        boolean generates = completions != null && task.objective() instanceof Objective.CausalLm
                && model instanceof Llama;
        Sums sums = new Sums(classes, generates);
        if (generates) {
            GenerationSums generated = new GenerationSums();
            completions.score((Llama) model, share(task.data(), seed, rank, worldSize), eval.perDeviceEvalBatchSize(),
                    generated, manager, collective);
            System.arraycopy(generated.values(), 0, sums.generation, 0, GenerationSums.LENGTH);
        }
        Iterator<TokenizedRow> rows = share(task.data(), seed, rank, worldSize);
        int batchSize = eval.perDeviceEvalBatchSize();
        long largestShare = (task.data().rows() + worldSize - 1) / worldSize;
        long forwards = (largestShare + batchSize - 1) / batchSize;
        for (long f = 0; f < forwards; f++) {
            List<TokenizedRow> batch = new ArrayList<>();
            while (batch.size() < batchSize && rows.hasNext()) {
                batch.add(rows.next());
            }
            boolean padding = batch.isEmpty();
            if (padding) {
                batch.add(task.data().epoch(seed, 0, 0).next());
            }
            try (NDManager step = manager.newSubManager()) {
                TrainingBatch tensors = TrainingBatch.of(batch, padTokenId, step);
                Objective.Evaluated scored = task.objective().evaluate(model, tensors, step);
                if (!padding) {
                    sums.lossSum += scored.loss().sum().toType(DataType.FLOAT64, false).getDouble();
                    sums.items += scored.loss().items();
                    if (scored.predictions() != null) {
                        sums.count(tensors.classes().toLongArray(), scored.predictions().toLongArray());
                    }
                }
            }
        }
        if (rows.hasNext()) {
            throw new IllegalStateException("rank " + rank + "'s share of " + task.name() + " has more than "
                    + largestShare + " rows");
        }
        return sums;
    }

    /**
     * Rank {@code rank}'s rows of {@code data}: every {@code worldSize}-th row of epoch 0's order, from the
     * {@code rank}-th. Every rank reads all of the validation rows but scores only its own, so the shares differ by
     * one row at most; whole row groups per rank (as training deals them) would leave a split written as one row
     * group, as a small validation split usually is, to one rank while the others wait. Reading is cheap next to the
     * forward passes.
     */
    static Iterator<TokenizedRow> share(TrainingData data, long seed, int rank, int worldSize) {
        Iterator<TokenizedRow> all = data.epoch(seed, 0, 0);
        return new Iterator<>() {
            private long index;
            private TokenizedRow next = advance();

            private TokenizedRow advance() {
                while (all.hasNext()) {
                    TokenizedRow row = all.next();
                    if (index++ % worldSize == rank) {
                        return row;
                    }
                }
                return null;
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public TokenizedRow next() {
                if (next == null) {
                    throw new NoSuchElementException();
                }
                TokenizedRow row = next;
                next = advance();
                return row;
            }
        };
    }

    /** The share of scored rows whose predicted class is the true one; 0 without rows. */
    static double accuracy(double[] truePositives, double[] actual) {
        double correct = 0;
        double rows = 0;
        for (int c = 0; c < actual.length; c++) {
            correct += truePositives[c];
            rows += actual[c];
        }
        return rows == 0 ? 0 : correct / rows;
    }

    /**
     * Macro-F1 over every class of the head, as scikit-learn's {@code f1_score(y_true, y_pred,
     * labels=range(num_classes), average="macro", zero_division=0)}: per class F1 = 2 TP / (2 TP + FP + FN) =
     * 2 TP / (predicted + actual), and 0 for a class with no true and no predicted rows (scikit-learn documents F1 as
     * 0.0 "when there are no true positives, false negatives, or false positives" with zero_division=0, and that
     * "labels not present in the data will result in 0 components in a macro average"); then the unweighted mean over
     * all classes. Note that scikit-learn's default {@code labels=None} would instead average only over the classes
     * present in y_true or y_pred; passing every class keeps the metric comparable between validations.
     */
    static double macroF1(double[] truePositives, double[] predicted, double[] actual) {
        if (actual.length == 0) {
            return 0;
        }
        double sum = 0;
        for (int c = 0; c < actual.length; c++) {
            double denominator = predicted[c] + actual[c];
            sum += denominator == 0 ? 0 : 2 * truePositives[c] / denominator;
        }
        return sum / actual.length;
    }

    /**
     * What one task's validation adds up over rows and ranks: the summed loss and scored items, and per class the
     * rows predicted right (the confusion matrix's diagonal), predicted as that class and labelled so (its column and
     * row sums). Counts are whole numbers, exact in doubles up to 2^53.
     */
    private static final class Sums {
        double lossSum;
        double items;
        final double[] truePositives;
        final double[] predicted;
        final double[] actual;
        /** {@link GenerationSums#values} of the task's completions; empty when it has none. */
        final double[] generation;

        Sums(int classes, boolean generates) {
            truePositives = new double[classes];
            predicted = new double[classes];
            actual = new double[classes];
            generation = new double[generates ? GenerationSums.LENGTH : 0];
        }

        /** Rows labelled {@value CausalLmLoss#IGNORE_INDEX} are not scored. */
        void count(long[] labels, long[] predictions) {
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] == CausalLmLoss.IGNORE_INDEX) {
                    continue;
                }
                int label = Math.toIntExact(labels[i]);
                int prediction = Math.toIntExact(predictions[i]);
                actual[label]++;
                predicted[prediction]++;
                if (label == prediction) {
                    truePositives[label]++;
                }
            }
        }

        int length() {
            return 2 + 3 * actual.length + generation.length;
        }

        static double[] flatten(List<Sums> all) {
            double[] flat = new double[all.stream().mapToInt(Sums::length).sum()];
            int at = 0;
            for (Sums s : all) {
                flat[at++] = s.lossSum;
                flat[at++] = s.items;
                for (double[] counts : new double[][] {s.truePositives, s.predicted, s.actual, s.generation}) {
                    System.arraycopy(counts, 0, flat, at, counts.length);
                    at += counts.length;
                }
            }
            return flat;
        }

        /** Sums shaped like {@code shapes}, holding {@code flat}'s values. */
        static List<Sums> unflatten(double[] flat, List<Sums> shapes) {
            List<Sums> out = new ArrayList<>();
            int at = 0;
            for (Sums shape : shapes) {
                Sums s = new Sums(shape.actual.length, shape.generation.length > 0);
                s.lossSum = flat[at++];
                s.items = flat[at++];
                for (double[] counts : new double[][] {s.truePositives, s.predicted, s.actual, s.generation}) {
                    System.arraycopy(flat, at, counts, 0, counts.length);
                    at += counts.length;
                }
                out.add(s);
            }
            return out;
        }
    }
}
