package dev.sparktune.training;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.dist.RingCollective;
import dev.sparktune.dist.RingEncryption;
import dev.sparktune.dist.RingOptions;
import dev.sparktune.io.ModelFolderCache;
import dev.sparktune.train.CheckpointFence;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.StepListener;
import dev.sparktune.train.Trainer;
import java.io.Serializable;
import java.util.List;
import java.util.Optional;
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
 * (the {@link TrainingInputs} the driver checked) travel to the executors; the model is read there from
 * {@code model_name_or_path}.
 */
final class RankTask extends AbstractFunction1<Iterator<Integer>, Iterator<RankOutcome>> implements Serializable {
    private static final Logger LOG = LoggerFactory.getLogger(RankTask.class);

    private final String configYaml;
    private final String configSource;
    private final TrainingInputs inputs;
    private final RingEncryption ringEncryption;    // decided on the driver: the same for every rank
    private final ProgressReporter.Target progress;
    private final FaultInjection fault;   // null outside tests
    private final ListenerWatch watch;    // null outside tests

    RankTask(String configYaml, String configSource, TrainingInputs inputs, RingEncryption ringEncryption,
             ProgressReporter.Target progress, FaultInjection fault, ListenerWatch watch) {
        this.configYaml = configYaml;
        this.configSource = configSource;
        this.inputs = inputs;
        this.ringEncryption = ringEncryption;
        this.progress = progress;
        this.fault = fault;
        this.watch = watch;
    }

    @Override
    public Iterator<RankOutcome> apply(Iterator<Integer> partition) {
        BarrierTaskContext context = BarrierTaskContext.get();
        int rank = context.partitionId();
        int attempt = context.stageAttemptNumber();
        JobConfig job = ConfigLoader.parse(configYaml, configSource, List.of()).job();
        Engine.getInstance();    // loads libtorch, which the next call needs
        JniUtils.setNumThreads(context.cpus());
        Device device = device(context, job.model().device());
        Configuration hadoop = SparkHadoopUtil.get().newConfiguration(SparkEnv.get().conf());
        LOG.info("rank {} of {} (stage attempt {}) on {} with {} threads", rank, job.dist().worldSize(), attempt,
                device, context.cpus());
        RingOptions ringOptions = RingOptions.from(job.dist()).withEncryption(ringEncryption);
        // the slow part of starting, copying the model to this machine, comes before the rendezvous, whose wait is
        // bounded by spark.barrier.sync.timeout, rather than after it, where the first collective would time out;
        // the lease keeps the copy for TrainingRank, which takes its own
        ModelFolderCache.Lease model = ModelFolderCache.jvm().acquire(hadoop, job.model().modelNameOrPath());
        try (model; RingCollective ring = Rendezvous.join(context, ringOptions, watch);
             ProgressReporter reporter = new ProgressReporter(progress, job.train().loggingSteps())) {
            StepListener listener = p -> {
                reporter.afterStep(p);
                if (fault != null && fault.firesAt(p.rank(), p.metrics().step(), attempt)) {
                    LOG.warn("fault injection: rank {} kills its executor after step {}", rank, p.metrics().step());
                    Runtime.getRuntime().halt(FaultInjection.EXIT_STATUS);
                }
            };
            // rank 0 claims the output folder for this attempt before it picks where to start: from then on, a rank 0
            // left over from an earlier attempt can neither commit nor remove checkpoints there
            CheckpointFence fence = rank != 0 ? null
                    : CheckpointFence.claim(new OutputFolder(hadoop, job.train().outputDir()), attempt);
            Optional<String> start = agreedStartingPoint(context, job, hadoop);
            TrainingRank.Run run = TrainingRank.run(job, inputs, ring, hadoop, listener, device, start, fence);
            Trainer.Result result = run.result();
            RankOutcome outcome = new RankOutcome(rank, result.steps(), result.lastLoss(),
                    result.checkpoint(), run.resumedFrom(), run.export(), attempt);
            return CollectionConverters.asScala(List.of(outcome).iterator());
        }
    }

    /** Rank 0 picks where the run starts (a checkpoint location, or none) and every rank takes the same. */
    private static Optional<String> agreedStartingPoint(BarrierTaskContext context, JobConfig job, Configuration hadoop) {
        String mine = context.partitionId() != 0 ? ""
                : TrainingRank.startingPoint(job, new OutputFolder(hadoop, job.train().outputDir())).orElse("");
        String chosen = context.allGather(mine)[0];
        return chosen.isEmpty() ? Optional.empty() : Optional.of(chosen);
    }

    /**
     * {@code model.device}: {@code cpu}; {@code gpu}, the first GPU address Spark gave this task (an error when it
     * gave none); {@code auto}, that GPU when there is one, else the CPU.
     */
    private static Device device(BarrierTaskContext context, String wanted) {
        ResourceInformation gpu = context.resourcesJMap().get("gpu");
        return device(gpu == null ? new String[0] : gpu.addresses(), wanted);
    }

    static Device device(String[] gpuAddresses, String wanted) {
        boolean assigned = gpuAddresses.length > 0;
        if (wanted.equals("gpu") && !assigned) {
            throw new IllegalStateException("model.device is gpu, but Spark assigned this task no GPU: set"
                    + " spark.task.resource.gpu.amount=1 and spark.executor.resource.gpu.amount (with a discovery"
                    + " script), or use model.device: auto");
        }
        if (wanted.equals("cpu") || !assigned) {
            return Device.cpu();
        }
        return Device.gpu(Integer.parseInt(gpuAddresses[0]));
    }
}
