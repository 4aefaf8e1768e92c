package dev.sparktune.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sparktune.cli.Sparktune;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The deploy/*.sh scripts: bash -n and shellcheck pass on each (.ci/run installs shellcheck), and each hands
 * spark-submit the CLI's command line with what its cluster manager needs. No cluster runs here, so the last check
 * puts a stub spark-submit first on PATH that prints the arguments it was given.
 */
class DeployScriptsTest {

    @Test
    void everyScriptPassesBashSyntaxCheck() throws IOException {
        for (Path script : scripts()) {
            HostCommand checked = HostCommand.run(List.of("bash", "-n", script.toString()));
            assertEquals(0, checked.exitCode(), script + " has a syntax error:\n" + checked.output());
        }
    }

    @Test
    void everyScriptPassesShellcheck() throws IOException {
        if (!HostCommand.available("shellcheck")) {
            fail("shellcheck is not installed: .ci/run installs the Debian package (apt-get install shellcheck)");
        }
        for (Path script : scripts()) {
            HostCommand checked = HostCommand.run(List.of("shellcheck", "--external-sources", script.toString()));
            assertEquals(0, checked.exitCode(), "shellcheck " + script + ":\n" + checked.output());
        }
    }

    @Test
    void yarnShipsTheJobYamlAndTheDriverReadsItByItsBaseNameWithAStubSparkSubmit(@TempDir Path dir) throws IOException {
        Path job = Files.writeString(dir.resolve("lora.yaml"), "train: {output_dir: out}\n");
        List<String> submitted = submit(dir, "submit-yarn.sh", Map.of(), "train", job.toString(),
                DeployFiles.DEPLOY.resolve("conf/spark-cpu.conf").toString(), "--set", "train.output_dir=hdfs:///r/1");

        assertEquals("yarn", valueOf(submitted, "--master"));
        assertEquals("cluster", valueOf(submitted, "--deploy-mode"));
        assertEquals(job.toString(), valueOf(submitted, "--files"));
        assertEquals(List.of("train", "lora.yaml", "--set", "train.output_dir=hdfs:///r/1"), application(submitted));
        assertTrue(submitted.contains("--load-spark-defaults"), "the cluster's spark-defaults.conf is dropped");

        List<String> client = submit(dir, "submit-yarn.sh", Map.of("DEPLOY_MODE", "client"), "prep", job.toString(),
                DeployFiles.DEPLOY.resolve("conf/spark-cpu.conf").toString());
        assertEquals(List.of("prep", job.toString()), application(client), "in client mode the driver reads it here");
    }

    @Test
    void kubernetesRunsTheJarInTheImageWithTheGpuTemplateOnlyForGpusWithAStubSparkSubmit(@TempDir Path dir)
            throws IOException {
        Map<String, String> env = Map.of("K8S_MASTER", "k8s://https://127.0.0.1:6443", "SPARKTUNE_IMAGE", "sparktune:t");
        List<String> gpu = submit(dir, "submit-k8s.sh", env, "run", "s3a://jobs/lora.yaml",
                DeployFiles.DEPLOY.resolve("conf/spark-gpu.conf").toString());

        assertEquals("k8s://https://127.0.0.1:6443", valueOf(gpu, "--master"));
        assertEquals("cluster", valueOf(gpu, "--deploy-mode"));
        assertEquals("s3a://jobs/lora.yaml", valueOf(gpu, "--files"));
        assertEquals(List.of("run", "lora.yaml"), application(gpu));
        assertEquals("local://" + DockerfileAndManifestsTest.jarInImage(), gpu.get(gpu.indexOf(Sparktune.class.getName()) + 1));
        Map<String, String> conf = confs(gpu);
        assertEquals("sparktune:t", conf.get("spark.kubernetes.container.image"));
        for (String template : List.of("spark.kubernetes.driver.podTemplateFile",
                "spark.kubernetes.executor.podTemplateFile")) {
            assertTrue(conf.containsKey(template) && Files.isRegularFile(Path.of(conf.get(template))),
                    template + " " + conf.get(template));
        }

        List<String> cpu = submit(dir, "submit-k8s.sh", env, "run", "s3a://jobs/lora.yaml",
                DeployFiles.DEPLOY.resolve("conf/spark-cpu.conf").toString());
        assertFalse(confs(cpu).containsKey("spark.kubernetes.executor.podTemplateFile"),
                "CPU executors must not ask for GPU nodes");
    }

    @Test
    void standaloneRunsTheDriverHereWithAStubSparkSubmit(@TempDir Path dir) throws IOException {
        Path job = Files.writeString(dir.resolve("lora.yaml"), "train: {output_dir: out}\n");
        List<String> submitted = submit(dir, "submit-standalone.sh", Map.of("SPARK_MASTER", "spark://127.0.0.1:7077"),
                "eval", job.toString(), DeployFiles.DEPLOY.resolve("conf/spark-cpu.conf").toString(), "--split", "test");

        assertEquals("spark://127.0.0.1:7077", valueOf(submitted, "--master"));
        assertEquals("client", valueOf(submitted, "--deploy-mode"));
        assertEquals(List.of("eval", job.toString(), "--split", "test"), application(submitted));
    }

    @Test
    void aCommandThatIsNotASparkJobIsRefusedWithAStubSparkSubmit(@TempDir Path dir) throws IOException {
        Path job = Files.writeString(dir.resolve("lora.yaml"), "train: {output_dir: out}\n");
        HostCommand refused = HostCommand.run(List.of(DeployFiles.DEPLOY.resolve("submit-yarn.sh").toString(), "serve",
                job.toString(), DeployFiles.DEPLOY.resolve("conf/spark-cpu.conf").toString()), dir, stubPath(dir));
        assertEquals(2, refused.exitCode(), refused.output());
        assertTrue(refused.output().contains("'serve' is not a Spark job"), refused.output());
    }

    private static List<Path> scripts() throws IOException {
        try (Stream<Path> files = Files.walk(DeployFiles.DEPLOY)) {
            List<Path> scripts = files.filter(f -> f.toString().endsWith(".sh")).sorted().toList();
            assertTrue(scripts.size() >= 4, "deploy/ lost its scripts: " + scripts);
            return scripts;
        }
    }

    /** Runs a deploy script with the stub spark-submit first on PATH; returns the arguments spark-submit got. */
    private static List<String> submit(Path dir, String script, Map<String, String> env, String... arguments)
            throws IOException {
        List<String> command = new ArrayList<>(List.of(DeployFiles.DEPLOY.resolve(script).toString()));
        command.addAll(List.of(arguments));
        Map<String, String> environment = new HashMap<>(stubPath(dir));
        environment.putAll(env);
        HostCommand run = HostCommand.run(command, dir, environment);
        assertEquals(0, run.exitCode(), script + " failed:\n" + run.output());
        List<String> submitted = run.output().lines().toList();
        CliArguments.check(application(submitted), script);
        return submitted;
    }

    private static Map<String, String> stubPath(Path dir) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path stub = bin.resolve("spark-submit");
        Files.writeString(stub, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
        stub.toFile().setExecutable(true);
        return Map.of("PATH", bin + ":" + System.getenv("PATH"));
    }

    /** What follows the app jar: the sparktune command line. */
    private static List<String> application(List<String> submitted) {
        int main = submitted.indexOf(Sparktune.class.getName());
        assertTrue(main > 0 && submitted.get(main - 1).equals("--class"), "no --class " + Sparktune.class.getName()
                + " in " + submitted);
        return submitted.subList(main + 2, submitted.size());
    }

    private static String valueOf(List<String> submitted, String option) {
        int at = submitted.indexOf(option);
        assertTrue(at >= 0, "no " + option + " in " + submitted);
        return submitted.get(at + 1);
    }

    private static Map<String, String> confs(List<String> submitted) {
        Map<String, String> conf = new HashMap<>();
        for (int i = 0; i < submitted.size() - 1; i++) {
            if (submitted.get(i).equals("--conf")) {
                String[] kv = submitted.get(i + 1).split("=", 2);
                conf.put(kv[0], kv[1]);
            }
        }
        return conf;
    }
}
