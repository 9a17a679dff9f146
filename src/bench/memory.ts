/**
 * The simulator's own memory at scale: 500 small VMs on one host, each running the
 * built-in key-value workload, and what the simulator spends per touched 4 KiB page.
 *
 * Figures, per policy (osv: 4 KiB EPT pages, the worst case for the core's tables;
 * ucat: 2 MiB pages):
 * - `touchedPages`: host bytes backing guest memory / 4096, summed over the VMs (the
 *   "touched 4 KiB-equivalent pages": what the host had to provide);
 * - `bytesPerTouchedPage`: (core memory + host frame allocators + guest frame
 *   allocators) / touchedPages, the issue's figure (target <= 32 B); the core's fixed
 *   part (TLBs, counters, the 16 MiB request buffer, sized by maxVms) is included, and
 *   `marginalBytesPerTouchedPage` leaves it out;
 * - `heapBytesPerTouchedPage` and `rssBytesPerTouchedPage`: the JS heap's and the
 *   process's growth over the scenario (after a full GC), per touched page: these
 *   include the JS objects of the hypervisor, guests and allocators, which the estimate
 *   above cannot see, and the workload's own arrays while they live;
 * - `jsBytesPerTouchedPage`: the JS heap's growth plus that of the typed arrays' backing
 *   stores (`process.memoryUsage().arrayBuffers`, outside the V8 heap; the core's Wasm
 *   memory is not among them), per touched page: all the memory JavaScript holds for the
 *   simulator, the figure to hold to the 32 B target. `gcForced` says whether a full GC
 *   ran before each reading (`node --expose-gc`, or the flag set at run time); without
 *   one the deltas include garbage.
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
  /** Growth of typed arrays' backing stores (ArrayBuffers outside the V8 heap). */
  arrayBufferDeltaBytes: number;
  /** (heapDeltaBytes + arrayBufferDeltaBytes) / touchedPages. */
  jsBytesPerTouchedPage: number;
  gcForced: boolean;
  rssDeltaBytes: number;
  rssBytesPerTouchedPage: number;
  seconds: number;
}

export interface MemoryResult {
  osv: MemoryScenarioResult;
  ucat: MemoryScenarioResult;
}

/** A full GC: `globalThis.gc` under `node --expose-gc`, else with the flag set at run time; null when neither works. */
function collector(): (() => void) | null {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") {
    try {
      v8.setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc") as () => void;
    } catch {
      return null;
    }
  }
  if (typeof gc !== "function") return null;
  const f = gc;
  return () => {
    f();
    f();
  };
}

const fullGc = collector();
const gc = fullGc ?? ((): void => {});

/** One policy: `vms` VMs of `vmBytes` guest memory, each storing `items` values. */
export async function memoryScenario(policy: "osv" | "ucat", o: { vms: number; vmBytes: number; items: number }): Promise<MemoryScenarioResult> {
  gc();
  const m0 = process.memoryUsage();
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
  const m1 = process.memoryUsage();
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
    heapDeltaBytes: m1.heapUsed - m0.heapUsed,
    heapBytesPerTouchedPage: round2((m1.heapUsed - m0.heapUsed) / touched),
    arrayBufferDeltaBytes: m1.arrayBuffers - m0.arrayBuffers,
    jsBytesPerTouchedPage: round2((m1.heapUsed - m0.heapUsed + m1.arrayBuffers - m0.arrayBuffers) / touched),
    gcForced: fullGc !== null,
    rssDeltaBytes: m1.rss - m0.rss,
    rssBytesPerTouchedPage: round2((m1.rss - m0.rss) / touched),
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
