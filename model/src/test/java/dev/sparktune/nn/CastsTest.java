package dev.sparktune.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.Test;

/** Gradients flow through {@link Casts#to} both ways, where DJL's {@code toType} drops them. */
class CastsTest {

    @Test
    void aWideningAndANarrowingCastKeepTheGradient() {
        try (NDManager manager = NDManager.newBaseManager(); ThreadGradients gradients = new ThreadGradients()) {
            NDArray x = manager.create(new float[] {1, 2, 3}).toType(DataType.FLOAT16, false);
            x.setRequiresGradient(true);
            NDArray wide = Casts.to(x, DataType.FLOAT32);
            assertEquals(DataType.FLOAT32, wide.getDataType());
            NDArray back = Casts.to(wide.square(), DataType.FLOAT16);
            assertEquals(DataType.FLOAT16, back.getDataType());
            gradients.backward(Casts.to(back, DataType.FLOAT64).sum());
            // d/dx sum(x^2) = 2x, in x's dtype
            assertEquals(DataType.FLOAT16, x.getGradient().getDataType());
            assertArrayEquals(new float[] {2, 4, 6}, x.getGradient().toType(DataType.FLOAT32, false).toFloatArray());
        }
    }

    @Test
    void theSameDtypeIsTheTensorItself() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(new float[] {1, 2});
            assertSame(x, Casts.to(x, DataType.FLOAT32));
        }
    }
}
