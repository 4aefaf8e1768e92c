#!/usr/bin/env bash
# Runs one sparktune step on Kubernetes, the driver and executors as pods of the image deploy/docker/Dockerfile builds:
#   K8S_MASTER=k8s://https://API-SERVER:6443 SPARKTUNE_IMAGE=registry.example/sparktune:0.1.0 \
#     deploy/submit-k8s.sh COMMAND JOB_YAML SPARK_PROPERTIES [SPARKTUNE_OPTION...]
# (arguments: deploy/submit-args.sh). The driver pod downloads the job YAML into its working directory and reads it by
# its base name: give JOB_YAML as a URI the pods can read (s3a://bucket/jobs/lora.yaml), or as a local file, which
# spark-submit first uploads to spark.kubernetes.file.upload.path (set that in SPARK_PROPERTIES to an s3a:// or
# hdfs:// folder).
#   K8S_MASTER        the API server, k8s://https://HOST:PORT (kubectl cluster-info prints it)
#   SPARKTUNE_IMAGE   the image with Spark and the app jar
#   K8S_NAMESPACE     namespace of the pods (default: default)
#   K8S_SERVICE_ACCOUNT  the driver's service account, allowed to create and delete pods and services in the
#                     namespace (default: spark); kubectl create serviceaccount spark; kubectl create rolebinding
#                     spark-edit --clusterrole=edit --serviceaccount=NAMESPACE:spark
# Pod templates add what Spark's settings cannot: deploy/k8s/driver-pod-template.yaml for the driver, and for executors
# deploy/k8s/executor-gpu-pod-template.yaml (GPU nodes' taint and label) when SPARK_PROPERTIES asks for GPUs.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=submit-args.sh
source "$(dirname "${BASH_SOURCE[0]}")/submit-args.sh"

if [[ "${K8S_MASTER:-}" != k8s://* || -z "${SPARKTUNE_IMAGE:-}" ]]; then
  echo "$(basename "$0"): set K8S_MASTER (k8s://https://HOST:PORT) and SPARKTUNE_IMAGE (built from deploy/docker/Dockerfile)" >&2
  exit 2
fi
templates="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/k8s"
executor_template=()
if grep -q '^spark.executor.resource.gpu.amount' "$properties"; then
  executor_template=(--conf spark.kubernetes.executor.podTemplateFile="$templates/executor-gpu-pod-template.yaml")
fi
# Inside the image, not on this machine: local:// tells Spark the jar is already in every pod.
app_jar="${SPARKTUNE_APP_JAR:-local:///opt/sparktune/sparktune-app.jar}"

exec spark-submit \
  --master "$K8S_MASTER" \
  --deploy-mode cluster \
  --name "sparktune-$command" \
  --properties-file "$properties" \
  --load-spark-defaults \
  --conf spark.kubernetes.namespace="${K8S_NAMESPACE:-default}" \
  --conf spark.kubernetes.container.image="$SPARKTUNE_IMAGE" \
  --conf spark.kubernetes.authenticate.driver.serviceAccountName="${K8S_SERVICE_ACCOUNT:-spark}" \
  --conf spark.kubernetes.driver.podTemplateFile="$templates/driver-pod-template.yaml" \
  "${executor_template[@]}" \
  --files "$job" \
  --class "$main_class" \
  "$app_jar" "$command" "$(basename "$job")" "$@"
