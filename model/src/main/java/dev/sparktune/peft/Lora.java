package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.PackedTensor;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.Linear;
import dev.sparktune.nn.Scalars;
import dev.sparktune.nn.SeededDropout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * LoRA (Hu et al., 2021): each targeted linear layer W gains a low-rank update, y = W x + s B A x
 * with A [r, in], B [out, r] and s = alpha / r (rsLoRA, Kalajdzievski 2023: alpha / sqrt(r)).
 * With DoRA (Liu et al., 2024) the updated weight is split into a learned magnitude per output
 * and a direction: y = m * (W + s B A) / ||W + s B A|| x, the norm taken per output row and,
 * as in PEFT, not differentiated. Tensor names and initialisation follow PEFT: A
 * kaiming-uniform, B zero, m the row norms of W, so the model starts exactly as the base.
 *
 * @param target        module names (PEFT's suffix match), one regular expression, or {@code all}
 *                      (every linear layer but the output head)
 * @param modulesToSave modules trained in full alongside (a task head is always included)
 */
public record Lora(int rank, double alpha, double dropout, List<String> target, boolean useRslora, boolean useDora,
                   List<String> modulesToSave) implements Method {

    public Lora {
        if (rank < 1) {
            throw new IllegalArgumentException("lora_rank must be >= 1, got " + rank);
        }
        target = List.copyOf(target);
        modulesToSave = List.copyOf(modulesToSave);
    }

    public double scaling() {
        return useRslora ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    /** The linear modules this LoRA adapts; an error listing the module names when it matches none. */
    public List<String> targetModules(ModelLayout layout) {
        List<String> candidates = new ArrayList<>(layout.linearModules());
        Set<String> chosen;
        if (target.size() == 1 && target.get(0).equals("all")) {
            candidates.removeAll(layout.outputHeads());
            chosen = new TreeSet<>(candidates);
        } else if (target.size() == 1 && !target.get(0).matches("[A-Za-z0-9_.]+")) {
            try {
                Pattern regex = Pattern.compile(target.get(0));
                chosen = new TreeSet<>(candidates.stream().filter(m -> regex.matcher(m).matches()).toList());
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("lora_target '" + target.get(0) + "' is not a valid regular expression: "
                        + e.getDescription());
            }
        } else {
            chosen = Select.modulesNamed(candidates, target);
        }
        if (chosen.isEmpty()) {
            Set<String> names = new TreeSet<>();
            candidates.forEach(m -> names.add(m.substring(m.lastIndexOf('.') + 1)));
            throw new IllegalArgumentException("lora_target " + target + " matches no linear module; this model's are "
                    + names + " (full paths such as " + candidates.get(0) + "), or use 'all' or a regular expression");
        }
        return List.copyOf(chosen);
    }

    /** Parameters LoRA adds to a model of these shapes: r (in + out) per module, plus out for DoRA's magnitude. */
    public long addedParameters(ModelLayout layout, Map<String, Shape> shapes) {
        long total = 0;
        for (String module : targetModules(layout)) {
            Shape w = shapes.get(module + ".weight");
            total += (long) rank * (w.get(0) + w.get(1)) + (useDora ? w.get(0) : 0);
        }
        return total;
    }

    @Override
    public Set<String> trainable(ModelLayout layout, Set<String> names) {
        Set<String> out = new TreeSet<>(Select.taskHeads(layout, names));
        out.addAll(Select.inModules(names, Select.modulesNamed(layout.linearModules(), modulesToSave)));
        for (String module : targetModules(layout)) {
            out.add(module + ".lora_A.weight");
            out.add(module + ".lora_B.weight");
            if (useDora) {
                out.add(module + ".lora_magnitude_vector");
            }
        }
        return out;
    }

    @Override
    public Map<String, NDArray> newTensors(ModelLayout layout, Weights base, NDManager manager, Random random) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String module : targetModules(layout)) {
            // a base packed as it was loaded (model.quantization_bit) has no array for the weight: its shape and the
            // model's float dtype say the same
            PackedTensor packed = base.packed(module + ".weight");
            DataType dtype = packed == null ? base.get(module + ".weight").getDataType() : base.floatType();
            Shape shape = base.shape(module + ".weight");
            out.put(module + ".lora_A.weight", Initializers.kaimingUniform(manager, new Shape(rank, shape.get(1)), dtype,
                    random));
            out.put(module + ".lora_B.weight", manager.zeros(new Shape(shape.get(0), rank), dtype));
            if (useDora) {
                try (NDManager scratch = manager.newSubManager()) {
                    NDArray w = packed == null ? base.get(module + ".weight") : packed.unpack(scratch, dtype);
                    NDArray magnitude = w.norm(new int[] {1});
                    magnitude.attach(manager);
                    out.put(module + ".lora_magnitude_vector", magnitude);
                }
            }
        }
        return out;
    }

    @Override
    public ForwardHooks hooks(ModelLayout layout, boolean training) {
        Set<String> adapted = new TreeSet<>(targetModules(layout));
        double s = scaling();
        float rate = (float) dropout;
        return new ForwardHooks() {
            @Override
            public NDArray linear(Weights w, String module, NDArray x) {
                NDArray base = ForwardHooks.NONE.linear(w, module, x);
                if (!adapted.contains(module)) {
                    return base;
                }
                NDArray dropped = rate > 0 && training ? SeededDropout.apply(x, rate) : x;
                // s B A x, scaled on the rank-r intermediate rather than on the output: the same product, with the
                // scaling's multiply (and its backward) over r features per token instead of out_features
                NDArray update = Linear.linear(Scalars.times(Linear.linear(dropped, w.get(module + ".lora_A.weight")), s),
                        w.get(module + ".lora_B.weight"));
                if (!useDora) {
                    return base.add(update);
                }
                // DoRA: base + (m/||W'|| - 1) W x + (m/||W'||) s B A x, W' = W + s B A (PEFT's DoraLinearLayer)
                NDManager step = x.getManager();
                PackedTensor packed = w.packed(module + ".weight");
                NDArray weight = packed == null ? w.get(module + ".weight") : packed.unpack(step, x.getDataType());
                NDArray delta = Scalars.times(w.borrow(module + ".lora_B.weight", step).matMul(w.get(module + ".lora_A.weight")), s);
                NDArray norm = delta.add(weight).norm(new int[] {1}).stopGradient();
                NDArray factor = w.borrow(module + ".lora_magnitude_vector", step).div(norm);
                // PEFT's DoraLinearLayer applies W to the same dropped-out input as B A
                NDArray plain = Linear.linear(dropped, weight);
                return base.add(plain.mul(factor.sub(1))).add(update.mul(factor));
            }
        };
    }
}
