package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.hadoop.yarn.api.records.ApplicationId;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.apache.spark.deploy.yarn.Client;
import org.apache.spark.launcher.JavaModuleOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * sparktune on YARN: a {@link MiniYARNCluster} (a ResourceManager and two NodeManagers, in this JVM, on loopback
 * ports) stands in for the cluster, and {@code sparktune-app.jar} is handed to
 * {@code org.apache.spark.deploy.SparkSubmit} with {@code --master yarn}, as {@code deploy/submit-yarn.sh} does. The
 * submitting JVM reads the cluster from the {@code yarn-site.xml} in its {@code HADOOP_CONF_DIR}; the containers run
 * Spark's own jars where they lie ({@code spark.yarn.jars} as {@code local:} paths: the build's Spark classpath
 * plus spark-yarn), so nothing of sparktune reaches them but the app jar YARN localizes.
 */
@Tag("integration")
class SparkSubmitYarnIT {

    @TempDir
    static Path dir;

    private static MiniYARNCluster yarn;
    private static Path hadoopConf;
    private static Path model;

    @BeforeAll
    static void startYarnWithTwoNodeManagers() throws Exception {
        YarnConfiguration conf = new YarnConfiguration();
        conf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
        conf.setInt(YarnConfiguration.NM_PMEM_MB, 4096);
        conf.setInt(YarnConfiguration.NM_VCORES, 4);
        // the CapacityScheduler's one queue (there is no capacity-scheduler.xml); its ApplicationMasters may take
        // more than the usual tenth of this small cluster
        conf.set("yarn.scheduler.capacity.root.queues", "default");
        conf.setInt("yarn.scheduler.capacity.root.default.capacity", 100);
        conf.setFloat("yarn.scheduler.capacity.maximum-am-resource-percent", 0.5f);
        // the JVMs' reserved virtual memory and a full build disk are no reason to kill a container here
        conf.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, false);
        conf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
        conf.setFloat(YarnConfiguration.NM_MAX_PER_DISK_UTILIZATION_PERCENTAGE, 100.0f);
        yarn = new MiniYARNCluster(SparkSubmitYarnIT.class.getSimpleName(), 1, 2, 1, 1);
        yarn.init(conf);
        yarn.start();
        assertTrue(yarn.waitForNodeManagersToConnect(120_000), "the NodeManagers did not register");

        hadoopConf = Files.createDirectories(dir.resolve("hadoop-conf"));
        try (OutputStream yarnSite = Files.newOutputStream(hadoopConf.resolve("yarn-site.xml"))) {
            yarn.getConfig().writeXml(yarnSite);
        }

        model = SubmittedJob.writeModel(dir.resolve("tiny-llama"));
    }

    @AfterAll
    static void stopYarn() {
        if (yarn != null) {
            yarn.stop();
        }
    }

    @Test
    void clientModePrepThenTrainInYarnExecutorsAndARetryOfTrainDoesNothing() throws Exception {
        Path job = SubmittedJob.write(dir.resolve("client"), model);

        Submission prep = submit("client", "prep", job);
        assertEquals(0, prep.exitCode(), prep.log());
        assertTrue(Files.isRegularFile(dir.resolve("client/tokenized/_SUCCESS")), prep.log());

        Submission train = submit("client", "train", job);
        assertEquals(0, train.exitCode(), train.log());
        assertTrue(train.log().contains("Trained to step 4 "), train.log());
        assertTrue(Files.isRegularFile(dir.resolve("client/run/adapter/adapter_model.safetensors")), train.log());
        assertTrue(train.containerLogs().contains("rank 0 of 2") && train.containerLogs().contains("rank 1 of 2"),
                "both ranks ran in YARN containers: " + train.log());

        Submission retry = submit("client", "train", job);
        assertEquals(0, retry.exitCode(), retry.log());
        assertTrue(retry.log().contains("Nothing left to train"), "a scheduler's retry of a finished train: "
                + retry.log());
    }

    @Test
    void clusterModeRunsTheDriverInAContainerOnTheShippedJobAndPassesOnItsFailure() throws Exception {
        Path job = SubmittedJob.write(dir.resolve("cluster"), model);
        Path bad = SubmittedJob.write(dir.resolve("cluster-bad"), dir.resolve("no-such-model"));

        Submission prep = submit("cluster", "prep", job);
        Submission failing = submit("cluster", "prep", bad);

        assertEquals(0, prep.exitCode(), prep.log());
        assertTrue(Files.isRegularFile(dir.resolve("cluster/tokenized/_SUCCESS")), prep.log());
        assertNotEquals(0, failing.exitCode(), failing.log());
        assertTrue(failing.containerLogs().contains(dir.resolve("no-such-model").toString()),
                "the driver's reason is in its container's log: " + failing.log());
    }

    /**
     * What the submitting JVM printed, and the stdout and stderr of every container of the applications it started
     * (in cluster mode the driver's log is its ApplicationMaster container's).
     */
    private record Submission(int exitCode, String clientLog, String containerLogs) {
        String log() {
            return clientLog + "\n----- container logs -----\n" + containerLogs;
        }
    }

    private static Submission submit(String deployMode, String command, Path job) throws Exception {
        Set<ApplicationId> before = applications();
        Path log = Files.createTempFile(dir, command + "-", ".log");
        String java = System.getProperty("java.home");
        // spark-submit's launcher puts HADOOP_CONF_DIR on the classpath: that is how the client finds the cluster
        List<String> args = new ArrayList<>(List.of(SubmittedJob.java(), "-cp", hadoopConf + ":" + submitClasspath(),
                "org.apache.spark.deploy.SparkSubmit",
                "--master", "yarn", "--deploy-mode", deployMode,
                "--name", "sparktune " + command + " " + job.getFileName(),
                "--class", Sparktune.class.getName(),
                "--conf", "spark.yarn.jars=" + containerJars(),
                "--conf", "spark.yarn.stagingDir=" + dir.resolve("staging").toUri(),
                "--conf", "spark.yarn.maxAppAttempts=1",
                "--conf", "spark.yarn.am.memory=512m",
                "--conf", "spark.yarn.appMasterEnv.JAVA_HOME=" + java,
                "--conf", "spark.executorEnv.JAVA_HOME=" + java,
                "--conf", "spark.yarn.appMasterEnv.SPARK_LOCAL_IP=127.0.0.1",
                "--conf", "spark.executorEnv.SPARK_LOCAL_IP=127.0.0.1",
                "--conf", "spark.driver.memory=1g",
                "--conf", "spark.executor.instances=2",
                "--conf", "spark.executor.memory=1g",
                "--conf", "spark.executor.cores=1",
                "--conf", "spark.dynamicAllocation.enabled=false",
                "--conf", "spark.ui.enabled=false",
                "--conf", "spark.sql.shuffle.partitions=4"));
        if (deployMode.equals("client")) {
            args.addAll(List.of("--conf", "spark.driver.host=127.0.0.1", SubmittedJob.APP_JAR.toString(), command, job.toString()));
        } else {
            // the driver runs in a container and reads the job YAML YARN put in its working directory
            args.addAll(List.of("--files", job.toString(), SubmittedJob.APP_JAR.toString(), command,
                    job.getFileName().toString()));
        }
        ProcessBuilder builder = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = builder.environment();
        env.put("HADOOP_CONF_DIR", hadoopConf.toString());
        env.put("YARN_CONF_DIR", hadoopConf.toString());
        env.put("SPARK_SCALA_VERSION", "2.13");
        env.put("SPARK_LOCAL_IP", "127.0.0.1");
        env.put("JDK_JAVA_OPTIONS", JavaModuleOptions.defaultModuleOptions());
        Process submit = builder.start();
        if (!submit.waitFor(5, TimeUnit.MINUTES)) {
            submit.destroyForcibly();
            throw new AssertionError("spark-submit " + command + " did not finish: " + Files.readString(log));
        }
        Set<ApplicationId> started = applications();
        started.removeAll(before);
        return new Submission(submit.exitValue(), Files.readString(log, StandardCharsets.UTF_8),
                containerLogs(started));
    }

    private static Set<ApplicationId> applications() {
        return new HashSet<>(yarn.getResourceManager().getRMContext().getRMApps().keySet());
    }

    /** NodeManager log dirs hold APPLICATION_ID/CONTAINER_ID/{stdout,stderr}. */
    private static String containerLogs(Set<ApplicationId> applications) throws IOException {
        Set<String> names = applications.stream().map(ApplicationId::toString).collect(Collectors.toSet());
        StringBuilder logs = new StringBuilder();
        try (Stream<Path> files = Files.walk(yarn.getTestWorkDir().toPath())) {
            for (Path file : files.filter(SparkSubmitYarnIT::isContainerOutput).sorted().toList()) {
                if (names.contains(file.getParent().getParent().getFileName().toString())) {
                    logs.append("----- ").append(file.getParent().getFileName()).append('/')
                            .append(file.getFileName()).append('\n')
                            .append(Files.readString(file, StandardCharsets.UTF_8));
                }
            }
        }
        return logs.toString();
    }

    private static boolean isContainerOutput(Path file) {
        String name = file.getFileName().toString();
        return (name.equals("stdout") || name.equals("stderr")) && file.getNameCount() > 2
                && file.getParent().getFileName().toString().startsWith("container_");
    }

    /** The submitting JVM: Spark as a cluster provides it, with spark-yarn, which a YARN build of Spark adds. */
    private static String submitClasspath() throws IOException, URISyntaxException {
        return SubmittedJob.sparkClasspath() + ":" + sparkYarnJar();
    }

    /** The same jars for the containers, read where they lie on this machine, which is every NodeManager's. */
    private static String containerJars() throws IOException, URISyntaxException {
        return Arrays.stream(submitClasspath().split(":")).map(jar -> "local:" + jar)
                .collect(Collectors.joining(","));
    }

    private static String sparkYarnJar() throws URISyntaxException {
        return Path.of(Client.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

}
