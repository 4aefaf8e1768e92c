package dev.sparktune.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import dev.sparktune.cli.Sparktune;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.prep.PartitionSpec;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.ParseResult;

/**
 * deploy/airflow/sparktune_pipeline.py, without Airflow (it cannot be installed here): the file parses as Python,
 * and its task graph, read from the syntax tree by dag_task_graph.py, is prep -> train -> eval -> export, each task a
 * spark-submit of the app jar whose arguments, rendered as Airflow's Jinja would render them for one run date, are
 * a command line the CLI's own picocli model accepts and a set of --set keys the config loader accepts.
 */
class AirflowDagTest {
    private static final Path DAG = DeployFiles.DEPLOY.resolve("airflow/sparktune_pipeline.py");
    private static final String RUN_DATE = "2026-11-28";
    /** A real job, so that the DAG's --set overrides go through the loader's key and value checks. */
    private static final Path EXAMPLE_JOB = DeployFiles.ROOT.resolve("conf/examples/spam-assassin-demo.yaml");

    private static JsonNode graph;

    @BeforeAll
    static void readTaskGraph() throws IOException, URISyntaxException {
        Path script = Path.of(AirflowDagTest.class.getResource("dag_task_graph.py").toURI());
        HostCommand extracted = HostCommand.run(List.of("python3", script.toString(), DAG.toString()));
        assertEquals(0, extracted.exitCode(), "dag_task_graph.py failed:\n" + extracted.output());
        graph = new ObjectMapper().readTree(extracted.output());
    }

    @Test
    void dagParsesAsPython() {
        HostCommand parsed = HostCommand.run(List.of("python3", "-c",
                "import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", DAG.toString()));
        assertEquals(0, parsed.exitCode(), DAG + " is not valid Python:\n" + parsed.output());
    }

    @Test
    void tasksArePrepTrainEvalExportInThatOrder() {
        List<String> ids = new ArrayList<>();
        graph.get("tasks").forEach(t -> ids.add(t.get("task_id").asText()));
        assertEquals(List.of("prep", "train", "eval", "export"), ids);
        assertEquals(new ObjectMapper().valueToTree(List.of(List.of("prep", "train"), List.of("train", "eval"),
                List.of("eval", "export"))), graph.get("edges"));
        assertEquals("airflow.providers.apache.spark.operators.spark_submit",
                graph.at("/imports/SparkSubmitOperator").asText());
        graph.get("tasks").forEach(t -> assertEquals("SparkSubmitOperator", t.get("operator").asText()));
    }

    @Test
    void retriesAreOn() {
        assertTrue(graph.at("/dag/default_args/retries").asInt() >= 1, "default_args.retries: " + graph.at("/dag"));
    }

    @Test
    void eachTaskSubmitsTheAppJarWithItsOwnStepOfRun() {
        for (JsonNode task : graph.get("tasks")) {
            String id = task.get("task_id").asText();
            JsonNode arguments = task.get("arguments");
            assertEquals(Sparktune.class.getName(), arguments.get("java_class").asText(), id);
            assertTrue(arguments.get("application").asText().endsWith("/" + DeployFiles.appJarName()),
                    id + " submits " + arguments.get("application") + ", not the build's " + DeployFiles.appJarName());

            List<String> args = rendered(arguments.get("application_args"));
            ParseResult run = CliArguments.check(args, DAG + " task " + id);
            assertEquals("run", run.commandSpec().name(), id);
            assertEquals(List.of(id), run.matchedOptionValue("--steps", List.of()), id + " must run its own step");
            // cluster mode: --files puts the job YAML in the driver's working directory, read by its base name
            String job = run.matchedPositionalValue(0, Path.of("")).toString();
            String shipped = render(arguments.get("files").asText());
            assertEquals(Path.of(shipped).getFileName().toString(), job, id + " reads a job YAML it does not ship");
        }
    }

    @Test
    void everyTaskRunsInTheRunDatesPartitionAndTheLoaderAcceptsItsArguments() {
        for (JsonNode task : graph.get("tasks")) {
            String id = task.get("task_id").asText();
            List<String> args = rendered(task.at("/arguments/application_args"));
            ParseResult run = CliArguments.check(args, DAG + " task " + id);
            // run's step markers live in the partition's train.output_dir: a task in another partition, or none,
            // would not see the steps before it
            assertEquals("dt=" + RUN_DATE, run.matchedOptionValue("--partition", ""), id);
            PartitionSpec.parse(run.matchedOptionValue("--partition", ""));
            ConfigLoader.load(EXAMPLE_JOB, run.matchedOptionValue("--set", List.of()));
        }
    }

    /** Airflow's rendering of one run: {{ ds }}, the DAG's params at their defaults, and its user-defined filters. */
    private static String render(String template) {
        Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder().withFailOnUnknownTokens(true).build());
        jinjava.getGlobalContext().registerFilter(new Filter() {
            @Override
            public String getName() {
                return "basename";
            }

            @Override
            public Object filter(Object value, JinjavaInterpreter interpreter, String... args) {
                return Path.of(value.toString()).getFileName().toString();
            }
        });
        assertTrue(graph.at("/dag/user_defined_filters/basename").isObject(),
                "the DAG no longer defines the basename filter the test renders with");
        Map<String, Object> params = new HashMap<>();
        graph.at("/dag/params").fields().forEachRemaining(p -> params.put(p.getKey(), p.getValue().at("/args/0").asText()));
        return jinjava.render(template, Map.of("ds", RUN_DATE, "params", params));
    }

    private static List<String> rendered(JsonNode templates) {
        List<String> out = new ArrayList<>();
        templates.forEach(t -> out.add(render(t.asText())));
        return out;
    }
}
