/**
 * The simulator's own memory at scale: 500 small VMs on one host, each running the
 * built-in key-value workload, and what the simulator spends per touched 4 KiB page.
 *
 * Figures, per policy (osv: 4 KiB EPT pages, the worst case for the core's tables;
 * ucat: 2 MiB pages):
 * - `touchedPages`: host bytes backing guest memory / 4096, summed over the VMs (the
 *   "touched 4 KiB-equivalent pages": what the host had to provide);
 * - `bytesPerTouchedPage`: (core memory + host frame allocators + guest frame
 *   allocators) / touchedPages, the figure (target <= 32 B); the core's fixed
 *   part (TLBs, counters, the 16 MiB request buffer, sized by maxVms) is included, and
 *   `marginalBytesPerTouchedPage` leaves it out;
 * - `heapBytesPerTouchedPage` and `rssBytesPerTouchedPage`: the JS heap's and the
 *   process's growth over the scenario (after a full GC), per touched page: these
 *   include the JS objects of the hypervisor, guests and allocators, which the estimate
 *   above cannot see, and the workload's own arrays while they live.
 *
 * @example
 * const r = await benchMemory({ vms: 500 });
 * r.osv.bytesPerTouchedPage; // e.g. 20
 */
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { Simulator } from "../sim/simulator.js";
import { simulatorMemory } from "../sim/stats.js";
import { runKv } from "../workloads/kv/kv.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export interface MemoryScenarioResult {
  vms: number;
  vmBytes: number;
  itemsPerVm: number;
  /** Host bytes backing guest memory / 4096, over all VMs. */
  touchedPages: number;
  coreBytes: number;
  /** The core's memory before the first VM (fixed structures sized by maxVms). */
  coreFixedBytes: number;
  hostAllocatorBytes: number;
  guestAllocatorBytes: number;
  bytesPerTouchedPage: number;
  marginalBytesPerTouchedPage: number;
  heapDeltaBytes: number;
  heapBytesPerTouchedPage: number;
  rssDeltaBytes: number;
  rssBytesPerTouchedPage: number;
  seconds: number;
}

export interface MemoryResult {
  osv: MemoryScenarioResult;
  ucat: MemoryScenarioResult;
}

/** A full GC when the flag can be set (Node), else nothing (the deltas are then noisier). */
function collector(): () => void {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    return () => {
      gc();
      gc();
    };
  } catch {
    return () => {};
  }
}

const gc = collector();

/** One policy: `vms` VMs of `vmBytes` guest memory, each storing `items` values. */
export async function memoryScenario(policy: "osv" | "ucat", o: { vms: number; vmBytes: number; items: number }): Promise<MemoryScenarioResult> {
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const sim = await Simulator.create({
    tiers: [{ name: "dram", preset: "dram", capacity: Math.ceil((o.vms * o.vmBytes) / GiB + 1) * GiB }],
    maxVms: o.vms,
  });
  const coreFixedBytes = sim.core.memoryBytes();
  let touched = 0;
  for (let i = 0; i < o.vms; i++) {
    const vm = sim.createVm({ policy, nodes: [{ tier: "dram", bytes: o.vmBytes }] });
    const r = runKv(vm, { seed: 1 + i, items: o.items, reads: 2 * o.items });
    if (r.outOfMemory) throw new Error(`memory bench: vm ${i} ran out of ${r.outOfMemory} memory`);
    const b = vm.hv.stats(vm.id);
    for (const n of Object.values(b.bytesByTier)) touched += n / 4096;
  }
  const seconds = (performance.now() - t0) / 1000;
  const m = simulatorMemory(sim);
  gc();
  const heap1 = process.memoryUsage().heapUsed;
  const rss1 = process.memoryUsage().rss;
  // keep the simulator alive through the measurement
  if (sim.allVms().length !== o.vms) throw new Error("memory bench: VMs went missing");
  return {
    vms: o.vms,
    vmBytes: o.vmBytes,
    itemsPerVm: o.items,
    touchedPages: touched,
    coreBytes: m.coreBytes,
    coreFixedBytes,
    hostAllocatorBytes: m.hostAllocatorBytes,
    guestAllocatorBytes: m.guestAllocatorBytes,
    bytesPerTouchedPage: round2(m.totalBytes / touched),
    marginalBytesPerTouchedPage: round2((m.totalBytes - coreFixedBytes) / touched),
    heapDeltaBytes: heap1 - heap0,
    heapBytesPerTouchedPage: round2((heap1 - heap0) / touched),
    rssDeltaBytes: rss1 - rss0,
    rssBytesPerTouchedPage: round2((rss1 - rss0) / touched),
    seconds: round2(seconds),
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * Both policies, one after the other. Defaults: 500 VMs of 64 MiB, 4096 values of
 * 1000..1200 B each (about 4.5 MiB asked for per VM; a guess at "some pages"). `scale`
 * below 1 runs fewer VMs (at least 10) for a quick look; the figures then carry more of
 * the core's fixed part per page.
 */
export async function benchMemory(o: { vms?: number; vmBytes?: number; items?: number; scale?: number; onProgress?: (label: string) => void } = {}): Promise<MemoryResult> {
  const vms = o.vms ?? Math.max(10, Math.round(500 * Math.min(1, o.scale ?? 1)));
  const vmBytes = o.vmBytes ?? 64 * MiB;
  const items = o.items ?? 4096;
  o.onProgress?.(`memory: ${vms} osv VMs`);
  const osv = await memoryScenario("osv", { vms, vmBytes, items });
  o.onProgress?.(`memory: ${vms} ucat VMs`);
  const ucat = await memoryScenario("ucat", { vms, vmBytes, items });
  return { osv, ucat };
}
