#!/usr/bin/env bash
# Runs one sparktune step on a Spark standalone cluster:
#   SPARK_MASTER=spark://master:7077 deploy/submit-standalone.sh COMMAND JOB_YAML SPARK_PROPERTIES [SPARKTUNE_OPTION...]
# (arguments: deploy/submit-args.sh). The driver runs here (client mode) and reads the job YAML where it is; the
# executors never read it, and they fetch the app jar from the driver: nothing to install on the workers.
#   SPARK_MASTER  the master URL, spark://HOST:7077 (or spark://HOST1:7077,HOST2:7077 with standby masters)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=submit-args.sh
source "$(dirname "${BASH_SOURCE[0]}")/submit-args.sh"

if [[ "${SPARK_MASTER:-}" != spark://* ]]; then
  echo "$(basename "$0"): set SPARK_MASTER to the standalone master's URL, spark://HOST:7077" >&2
  exit 2
fi
if [[ "$job" == *://* ]]; then
  echo "$(basename "$0"): the driver runs here and reads the job YAML on this machine: give a local file" >&2
  exit 2
fi

# Standalone has no spark.executor.instances: an application gets spark.cores.max / spark.executor.cores
# executors, so set spark.cores.max in the properties to executors x spark.executor.cores (slots >= world_size).
exec spark-submit \
  --master "$SPARK_MASTER" \
  --deploy-mode client \
  --name "sparktune $command $(basename "$job")" \
  --properties-file "$properties" \
  --load-spark-defaults \
  --class "$main_class" \
  "$app_jar" "$command" "$job" "$@"
