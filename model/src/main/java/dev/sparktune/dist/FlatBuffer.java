package dev.sparktune.dist;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/**
 * A flat float32 or float64 buffer off the Java heap (a direct buffer in native byte order) that tensors are copied
 * into and out of, and that collectives work on in place: the ring sends slices of it straight to the socket, adds
 * what it receives into it, and receives gathered slices straight into it. Float64 serves the equivalence tests'
 * exact mode. A float32 buffer also takes float16 tensors, widened on the way in and rounded to nearest on the way out:
 * fp16 mixed precision reduces gradients and keeps master weights in float32.
 *
 * <p>Tensors move with one native copy each way and no Java array between: {@link #read} copies from the view DJL
 * gives of a CPU tensor's memory ({@code toByteBuffer(true)}, no copy for a contiguous tensor), {@link #writeInto}
 * copies into a tensor from a libtorch tensor over this buffer's memory, and {@link #view} lends elements to libtorch
 * with no copy at all.
 *
 * <p>The memory is freed only when the garbage collector finds the buffer unreachable, so allocate a buffer once and
 * reuse it every step. One buffer holds at most 2 GiB (a limit of Java's direct buffers).
 */
public final class FlatBuffer {
    private static final byte[] ZEROS = new byte[1 << 16];

    private final DataType type;
    private final int elementBytes;
    private final int length;
    private final ByteBuffer memory;

    private FlatBuffer(DataType type, int length) {
        this(type, length, ByteBuffer.allocateDirect(checkedBytes(type, length)));
    }

    private FlatBuffer(DataType type, int length, ByteBuffer memory) {
        this.type = type;
        this.elementBytes = type.getNumOfBytes();
        this.length = length;
        this.memory = memory.order(ByteOrder.nativeOrder());
    }

    private static int checkedBytes(DataType type, int length) {
        long bytes = (long) type.getNumOfBytes() * length;
        if (length < 0 || bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a flat buffer of " + length + " " + type + " elements would take " + bytes
                    + " bytes; one buffer holds at most " + Integer.MAX_VALUE + " (a single tensor that large cannot be"
                    + " data-parallel trained)");
        }
        return (int) bytes;
    }

    /** A zeroed buffer of {@code length} float32 or float64 elements. */
    public static FlatBuffer of(DataType type, int length) {
        return switch (type) {
            case FLOAT32, FLOAT64 -> new FlatBuffer(type, length);
            default -> throw new IllegalArgumentException("data-parallel training works on float32 or float64 tensors, not "
                    + type + " (float16 models train data-parallel with train.fp16: float32 master weights and loss scaling)");
        };
    }

    /**
     * A buffer over the memory of {@code tensor}, a one-dimensional float32 or float64 CPU tensor (a whole one, or a
     * slice of one with step 1), no copy: libtorch owns the memory and frees it when the tensor is closed, so use the
     * buffer only while the tensor is open. It is for memory that should be freed as soon as its use ends, where
     * {@link #of}'s waits for the garbage collector. (DJL would silently give a copy of a GPU tensor: refused.)
     */
    public static FlatBuffer over(NDArray tensor) {
        DataType type = tensor.getDataType();
        int length = Math.toIntExact(tensor.getShape().size());
        if (tensor.getShape().dimension() != 1 || (type != DataType.FLOAT32 && type != DataType.FLOAT64)
                || !Device.cpu().equals(tensor.getDevice())) {
            throw new IllegalArgumentException("a flat buffer lies over a one-dimensional float32 or float64 CPU tensor,"
                    + " not a " + tensor.getShape() + " " + type + " one on " + tensor.getDevice());
        }
        ByteBuffer memory = length == 0 ? ByteBuffer.allocateDirect(0) : tensor.toByteBuffer(true);
        if (!memory.isDirect() || memory.remaining() != checkedBytes(type, length)) {
            throw new IllegalStateException("DJL gave no direct view of the " + tensor.getShape() + " tensor's memory");
        }
        return new FlatBuffer(type, length, memory.slice());
    }

    public DataType type() {
        return type;
    }

    public int length() {
        return length;
    }

    /** The elements of a float32 buffer, to fill or read; the same memory, not a copy. */
    public FloatBuffer asFloatBuffer() {
        if (type != DataType.FLOAT32) {
            throw new IllegalStateException("this buffer holds " + type + " elements, not float32");
        }
        return memory.duplicate().order(memory.order()).clear().asFloatBuffer();
    }

    /** The elements of a float64 buffer, to fill or read; the same memory, not a copy. */
    public DoubleBuffer asDoubleBuffer() {
        if (type != DataType.FLOAT64) {
            throw new IllegalStateException("this buffer holds " + type + " elements, not float64");
        }
        return memory.duplicate().order(memory.order()).clear().asDoubleBuffer();
    }

    long bytes() {
        return memory.capacity();
    }

    int elementBytes() {
        return elementBytes;
    }

    /** The whole memory, element i at byte {@code elementBytes() * i}, in native byte order. */
    ByteBuffer memory() {
        return memory;
    }

    /** Sets elements {@code [from, to)} to zero. */
    void clear(int from, int to) {
        for (int at = from * elementBytes, end = to * elementBytes; at < end; ) {
            int n = Math.min(ZEROS.length, end - at);     // never past end: at + 64 KiB could overflow an int
            memory.put(at, ZEROS, 0, n);
            at += n;
        }
    }

    /**
     * {@code tensor}'s elements, flattened, into {@code [offset, offset + size)}: one native copy out of the tensor's
     * memory. A tensor that is not contiguous is first made so by DJL, into the tensor's manager.
     */
    void read(NDArray tensor, int offset) {
        checkType(tensor);
        if (tensor.getDataType() != type) {
            try (NDArray wide = tensor.toType(type, false)) {
                read(wide, offset);
            }
            return;
        }
        int bytes = Math.toIntExact(tensor.getShape().size()) * elementBytes;
        if (bytes == 0) {
            return;
        }
        ByteBuffer source = tensor.toByteBuffer(true);
        if (source.remaining() != bytes) {
            throw new IllegalStateException("DJL gave " + source.remaining() + " bytes for a " + tensor.getShape() + " "
                    + type + " tensor, expected " + bytes);
        }
        memory.put(offset * elementBytes, source, source.position(), bytes);
    }

    /**
     * A tensor in {@code manager} over elements {@code [from, to)} of this buffer with {@code shape}, no copy: it sees
     * later writes to the buffer, and writes to it land in the buffer. Use it only while the buffer holds these
     * elements; closing it leaves the buffer's memory alone. (A manager on a GPU gets a copy on the device instead.)
     */
    NDArray view(NDManager manager, int from, int to, Shape shape) {
        ByteBuffer slice = memory.slice(from * elementBytes, (to - from) * elementBytes).order(memory.order());
        return manager.create(slice, shape, type);
    }

    /** A new tensor in {@code manager} holding a copy of elements {@code [from, to)} with {@code shape}. */
    NDArray copy(NDManager manager, int from, int to, Shape shape) {
        try (NDArray view = view(manager, from, to, shape)) {
            return view.duplicate();
        }
    }

    /**
     * Overwrites {@code tensor} in place with elements {@code [offset, offset + size)}: one native copy (a float16
     * tensor gets them rounded to nearest).
     */
    void writeInto(NDArray tensor, int offset, NDManager scratch) {
        checkType(tensor);
        int size = Math.toIntExact(tensor.getShape().size());
        NDArray values = view(scratch, offset, offset + size, tensor.getShape());
        tensor.set(new NDIndex("..."), tensor.getDataType() == type ? values : values.toType(tensor.getDataType(), false));
    }

    /** In place over the first {@code length} elements. */
    void allReduce(Collective collective, int length) {
        collective.allReduce(this, 0, length, Reduction.SUM);
    }

    /** In place over the first {@code length} elements. */
    void reduceScatter(Collective collective, int length) {
        collective.reduceScatter(this, 0, length, Reduction.SUM);
    }

    /** In place over the first {@code length} elements. */
    void allGather(Collective collective, int length) {
        collective.allGather(this, 0, length);
    }

    /** Copies {@code [from, to)} of this buffer to {@code [at, ...)} of {@code target}. */
    void copyTo(int from, int to, FlatBuffer target, int at) {
        target.memory.put(at * elementBytes, memory, from * elementBytes, (to - from) * elementBytes);
    }

    /** Adds {@code [from, to)} of this buffer element-wise into {@code [at, ...)} of {@code target}. */
    void addTo(int from, int to, FlatBuffer target, int at) {
        if (target.type != type) {
            throw new IllegalArgumentException("cannot add " + type + " elements into a " + target.type + " buffer");
        }
        for (int i = from; i < to; i++) {
            int j = at + i - from;
            if (type == DataType.FLOAT32) {
                target.memory.putFloat(j * Float.BYTES, target.memory.getFloat(j * Float.BYTES) + memory.getFloat(i * Float.BYTES));
            } else {
                target.memory.putDouble(j * Double.BYTES, target.memory.getDouble(j * Double.BYTES) + memory.getDouble(i * Double.BYTES));
            }
        }
    }

    double sumOfSquares(int from, int to) {
        double sum = 0;
        for (int i = from; i < to; i++) {
            double x = get(i);
            sum += x * x;
        }
        return sum;
    }

    boolean allFinite(int from, int to) {
        for (int i = from; i < to; i++) {
            if (!Double.isFinite(get(i))) {
                return false;
            }
        }
        return true;
    }

    /** Multiplies {@code [from, to)} by {@code factor}, rounded to the buffer's precision as a tensor op would be. */
    void scale(int from, int to, double factor) {
        if (type == DataType.FLOAT32) {
            float f = (float) factor;
            for (int i = from; i < to; i++) {
                memory.putFloat(i * Float.BYTES, memory.getFloat(i * Float.BYTES) * f);
            }
        } else {
            for (int i = from; i < to; i++) {
                memory.putDouble(i * Double.BYTES, memory.getDouble(i * Double.BYTES) * factor);
            }
        }
    }

    private double get(int i) {
        return type == DataType.FLOAT32 ? memory.getFloat(i * Float.BYTES) : memory.getDouble(i * Double.BYTES);
    }

    private void checkType(NDArray tensor) {
        boolean widened = type == DataType.FLOAT32 && tensor.getDataType() == DataType.FLOAT16;
        if (tensor.getDataType() != type && !widened) {
            throw new IllegalArgumentException("a " + type + " buffer cannot hold a " + tensor.getDataType() + " tensor");
        }
    }
}
