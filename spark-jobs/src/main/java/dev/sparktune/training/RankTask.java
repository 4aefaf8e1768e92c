package dev.sparktune.training;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.dist.RingCollective;
import dev.sparktune.dist.RingOptions;
import dev.sparktune.train.StepListener;
import dev.sparktune.train.Trainer;
import java.io.Serializable;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.deploy.SparkHadoopUtil;
import org.apache.spark.resource.ResourceInformation;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * The body of one barrier task, that is one rank: torch threads = {@code spark.task.cpus}, the GPU Spark assigned
 * (when the task has one), the rendezvous, then {@link TrainingRank}. Only the job's YAML text and small values
 * travel to the executors; the model is read there from {@code model_name_or_path}.
 */
final class RankTask extends AbstractFunction1<Iterator<Integer>, Iterator<RankOutcome>> implements Serializable {
    private static final Logger LOG = LoggerFactory.getLogger(RankTask.class);

    private final String configYaml;
    private final String configSource;
    private final ProgressReporter.Target progress;
    private final FaultInjection fault;   // null outside tests

    RankTask(String configYaml, String configSource, ProgressReporter.Target progress, FaultInjection fault) {
        this.configYaml = configYaml;
        this.configSource = configSource;
        this.progress = progress;
        this.fault = fault;
    }

    @Override
    public Iterator<RankOutcome> apply(Iterator<Integer> partition) {
        BarrierTaskContext context = BarrierTaskContext.get();
        int rank = context.partitionId();
        int attempt = context.stageAttemptNumber();
        JobConfig job = ConfigLoader.parse(configYaml, configSource, List.of()).job();
        Engine.getInstance();    // loads libtorch, which the next call needs
        JniUtils.setNumThreads(context.cpus());
        Device device = device(context);
        Configuration hadoop = SparkHadoopUtil.get().newConfiguration(SparkEnv.get().conf());
        LOG.info("rank {} of {} (stage attempt {}) on {} with {} threads", rank, job.dist().worldSize(), attempt,
                device, context.cpus());
        try (RingCollective ring = Rendezvous.join(context, RingOptions.from(job.dist()));
             ProgressReporter reporter = new ProgressReporter(progress, job.train().loggingSteps())) {
            StepListener listener = p -> {
                reporter.afterStep(p);
                if (fault != null && fault.firesAt(p.rank(), p.metrics().step(), attempt)) {
                    LOG.warn("fault injection: rank {} kills its executor after step {}", rank, p.metrics().step());
                    Runtime.getRuntime().halt(FaultInjection.EXIT_STATUS);
                }
            };
            TrainingRank.Run run = TrainingRank.run(job, ring, hadoop, listener, device);
            Trainer.Result result = run.result();
            RankOutcome outcome = new RankOutcome(rank, result.steps(), result.lastLoss(),
                    result.checkpoint(), run.resumedFrom(), run.export(), attempt);
            return CollectionConverters.asScala(List.of(outcome).iterator());
        }
    }

    /** The first GPU address Spark gave this task ({@code spark.task.resource.gpu.amount}), else the CPU. */
    private static Device device(BarrierTaskContext context) {
        ResourceInformation gpu = context.resourcesJMap().get("gpu");
        if (gpu == null || gpu.addresses().length == 0) {
            return Device.cpu();
        }
        return Device.gpu(Integer.parseInt(gpu.addresses()[0]));
    }
}
