/**
 * A VM of the simulator: its guest OS, its allocator and its processes. A plain OSv or
 * UCat VM has one process, the application, in the kernel's address space; the
 * Iso-UniK model (src/guest/processes.ts) adds more.
 */
import type { Counters, PageSizeCode } from "../core/types.js";
import type { BackendPolicy, Hypervisor } from "../host/hypervisor.js";
import type { GuestOs } from "../guest/guest.js";
import type { AccessFault, Simulator } from "./simulator.js";
import { Process } from "./process.js";
import type { Allocator } from "../guest/malloc/types.js";
import { createAllocator } from "../guest/malloc/index.js";

export interface VmOptions {
  /** Back-end and front-end policy: the OSv baseline or UCat. */
  policy: BackendPolicy;
  /** Guest memory by tier (osv lays the sum out flat and backs it in tier order). */
  nodes: { tier: string; bytes: number }[];
  /** Page size of the guest's linear map (1: 2 MiB, 2: 1 GiB). */
  linearPage?: PageSizeCode;
  /** Node of allocator metadata and page tables. */
  metadataTier?: string;
  /** Allocator of the VM's heap (default: the policy's own). */
  allocator?: "osv" | "ucat";
}

export class Vm {
  readonly vcpu: number;
  readonly allocator: Allocator;
  readonly process: Process;
  /** The process running on each vCPU (its address space decides page faults). */
  private readonly running = new Map<number, Process>();
  readonly faults: AccessFault[] = [];

  constructor(
    readonly sim: Simulator,
    readonly id: number,
    readonly hv: Hypervisor,
    readonly guest: GuestOs,
    readonly options: VmOptions,
  ) {
    this.vcpu = sim.newVcpu(this);
    sim.core.setCr3(this.vcpu, guest.kernelRoot, 0, false);
    this.allocator = createAllocator(options.allocator ?? options.policy, this);
    this.process = new Process(this, 0, this.vcpu, guest.kernelRoot, this.allocator);
    this.running.set(this.vcpu, this.process);
  }

  get policy(): BackendPolicy {
    return this.options.policy;
  }

  /** The process on `vcpu`. */
  on(vcpu: number): Process {
    const p = this.running.get(vcpu);
    if (!p) throw new Error(`vm ${this.id}: no process runs on vcpu ${vcpu}`);
    return p;
  }

  /** Puts `p` on `vcpu` (MOV CR3 with its PCID; no flush: PCIDs keep TLB entries apart). */
  switchTo(vcpu: number, p: Process): void {
    this.sim.flush();
    this.sim.core.setCr3(vcpu, p.root, p.pcid, true);
    this.sim.core.setPkru(vcpu, p.pkru);
    this.running.set(vcpu, p);
  }

  pageFault(vcpu: number, va: number): void {
    this.on(vcpu).pageFault(va);
  }

  /** A protection fault: true when handled (e.g. copy-on-write), false when it stands. */
  protectionFault(vcpu: number, va: number, error: number): boolean {
    return this.on(vcpu).protectionFault(va, error);
  }

  onFault(f: AccessFault): void {
    if (this.faults.length < 1000) this.faults.push(f);
  }

  counters(): Counters {
    return this.sim.counters(this.vcpu);
  }

  destroy(): void {
    this.hv.destroyVm(this.id);
  }
}
