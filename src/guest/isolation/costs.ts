/**
 * The cost model of the process designs (Iso-UniK and its alternatives): per-operation
 * costs, and a ledger that charges counted operations against them.
 *
 * Every cycle the isolation models report is `count x unit cost`, where the count comes
 * from the simulation (page-table pages created, entries copied, pages copied, WRPKRUs
 * executed, ...) and the unit cost comes either from the CPU preset (src/cost/cpus.ts,
 * each number sourced there) or from `ISOLATION_PARAMS` below, which adds the costs the
 * presets lack. Each of those carries its source, or is marked as a guess with its
 * reason, like the presets (src/cost/sourced.ts). Nothing here is tuned to land on a
 * published end result (45 cycles, 66 us, 1.3 ms): docs/iso-unik.md compares.
 *
 * @example
 * const costs = isolationCosts(cpuPreset("skylake"));
 * const l = new Ledger(costs.frequencyHz);
 * l.charge("wrpkru", 2, costs.cpu.wrpkru);
 * l.total();          // 50 cycles
 * l.microseconds();   // 0.017
 */
import type { Counters } from "../../core/types.js";
import { PAGE_BYTES } from "../../core/types.js";
import type { CpuCosts, CpuLatencies, CpuPreset } from "../../cost/cpus.js";
import { nsToCycles } from "../../cost/cpus.js";
import { guess, unwrap, type Sourced } from "../../cost/sourced.js";
import type { TierPreset } from "../../cost/tiers.js";

/** Costs the CPU presets do not have, in cycles unless named otherwise. */
export interface IsolationParams {
  /** ERIM-style check after each WRPKRU in a gate (cmp + jne on the value written), with the xor of ECX/EDX. */
  gateCheck: number;
  /** Switching to the process's kernel stack on gate entry and back on exit (both together). */
  gateStackSwitch: number;
  /** The gate's dispatch to the handler: a load from the system-call table and a predicted indirect call. */
  gateDispatch: number;
  /** One page-table entry read from a parent table and written to a child table (cached lines, sequential). */
  pteCopy: number;
  /** One page-table entry written (a store to a cached line). */
  pteWrite: number;
  /** A LOCK-prefixed read-modify-write (reference count, write-protect bit) on a cached line. */
  atomicRmw: number;
  /** Frames whose reference counts share one 64 B line (4-byte counts in a dense array). */
  refcountsPerLine: number;
  /** Taking a 4 KiB frame for a page-table page from the frame allocator (zeroing is `pageZero4k`). */
  tableAlloc: number;
  /** Freeing a page-table page. */
  tableFree: number;
  /** Picking a free PCID (a bitmap search) and recording it. */
  pcidAlloc: number;
  /** Setting up a process's keys: allocating a (virtual) key and computing its PKRU value. */
  keySetup: number;
  /** INVPCID type 1 (all entries of one PCID). */
  invpcidSingle: number;
  /** Creating a process and its main thread in the unikernel (task, thread, its stack, fd table by reference). */
  processCreateUnikernel: number;
  /** Tearing a process down in the unikernel (thread, task, fd table), without its memory. */
  processExitUnikernel: number;
  /** The work of wait() once the child is a zombie: reaping it and returning its status. */
  waitReap: number;
  /** A thread switch in the unikernel scheduler (no address-space change). */
  threadSwitchUnikernel: number;
  /** copy_process() in Linux without the page tables: task_struct, credentials, files, signals, mm set-up. */
  linuxForkFixed: number;
  /** Duplicating one VMA in Linux's dup_mmap (vm_area_dup, anon_vma_fork, tree insertion). */
  linuxVmaDup: number;
  /** Linux exit() and the parent's wait() without the page tables: exit_mm, files, signals, release_task. */
  linuxExitFixed: number;
  /** A Linux process context switch (scheduler, FPU state) without the CR3 write. */
  linuxContextSwitch: number;
  /** Creating a VM in the hypervisor (VMCS, vCPU, EPT root, event channels), without copying its memory. */
  vmCreate: number;
  /** Destroying a VM in the hypervisor, without freeing its memory frame by frame. */
  vmDestroy: number;
  /** The hypervisor's scheduler picking another VM's vCPU (on top of the exit and entry). */
  vmSchedule: number;
  /** Bytes of the library OS image each KylinX pVM holds and a pVM fork duplicates. */
  libosImageBytes: number;
}

const ERIM =
  "Vahldiek-Oberwagner et al., ERIM: Secure, Efficient In-process Isolation with Protection Keys (MPK), USENIX Security'19, sec. 4 (call gate: WRPKRU, then compare EAX with the expected value and abort on mismatch)";
const AGNER = "Agner Fog, Instruction tables (Skylake): LOCK-prefixed ADD/XADD/BTR on memory ~18 cycles latency";
const OSV_PAPER = "Kivity et al., OSv: Optimizing the Operating System for Virtual Machines, USENIX ATC'14, context-switch table";
const DLANG =
  "dlang issue 14770 (github.com/dlang/phobos/issues/9139): Linux fork of an almost empty process ~60 us, of a 100 MiB process ~3 ms, of 1 GiB 30-45 ms";

/** The parameters with their sources. */
export const ISOLATION_PARAMS_SOURCED: Sourced<IsolationParams> = {
  gateCheck: guess(1, `${ERIM}; the cmp/jne pair macro-fuses into one uop and the xor zero idioms are eliminated at rename`),
  gateStackSwitch: guess(2, "two register moves of RSP (to the kernel stack on entry, back on exit)"),
  gateDispatch: guess(2, "a load from the system-call table (L1 hit) feeding a correctly predicted indirect call"),
  pteCopy: guess(2, "one load and one store to lines that stay in L1 while 8 entries per line are copied in order"),
  pteWrite: guess(1, "one store to a cached line"),
  atomicRmw: guess(18, `${AGNER} (recalled, not re-verified)`),
  refcountsPerLine: guess(16, "4-byte reference counts in an array indexed by frame number: 16 per 64 B line"),
  tableAlloc: guess(100, "popping a frame from a per-CPU free list with its bookkeeping; zeroing is charged separately"),
  tableFree: guess(100, "pushing the frame back on the free list"),
  pcidAlloc: guess(20, "a find-first-zero over a 4096-bit bitmap and a store"),
  keySetup: guess(20, "allocating a key from a 16-bit mask and computing the PKRU value from the process's keys"),
  invpcidSingle: guess(250, "no measurement found; taken equal to a flushing MOV CR3 (the Skylake preset's movCr3), which invalidates the same entries"),
  processCreateUnikernel: guess(
    10_000,
    "allocating a task and a thread with its stack (no zeroing: OSv stacks come from malloc) and linking them into the scheduler; a few microseconds, of the order of OSv's thread creation",
  ),
  processExitUnikernel: guess(5_000, "half of the creation: unlinking and freeing the task and thread"),
  waitReap: guess(500, "finding the zombie child, collecting its status and freeing its task slot"),
  threadSwitchUnikernel: guess(984, `${OSV_PAPER}: 328 ns for a switch between threads on one CPU (recalled, not re-verified), at 3 GHz`),
  linuxForkFixed: guess(
    120_000,
    `derived from ${DLANG}: 40 us of the ~60 us an almost empty process takes, the rest being its page tables and VMAs`,
  ),
  linuxVmaDup: guess(1_000, "vm_area_dup, anon_vma_fork and an interval-tree insertion: a few hundred ns per VMA"),
  linuxExitFixed: guess(30_000, "exit_mm, exit_files, signal teardown and release_task: ~10 us, a quarter of copy_process"),
  linuxContextSwitch: guess(2_715, `${OSV_PAPER}: 905 ns for a Linux thread switch on one CPU (recalled, not re-verified), at 3 GHz`),
  vmCreate: guess(
    150_000,
    "creating a domain in the hypervisor without its toolstack (VMCS or VMCB, a vCPU, the EPT root, event channels and grant table): assumed ~50 us",
  ),
  vmDestroy: guess(60_000, "tearing a domain down without freeing its memory page by page: assumed ~20 us"),
  vmSchedule: guess(1_000, "the hypervisor's scheduler choosing the next vCPU and loading its VMCS (VMPTRLD) on top of the exit and entry"),
  libosImageBytes: guess(
    2 * 1024 * 1024,
    "a KylinX pVM is a Mini-OS based library OS with the application's libraries; the paper does not give its size, 2 MiB assumed",
  ),
};

export const ISOLATION_PARAMS: Readonly<IsolationParams> = Object.freeze(unwrap<IsolationParams>(ISOLATION_PARAMS_SOURCED));

/** Everything a design charges: the CPU preset's costs and latencies, the parameters above, and tier costs. */
export interface IsolationCosts {
  cpuName: string;
  frequencyHz: number;
  cpu: CpuCosts;
  latency: CpuLatencies;
  params: IsolationParams;
  /** Cycles of one DRAM load that misses every cache (the DRAM tier's random load latency). */
  dramMiss: number;
  /** Tier presets by tier name, for copies by tier. */
  tiers: Record<string, TierPreset>;
}

/**
 * The costs of a CPU preset with the isolation parameters (optionally overridden).
 *
 * @example
 * isolationCosts(sim.cpu, sim.tierPresets).cpu.wrpkru;   // 25 on skylake
 */
export function isolationCosts(cpu: CpuPreset, tiers: Record<string, TierPreset> = {}, params: Partial<IsolationParams> = {}): IsolationCosts {
  const dram = Object.values(tiers).find((t) => t.kind === "dram");
  return {
    cpuName: cpu.name,
    frequencyHz: cpu.frequencyHz,
    cpu: { ...cpu.costs },
    latency: { ...cpu.latency },
    params: { ...ISOLATION_PARAMS, ...params },
    // the DRAM preset's 80 ns (src/cost/tiers.ts) when no DRAM tier is configured
    dramMiss: nsToCycles(dram?.loadRandomNs ?? 80, cpu.frequencyHz),
    tiers,
  };
}

/**
 * Cycles to copy one page of `size` whose source and destination are on `tier`.
 *
 * The preset's `pageCopy4k` is 3 x 4 KiB of traffic at the core's bandwidth (read the
 * source; read-for-ownership and write back the destination). On a tier slower than
 * that bandwidth, the read goes at the tier's read bandwidth and the two destination
 * transfers at its write bandwidth (an Optane DIMM writes at 2.3 GB/s, REFERENCE.md
 * section 7). A 2 MiB page is 512 times a 4 KiB one.
 */
export function pageCopyCycles(costs: IsolationCosts, size: 0 | 1 | 2, tier?: string): number {
  const pages4k = PAGE_BYTES[size] / 4096;
  const base = costs.cpu.pageCopy4k;
  const t = tier === undefined ? undefined : costs.tiers[tier];
  if (!t) return base * pages4k;
  const coreBw = (3 * 4096) / (base / costs.frequencyHz); // bytes/s the preset's copy implies
  const seconds = 4096 / Math.min(coreBw, t.readBytesPerSec) + (2 * 4096) / Math.min(coreBw, t.writeBytesPerSec);
  return Math.round(seconds * costs.frequencyHz) * pages4k;
}

/** Cycles to zero one page of `size` on `tier` (two destination transfers, as for a copy). */
export function pageZeroCycles(costs: IsolationCosts, size: 0 | 1 | 2, tier?: string): number {
  const pages4k = PAGE_BYTES[size] / 4096;
  const base = costs.cpu.pageZero4k;
  const t = tier === undefined ? undefined : costs.tiers[tier];
  if (!t) return base * pages4k;
  const coreBw = (2 * 4096) / (base / costs.frequencyHz);
  const seconds = (2 * 4096) / Math.min(coreBw, t.writeBytesPerSec);
  return Math.round(seconds * costs.frequencyHz) * pages4k;
}

/**
 * Cycles of address translation implied by a counter delta: STLB hits at the preset's
 * STLB latency and page-walk references at its L2 latency (a guess: the walk's lines
 * mostly hit in L2 in a server workload; the walker's memory references are not cached
 * in the simulator). L1 TLB hits cost nothing extra (the preset's `l1TlbHit` is 0).
 */
export function translationCycles(costs: IsolationCosts, delta: Pick<Counters, "stlbHits" | "walkRefs">): number {
  return delta.stlbHits * costs.latency.stlbHit + delta.walkRefs * costs.latency.walkRefL2;
}

/** One line of a breakdown: how many times a step ran and what each cost. */
export interface Step {
  count: number;
  unitCycles: number;
  cycles: number;
}

/** Cycles by step, and the total. */
export interface Breakdown {
  cycles: number;
  microseconds: number;
  steps: Record<string, Step>;
}

/**
 * Charges counted operations and keeps the breakdown by step.
 *
 * @example
 * const l = new Ledger(3e9);
 * l.charge("entriesCopied", 1024, 2);
 * l.breakdown();   // { cycles: 2048, microseconds: 0.68, steps: { entriesCopied: { count: 1024, unitCycles: 2, cycles: 2048 } } }
 */
export class Ledger {
  private readonly steps = new Map<string, Step>();

  constructor(readonly frequencyHz: number) {}

  /** Charges `count` operations of `unitCycles` each under `step` (unit costs of one step may differ: the unit shown is the mean). */
  charge(step: string, count: number, unitCycles: number): number {
    if (!(count >= 0) || !Number.isFinite(unitCycles)) throw new RangeError(`charge ${step}: count ${count}, unit ${unitCycles}`);
    if (count === 0) return 0;
    const cycles = count * unitCycles;
    const s = this.steps.get(step);
    if (s) {
      s.count += count;
      s.cycles += cycles;
      s.unitCycles = s.cycles / s.count;
    } else {
      this.steps.set(step, { count, unitCycles, cycles });
    }
    return cycles;
  }

  /** Adds every step of another ledger or breakdown. */
  add(other: Ledger | Breakdown, prefix = ""): void {
    const steps = other instanceof Ledger ? other.breakdown().steps : other.steps;
    for (const [k, s] of Object.entries(steps)) this.charge(prefix + k, s.count, s.unitCycles);
  }

  total(): number {
    let t = 0;
    for (const s of this.steps.values()) t += s.cycles;
    return t;
  }

  microseconds(): number {
    return round3((this.total() / this.frequencyHz) * 1e6);
  }

  breakdown(): Breakdown {
    const steps: Record<string, Step> = {};
    for (const [k, s] of this.steps) steps[k] = { count: s.count, unitCycles: round3(s.unitCycles), cycles: Math.round(s.cycles) };
    return { cycles: Math.round(this.total()), microseconds: this.microseconds(), steps };
  }

  clear(): void {
    this.steps.clear();
  }
}

/** Rounds to 3 decimals so that JSON output stays short and byte-identical. */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

