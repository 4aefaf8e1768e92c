package dev.sparktune.doctor;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.spark.launcher.JavaModuleOptions;

/** Java is 17 or newer and opens the JDK packages Spark reflects into. */
public final class JavaCheck {
    private JavaCheck() {
    }

    public static CheckResult run() {
        String name = "Java";
        Runtime.Version version = Runtime.version();
        String vendor = System.getProperty("java.vendor");
        if (version.feature() < 17) {
            return CheckResult.fail(name, version + " (" + vendor + ")", "use Java 17 or newer (set JAVA_HOME)");
        }
        List<String> closed = closedPackages();
        if (!closed.isEmpty()) {
            return CheckResult.fail(name, version + " (" + vendor + "), but Spark cannot reach " + String.join(", ", closed),
                    "run through bin/sparktune or spark-submit, which pass Spark's --add-opens list;"
                            + " elsewhere pass the options of org.apache.spark.launcher.JavaModuleOptions");
        }
        return CheckResult.pass(name, version + " (" + vendor + "), Spark's module opens in place");
    }

    /** The {@code module/package} entries of Spark's --add-opens list that are not open to us. */
    private static List<String> closedPackages() {
        Module us = JavaCheck.class.getModule();
        List<String> closed = new ArrayList<>();
        for (String option : JavaModuleOptions.defaultModuleOptions().split("\\s+")) {
            if (!option.startsWith("--add-opens=")) {
                continue;
            }
            String target = option.substring("--add-opens=".length());  // java.base/java.lang=ALL-UNNAMED
            target = target.substring(0, target.indexOf('='));
            String moduleName = target.substring(0, target.indexOf('/'));
            String pkg = target.substring(target.indexOf('/') + 1);
            Optional<Module> module = ModuleLayer.boot().findModule(moduleName);
            if (module.isPresent() && !module.get().isOpen(pkg, us)) {
                closed.add(target);
            }
        }
        return closed;
    }
}
