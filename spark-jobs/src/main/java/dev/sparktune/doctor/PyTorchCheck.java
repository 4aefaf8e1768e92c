package dev.sparktune.doctor;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.Utils;

/** DJL's PyTorch engine loads libtorch from the jar on the classpath, with downloads forbidden, and computes. */
public final class PyTorchCheck {
    private PyTorchCheck() {
    }

    public static CheckResult run() {
        String name = "PyTorch";
        if (System.getProperty("ai.djl.offline") == null) {
            // libtorch must come from the pytorch-native jar; forbid DJL's fallback download.
            System.setProperty("ai.djl.offline", "true");
        }
        try {
            Engine engine = Engine.getEngine("PyTorch");
            float product;
            try (NDManager manager = engine.newBaseManager()) {
                NDArray a = manager.arange(4f).reshape(2, 2);
                product = a.matMul(a).sum().getFloat();
            }
            // [[0,1],[2,3]]^2 = [[2,3],[6,11]]
            if (product != 22f) {
                return CheckResult.fail(name, "libtorch computed a wrong 2x2 matrix product (sum " + product + ", expected 22)",
                        "the native library is broken: reinstall it (clear ~/.djl.ai and rebuild)");
            }
            String gpus = engine.getGpuCount() == 0 ? "CPU only" : engine.getGpuCount() + " GPU(s)";
            return CheckResult.pass(name, engine.getVersion() + " via DJL " + Engine.getDjlVersion()
                    + (Utils.isOfflineMode() ? ", offline" : "")
                    + "; " + JniUtils.getNumThreads() + " intra-op / " + JniUtils.getNumInteropThreads()
                    + " inter-op threads; " + gpus + "; libtorch in " + LibUtils.getLibtorchPath());
        } catch (Throwable e) {
            return CheckResult.fail(name, "the PyTorch engine did not load: " + e,
                    "put ai.djl.pytorch:pytorch-jni and ai.djl.pytorch:pytorch-native-cpu (classifier linux-x86_64)"
                            + " on the classpath (the app jar has them); on GPU hosts set PYTORCH_LIBRARY_PATH"
                            + " to a libtorch install (see deploy/)");
        }
    }
}
