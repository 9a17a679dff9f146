/**
 * What the workloads need from a process design: the multi-process unikernel (`IsoOs`,
 * designs none, iso-unik, shared-as, linux) and the VM-per-process model (`KylinxOs`)
 * both provide it, so the Apache and lmbench workloads run unchanged on each.
 *
 * @example
 * const model = await createModel(sim, "iso-unik", vmOptions);
 * const p = model.spawn({ name: "app" }, { heap: 1 << 20 });
 * model.fork(p);
 */
import type { Simulator } from "../../sim/simulator.js";
import type { VmOptions } from "../../sim/vm.js";
import type { ProcessConfig } from "./config.js";
import type { Breakdown, IsolationCosts, Ledger } from "./costs.js";
import type { Design } from "./gate.js";
import { KylinxOs } from "./kylinx.js";
import { IsoOs, type AccessResult, type IsolationFault, type Layout, type MmapOptions, type ProcState } from "./processes.js";

/** A process of any design. */
export interface ProcHandle {
  readonly pid: number;
  readonly name: string;
  readonly alive: boolean;
  state: ProcState;
}

export interface TranslationMark {
  stlbHits: number;
  walkRefs: number;
}

export interface SyscallOptions {
  /** The handler's own work, cycles (the same in every design). */
  handlerCycles?: number;
  /** Kernel memory the handler touches (offsets into the library OS's buffers). */
  kernelAccesses?: { offset: number; bytes: number; kind: 0 | 1 | 2 }[];
}

export interface ProcessModel<P extends ProcHandle = ProcHandle> {
  readonly design: Design;
  readonly costs: IsolationCosts;
  readonly ledger: Ledger;
  readonly faults: IsolationFault[];
  spawn(config: ProcessConfig, layout?: Layout): P;
  fork(parent: P, opts?: { name?: string }): { child: P; cost: Breakdown };
  exit(p: P, code?: number): Breakdown;
  wait(parent: P): { pid: number; name: string; code: number; cost: Breakdown } | null;
  mmap(p: P, bytes: number, opts?: MmapOptions, name?: string): unknown;
  addressOf(p: P, name: string): number;
  access(p: P, va: number, bytes: number, kind: 0 | 1 | 2): AccessResult;
  touch(p: P, va: number, bytes: number, kind: 0 | 1 | 2): void;
  syscall(p: P, name: string, opts?: SyscallOptions): Breakdown;
  switchTo(p: P): void;
  settle(): void;
  kernelAddress(offset?: number, p?: P): number;
  mark(): TranslationMark;
  chargeTranslation(mark: TranslationMark): number;
  live(): P[];
}

/** Whether `p` has a region of its own at `va` (so an access there reaches its own memory). */
export function ownsAddress(p: ProcHandle, va: number): boolean {
  const q = p as unknown as { regionAt?: (va: number) => unknown; regions?: { vma?: { start: number; end: number } }[] };
  if (typeof q.regionAt === "function") return q.regionAt(va) !== undefined;
  return (q.regions ?? []).some((r) => r.vma !== undefined && va >= r.vma.start && va < r.vma.end);
}

/**
 * A model of `design` on `sim`: a new VM with `vmOptions` holding the processes (or,
 * for vm-per-process, a VM per process).
 */
export function createModel(sim: Simulator, design: Design, vmOptions: VmOptions, opts: { keyVirtualisation?: boolean; costs?: IsolationCosts } = {}): ProcessModel {
  if (design === "vm-per-process") return new KylinxOs(sim, vmOptions, { costs: opts.costs }) as unknown as ProcessModel;
  const vm = sim.createVm(vmOptions);
  return new IsoOs(vm, { design, keyVirtualisation: opts.keyVirtualisation, costs: opts.costs }) as unknown as ProcessModel;
}

// compile-time checks that both designs implement the interface for their own processes
type Implements<T, U extends T> = U;
export type IsoOsModel = Implements<ProcessModel<import("./processes.js").IsoProcess>, IsoOs>;
export type KylinxModel = Implements<ProcessModel<import("./kylinx.js").PvmProcess>, KylinxOs>;
