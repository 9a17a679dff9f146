/**
 * Density: how many VMs running a given workload fit on a host before a tier runs out.
 * VMs are created one by one on one simulator, each runs the workload to its end, and
 * the count stops at the first out-of-memory: creating the VM failed (no host frame for
 * its page tables), or the workload saw one (a malloc that threw GuestOutOfMemory, an
 * access the simulator recorded as an "oom" fault, or the hypervisor's `outOfMemory`
 * count rising). The VM that did not fit is destroyed, so the host then holds exactly
 * the VMs counted.
 *
 * Which tier ran out: when the host refused a frame, the tiers with no free 4 KiB frame
 * left (a refusal means every tier the back-end may use had none: it tries 1 GiB, 2 MiB,
 * then 4 KiB frames, and the next tiers when the policy allows); `tier` is the one that
 * became full last, the one whose exhaustion the count ran into. When the VM's own guest
 * memory was too small for the workload, no host tier ran out: `kind` is "guest" and
 * `tier` names the guest node that could not give a 2 MiB frame.
 *
 * @example
 * const r = await density({
 *   tiers: [{ name: "dram", preset: "dram", capacity: 1 * GiB }, { name: "nvm", preset: "optane", capacity: 4 * GiB }],
 *   vm: { policy: "ucat", nodes: [{ tier: "dram", bytes: 64 * MiB }, { tier: "nvm", bytes: 64 * MiB }] },
 *   workload: { items: 4000, reads: 10_000 },
 * });
 * r.vms;          // VMs that fit
 * r.oom?.tier;    // "dram" or "nvm": the tier that ran out
 */
import { Simulator, type SimulatorOptions } from "./simulator.js";
import type { Vm, VmOptions } from "./vm.js";
import { runKv, type KvOptions, type KvResult } from "../workloads/kv/kv.js";
import { GuestOutOfMemory } from "../guest/guest.js";
import { OutOfMemoryError } from "../host/hypervisor.js";

export interface DensityOptions {
  /** Each VM's configuration. */
  vm: VmOptions;
  /** The workload each VM runs (the built-in key-value store); VM i runs it with seed `seed + i`. */
  workload?: KvOptions;
  /** Most VMs to try. Default 512. */
  limit?: number;
}

export interface DensityOom {
  /** Index (and id) of the VM that did not fit. */
  vm: number;
  /** Where it failed: creating the VM, or running the workload. */
  during: "create" | "workload";
  /** Whose memory ran out: a host tier's, or the VM's own guest memory. */
  kind: "host" | "guest";
  /** The tier that ran out (see the module comment), or null when none can be named. */
  tier: string | null;
  message: string;
}

export interface DensityResult {
  /** VMs that ran the workload to its end. */
  vms: number;
  stoppedBy: "out-of-memory" | "limit";
  oom: DensityOom | null;
  /** Host tiers with no free 4 KiB frame when the count stopped (before the failed VM was destroyed). */
  exhausted: string[];
  /** For each tier, the number of VMs created when it first had no free 4 KiB frame (null: never). */
  fullAt: Record<string, number | null>;
  /** Host bytes in use by tier after the failed VM was destroyed: what the counted VMs hold. */
  bytesUsedByTier: Record<string, number>;
  /** The last counted VM's workload result (null when none fit). */
  lastWorkload: KvResult | null;
}

function isOom(e: unknown): boolean {
  return e instanceof GuestOutOfMemory || e instanceof OutOfMemoryError;
}

/**
 * Counts VMs on `sim`, which must have no VM yet (VM ids are then 0, 1, ...; a VM whose
 * creation failed is cleaned up by its id).
 */
export function runDensity(sim: Simulator, o: DensityOptions): DensityResult {
  if (sim.allVms().length > 0) throw new RangeError("runDensity: the simulator already has VMs; density needs a fresh one");
  const limit = o.limit ?? 512;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit: ${limit} is not allowed; expected an integer >= 1`);
  const tiers = sim.host.tierNames();
  const fullAt: Record<string, number | null> = Object.fromEntries(tiers.map((t) => [t, null]));
  const full = (): string[] => tiers.filter((t) => !sim.host.canAlloc(t, 0));
  const note = (created: number): void => {
    for (const t of full()) if (fullAt[t] === null) fullAt[t] = created;
  };
  const baseSeed = o.workload?.seed ?? 1;
  let oom: DensityOom | null = null;
  let exhausted: string[] = [];
  let last: KvResult | null = null;
  let count = 0;
  for (let i = 0; i < limit && !oom; i++) {
    let vm: Vm | null = null;
    try {
      vm = sim.createVm(o.vm);
    } catch (e) {
      if (!isOom(e)) throw e;
      note(i + 1);
      exhausted = full();
      oom = { vm: i, during: "create", kind: "host", tier: null, message: (e as Error).message };
      // the back-end may hold the half-made VM: give its frames back
      try {
        sim.hypervisor(o.vm.policy).destroyVm(i);
      } catch {
        // it never got that far
      }
      // a guest that ran out of its own memory while booting is a guest out-of-memory
      if (e instanceof GuestOutOfMemory && !/host memory/.test(e.message)) oom.kind = "guest";
      break;
    }
    const r = runKv(vm, { ...o.workload, seed: (baseSeed + i) >>> 0 });
    note(i + 1);
    if (r.outOfMemory) {
      exhausted = full();
      oom = { vm: i, during: "workload", kind: r.outOfMemory, tier: null, message: `the workload ran out of ${r.outOfMemory} memory in its ${r.phase} phase` };
      if (r.outOfMemory === "guest") {
        const node = vm.guest.nodes.find((n) => !n.frames.canAlloc(9));
        oom.tier = node?.tier ?? null;
      }
      sim.destroyVm(vm);
      break;
    }
    last = r;
    count++;
  }
  if (!oom) exhausted = full();
  if (oom && oom.kind === "host") {
    // the full tier that became full last; ties go to the later tier in the host's order (the fallback order's end)
    let best: string | null = null;
    for (const t of exhausted) if (best === null || fullAt[t]! >= fullAt[best]!) best = t;
    oom.tier = best;
  }
  const bytesUsedByTier = Object.fromEntries(tiers.map((t) => [t, sim.host.usage(t).bytesUsed]));
  return { vms: count, stoppedBy: oom ? "out-of-memory" : "limit", oom, exhausted, fullAt, bytesUsedByTier, lastWorkload: last };
}

/**
 * Creates a simulator big enough for `limit` VMs (`maxVms`) and counts the VMs that fit.
 * Returns the result and the simulator (holding the counted VMs) for inspection.
 */
export async function density(options: Omit<SimulatorOptions, "maxVms"> & DensityOptions): Promise<DensityResult & { sim: Simulator }> {
  const { vm, workload, limit, ...simOptions } = options;
  const max = limit ?? 512;
  const sim = await Simulator.create({ ...simOptions, maxVms: max });
  const r = runDensity(sim, { vm, workload, limit: max });
  return { ...r, sim };
}
