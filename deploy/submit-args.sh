# shellcheck shell=bash disable=SC2034  # the variables set here are for the script that sources this file
# The arguments every deploy/submit-*.sh takes, checked once here (sourced, not run):
#   COMMAND JOB_YAML SPARK_PROPERTIES [SPARKTUNE_OPTION...]
#     COMMAND            a sparktune subcommand that runs a Spark job: prep, train, eval, export or run
#     JOB_YAML           the job: a file on this machine, or (YARN and Kubernetes cluster mode) a URI the cluster
#                        can read, such as hdfs:///jobs/lora.yaml or s3a://bucket/jobs/lora.yaml
#     SPARK_PROPERTIES   a Spark properties file, e.g. deploy/conf/spark-cpu.conf or spark-gpu.conf; the cluster's
#                        own conf/spark-defaults.conf is loaded too, and this file wins where both set a key
#     SPARKTUNE_OPTION   passed on to the subcommand, e.g. --set train.output_dir=hdfs:///runs/lora-1
# Environment:
#   SPARKTUNE_APP_JAR  the app jar (default: this checkout's build, spark-jobs/target/sparktune-app.jar); on
#                      Kubernetes, a path inside the image such as local:///opt/sparktune/sparktune-app.jar
# Sets: command, job, properties, app_jar, main_class, and leaves the SPARKTUNE_OPTIONs in "$@".

if (($# < 3)); then
  echo "usage: $(basename "$0") COMMAND JOB_YAML SPARK_PROPERTIES [SPARKTUNE_OPTION...]" >&2
  echo "  e.g. $(basename "$0") train job.yaml deploy/conf/spark-cpu.conf --set train.output_dir=hdfs:///runs/lora-1" >&2
  exit 2
fi
command="$1"
job="$2"
properties="$3"
shift 3

case "$command" in
  prep | train | eval | export | run) ;;
  *)
    echo "$(basename "$0"): '$command' is not a Spark job; use prep, train, eval, export or run" >&2
    exit 2
    ;;
esac
if [[ "$job" != *://* && ! -f "$job" ]]; then
  echo "$(basename "$0"): no such file: $job" >&2
  exit 2
fi
if [[ ! -f "$properties" ]]; then
  echo "$(basename "$0"): no such file: $properties" >&2
  exit 2
fi

app_jar="${SPARKTUNE_APP_JAR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/spark-jobs/target/sparktune-app.jar}"
main_class=dev.sparktune.cli.Sparktune

if ! command -v spark-submit >/dev/null; then
  echo "$(basename "$0"): spark-submit is not on PATH: add \$SPARK_HOME/bin to PATH (Spark 4.0, Scala 2.13)" >&2
  exit 1
fi
