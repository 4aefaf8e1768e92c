"""sparktune as a daily Airflow 2 pipeline: prep -> train -> eval -> export, each step one spark-submit of the app jar.

Needs apache-airflow-providers-apache-spark 4.6 or newer (properties_file) and, on the Airflow workers, spark-submit
on PATH with the cluster's client configuration. The Spark connection (SPARK_CONN_ID) says where jobs run:
  YARN:        host "yarn", extra {"deploy-mode": "cluster"}       (and HADOOP_CONF_DIR on the workers)
  Kubernetes:  host "k8s://https://API-SERVER:6443", extra {"deploy-mode": "cluster", "namespace": "ml"}
               (the image and service account go in SPARK_PROPERTIES: deploy/README.md)
The driver runs in the cluster and gets the job YAML through --files, reading it by its base name; the job YAML
(a DAG parameter) is therefore a file on the Airflow worker or a URI the cluster reads (hdfs://, s3a://).

Each task is `sparktune run JOB --steps STEP --partition dt=<run date>`: the step's own job, skipped when its
committed output already matches its inputs (markers in <train.output_dir>/dt=<run date>/_run/). A retried or cleared
task therefore redoes only what is missing, and a retried train resumes from its newest checkpoint. --partition puts
the run date into every output path (data.prepared_path, data.tokenized_path, train.output_dir and export.export_dir
each gain /dt=<run date>), so each day's run has its own folders and markers, and the other days' stay.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.models.param import Param
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

SPARK_CONN_ID = "spark_default"
# The app jar: a path on the Airflow worker (spark-submit uploads it) or a URI the cluster reads; on Kubernetes,
# local:///opt/sparktune/sparktune-app.jar, the jar inside the image.
APP_JAR = "/opt/sparktune/sparktune-app.jar"
MAIN_CLASS = "dev.sparktune.cli.Sparktune"
# Spark properties: fixed executors, slots >= dist.world_size, barrier timeout (deploy/conf/spark-cpu.conf or
# spark-gpu.conf, copied to the workers).
SPARK_PROPERTIES = "/opt/sparktune/conf/spark-cpu.conf"

# Everything one run writes goes to <output path>/dt=<run date>/ of the job's four output paths.
RUN_PARTITION = "dt={{ ds }}"


def sparktune_step(step: str) -> SparkSubmitOperator:
    """One step of the job as a Spark application: `sparktune run JOB --steps STEP --partition dt=<run date>`."""
    return SparkSubmitOperator(
        task_id=step,
        conn_id=SPARK_CONN_ID,
        application=APP_JAR,
        java_class=MAIN_CLASS,
        name="sparktune-" + step + "-{{ ds }}",
        properties_file=SPARK_PROPERTIES,
        files="{{ params.job_yaml }}",
        application_args=["run", "{{ params.job_yaml | basename }}", "--steps", step, "--partition", RUN_PARTITION],
    )


with DAG(
    dag_id="sparktune_pipeline",
    description="sparktune: prep, train, eval and export of one job YAML, daily",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 12, 1, tz="UTC"),
    catchup=False,
    # one run at a time: two runs' training stages would compete for the same executors
    max_active_runs=1,
    default_args={
        # safe: a step whose output is committed is skipped, training resumes from its newest checkpoint
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        "retry_exponential_backoff": True,
    },
    params={
        "job_yaml": Param(
            "/opt/sparktune/jobs/job.yaml",
            type="string",
            description="the job YAML: a file on the Airflow worker, or an hdfs:// or s3a:// URI",
        ),
    },
    user_defined_filters={"basename": os.path.basename},
    tags=["sparktune", "spark"],
) as dag:
    prep = sparktune_step("prep")
    train = sparktune_step("train")
    evaluate = sparktune_step("eval")
    export = sparktune_step("export")

    prep >> train >> evaluate >> export
