/**
 * The row shapes every data-prep stage passes along ({@link dev.sparktune.rows.PrepRows}: prepared and rejected
 * rows), what a stage hands on ({@link dev.sparktune.rows.StageResult}) and which failures of one record's work
 * become its rejected row ({@link dev.sparktune.rows.RecordFailure}). The stage packages ({@code ingest},
 * {@code clean}, {@code dedup}, {@code augment}, {@code pack}) and the orchestrator ({@code prep}) import them from
 * here, so no stage depends on the orchestrator that runs it.
 */
package dev.sparktune.rows;
