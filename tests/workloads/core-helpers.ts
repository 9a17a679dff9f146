// Helpers of the tests that compare workload models in the core with the host's.
import { Simulator } from "../../src/sim/simulator.js";

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** A simulator with DRAM and NVM tiers and one VM under `policy`. */
export async function vmOf(policy: "osv" | "ucat") {
  const sim = await Simulator.create({
    tiers: [
      { name: "dram", preset: "dram", capacity: 4 * GiB },
      { name: "nvm", preset: "optane", capacity: 8 * GiB },
    ],
    maxVms: 1,
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

