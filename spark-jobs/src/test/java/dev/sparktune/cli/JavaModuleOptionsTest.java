package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.spark.launcher.JavaModuleOptions;
import org.junit.jupiter.api.Test;

/** The Java 17 options in the parent pom (used by the tests and bin/sparktune) are Spark's own list. */
class JavaModuleOptionsTest {

    @Test
    void pomListEqualsTheListSparkSubmitPasses() {
        String fromPom = System.getProperty("sparktune.java17.options");
        assertEquals(JavaModuleOptions.defaultModuleOptions(), fromPom,
                "update <spark.java17.options> in pom.xml to Spark's JavaModuleOptions.defaultModuleOptions()");
    }
}
