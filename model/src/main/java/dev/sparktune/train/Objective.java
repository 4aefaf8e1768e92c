package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.Scalars;

/**
 * What a micro-batch's loss is. It returns the loss summed over its scored items (tokens, or
 * rows for classification) and how many there were, so that micro-batches of an accumulated
 * step can be weighted by their share of the whole step: k micro-batches then give exactly the
 * gradient of one batch k times larger.
 */
public sealed interface Objective permits Objective.CausalLm, Objective.Classification {

    /** The summed loss (a scalar that backpropagates) and the number of scored items. */
    Loss loss(PretrainedModel model, TrainingBatch batch, NDManager step);

    /** Scored items of a batch, known before the forward pass. */
    long scoredItems(TrainingBatch batch);

    /** What validation scores: the loss and, for classification, each row's predicted class (null otherwise). */
    Evaluated evaluate(PretrainedModel model, TrainingBatch batch, NDManager step);

    record Loss(NDArray sum, long items) {
    }

    /** @param predictions [B] the argmax of each row's logits, or null for an objective without classes */
    record Evaluated(Loss loss, NDArray predictions) {
    }

    /**
     * The objective of {@code method.stage}: {@code cls} classifies, {@code pt} and {@code sft} predict the next
     * token. The causal-LM loss is computed in float64 for a float64 model (a float32 loss there cuts the autograd
     * graph) and in float32 otherwise, as Hugging Face upcasts half-precision logits.
     */
    static Objective forStage(String stage, ClassificationLoss classification, DataType modelType) {
        if (stage.equals("cls")) {
            return new Classification(classification);
        }
        return new CausalLm(modelType == DataType.FLOAT64 ? CausalLmLoss.FLOAT64 : CausalLmLoss.FLOAT32);
    }

    /** Next-token prediction, for continued pretraining and SFT (labels carry the prompt masking). */
    record CausalLm(CausalLmLoss loss) implements Objective {
        @Override
        public Loss loss(PretrainedModel model, TrainingBatch batch, NDManager step) {
            if (!(model instanceof Llama llama)) {
                throw new IllegalArgumentException("causal-LM training needs a decoder; this model is an encoder");
            }
            NDArray logits = llama.logits(batch.inputIds(), batch.positions(), batch.mask(), null);
            LossSums sums = loss.perRow(logits, batch.labels());
            return new Loss(sums.sums().sum(), scoredItems(batch));
        }

        @Override
        public long scoredItems(TrainingBatch batch) {
            // predictions score labels[:, 1:]
            return batch.labels().get(":, 1:").neq(CausalLmLoss.IGNORE_INDEX).sum().getLong();
        }

        @Override
        public Evaluated evaluate(PretrainedModel model, TrainingBatch batch, NDManager step) {
            return new Evaluated(loss(model, batch, step), null);
        }
    }

    /**
     * Sequence classification on an encoder's pooled output, through the head named {@code head}
     * ({@code classifier}, or {@code classifier_<task>} when tasks share the encoder).
     */
    record Classification(ClassificationLoss loss, String head) implements Objective {
        public Classification(ClassificationLoss loss) {
            this(loss, Bert.CLASSIFIER);
        }

        @Override
        public Loss loss(PretrainedModel model, TrainingBatch batch, NDManager step) {
            return loss(logits(model, batch), batch);
        }

        @Override
        public long scoredItems(TrainingBatch batch) {
            return batch.classes().getShape().get(0);
        }

        @Override
        public Evaluated evaluate(PretrainedModel model, TrainingBatch batch, NDManager step) {
            NDArray logits = logits(model, batch);
            return new Evaluated(loss(logits, batch), logits.argMax(1));
        }

        /** How many classes the head scores: the rows of {@code <head>.weight}. */
        public int classes(PretrainedModel model) {
            return Math.toIntExact(model.weights().shape(head + ".weight").get(0));
        }

        private NDArray logits(PretrainedModel model, TrainingBatch batch) {
            if (!(model instanceof Bert bert)) {
                throw new IllegalArgumentException("classification training needs an encoder with a classifier head");
            }
            AttentionMask bidirectional = new AttentionMask(batch.keep(), batch.mask().segmentIds(), false, 0);
            NDArray hidden = bert.hiddenStates(batch.inputIds(), null, batch.positions(), bidirectional);
            return bert.classify(hidden, batch.keep(), head);
        }

        private Loss loss(NDArray logits, TrainingBatch batch) {
            return new Loss(Scalars.times(loss.mean(logits, batch.classes()), batch.classes().getShape().get(0)),
                    scoredItems(batch));
        }
    }
}
