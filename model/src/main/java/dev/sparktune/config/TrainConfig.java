package dev.sparktune.config;

/** Section {@code train}: the optimisation loop, with Hugging Face TrainingArguments' key names. */
public record TrainConfig(
        String outputDir,
        double learningRate,
        double numTrainEpochs,
        long maxSteps,
        int perDeviceTrainBatchSize,
        int gradientAccumulationSteps,
        boolean groupByLength,
        String lrSchedulerType,
        double minLrRate,
        double warmupRatio,
        int warmupSteps,
        double weightDecay,
        double maxGradNorm,
        String optim,
        double adamBeta1,
        double adamBeta2,
        double adamEpsilon,
        double sgdMomentum,
        double loraplusLrRatio,
        double headLearningRate,
        long seed,
        int loggingSteps,
        int saveSteps,
        int saveTotalLimit,
        String resumeFromCheckpoint,
        int earlyStoppingPatience,
        boolean gradientCheckpointing,
        boolean fp16,
        int fp16InitialScalePower,
        boolean bf16) {

    static TrainConfig read(Section s) {
        String outputDir = s.string("output_dir", "output");
        double lr = s.number("learning_rate", 5e-5, Range.above(0));
        double epochs = s.number("num_train_epochs", 3.0, Range.above(0));
        long maxSteps = s.longInteger("max_steps", -1, Range.atLeast(-1));
        s.require(maxSteps != 0, "max_steps", "must be -1 (train num_train_epochs) or a positive step count");
        int batch = s.integer("per_device_train_batch_size", 8, Range.atLeast(1));
        int accumulation = s.integer("gradient_accumulation_steps", 1, Range.atLeast(1));
        boolean groupByLength = s.flag("group_by_length", false);
        String scheduler = s.choice("lr_scheduler_type", "linear", "constant", "linear", "cosine", "cosine_with_min_lr");
        double minLrRate = s.number("min_lr_rate", 0.0, Range.closed(0, 1));
        double warmupRatio = s.number("warmup_ratio", 0.0, Range.closedOpen(0, 1));
        int warmupSteps = s.integer("warmup_steps", 0, Range.atLeast(0));
        s.require(warmupSteps == 0 || warmupRatio == 0.0, "warmup_steps", "set warmup_steps or warmup_ratio, not both");
        double weightDecay = s.number("weight_decay", 0.0, Range.atLeast(0));
        double maxGradNorm = s.number("max_grad_norm", 1.0, Range.atLeast(0));
        String optim = s.choice("optim", "adamw", "adamw", "lion", "sgd");
        double beta1 = s.number("adam_beta1", 0.9, Range.closedOpen(0, 1));
        double beta2 = s.number("adam_beta2", 0.999, Range.closedOpen(0, 1));
        double epsilon = s.number("adam_epsilon", 1e-8, Range.above(0));
        double momentum = s.number("sgd_momentum", 0.9, Range.closedOpen(0, 1));
        double loraplus = s.number("loraplus_lr_ratio", 0.0, Range.atLeast(0));
        double headLr = s.number("head_learning_rate", 0.0, Range.atLeast(0));
        long seed = s.longInteger("seed", 42, Range.ANY);
        int loggingSteps = s.integer("logging_steps", 10, Range.atLeast(1));
        int saveSteps = s.integer("save_steps", 500, Range.atLeast(1));
        int saveTotalLimit = s.integer("save_total_limit", 3, Range.atLeast(1));
        String resume = s.string("resume_from_checkpoint", null);
        int patience = s.integer("early_stopping_patience", 0, Range.atLeast(0));
        boolean checkpointing = s.flag("gradient_checkpointing", false);
        boolean fp16 = s.flag("fp16", false);
        int scalePower = s.integer("fp16_initial_scale_power", 16, Range.closed(0, 100));
        boolean bf16 = s.flag("bf16", false);
        s.require(!(fp16 && bf16), "bf16", "set fp16 or bf16, not both (as Hugging Face's TrainingArguments)");
        return new TrainConfig(outputDir, lr, epochs, maxSteps, batch, accumulation, groupByLength, scheduler, minLrRate,
                warmupRatio, warmupSteps, weightDecay, maxGradNorm, optim, beta1, beta2, epsilon, momentum, loraplus, headLr, seed,
                loggingSteps, saveSteps, saveTotalLimit, resume, patience, checkpointing, fp16, scalePower, bf16);
    }
}
