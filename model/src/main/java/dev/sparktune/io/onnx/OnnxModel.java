package dev.sparktune.io.onnx;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of an ONNX model ({@code onnx.proto} ModelProto) an importer needs: the graph's
 * initializers (the weights) and its nodes. The file is memory-mapped; tensors are slices of it.
 */
public final class OnnxModel {
    private final Map<String, Tensor> initializers;
    private final List<Node> nodes;
    private final String producer;

    /** An ONNX TensorProto: {@code dataType} is ONNX's enum (1 float, 7 int64, ...); {@code data} little-endian. */
    public record Tensor(String name, long[] dims, int dataType, ByteBuffer data) {
        public static final int FLOAT = 1;
        public static final int INT64 = 7;

        public long elementCount() {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            return n;
        }
    }

    /** An ONNX NodeProto; {@code value} is the tensor of a Constant node, else null. */
    public record Node(String name, String opType, List<String> inputs, List<String> outputs, Tensor value) {
    }

    private OnnxModel(Map<String, Tensor> initializers, List<Node> nodes, String producer) {
        this.initializers = initializers;
        this.nodes = nodes;
        this.producer = producer;
    }

    public static OnnxModel read(Path file) {
        ByteBuffer bytes;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            if (channel.size() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(file + ": ONNX files over 2 GiB keep weights as external data,"
                        + " which this importer does not read");
            }
            bytes = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read", e);
        }
        try {
            return parse(bytes);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a readable ONNX model (" + e.getMessage() + ")", e);
        }
    }

    public Map<String, Tensor> initializers() {
        return initializers;
    }

    public List<Node> nodes() {
        return nodes;
    }

    /** "pytorch 2.0.1" and the like: who exported the file. */
    public String producer() {
        return producer;
    }

    /** The node that produces {@code output}, or null for a graph input or initializer. */
    public Node producerOf(String output) {
        for (Node n : nodes) {
            if (n.outputs().contains(output)) {
                return n;
            }
        }
        return null;
    }

    public Node node(String name) {
        return nodes.stream().filter(n -> n.name().equals(name)).findFirst().orElse(null);
    }

    private static OnnxModel parse(ByteBuffer bytes) {
        ProtobufReader model = new ProtobufReader(bytes);
        ByteBuffer graph = null;
        String producer = "";
        String version = "";
        while (model.next()) {
            switch (model.field()) {
                case 2 -> producer = model.string();
                case 3 -> version = model.string();
                case 7 -> graph = model.bytes();
                default -> model.skip();
            }
        }
        if (graph == null) {
            throw new IllegalStateException("no graph");
        }
        Map<String, Tensor> initializers = new LinkedHashMap<>();
        List<Node> nodes = new ArrayList<>();
        ProtobufReader g = new ProtobufReader(graph);
        while (g.next()) {
            switch (g.field()) {
                case 1 -> nodes.add(node(g.bytes()));
                case 5 -> {
                    Tensor t = tensor(g.bytes());
                    initializers.put(t.name(), t);
                }
                default -> g.skip();
            }
        }
        return new OnnxModel(initializers, nodes, (producer + " " + version).trim());
    }

    private static Node node(ByteBuffer bytes) {
        ProtobufReader r = new ProtobufReader(bytes);
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        String name = "";
        String op = "";
        Tensor value = null;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> inputs.add(r.string());
                case 2 -> outputs.add(r.string());
                case 3 -> name = r.string();
                case 4 -> op = r.string();
                case 5 -> {
                    Tensor t = tensorAttribute(r.bytes(), "value");
                    value = t != null ? t : value;
                }
                default -> r.skip();
            }
        }
        return new Node(name, op, inputs, outputs, value);
    }

    /** The tensor of an AttributeProto named {@code wanted}, or null. */
    private static Tensor tensorAttribute(ByteBuffer bytes, String wanted) {
        ProtobufReader r = new ProtobufReader(bytes);
        String name = "";
        Tensor t = null;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> name = r.string();
                case 5 -> t = tensor(r.bytes());
                default -> r.skip();
            }
        }
        return name.equals(wanted) ? t : null;
    }

    private static Tensor tensor(ByteBuffer bytes) {
        ProtobufReader r = new ProtobufReader(bytes);
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        String name = "";
        ByteBuffer raw = null;
        ByteBuffer floats = null;
        List<Long> int64s = new ArrayList<>();
        while (r.next()) {
            switch (r.field()) {
                case 1 -> r.int64s(dims::add);
                case 2 -> dataType = (int) r.varint();
                case 4 -> floats = r.wireType() == ProtobufReader.LENGTH_DELIMITED ? r.bytes() : null;
                case 7 -> r.int64s(int64s::add);
                case 8 -> name = r.string();
                case 9 -> raw = r.bytes();
                case 13, 14 -> throw new IllegalStateException("tensor '" + name + "' uses external data, which is not supported");
                default -> r.skip();
            }
        }
        ByteBuffer data = raw != null ? raw : floats;
        if (data == null && !int64s.isEmpty()) {
            data = ByteBuffer.allocate(8 * int64s.size()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (long v : int64s) {
                data.putLong(v);
            }
            data.flip();
        }
        return new Tensor(name, dims.stream().mapToLong(Long::longValue).toArray(), dataType,
                data == null ? ByteBuffer.allocate(0) : data);
    }
}
