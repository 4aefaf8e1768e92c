package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** The activation functions Hugging Face configs name in {@code hidden_act}. */
public final class Activations {
    private Activations() {
    }

    /** SiLU / swish: {@code x * sigmoid(x)}. */
    public static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** GELU in its exact erf form, {@code x * Phi(x)} ({@code hidden_act: gelu} in BERT configs); PyTorch's default. */
    public static NDArray gelu(NDArray x) {
        return Activation.gelu(x);
    }

    /** GELU's tanh approximation ({@code gelu_new}, {@code gelu_pytorch_tanh}). */
    public static NDArray geluTanh(NDArray x) {
        NDArray cube = x.mul(x).mul(x);
        NDArray inner = Scalars.times(x.add(Scalars.times(cube, 0.044715)), Math.sqrt(2.0 / Math.PI));
        return Scalars.times(x.mul(inner.tanh().add(1.0)), 0.5);
    }

    public static NDArray byName(String hiddenAct, NDArray x) {
        return switch (hiddenAct) {
            case "silu", "swish" -> silu(x);
            case "gelu" -> gelu(x);
            case "gelu_new", "gelu_pytorch_tanh" -> geluTanh(x);
            case "relu" -> Activation.relu(x);
            default -> throw new IllegalArgumentException("unsupported hidden_act '" + hiddenAct
                    + "'; supported: silu, gelu, gelu_new, gelu_pytorch_tanh, relu");
        };
    }
}
