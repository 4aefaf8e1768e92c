package dev.sparktune.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

    private static final Path REFERENCE = Path.of("..", "conf", "reference.yaml");

    @Test
    void referenceFileLoadsAsIsAndListsExactlyTheKnownKeysWithTheirDefaults() {
        LoadedConfig reference = ConfigLoader.load(REFERENCE, List.of());
        LoadedConfig defaults = ConfigLoader.parse("", "(empty)", List.of());

        Map<String, Set<String>> known = ConfigLoader.knownKeys();
        assertEquals(ConfigLoader.SECTIONS, List.copyOf(known.keySet()));
        for (String section : ConfigLoader.SECTIONS) {
            assertEquals(known.get(section), reference.values().get(section).keySet(), section);
        }
        // The reference file states every default: loading it changes nothing.
        assertEquals(defaults.values(), reference.values());
        assertEquals(defaults.job(), reference.job());
    }

    @Test
    void misspelledKeyNamesFileKeyLineAndNearestValidKey(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "train:\n  learning_rate: 1.0e-4\n  num_train_epoch: 2\n");

        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(job, List.of()));

        assertEquals(1, e.errors().size(), e.getMessage());
        ConfigError error = e.errors().get(0);
        assertEquals(job.toString(), error.source());
        assertEquals("train.num_train_epoch", error.key());
        assertEquals("line 3", error.origin());
        assertTrue(error.problem().contains("did you mean 'num_train_epochs'?"), error.problem());
        assertTrue(e.getMessage().startsWith(job + ": train.num_train_epoch (line 3): unknown key"), e.getMessage());
    }

    @Test
    void keyInTheWrongSectionSaysWhereItBelongs() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("model:\n  learning_rate: 0.1\n", "job.yaml", List.of()));
        assertTrue(e.getMessage().contains("'learning_rate' belongs in section 'train'"), e.getMessage());
    }

    @Test
    void everyProblemIsReportedAtOnceWithWhatIsAllowed() {
        String yaml = """
                method:
                  lora_dropout: 1.5
                  finetuning_type: qlora
                train:
                  per_device_train_batch_size: eight
                  use_cache: true
                dist:
                  zero_stage: 4
                evaluation:
                  metrics: [accuracy]
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "job.yaml", List.of()));
        String all = e.getMessage();

        assertEquals(6, e.errors().size(), all);
        assertTrue(all.contains("job.yaml: method.lora_dropout (line 2): must be in [0, 1), got 1.5"), all);
        assertTrue(all.contains("method.finetuning_type (line 3): 'qlora' is not allowed; choose one of full, freeze, lora"), all);
        assertTrue(all.contains("train.per_device_train_batch_size (line 5): expected a whole number >= 1, got 'eight'"), all);
        assertTrue(all.contains("train.use_cache (line 6): unknown key"), all);
        assertTrue(all.contains("dist.zero_stage (line 8): must be in [0, 3], got 4"), all);
        assertTrue(all.contains("job.yaml: evaluation: unknown section; did you mean 'eval'?"), all);
    }

    @Test
    void overridesReplaceFileValuesAndAreTypedLikeThem() {
        String yaml = "train:\n  learning_rate: 0.001\n  optim: lion\n";
        LoadedConfig loaded = ConfigLoader.parse(yaml, "job.yaml", List.of(
                "train.learning_rate=1e-4",
                "data.dataset=alpaca_en, spam",
                "method.use_dora=true",
                "dist.world_size=4"));

        assertEquals(1e-4, loaded.job().train().learningRate());
        assertEquals("lion", loaded.job().train().optim());
        assertEquals(List.of("alpaca_en", "spam"), loaded.job().data().dataset());
        assertTrue(loaded.job().method().useDora());
        assertEquals(4, loaded.job().dist().worldSize());
    }

    @Test
    void badOverridesNameTheOverride() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("", "job.yaml",
                List.of("train.lerning_rate=0.1", "world_size=2", "dist.world_size=0")));
        String all = e.getMessage();
        assertEquals(3, e.errors().size(), all);
        assertTrue(all.contains("--set: train.lerning_rate: unknown key; did you mean 'learning_rate'?"), all);
        assertTrue(all.contains("--set: world_size=2: expected section.key=value"), all);
        assertTrue(all.contains("--set: dist.world_size: must be >= 1, got 0"), all);
    }

    @Test
    void yamlOneOneSpellingsAreReadAsTheNumbersAndListsTheyMean() {
        String yaml = """
                train:
                  learning_rate: 2e-5
                  weight_decay: 0
                data:
                  dataset: alpaca_en,identity
                  interleave_probs: [0.25, 0.75]
                  mix_strategy: interleave_under
                """;
        JobConfig job = ConfigLoader.parse(yaml, "job.yaml", List.of()).job();
        assertEquals(2e-5, job.train().learningRate());
        assertEquals(0.0, job.train().weightDecay());
        assertEquals(List.of("alpaca_en", "identity"), job.data().dataset());
        assertEquals(List.of(0.25, 0.75), job.data().interleaveProbs());
    }

    @Test
    void rulesAcrossKeysAreChecked() {
        String yaml = """
                data:
                  dataset: [a, b]
                  interleave_probs: [0.5, 0.6, 0.1]
                  val_size: 0.5
                  test_size: 0.5
                  cutoff_len: 128
                  cutoff_tail_len: 128
                train:
                  warmup_ratio: 0.1
                  warmup_steps: 100
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "job.yaml", List.of()));
        String all = e.getMessage();
        assertTrue(all.contains("data.interleave_probs (line 3): needs one probability per dataset: 2 datasets, 3 probabilities"), all);
        assertTrue(all.contains("only used with mix_strategy interleave_under or interleave_over"), all);
        assertTrue(all.contains("data.cutoff_tail_len (line 7): must be below cutoff_len (128) so that the start of"
                + " a text is kept too"), all);
        assertTrue(all.contains("train.warmup_steps (line 10): set warmup_steps or warmup_ratio, not both"), all);
        assertTrue(all.contains("data.test_size (line 5): val_size (0.5) + test_size (0.5) must be below 1"), all);
    }

    @Test
    void bfloat16IsRefusedWithTheReason() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("model:\n  compute_dtype: bfloat16\n", "job.yaml", List.of()));
        assertTrue(e.getMessage().startsWith("job.yaml: model.compute_dtype (line 2): bfloat16 is not usable yet"),
                e.getMessage());
    }

    @Test
    void fp16BesideFloat64IsRefusedNamingTheKeyAndAloneIsAccepted() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "model:\n  compute_dtype: float64\ntrain:\n  fp16: true\n", "job.yaml", List.of()));
        assertTrue(e.getMessage().startsWith("job.yaml: train.fp16 (line 4): fp16 mixed precision computes in float16"),
                e.getMessage());
        JobConfig alone = ConfigLoader.parse("train:\n  fp16: true\n", "job.yaml", List.of()).job();
        assertTrue(alone.train().fp16());
        assertEquals(16, alone.train().fp16InitialScalePower(), "torch's init_scale, 2^16");
        assertFalse(ConfigLoader.parse("", "job.yaml", List.of()).job().train().fp16());
    }

    @Test
    void zeroStageThreeIsAcceptedAndRefusedWithFp16NamingTheStage() {
        assertEquals(3, ConfigLoader.parse("dist:\n  zero_stage: 3\n", "job.yaml", List.of()).job().dist().zeroStage());
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "train:\n  fp16: true\ndist:\n  zero_stage: 3\n", "job.yaml", List.of()));
        assertTrue(e.getMessage().startsWith("job.yaml: dist.zero_stage (line 4): stage 3 with train.fp16 is not built"),
                e.getMessage());
    }

    @Test
    void allgatherBucketSizeIsReadAtStageThreeAndRefusedBelowIt() {
        DistConfig dist = ConfigLoader.parse("dist:\n  zero_stage: 3\n  allgather_bucket_size: 1000\n", "job.yaml",
                List.of()).job().dist();
        assertEquals(1000, dist.allgatherBucketSize());
        assertEquals(500_000_000L, ConfigLoader.parse("", "job.yaml", List.of()).job().dist().allgatherBucketSize());
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "dist:\n  zero_stage: 2\n  allgather_bucket_size: 1000\n", "job.yaml", List.of()));
        assertTrue(e.getMessage().startsWith("job.yaml: dist.allgather_bucket_size (line 3): sets how stage 3 gathers"),
                e.getMessage());
    }

    @Test
    void fp16AndBf16TogetherAreRefusedNamingBf16() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "method:\n  finetuning_type: lora\ntrain:\n  fp16: true\n  bf16: true\n", "job.yaml", List.of()));
        assertTrue(e.getMessage().startsWith("job.yaml: train.bf16 (line 5): set fp16 or bf16, not both"), e.getMessage());
    }

    @Test
    void loraAlphaDefaultsToTwiceTheRank() {
        JobConfig job = ConfigLoader.parse("method:\n  lora_rank: 32\n", "job.yaml", List.of()).job();
        assertEquals(64.0, job.method().loraAlpha());
    }

    @Test
    void brokenYamlAndDuplicateKeysPointAtTheLine() {
        ConfigException broken = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("train:\n  learning_rate: [1\n", "job.yaml", List.of()));
        assertTrue(broken.getMessage().startsWith("job.yaml: (file) (line 3): not valid YAML"), broken.getMessage());

        ConfigException twice = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("train:\n  seed: 1\n  seed: 2\n", "job.yaml", List.of()));
        assertEquals("job.yaml: train.seed (line 3): key appears twice (first at line 2)", twice.getMessage());
    }

    @Test
    void missingFileIsNamed(@TempDir Path dir) {
        Path missing = dir.resolve("nope.yaml");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(missing, List.of()));
        assertEquals(missing + ": (file): no such file", e.getMessage());
    }

    @Test
    void resolvedYamlReadsBackToTheSameConfig() {
        LoadedConfig loaded = ConfigLoader.parse("train:\n  optim: lion\n", "job.yaml", List.of("method.lora_rank=4"));
        LoadedConfig again = ConfigLoader.parse(loaded.toYaml(), "resolved.yaml", List.of());
        assertEquals(loaded.job(), again.job());
        String yaml = loaded.toYaml();
        assertFalse(yaml.contains("!!") || yaml.contains("&id"), yaml);
        assertTrue(yaml.contains("learning_rate: 5.0e-05\n"), yaml);
    }
}
