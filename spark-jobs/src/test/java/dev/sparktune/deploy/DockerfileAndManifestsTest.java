package dev.sparktune.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.cli.Sparktune;
import dev.sparktune.training.ClusterPreflight;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The container image, the Kubernetes manifests and the Spark properties of deploy/ agree with the build and with
 * what training needs: hadolint is not in Debian, so the Dockerfile's checks are these and the manual one in
 * deploy/README.md.
 */
class DockerfileAndManifestsTest {
    private static final Path DOCKERFILE = DeployFiles.DEPLOY.resolve("docker/Dockerfile");
    private static final Path SPARK_APPLICATION = DeployFiles.DEPLOY.resolve("k8s/sparkapplication.yaml");
    private static final Pattern FROM = Pattern.compile("(?m)^FROM\\s+(\\S+)(?:\\s+AS\\s+(\\S+))?\\s*$");
    private static final Pattern COPY_JAR = Pattern.compile("(?m)^COPY\\s+(?:--\\S+\\s+)*(\\S+\\.jar)\\s+(\\S+)\\s*$");
    /** The dist.world_size the comments of deploy/conf/*.conf size the executors for. */
    private static final int DOCUMENTED_RANKS = 4;

    /** Where the Dockerfile puts the app jar inside the image. */
    static String jarInImage() {
        Matcher copy = COPY_JAR.matcher(DeployFiles.read(DOCKERFILE));
        assertTrue(copy.find(), DOCKERFILE + " copies no jar");
        return copy.group(2);
    }

    @Test
    void dockerfileBuildsOnTheSparkImageOfThePomsSparkVersion() {
        List<String> images = new ArrayList<>();
        List<String> stages = new ArrayList<>();
        Matcher from = FROM.matcher(DeployFiles.read(DOCKERFILE));
        while (from.find()) {
            if (!stages.contains(from.group(1))) {
                images.add(from.group(1));
            }
            if (from.group(2) != null) {
                stages.add(from.group(2));
            }
        }
        String tag = "apache/spark:" + DeployFiles.sparkVersion() + "-scala" + DeployFiles.scalaBinaryVersion()
                + "-java17-";
        assertFalse(images.isEmpty(), "no FROM in " + DOCKERFILE);
        for (String image : images) {
            assertTrue(image.startsWith(tag), image + " is not the official Spark image of the pom's Spark ("
                    + tag + "...)");
        }
        assertEquals("cpu", stages.get(stages.size() - 1), "the default target (the last stage) should be cpu");
        assertTrue(stages.contains("cuda"), "no cuda stage: " + stages);
    }

    @Test
    void dockerfileCopiesTheJarTheBuildWritesAndTheContextLetsItThrough() {
        Matcher copy = COPY_JAR.matcher(DeployFiles.read(DOCKERFILE));
        assertTrue(copy.find(), DOCKERFILE + " copies no jar");
        String built = "spark-jobs/target/" + DeployFiles.appJarName();
        assertEquals(built, copy.group(1));
        assertEquals("/opt/sparktune/" + DeployFiles.appJarName(), copy.group(2));
        assertTrue(DeployFiles.read(DOCKERFILE.resolveSibling("Dockerfile.dockerignore")).lines()
                .anyMatch(line -> line.equals("!" + built)), "Dockerfile.dockerignore keeps " + built + " out");
    }

    @Test
    void kubernetesFilesParseAndTheGpuTemplateAsksForAGpuNode() throws IOException {
        try (Stream<Path> files = Files.list(DeployFiles.DEPLOY.resolve("k8s"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).toList()) {
                Map<String, Object> manifest = new Yaml().load(DeployFiles.read(file));
                assertTrue(manifest.containsKey("apiVersion") && manifest.containsKey("kind"), file.toString());
            }
        }
        Map<String, Object> executor = new Yaml().load(DeployFiles.read(
                DeployFiles.DEPLOY.resolve("k8s/executor-gpu-pod-template.yaml")));
        assertEquals("Pod", executor.get("kind"));
        assertEquals(1, at(executor, "spec", "containers", 0, "resources", "limits", "nvidia.com/gpu"));
        assertEquals("nvidia.com/gpu", at(executor, "spec", "tolerations", 0, "key"));
        Map<String, Object> driver = new Yaml().load(DeployFiles.read(
                DeployFiles.DEPLOY.resolve("k8s/driver-pod-template.yaml")));
        assertEquals("Pod", driver.get("kind"));
    }

    @Test
    void sparkApplicationHasWhatTheOperatorNeeds() {
        Map<String, Object> app = new Yaml().load(DeployFiles.read(SPARK_APPLICATION));
        assertEquals("sparkoperator.k8s.io/v1beta2", app.get("apiVersion"));
        assertEquals("SparkApplication", app.get("kind"));
        assertEquals("Java", at(app, "spec", "type"));
        assertEquals(Sparktune.class.getName(), at(app, "spec", "mainClass"));
        assertEquals("local://" + jarInImage(), at(app, "spec", "mainApplicationFile"));
        assertEquals(DeployFiles.sparkVersion(), at(app, "spec", "sparkVersion"));
        assertEquals(false, at(app, "spec", "dynamicAllocation", "enabled"));

        @SuppressWarnings("unchecked")
        List<String> arguments = (List<String>) at(app, "spec", "arguments");
        CliArguments.check(arguments, SPARK_APPLICATION.toString());
        // the job comes from the ConfigMap the driver template mounts
        String mount = (String) at(app, "spec", "driver", "template", "spec", "containers", 0, "volumeMounts", 0,
                "mountPath");
        assertEquals(Path.of(mount), Path.of(arguments.get(1)).getParent());

        @SuppressWarnings("unchecked")
        Map<String, Object> sparkConf = (Map<String, Object>) at(app, "spec", "sparkConf");
        SparkConf conf = new SparkConf(false);
        sparkConf.forEach((k, v) -> conf.set(k, String.valueOf(v)));
        conf.set("spark.dynamicAllocation.enabled", String.valueOf(at(app, "spec", "dynamicAllocation", "enabled")));
        assertTrainingAccepts(conf, SPARK_APPLICATION.toString());
    }

    @Test
    void sparkPropertiesRunABarrierStageOfTheDocumentedRanks() throws IOException {
        for (String name : List.of("spark-cpu.conf", "spark-gpu.conf")) {
            Path file = DeployFiles.DEPLOY.resolve("conf").resolve(name);
            Properties properties = new Properties();
            try (Reader reader = Files.newBufferedReader(file)) {
                properties.load(reader);
            }
            SparkConf conf = new SparkConf(false);
            properties.stringPropertyNames().forEach(k -> conf.set(k, properties.getProperty(k).trim()));
            assertTrainingAccepts(conf, file.toString());

            int slotsPerExecutor = conf.getInt("spark.executor.cores", 1) / conf.getInt("spark.task.cpus", 1);
            if (conf.contains("spark.task.resource.gpu.amount")) {
                slotsPerExecutor = Math.min(slotsPerExecutor, (int) (conf.getDouble("spark.executor.resource.gpu.amount",
                        0) / conf.getDouble("spark.task.resource.gpu.amount", 1)));
                assertTrue(conf.contains("spark.executor.resource.gpu.discoveryScript"), name);
            }
            assertEquals(DOCUMENTED_RANKS, conf.getInt("spark.executor.instances", 0) * slotsPerExecutor,
                    name + ": the slots its comments promise");
        }
    }

    private static void assertTrainingAccepts(SparkConf conf, String where) {
        assertEquals(List.of(), ClusterPreflight.configurationProblems(conf), where);
        assertNull(ClusterPreflight.barrierTimeoutWarning(conf), where);
    }

    /** The value at a path of map keys and list indices in parsed YAML. */
    private static Object at(Object node, Object... path) {
        Object current = node;
        for (Object step : path) {
            assertTrue(current != null, "nothing at " + List.of(path));
            current = step instanceof Integer i ? ((List<?>) current).get(i) : ((Map<?, ?>) current).get(step);
        }
        return current;
    }
}
