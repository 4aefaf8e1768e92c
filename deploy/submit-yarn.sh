#!/usr/bin/env bash
# Runs one sparktune step on YARN:
#   deploy/submit-yarn.sh COMMAND JOB_YAML SPARK_PROPERTIES [SPARKTUNE_OPTION...]
#   deploy/submit-yarn.sh train jobs/lora.yaml deploy/conf/spark-cpu.conf --set train.output_dir=hdfs:///runs/lora-1
# (arguments: deploy/submit-args.sh). Needs HADOOP_CONF_DIR or YARN_CONF_DIR pointing at the cluster's client config.
#   DEPLOY_MODE   cluster (default): the driver runs in a YARN container, and this script returns when the job ends,
#                 with its exit status; client: the driver runs here, its log in this terminal
#   YARN_QUEUE    the queue to submit to (default: the cluster's default queue)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=submit-args.sh
source "$(dirname "${BASH_SOURCE[0]}")/submit-args.sh"

deploy_mode="${DEPLOY_MODE:-cluster}"
# --files ships the job YAML (a local file, or an hdfs:// or s3a:// URI) into every container's working directory.
# In cluster mode the driver runs in one of them, so it reads the YAML by its base name; in client mode it runs
# here and reads the local file where it is.
if [[ "$deploy_mode" == cluster ]]; then
  job_argument="$(basename "$job")"
elif [[ "$job" == *://* ]]; then
  echo "$(basename "$0"): in client mode the driver reads the job YAML on this machine: give a local file" >&2
  exit 2
else
  job_argument="$job"
fi
queue=()
if [[ -n "${YARN_QUEUE:-}" ]]; then
  queue=(--queue "$YARN_QUEUE")
fi

# spark-submit passes Java 17's --add-opens list to the driver and executors itself: nothing to add here.
exec spark-submit \
  --master yarn \
  --deploy-mode "$deploy_mode" \
  "${queue[@]}" \
  --name "sparktune $command $(basename "$job")" \
  --properties-file "$properties" \
  --load-spark-defaults \
  --files "$job" \
  --class "$main_class" \
  "$app_jar" "$command" "$job_argument" "$@"
