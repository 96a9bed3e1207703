/**
 * phantom-bench: measures phantom parallelism against tensor parallelism for training
 * feed-forward networks, in time, communication, energy and loss-to-target.
 *
 * The training core: serial, tensor-parallel and phantom-parallel FFNs with explicit backward
 * passes on TensorFlow.js, ranks that talk only through a {@linkcode Communicator}, and the cost
 * model of docs/phantom.md.
 *
 * @example Train a phantom FFN on 4 in-process ranks and compare its bytes with the cost model
 * ```ts
 * import assert from "node:assert/strict";
 * import { predictCosts, selectBackend, trainInProcess, validateTrainConfig } from "./mod.ts";
 *
 * await selectBackend("wasm");
 * const config = validateTrainConfig({
 *   mode: "phantom", ranks: 4, width: 256, phantomWidth: 8, layers: 2, batch: 32, steps: 20,
 * });
 * const [rank0] = await trainInProcess(config);
 * const predicted = predictCosts(config);
 * assert(rank0.steps[0].bytesSent === predicted.bytesSentPerRankPerStep);
 * console.log(rank0.evals.map((e) => e.loss));
 * ```
 *
 * @module
 */

// config: what to run and what it should cost
export * from "./lib/config/config.ts";
export * from "./lib/config/config_error.ts";
export * from "./lib/config/sweep.ts";
export * from "./lib/config/sweeps.ts";
export * from "./lib/config/collectives.ts";
export * from "./lib/config/cost_model.ts";
// nn: single-rank pieces on TensorFlow.js
export * from "./lib/nn/backend.ts";
export * from "./lib/nn/ops.ts";
export * from "./lib/nn/layer.ts";
export * from "./lib/nn/dense_layer.ts";
export * from "./lib/nn/loss.ts";
export * from "./lib/nn/init.ts";
export * from "./lib/nn/rng.ts";
export * from "./lib/nn/task.ts";
export * from "./lib/nn/optimizer.ts";
// parallel: the two schemes under comparison
export * from "./lib/parallel/tp_layer.ts";
export * from "./lib/parallel/phantom_layer.ts";
export * from "./lib/parallel/tensor_comm.ts";
export * from "./lib/parallel/output_layer.ts";
export * from "./lib/parallel/ffn.ts";
// comm: the seam every transport implements
export * from "./lib/comm/communicator.ts";
export * from "./lib/comm/in_process_communicator.ts";
export * from "./lib/comm/timed_communicator.ts";
// nats: one transport
export * from "./lib/nats/connection.ts";
export * from "./lib/nats/nats_server.ts";
export * from "./lib/nats/wire.ts";
export * from "./lib/nats/nats_communicator.ts";
export * from "./lib/nats/rank_connection.ts";
export * from "./lib/nats/nats_group.ts";
export * from "./lib/nats/call_ledger.ts";
export * from "./lib/nats/collective_bench.ts";
// power: samplers and energy windows
export * from "./lib/power/power_sampler.ts";
export * from "./lib/power/energy_monitor.ts";
export * from "./lib/power/open_sampler.ts";
export * from "./lib/power/nvml_sampler.ts";
export * from "./lib/power/nvidia_smi_sampler.ts";
export * from "./lib/power/amd_smi_sampler.ts";
export * from "./lib/power/rapl_sampler.ts";
export * from "./lib/power/none_sampler.ts";
// runtime: executing points
export * from "./lib/runtime/environment.ts";
export * from "./lib/runtime/trainer.ts";
export * from "./lib/runtime/run_protocol.ts";
export * from "./lib/runtime/coordinator.ts";
export * from "./lib/runtime/rank_runtime.ts";
export * from "./lib/runtime/launcher.ts";
export * from "./lib/runtime/nats_run.ts";
export * from "./lib/runtime/point.ts";
export * from "./lib/runtime/runner.ts";
export * from "./lib/runtime/run_summary.ts";
export * from "./lib/runtime/energy_summary.ts";
export * from "./lib/runtime/loss_target.ts";
// results: the file format
export * from "./lib/results/schema.ts";
export * from "./lib/results/results.ts";
export * from "./lib/results/results_writer.ts";
export * from "./lib/results/stats.ts";
export * from "./lib/results/energy_method.ts";
export * from "./lib/results/metrics.ts";
export * from "./lib/results/describe_backend.ts";

export * from "./lib/results/atomic_write.ts";
// report: reading results back
export * from "./lib/report/report_html.ts";
export * from "./lib/report/write_report.ts";
export * from "./lib/report/compare.ts";
export * from "./lib/report/compare_markdown.ts";
export * from "./lib/report/repeat_stats.ts";
export * from "./lib/report/setup_changes.ts";
export * from "./lib/report/mann_whitney.ts";
export * from "./lib/report/exports.ts";
