package dev.sparktune.io.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Reads Protocol Buffers wire format, field by field: just enough to walk an ONNX model
 * without generated classes. A length-delimited field is returned as a slice of the same
 * buffer, so tensors are never copied.
 */
final class ProtobufReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final ByteBuffer buffer;
    private int field;
    private int wireType;

    ProtobufReader(ByteBuffer buffer) {
        this.buffer = buffer.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Advances to the next field; false at the end of the message. */
    boolean next() {
        if (!buffer.hasRemaining()) {
            return false;
        }
        long key = varint();
        field = (int) (key >>> 3);
        wireType = (int) (key & 7);
        return true;
    }

    int field() {
        return field;
    }

    int wireType() {
        return wireType;
    }

    long varint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte b = buffer.get();
            result |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw new IllegalStateException("malformed varint");
    }

    ByteBuffer bytes() {
        int length = (int) varint();
        if (length < 0 || length > buffer.remaining()) {
            throw new IllegalStateException("field " + field + " claims " + length + " bytes, " + buffer.remaining() + " left");
        }
        ByteBuffer slice = buffer.slice().limit(length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.position(buffer.position() + length);
        return slice;
    }

    String string() {
        ByteBuffer b = bytes();
        byte[] raw = new byte[b.remaining()];
        b.get(raw);
        return new String(raw, StandardCharsets.UTF_8);
    }

    /** Skips the current field's value. */
    void skip() {
        switch (wireType) {
            case VARINT -> varint();
            case FIXED64 -> buffer.position(buffer.position() + 8);
            case LENGTH_DELIMITED -> bytes();
            case FIXED32 -> buffer.position(buffer.position() + 4);
            default -> throw new IllegalStateException("unsupported wire type " + wireType + " for field " + field);
        }
    }

    /** A repeated int64 field, packed or not; calls {@code sink} for each value of the current occurrence. */
    void int64s(java.util.function.LongConsumer sink) {
        if (wireType == LENGTH_DELIMITED) {
            ProtobufReader packed = new ProtobufReader(bytes());
            while (packed.buffer.hasRemaining()) {
                sink.accept(packed.varint());
            }
        } else {
            sink.accept(varint());
        }
    }
}
