package dev.sparktune.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * DESIGN.md decision 10, the config is a contract: every key of {@code conf/reference.yaml} is read by the code that
 * does what its comment says, or refused as not built yet. The table names each key's reader; the test fails when
 * a known key has no entry (a new key nobody reads), when the named file no longer calls the key's accessor (a
 * reader removed), or when a key said to be not built is accepted with a value.
 */
class ConfigKeysHaveReadersTest {
    private static final Path ROOT = Path.of("..");

    /** Key to the source file (from the repository root) that reads it through its record accessor. */
    private static final Map<String, String> READERS = Map.ofEntries(
            Map.entry("data.dataset", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.eval_dataset", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.dataset_dir", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.dataset_info", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.template", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.cutoff_len", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.cutoff_tail_len", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.val_size", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.test_size", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.packing", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.train_on_prompt", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.mix_strategy", "model/src/main/java/dev/sparktune/train/TaskMix.java"),
            Map.entry("data.interleave_probs", "model/src/main/java/dev/sparktune/train/TaskMix.java"),
            Map.entry("data.mix_temperature", "model/src/main/java/dev/sparktune/train/TaskMix.java"),
            Map.entry("data.tokenized_path", "spark-jobs/src/main/java/dev/sparktune/training/TrainingInputs.java"),
            Map.entry("data.prepared_path", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.max_record_bytes", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("data.clean", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.strip_html", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.clean_min_chars", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.clean_max_chars", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.languages", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.detect_languages", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.language_min_distance", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.pii_mask", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.dedup", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.dedup_exact", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.dedup_near", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.dedup_threshold", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.dedup_num_perm", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.dedup_shingle_size", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.augment_seed", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.synonym_ratio", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.synonym_rate", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.synonym_max_replacements", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.protected_tokens", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.eda_ratio", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.back_translation_ratio", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.translator", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.translator_url", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.translator_model", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.translator_api_key_env", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.source_language", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.pivot_language", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.translation_cache", "data-prep/src/main/java/dev/sparktune/prep/PrepStages.java"),
            Map.entry("data.tokenize", "data-prep/src/main/java/dev/sparktune/prep/PrepJob.java"),
            Map.entry("model.model_name_or_path", "spark-jobs/src/main/java/dev/sparktune/training/TrainingRank.java"),
            Map.entry("model.compute_dtype", "spark-jobs/src/main/java/dev/sparktune/training/TrainingRank.java"),
            Map.entry("model.device", "spark-jobs/src/main/java/dev/sparktune/training/RankTask.java"),
            Map.entry("model.quantization_bit", "spark-jobs/src/main/java/dev/sparktune/training/TrainingRank.java"),
            Map.entry("method.stage", "spark-jobs/src/main/java/dev/sparktune/training/TrainingRank.java"),
            Map.entry("method.finetuning_type", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.freeze_trainable_layers", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.freeze_extra_modules", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.lora_rank", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.lora_alpha", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.lora_dropout", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.lora_target", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.use_rslora", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.use_dora", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.modules_to_save", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.adapter_size", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.num_virtual_tokens", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.prefix_projection", "model/src/main/java/dev/sparktune/peft/Method.java"),
            Map.entry("method.prompt_tuning_init_text", "spark-jobs/src/main/java/dev/sparktune/training/TrainingRank.java"),
            Map.entry("train.output_dir", "spark-jobs/src/main/java/dev/sparktune/training/TrainingRank.java"),
            Map.entry("train.learning_rate", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.num_train_epochs", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.max_steps", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.per_device_train_batch_size", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.gradient_accumulation_steps", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.group_by_length", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.lr_scheduler_type", "model/src/main/java/dev/sparktune/optim/LrSchedule.java"),
            Map.entry("train.min_lr_rate", "model/src/main/java/dev/sparktune/optim/LrSchedule.java"),
            Map.entry("train.warmup_ratio", "model/src/main/java/dev/sparktune/optim/LrSchedule.java"),
            Map.entry("train.warmup_steps", "model/src/main/java/dev/sparktune/optim/LrSchedule.java"),
            Map.entry("train.weight_decay", "model/src/main/java/dev/sparktune/optim/ParameterGroups.java"),
            Map.entry("train.max_grad_norm", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.optim", "model/src/main/java/dev/sparktune/optim/UpdateRule.java"),
            Map.entry("train.adam_beta1", "model/src/main/java/dev/sparktune/optim/UpdateRule.java"),
            Map.entry("train.adam_beta2", "model/src/main/java/dev/sparktune/optim/UpdateRule.java"),
            Map.entry("train.adam_epsilon", "model/src/main/java/dev/sparktune/optim/UpdateRule.java"),
            Map.entry("train.sgd_momentum", "model/src/main/java/dev/sparktune/optim/UpdateRule.java"),
            Map.entry("train.loraplus_lr_ratio", "model/src/main/java/dev/sparktune/optim/ParameterGroups.java"),
            Map.entry("train.head_learning_rate", "model/src/main/java/dev/sparktune/optim/ParameterGroups.java"),
            Map.entry("train.seed", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.logging_steps", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.save_steps", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.save_total_limit", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.resume_from_checkpoint", "spark-jobs/src/main/java/dev/sparktune/training/TrainingRank.java"),
            Map.entry("train.early_stopping_patience", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.gradient_checkpointing", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.fp16", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.fp16_initial_scale_power", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("train.bf16", "spark-jobs/src/main/java/dev/sparktune/training/TrainingRank.java"),
            Map.entry("dist.world_size", "spark-jobs/src/main/java/dev/sparktune/training/TrainingJob.java"),
            Map.entry("dist.zero_stage", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("dist.reduce_bucket_size", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("dist.allgather_bucket_size", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("dist.collective_timeout_seconds", "model/src/main/java/dev/sparktune/dist/RingOptions.java"),
            Map.entry("dist.checkpoint_timeout_seconds", "model/src/main/java/dev/sparktune/train/Trainer.java"),
            Map.entry("dist.network_cidr", "model/src/main/java/dev/sparktune/dist/RingOptions.java"),
            Map.entry("dist.ring_encryption", "spark-jobs/src/main/java/dev/sparktune/training/RingEncryptionSetting.java"),
            Map.entry("eval.per_device_eval_batch_size", "model/src/main/java/dev/sparktune/train/Validation.java"),
            Map.entry("eval.eval_steps", "model/src/main/java/dev/sparktune/train/Validation.java"),
            Map.entry("eval.metrics", "model/src/main/java/dev/sparktune/train/Validation.java"),
            Map.entry("generation.max_new_tokens", "spark-jobs/src/main/java/dev/sparktune/ml/FineTunedModel.java"),
            Map.entry("generation.do_sample", "spark-jobs/src/main/java/dev/sparktune/ml/FineTunedModel.java"),
            Map.entry("generation.temperature", "spark-jobs/src/main/java/dev/sparktune/ml/FineTunedModel.java"),
            Map.entry("generation.top_k", "spark-jobs/src/main/java/dev/sparktune/ml/FineTunedModel.java"),
            Map.entry("generation.top_p", "spark-jobs/src/main/java/dev/sparktune/ml/FineTunedModel.java"),
            Map.entry("generation.repetition_penalty", "spark-jobs/src/main/java/dev/sparktune/ml/FineTunedModel.java"),
            Map.entry("generation.stop", "spark-jobs/src/main/java/dev/sparktune/ml/FineTunedModel.java"),
            Map.entry("export.export_dir", "spark-jobs/src/main/java/dev/sparktune/cli/ExportCommand.java"),
            Map.entry("export.export_size", "spark-jobs/src/main/java/dev/sparktune/cli/ExportCommand.java"),
            Map.entry("export.export_type", "spark-jobs/src/main/java/dev/sparktune/cli/ExportCommand.java"),
            Map.entry("export.export_quantization_bit", "spark-jobs/src/main/java/dev/sparktune/cli/ExportCommand.java"),
            Map.entry("export.prune_sparsity", "spark-jobs/src/main/java/dev/sparktune/cli/ExportCommand.java"),
            Map.entry("export.prune_pattern", "spark-jobs/src/main/java/dev/sparktune/cli/ExportCommand.java"));

    /** Keys the reference documents as not built yet, each with a value the loader must refuse. */
    private static final Map<String, String> NOT_BUILT = Map.of(
            "dist.overlap_comm", "true");

    @Test
    void everyKnownKeyHasAReaderOrIsRefusedAsNotBuilt() {
        Set<String> known = new TreeSet<>();
        ConfigLoader.knownKeys().forEach((section, keys) -> keys.forEach(k -> known.add(section + "." + k)));
        Set<String> listed = new TreeSet<>(READERS.keySet());
        listed.addAll(NOT_BUILT.keySet());
        assertEquals(known, listed, "a key without a reader: build what reference.yaml promises, or refuse it as not"
                + " built yet (Section.notBuilt) and list it in NOT_BUILT");
    }

    @Test
    void eachReaderCallsItsKeysAccessorOutsideTheConfigPackage() throws IOException {
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, String> e : READERS.entrySet()) {
            assertTrue(!e.getValue().contains("/config/"), e.getKey() + ": a reader outside the config package");
            String source = Files.readString(ROOT.resolve(e.getValue()));
            String accessor = "." + accessor(e.getKey()) + "()";
            if (!source.contains(accessor)) {
                missing.add(e.getKey() + " (" + accessor + " in " + e.getValue() + ")");
            }
        }
        assertEquals(List.of(), missing, "keys whose reader no longer reads them");
    }

    @Test
    void keysNotBuiltAreRefusedNamingTheKey() {
        for (Map.Entry<String, String> e : NOT_BUILT.entrySet()) {
            ConfigException refused = assertThrows(ConfigException.class,
                    () -> ConfigLoader.parse("", "job.yaml", List.of(e.getKey() + "=" + e.getValue())), e.getKey());
            assertTrue(refused.getMessage().contains(e.getKey()) && refused.getMessage().contains("not built yet"),
                    refused.getMessage());
        }
    }

    /** {@code section.snake_case} to the record accessor {@code snakeCase}. */
    private static String accessor(String key) {
        String[] words = key.substring(key.indexOf('.') + 1).split("_");
        StringBuilder name = new StringBuilder(words[0]);
        for (int i = 1; i < words.length; i++) {
            name.append(Character.toUpperCase(words[i].charAt(0))).append(words[i].substring(1));
        }
        return name.toString();
    }
}
