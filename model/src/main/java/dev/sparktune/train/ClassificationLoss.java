package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.nn.Scalars;
import java.util.List;

/**
 * Cross-entropy for sequence classification, with PyTorch's {@code CrossEntropyLoss(weight=w,
 * label_smoothing=eps, ignore_index=-100, reduction='mean')} semantics. With {@code p = softmax(logits)}, for the
 * rows whose label {@code y_i} is not ignored (ATen {@code cross_entropy_loss_label_smoothing}):
 *
 * <pre>
 *   loss = (1 - eps) * sum_i w[y_i] * (-log p_i[y_i]) / sum_i w[y_i]
 *        +  eps / C  * sum_i sum_c w[c] * (-log p_i[c]) / sum_i w[y_i]
 * </pre>
 *
 * <p>Both terms are divided by the summed weight of the true classes, also the smoothing term, where each class
 * carries its own weight; without weights every {@code w} is 1 and both are plain means over rows. This is the
 * cross-entropy against the smoothed target {@code (1 - eps) * onehot(y) + eps / C} (Szegedy et al., 2016) with
 * class {@code c}'s term scaled by {@code w[c]}.
 *
 * @param labelSmoothing {@code eps} in [0, 1]
 * @param classWeights   one non-negative weight per class, or empty for none
 */
public record ClassificationLoss(double labelSmoothing, List<Double> classWeights) {

    public static final ClassificationLoss PLAIN = new ClassificationLoss(0, List.of());

    public ClassificationLoss {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
            throw new IllegalArgumentException("label_smoothing must be in [0, 1], got " + labelSmoothing);
        }
        classWeights = List.copyOf(classWeights);
        for (double w : classWeights) {
            if (!(w >= 0)) {
                throw new IllegalArgumentException("class weights must be non-negative, got " + classWeights);
            }
        }
    }

    /**
     * The mean loss, a scalar in the logits' dtype (pass float64 logits for a float64 loss). As in PyTorch, a
     * batch whose labels are all ignored (or all of zero weight) gives NaN.
     *
     * @param logits [N, C] float32 or float64
     * @param labels [N] class indices, {@value CausalLmLoss#IGNORE_INDEX} for rows without a label
     */
    public NDArray mean(NDArray logits, NDArray labels) {
        long classes = logits.getShape().get(1);
        if (!classWeights.isEmpty() && classWeights.size() != classes) {
            throw new IllegalArgumentException(classWeights.size() + " class weights for " + classes + " classes");
        }
        DataType dtype = logits.getDataType();
        NDArray logProbs = logits.logSoftmax(-1);
        NDArray targets = labels.toType(DataType.INT64, false);
        NDArray scored = targets.neq(CausalLmLoss.IGNORE_INDEX).toType(dtype, false);
        NDArray safeTargets = targets.mul(scored.toType(DataType.INT64, false)).expandDims(1);
        NDArray trueClass = logProbs.gather(safeTargets, 1).squeeze(1).neg();
        NDArray rowWeight;
        NDArray allClasses;
        if (classWeights.isEmpty()) {
            rowWeight = scored;
            allClasses = logProbs.sum(new int[] {1}).neg();
        } else {
            double[] w = classWeights.stream().mapToDouble(Double::doubleValue).toArray();
            NDArray perClass = logits.getManager().create(w).toType(dtype, false).reshape(1, classes);
            rowWeight = perClass.broadcast(logits.getShape()).gather(safeTargets, 1).squeeze(1).mul(scored);
            allClasses = logProbs.mul(perClass).sum(new int[] {1}).neg();
        }
        NDArray totalWeight = rowWeight.sum();
        NDArray nll = trueClass.mul(rowWeight).sum().div(totalWeight);
        if (labelSmoothing == 0) {
            return nll;
        }
        NDArray smooth = allClasses.mul(scored).sum().div(totalWeight);
        return Scalars.times(nll, 1 - labelSmoothing).add(Scalars.times(smooth, (double) labelSmoothing / classes));
    }
}
