package dev.sparktune.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.bench.ChildJvm;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The reproduction behind {@code model.compute_dtype: bfloat16} being refused: DJL 0.36's PyTorch engine aborts the
 * JVM (libtorch's C++ runtime: "terminate called without an active exception", exit 134) as soon as a bfloat16
 * tensor is made, whichever way: zeros of that dtype, a float32 tensor converted, or raw bf16 bytes wrapped. Each
 * way runs in a child JVM of its own. When a DJL upgrade makes this test fail, bf16 tensors work and the refusal
 * can go.
 */
class Bfloat16AbortTest {

    /** The child: makes one bfloat16 tensor the way {@code args[0]} names, and prints its dtype if it survives. */
    public static void main(String[] args) {
        try (NDManager manager = NDManager.newBaseManager()) {
            System.out.println("made a float32 tensor: " + manager.zeros(new Shape(2)).getDataType());
            System.out.flush();
            NDArray bf16 = switch (args[0]) {
                case "zeros" -> manager.zeros(new Shape(2, 2), DataType.BFLOAT16);
                case "toType" -> manager.ones(new Shape(2, 2)).toType(DataType.BFLOAT16, false);
                case "bytes" -> manager.create(ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder())
                        .putShort(0, (short) 0x3f80), new Shape(4), DataType.BFLOAT16);
                default -> throw new IllegalArgumentException(args[0]);
            };
            System.out.println("made a bfloat16 tensor: " + bf16.getDataType());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"zeros", "toType", "bytes"})
    void makingABfloat16TensorAbortsTheJvm(String way) throws Exception {
        List<String> command = ChildJvm.command();
        command.addAll(List.of(Bfloat16AbortTest.class.getName(), way));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(child.waitFor(2, TimeUnit.MINUTES), output);
        assertTrue(output.contains("made a float32 tensor: float32"), "libtorch works before the bf16 tensor:\n" + output);
        assertEquals(134, child.exitValue(), "the JVM aborts (SIGABRT):\n" + output);
        assertTrue(output.contains("terminate called"), output);
        assertFalse(output.contains("made a bfloat16 tensor"), output);
    }
}
