package dev.sparktune.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonParser;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class OpProfileTest {

    @Test
    void selfTimeIsAnOpsDurationLessItsChildrensOnItsOwnThread() {
        // thread 1: linear [0, 100) calls addmm [10, 90), which calls copy_ [20, 30); then add [100, 105)
        // thread 2: a linear [0, 40) with no children: other threads never nest
        String trace = """
                [{"name": "aten::linear", "ts": 0, "dur": 100, "tid": 1},
                 {"name": "aten::copy_", "ts": 20, "dur": 10, "tid": 1},
                 {"name": "aten::addmm", "ts": 10, "dur": 80, "tid": 1},
                 {"name": "aten::add", "ts": 100, "dur": 5, "tid": 1},
                 {"name": "aten::linear", "ts": 0, "dur": 40, "tid": 2}]
                """;
        List<OpProfile.Op> ops = OpProfile.selfTimes(JsonParser.parseString(trace).getAsJsonArray());
        Map<String, OpProfile.Op> byName = ops.stream().collect(Collectors.toMap(OpProfile.Op::name, op -> op));
        assertEquals(70e-6, byName.get("aten::addmm").selfSeconds(), 1e-12);
        assertEquals(10e-6, byName.get("aten::copy_").selfSeconds(), 1e-12);
        assertEquals(5e-6, byName.get("aten::add").selfSeconds(), 1e-12);
        assertEquals(20e-6 + 40e-6, byName.get("aten::linear").selfSeconds(), 1e-12, "20 on thread 1, 40 on 2");
        assertEquals(2, byName.get("aten::linear").calls());
        assertEquals("aten::addmm", ops.get(0).name(), "the largest self time first");
        assertEquals(145e-6, new OpProfile(1.0, 1, ops).inOpsSeconds(), 1e-12, "every microsecond counted once");
    }

    @Test
    void libtorchsProfilerSeesTheMatmulsOfTheProfiledWork() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray a = manager.randomNormal(new Shape(256, 256));
            OpProfile profile = OpProfile.record(2, () -> {
                for (int i = 0; i < 6; i++) {
                    a.matMul(a).close();
                }
            });
            OpProfile.Op matmul = profile.ops().stream().filter(op -> op.name().equals("aten::mm")
                    || op.name().equals("aten::matmul")).findFirst().orElseThrow(() -> new AssertionError(
                    "no matmul among " + profile.ops()));
            assertTrue(matmul.calls() >= 6, matmul.toString());
            assertTrue(profile.inOpsSeconds() > 0 && profile.inOpsSeconds() <= profile.wallSeconds(),
                    profile.inOpsSeconds() + " s in ops of " + profile.wallSeconds());
            assertTrue(profile.callsPerStep() >= 3, "6 matmuls over 2 steps");
        }
    }
}
