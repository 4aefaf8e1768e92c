package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.launcher.JavaModuleOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * sparktune as a cluster runs it: a Spark standalone master and two workers, each its own JVM started from the
 * build's Spark classpath (no Spark install), and {@code sparktune-app.jar} handed to
 * {@code org.apache.spark.deploy.SparkSubmit} (what {@code spark-submit} runs) in client mode, so executors get the
 * app jar from the driver, as on a real cluster, and nothing of sparktune is on their classpath otherwise.
 */
@Tag("integration")
class SparkSubmitStandaloneIT {
    private static final Duration START = Duration.ofMinutes(2);

    @TempDir
    static Path dir;

    private static final List<Process> daemons = new ArrayList<>();
    private static String masterUrl;
    private static Path model;

    @BeforeAll
    static void startMasterAndTwoWorkers() throws Exception {
        Path sparkHome = sparkHome(dir.resolve("spark-home"));
        int masterPort = freePort();
        int masterUi = freePort();
        masterUrl = "spark://127.0.0.1:" + masterPort;
        daemons.add(daemon(sparkHome, "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                "--port", Integer.toString(masterPort), "--webui-port", Integer.toString(masterUi)));
        for (int w = 1; w <= 2; w++) {
            daemons.add(daemon(sparkHome, "worker-" + w, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                    "--cores", "1", "--memory", "1536m", "--webui-port", Integer.toString(freePort()),
                    "--work-dir", Files.createDirectories(dir.resolve("work-" + w)).toString(), masterUrl));
        }
        awaitAliveWorkers(masterUi, 2);
        model = SubmittedJob.writeModel(dir.resolve("tiny-llama"));
    }

    @AfterAll
    static void stopTheCluster() throws InterruptedException {
        for (Process daemon : daemons) {
            daemon.destroy();
        }
        for (Process daemon : daemons) {
            if (!daemon.waitFor(30, TimeUnit.SECONDS)) {
                daemon.destroyForcibly();
            }
        }
    }

    @Test
    void prepTrainEvalAndExportOnTheWorkersExecutorsAndARetryOfTrainDoesNothing() throws Exception {
        Path job = SubmittedJob.write(dir.resolve("good"), model);

        Submission prep = submit("prep", job);
        assertEquals(0, prep.exitCode(), prep.log());
        assertTrue(Files.isRegularFile(dir.resolve("good/tokenized/_SUCCESS")), prep.log());

        Submission train = submit("train", job);
        assertEquals(0, train.exitCode(), train.log());
        assertTrue(train.log().contains("Trained to step 4 "), train.log());
        assertTrue(Files.isRegularFile(dir.resolve("good/run/adapter/adapter_model.safetensors")), train.log());
        String executorLogs = executorLogs();
        assertTrue(executorLogs.contains("rank 0 of 2") && executorLogs.contains("rank 1 of 2"),
                "both ranks ran in the workers' executors: " + executorLogs);

        Submission retry = submit("train", job);
        assertEquals(0, retry.exitCode(), retry.log());
        assertTrue(retry.log().contains("Nothing left to train"), "a scheduler's retry of a finished train: "
                + retry.log());

        Submission evalAndExport = submit("run", job, "--steps", "eval,export");
        assertEquals(0, evalAndExport.exitCode(), evalAndExport.log());
        assertTrue(Files.isRegularFile(dir.resolve("good/run/eval/eval_results.json")), evalAndExport.log());
        assertTrue(Files.isRegularFile(dir.resolve("good/merged/model.safetensors")), evalAndExport.log());
    }

    @Test
    void aFailingJobExitsNonZeroWithItsReasonInTheDriverLog() throws Exception {
        Path job = SubmittedJob.write(dir.resolve("bad"), dir.resolve("no-such-model"));

        Submission prep = submit("prep", job);

        assertNotEquals(0, prep.exitCode(), prep.log());
        assertTrue(prep.log().contains(dir.resolve("no-such-model").toString()), prep.log());
    }

    private record Submission(int exitCode, String log) {
    }

    private static Submission submit(String command, Path job, String... options) throws Exception {
        Path log = Files.createTempFile(dir, command + "-", ".log");
        List<String> args = new ArrayList<>(List.of(SubmittedJob.java(), "-cp", SubmittedJob.sparkClasspath(), "org.apache.spark.deploy.SparkSubmit",
                "--master", masterUrl, "--deploy-mode", "client",
                "--class", Sparktune.class.getName(),
                "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.ui.enabled=false",
                "--conf", "spark.executor.memory=1g",
                "--conf", "spark.executor.cores=1",
                "--conf", "spark.cores.max=2",
                "--conf", "spark.dynamicAllocation.enabled=false",
                "--conf", "spark.sql.shuffle.partitions=4",
                SubmittedJob.APP_JAR.toString(), command, job.toString()));
        args.addAll(List.of(options));
        ProcessBuilder builder = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(log.toFile());
        environment(builder.environment());
        Process submit = builder.start();
        assertTrue(submit.waitFor(5, TimeUnit.MINUTES), "spark-submit " + command + " did not finish");
        return new Submission(submit.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    /** The stderr of every executor the workers started (work-N/app-.../executor-id/stderr). */
    private static String executorLogs() throws IOException {
        StringBuilder logs = new StringBuilder();
        for (int w = 1; w <= 2; w++) {
            try (var files = Files.walk(dir.resolve("work-" + w))) {
                for (Path stderr : files.filter(f -> f.getFileName().toString().equals("stderr")).toList()) {
                    logs.append(Files.readString(stderr, StandardCharsets.UTF_8));
                }
            }
        }
        return logs.toString();
    }

    private static Process daemon(Path sparkHome, String name, String mainClass, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(SubmittedJob.java(), "-Xmx512m", "-cp", SubmittedJob.sparkClasspath(), mainClass));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        environment(builder.environment());
        builder.environment().put("SPARK_HOME", sparkHome.toString());
        return builder.start();
    }

    /** What every JVM of the cluster needs, the executors the workers start included (they inherit it). */
    private static void environment(Map<String, String> env) {
        env.put("SPARK_SCALA_VERSION", "2.13");
        env.put("SPARK_LOCAL_IP", "127.0.0.1");
        env.put("JDK_JAVA_OPTIONS", JavaModuleOptions.defaultModuleOptions());
    }

    /** A SPARK_HOME whose jars/ holds Spark's own classpath and nothing of sparktune: workers start executors on it. */
    private static Path sparkHome(Path home) throws IOException {
        Path jars = Files.createDirectories(home.resolve("jars"));
        String[] classpath = SubmittedJob.sparkClasspath().split(":");
        for (int i = 0; i < classpath.length; i++) {
            Path jar = Path.of(classpath[i]);
            Files.createSymbolicLink(jars.resolve(String.format("%03d-%s", i, jar.getFileName())), jar);
        }
        return home;
    }

    private static void awaitAliveWorkers(int masterUi, int workers) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest state = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + masterUi + "/json/"))
                .timeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + START.toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                last = http.send(state, HttpResponse.BodyHandlers.ofString()).body();
                if (last.replace(" ", "").contains("\"aliveworkers\":" + workers)) {
                    return;
                }
            } catch (IOException notUpYet) {
                last = notUpYet.toString();
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("the standalone master did not see " + workers + " workers within " + START
                + "; last state: " + last + "; logs in " + dir);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

}
