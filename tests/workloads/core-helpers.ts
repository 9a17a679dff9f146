// Helpers of the tests that compare workload models in the core with the host's.
import { Simulator, type SimulatorOptions } from "../../src/sim/simulator.js";
import { runYcsb, type ProgressCallback, type YcsbRunOptions } from "../../src/workloads/drivers.js";
import type { YcsbWorkloadName } from "../../src/workloads/ycsb/workloads.js";

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** A simulator with DRAM and NVM tiers and one VM under `policy` (`threads`: its line and generator threads). */
export async function vmOf(policy: "osv" | "ucat", threads: Pick<SimulatorOptions, "lineThread" | "generatorThread"> = {}) {
  const sim = await Simulator.create({
    tiers: [
      { name: "dram", preset: "dram", capacity: 4 * GiB },
      { name: "nvm", preset: "optane", capacity: 8 * GiB },
    ],
    maxVms: 1,
    ...threads,
  });
  const vm = sim.createVm({ policy, nodes: [{ tier: "dram", bytes: 256 * MiB }, { tier: "nvm", bytes: 512 * MiB }] });
  return { sim, vm };
}

/** FNV-1a over every request the core runs, in order (whatever the batches). */
export function hashRequests(sim: Simulator): () => string {
  const core = sim.core;
  const x = core.ycsbGenerator() as unknown as { memory: WebAssembly.Memory; requestBuffer(): number };
  let h = 0x811c9dc5;
  let n = 0;
  const runBuffer = core.runBuffer.bind(core);
  core.runBuffer = (count: number) => {
    const u = new Uint32Array(x.memory.buffer, x.requestBuffer(), count * 4);
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i]!, 0x01000193);
    n += count;
    return runBuffer(count);
  };
  return () => `${n}:${(h >>> 0).toString(16)}`;
}


/** A YCSB run on `sim`'s VM `vm`: its result, the counters, the requests (hashed in order) and the progress calls, as JSON; closes `sim`. */
export function ycsbFingerprint(sim: Simulator, vm: Awaited<ReturnType<typeof vmOf>>["vm"], workload: YcsbWorkloadName, opts: YcsbRunOptions): string {
  const requests = hashRequests(sim);
  const progress: Parameters<ProgressCallback>[] = [];
  const r = runYcsb(vm.process, workload, { ...opts, onProgress: (...a) => progress.push(a) });
  const out = JSON.stringify({ r, counters: sim.counters(vm.vcpu), requests: requests(), progress, faults: sim.faultCount }, (_k, v) =>
    typeof v === "bigint" ? v.toString() : v,
  );
  sim.close();
  return out;
}
