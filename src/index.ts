/**
 * unimmu: a fast, embeddable simulator of the memory system of unikernel VMs.
 * This entry point works in Node and in browsers (nothing here imports Node built-ins);
 * file readers and the command line live in their own modules.
 *
 * @example
 * import { WasmCore, modelConfig, FlatVm, READ } from "unimmu";
 * const core = await WasmCore.create(modelConfig("default"));
 * const vm = new FlatVm(core, { pageSize: 0 });
 * vm.runRequests([{ vcpu: vm.vcpu, va: 0x400000, kind: READ, size: 8 }]);
 * core.counters(vm.vcpu).walks; // 2: the faulting walk and the one after the fault was fixed
 */
export * from "./core/types.js";
export { WasmCore, RequestWriter } from "./core/wasm.js";
export { loadCoreModule, instantiateCore, type LoadOptions, type CoreVariant } from "./core/load.js";
export { modelConfig, MODEL_NAMES, type ModelName, type ModelOptions } from "./core/models.js";
export { checkConfig, ConfigError } from "./core/config.js";
export { FlatVm, type FlatVmOptions } from "./core/flat.js";
export { LackeyParser, parseLackey, TraceError, lackeyRequests, type LackeyChunk } from "./workloads/trace/lackey-parse.js";
export { cpuPreset, CPU_NAMES, type CpuName, type CpuPreset } from "./cost/cpus.js";
export { tierPreset, TIER_NAMES, type TierName, type TierPreset } from "./cost/tiers.js";
export { Rng } from "./util/rng.js";
export { Simulator, LINE_CACHE_MODES, type SimulatorOptions, type TierConfig, type AccessFault, type LineCacheMode } from "./sim/simulator.js";
export type { Vm, VmOptions } from "./sim/vm.js";
export type { Process } from "./sim/process.js";
export { vmStats, simStats, type VmStats, type SimStats } from "./sim/stats.js";
export { runJob, checkJob, JobError, type Job, type JobResult, type JobProfile } from "./sim/jobs.js";
export {
  runMemaslap, runYcsb, type WorkloadProcess, type WorkloadRunResult, type MemaslapRunOptions, type YcsbRunOptions, type ProgressCallback,
} from "./workloads/drivers.js";
export { MemcachedServer, type MemcachedOptions, type MemcachedStats, type SlabClassStats } from "./workloads/memcached/server.js";
export { CoreMemcached, CoreMemcachedBatch, type CoreRequest, type CoreServeCounts } from "./workloads/memcached/core-run.js";
export { KvStore, type KvStoreOptions, type KvStoreStats } from "./workloads/ycsb/store.js";
export { ycsbWorkload, YcsbRunStream, type YcsbWorkloadName, type YcsbWorkloadSpec, type YcsbOperation } from "./workloads/ycsb/workloads.js";
export { runKv, type KvOptions, type KvResult } from "./workloads/kv/kv.js";
export { translationCycles, throughput, type CycleBreakdown } from "./cost/model.js";
