package dev.sparktune.doctor;

import org.apache.spark.sql.SparkSession;

/** A local SparkSession starts and runs a job. */
public final class SparkCheck {
    private SparkCheck() {
    }

    public static CheckResult run() {
        String name = "Spark";
        long start = System.nanoTime();
        SparkSession spark = null;
        try {
            spark = SparkSession.builder()
                    .master("local[1]")
                    .appName("sparktune doctor")
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .getOrCreate();
            long sum = spark.range(1, 1001).selectExpr("sum(id)").first().getLong(0);
            if (sum != 500_500L) {
                return CheckResult.fail(name, "a local job summed 1..1000 to " + sum + ", expected 500500",
                        "the Spark installation is broken");
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            return CheckResult.pass(name, String.format("%s on local[1] started and ran a job in %.1f s",
                    spark.version(), seconds));
        } catch (Throwable e) {
            return CheckResult.fail(name, "a local SparkSession did not start: " + e,
                    "run through bin/sparktune (it passes the Java 17 options Spark needs) and check the Java line above");
        } finally {
            if (spark != null) {
                spark.stop();
            }
        }
    }
}
