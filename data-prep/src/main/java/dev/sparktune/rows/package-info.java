/**
 * The row shapes every data-prep stage passes along ({@link dev.sparktune.rows.PrepRows}: prepared and rejected
 * rows) and what a stage hands on ({@link dev.sparktune.rows.StageResult}). The stage packages ({@code ingest},
 * {@code clean}, {@code dedup}, {@code augment}, {@code pack}) and the orchestrator ({@code prep}) import them from
 * here, so no stage depends on the orchestrator that runs it.
 */
package dev.sparktune.rows;
