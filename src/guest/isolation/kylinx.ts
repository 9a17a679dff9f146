/**
 * The KylinX-style alternative (Zhang et al., USENIX ATC'18): one VM per process. Each
 * process is a unikernel VM of its own (a pVM) holding its library OS and its memory;
 * isolation comes from the hypervisor (each VM has its own EPT and VPID), and inside a
 * pVM the process and its library OS trust each other, so a system call is a function
 * call. fork clones the VM through the hypervisor: a hypercall, a new domain, and the
 * parent's memory duplicated page by page into the child (the library OS image, the
 * process's pages and the guest's page tables), each copy charged by tier and each new
 * EPT entry and EPT table page counted from the hypervisor's own statistics. A switch
 * between processes is a switch between VMs: a VM exit, the hypervisor's scheduler and a
 * VM entry. Shared memory between pVMs (KylinX uses Xen grant tables) is not modelled.
 *
 * @example
 * const ky = new KylinxOs(sim, { policy: "osv", nodes: [{ tier: "dram", bytes: 1 * GiB }] });
 * const p = ky.spawn({ name: "httpd" }, { heap: 1 * MiB });
 * const { child, cost } = ky.fork(p);         // a new VM with a copy of p's memory
 * cost.steps["copy4k.dram"].count;            // pages duplicated
 */
import type { PageSizeCode } from "../../core/types.js";
import { PAGE_BYTES, READ, WRITE } from "../../core/types.js";
import type { Simulator } from "../../sim/simulator.js";
import type { Vm, VmOptions } from "../../sim/vm.js";
import type { Vma } from "../guest.js";
import { checkProcessConfig, IsolationConfigError, type ProcessConfig } from "./config.js";
import { isolationCosts, Ledger, pageCopyCycles, type Breakdown, type IsolationCosts } from "./costs.js";
import { syscallLedger } from "./gate.js";
import { assertLoadable } from "./inspect.js";
import { KILLED_STATUS, processTree, reapProcess, zombieChild, type AccessResult, type IsolationFault, type Layout, type MmapOptions, type ProcessTreeNode, type ProcState } from "./processes.js";

/** A process of the VM-per-process design: a VM and the regions of its memory. */
export class PvmProcess {
  state: ProcState = "alive";
  exitCode: number | null = null;
  parent: PvmProcess | null;
  readonly children = new Set<PvmProcess>();
  /** Regions in creation order (a fork replays them in the child). */
  readonly regions: { name: string; vma: Vma; bytes: number; opts: MmapOptions }[] = [];
  violated = false;

  constructor(
    readonly pid: number,
    readonly vm: Vm,
    readonly config: Required<ProcessConfig>,
    parent: PvmProcess | null,
  ) {
    this.parent = parent;
  }

  get name(): string {
    return this.config.name;
  }

  get alive(): boolean {
    return this.state === "alive";
  }
}

export class KylinxOs {
  readonly design = "vm-per-process" as const;
  readonly costs: IsolationCosts;
  readonly ledger: Ledger;
  readonly faults: IsolationFault[] = [];
  private readonly procs = new Map<number, PvmProcess>();
  private nextPid = 1;
  private running: PvmProcess | null = null;
  /** Counters of VMs already destroyed, so that translation marks stay monotonic. */
  private retired = { stlbHits: 0, walkRefs: 0 };
  private readonly kernelBase = new Map<Vm, number>();
  readonly kernelBytes = 64 * 4096;

  constructor(
    readonly sim: Simulator,
    readonly vmOptions: VmOptions,
    opts: { costs?: IsolationCosts } = {},
  ) {
    this.costs = opts.costs ?? isolationCosts(sim.cpu, sim.tierPresets);
    this.ledger = new Ledger(this.costs.frequencyHz);
  }

  private newVm(): Vm {
    const vm = this.sim.createVm(this.vmOptions);
    const gpa = vm.guest.allocFrames(6);
    if (gpa === null) throw new RangeError(`vm ${vm.id}: no room for the library OS's buffers`);
    this.kernelBase.set(vm, vm.guest.linear(gpa));
    return vm;
  }

  /** A process in a new pVM: its library OS image and its regions, populated. */
  spawn(config: ProcessConfig, layout: Layout = {}): PvmProcess {
    const cfg = checkProcessConfig(config);
    if (this.live().some((q) => q.name === cfg.name)) throw new IsolationConfigError(`name: ${JSON.stringify(cfg.name)} is taken by a live process`);
    if (layout.image) assertLoadable(layout.image);
    const p = new PvmProcess(this.nextPid++, this.newVm(), cfg, null);
    this.procs.set(p.pid, p);
    const opts = { pageSize: layout.pageSize ?? 0, populate: layout.populate ?? true, tier: layout.tier };
    this.mmap(p, this.costs.params.libosImageBytes, { ...opts, writable: false }, "libos");
    const textBytes = Math.max(layout.text ?? 0, layout.image?.code.length ?? 0);
    if (textBytes > 0) this.mmap(p, textBytes, { ...opts, writable: false }, "text");
    for (const name of ["data", "heap", "stack"] as const) {
      const b = layout[name] ?? 0;
      if (b > 0) this.mmap(p, b, { ...opts, writable: true }, name);
    }
    return p;
  }

  /** A region of the pVM's memory (an anonymous mapping of its guest). */
  mmap(p: PvmProcess, bytes: number, opts: MmapOptions = {}, name = `mmap-${p.regions.length + 1}`): Vma {
    this.alive(p, "mmap");
    this.sim.flush();
    if (p.regions.some((r) => r.name === name)) throw new RangeError(`mmap: process ${p.name} has a region ${JSON.stringify(name)} already`);
    const g = p.vm.guest;
    const vma = g.mmap(bytes, {
      node: opts.tier === undefined ? 0 : g.nodeOf(opts.tier),
      page: (opts.pageSize ?? 0) as PageSizeCode,
      populate: opts.populate ?? true,
      writable: opts.writable ?? true,
    });
    p.regions.push({ name, vma, bytes, opts });
    return vma;
  }

  share(owner: PvmProcess, name: string): never {
    throw new IsolationConfigError(`vm-per-process: process ${JSON.stringify(owner.name)} cannot share region ${JSON.stringify(name)}: shared memory between pVMs (grant tables) is not modelled`);
  }

  addressOf(p: PvmProcess, name: string): number {
    const r = p.regions.find((x) => x.name === name);
    if (!r) throw new RangeError(`process ${p.name}: no region ${JSON.stringify(name)}`);
    return r.vma.start;
  }

  kernelAddress(offset = 0, p?: PvmProcess): number {
    const vm = (p ?? this.running ?? this.live()[0])?.vm;
    if (!vm) throw new RangeError("kernelAddress: no live pVM");
    return this.kernelBase.get(vm)! + (offset % this.kernelBytes);
  }

  live(): PvmProcess[] {
    return [...this.procs.values()].filter((p) => p.alive);
  }

  private alive(p: PvmProcess, op: string): void {
    if (!p.alive) throw new RangeError(`${op}: process ${p.pid} (${p.name}) is ${p.state === "zombie" ? "a zombie" : "gone"}`);
  }

  current(): PvmProcess | null {
    return this.running;
  }

  /** A switch between pVMs: a VM exit, the hypervisor's scheduler and a VM entry. */
  switchTo(p: PvmProcess): void {
    this.alive(p, "switchTo");
    if (this.running === p) return;
    this.settle();
    if (!p.alive) throw new RangeError(`switchTo: process ${p.pid} (${p.name}) was killed`);
    this.ledger.charge("switch.vmExitEntry", 1, this.costs.cpu.vmExitRoundTrip);
    this.ledger.charge("switch.vmSchedule", 1, this.costs.params.vmSchedule);
    this.running = p;
  }

  settle(): void {
    this.sim.flush();
    this.collectFaults();
    for (const p of this.live()) {
      if (p.violated) {
        p.violated = false;
        if (p.config.onViolation === "kill") this.exit(p, KILLED_STATUS);
      }
    }
  }

  private seenFaults = new Map<Vm, number>();

  /** Turns the Simulator's faults on our VMs into isolation faults with both sides. */
  private collectFaults(): void {
    for (const p of this.live()) {
      const seen = this.seenFaults.get(p.vm) ?? 0;
      const fs = p.vm.faults;
      for (let i = seen; i < fs.length; i++) {
        const f = fs[i];
        const owners = this.live()
          .filter((q) => q !== p && q.regions.some((r) => f.va >= r.vma.start && f.va < r.vma.end))
          .map((q) => ({ pid: q.pid, name: q.name }));
        this.faults.push({
          design: this.design,
          kind: f.kind === "key" ? "key" : f.kind === "protection" ? "protection" : "page",
          access: f.error !== undefined && f.error & 2 ? "write" : "read",
          va: f.va,
          accessor: { pid: p.pid, name: p.name },
          owners: owners.length > 0 ? owners : "nobody",
          action: p.config.onViolation === "kill" ? "killed" : "reported",
        });
        this.ledger.charge("isolationFault.entry", 1, this.costs.cpu.pageFaultUnikernel);
        p.violated = true;
      }
      this.seenFaults.set(p.vm, fs.length);
    }
  }

  access(p: PvmProcess, va: number, bytes: number, kind: 0 | 1 | 2): AccessResult {
    this.switchTo(p);
    const before = this.faults.length;
    p.vm.process.access(va, bytes, kind);
    this.sim.flush();
    this.collectFaults();
    const fault = this.faults.length > before ? this.faults[this.faults.length - 1] : undefined;
    this.settle();
    return fault ? { ok: false, fault } : { ok: true };
  }

  read(p: PvmProcess, va: number, bytes: number): AccessResult {
    return this.access(p, va, bytes, READ);
  }

  write(p: PvmProcess, va: number, bytes: number): AccessResult {
    return this.access(p, va, bytes, WRITE);
  }

  touch(p: PvmProcess, va: number, bytes: number, kind: 0 | 1 | 2): void {
    this.switchTo(p);
    p.vm.process.access(va, bytes, kind);
  }

  /** A system call: a function call into the pVM's own library OS, and the handler's work. */
  syscall(p: PvmProcess, name: string, opts: { handlerCycles?: number; kernelAccesses?: { offset: number; bytes: number; kind: 0 | 1 | 2 }[] } = {}): Breakdown {
    this.switchTo(p);
    const l = syscallLedger(this.design, this.costs);
    if (opts.handlerCycles) l.charge(`handler.${name}`, 1, opts.handlerCycles);
    for (const a of opts.kernelAccesses ?? []) p.vm.process.access(this.kernelAddress(a.offset, p), a.bytes, a.kind);
    this.ledger.add(l, "syscall.");
    return l.breakdown();
  }

  /**
   * fork as a VM clone: a hypercall, a new domain, and every page of the parent's
   * memory (library OS, regions, guest page tables) copied into the child's.
   */
  fork(parent: PvmProcess, opts: { name?: string } = {}): { child: PvmProcess; cost: Breakdown } {
    this.alive(parent, "fork");
    this.switchTo(parent);
    const name = opts.name ?? `${parent.name}-${this.nextPid}`;
    if (this.live().some((q) => q.name === name)) throw new IsolationConfigError(`name: ${JSON.stringify(name)} is taken by a live process`);
    const c = this.costs;
    const P = c.params;
    const l = new Ledger(c.frequencyHz);
    l.charge("hypercall", 1, c.cpu.vmExitRoundTrip);
    l.charge("vmCreate", 1, P.vmCreate);
    const child = new PvmProcess(this.nextPid++, this.newVm(), { ...parent.config, name }, parent);
    parent.children.add(child);
    this.procs.set(child.pid, child);
    // the parent's guest page tables are memory of the VM: copied like any page
    const tablePages = this.sim.core.tableFrames(parent.vm.id).guest.length;
    l.charge("copy4k.guestPageTables", tablePages, pageCopyCycles(c, 0, parent.vm.guest.nodes[parent.vm.guest.metadataNode].tier));
    for (const r of parent.regions) {
      const vma = this.mmap(child, r.bytes, { ...r.opts, populate: true }, r.name);
      for (const [, m] of r.vma.mapped) {
        const tier = this.sim.hypervisor(this.vmOptions.policy).lookup(parent.vm.id, m.gpa)?.tier ?? parent.vm.guest.nodes[r.vma.node].tier;
        l.charge(`copy${m.size === 0 ? "4k" : "2m"}.${tier}`, 1, pageCopyCycles(c, m.size, tier));
      }
      // the copy writes every page of the child: back them now, as the hypervisor's copy does
      for (const m of vma.mapped.values()) {
        for (let off = 0; off < PAGE_BYTES[m.size]; off += 4096) this.sim.hypervisor(this.vmOptions.policy).back(child.vm.id, m.gpa + off);
      }
    }
    const hs = this.sim.hypervisor(this.vmOptions.policy).stats(child.vm.id);
    const leaves = hs.frames["4k"] + hs.frames["2m"] + hs.frames["1g"];
    l.charge("eptEntries", leaves, P.pteWrite);
    l.charge("eptTablePages", hs.eptTablePages, P.tableAlloc + c.cpu.pageZero4k);
    this.ledger.add(l, "fork.");
    return { child, cost: l.breakdown() };
  }

  /** exit: the pVM is destroyed (its memory goes back to the host). */
  exit(p: PvmProcess, code = 0): Breakdown {
    this.alive(p, "exit");
    this.sim.flush();
    this.collectFaults();
    const l = syscallLedger(this.design, this.costs);
    l.charge("hypercall", 1, this.costs.cpu.vmExitRoundTrip);
    l.charge("vmDestroy", 1, this.costs.params.vmDestroy);
    const cnt = this.sim.core.counters(p.vm.vcpu);
    this.retired.stlbHits += cnt.stlbHits;
    this.retired.walkRefs += cnt.walkRefs;
    this.sim.destroyVm(p.vm);
    p.state = "zombie";
    p.exitCode = code;
    if (this.running === p) this.running = null;
    for (const ch of p.children) ch.parent = null;
    for (const ch of [...p.children]) if (ch.state === "zombie") this.reap(ch);
    p.children.clear();
    if (!p.parent || !p.parent.alive) this.reap(p);
    this.ledger.add(l, "exit.");
    return l.breakdown();
  }

  private reap(p: PvmProcess): void {
    reapProcess(this.procs, p);
  }

  /** wait: the parent's pVM learns of the child's end through an event channel (a hypercall). */
  wait(parent: PvmProcess): { pid: number; name: string; code: number; cost: Breakdown } | null {
    this.alive(parent, "wait");
    const z = zombieChild(parent);
    if (!z) return null;
    const l = syscallLedger(this.design, this.costs);
    l.charge("eventChannel", 1, this.costs.cpu.vmExitRoundTrip);
    l.charge("reap", 1, this.costs.params.waitReap);
    this.reap(z);
    this.ledger.add(l, "wait.");
    return { pid: z.pid, name: z.name, code: z.exitCode ?? 0, cost: l.breakdown() };
  }

  mark(): { stlbHits: number; walkRefs: number } {
    this.sim.flush();
    let s = this.retired.stlbHits;
    let w = this.retired.walkRefs;
    for (const p of this.live()) {
      const c = this.sim.core.counters(p.vm.vcpu);
      s += c.stlbHits;
      w += c.walkRefs;
    }
    return { stlbHits: s, walkRefs: w };
  }

  chargeTranslation(mark: { stlbHits: number; walkRefs: number }): number {
    const now = this.mark();
    const d = { stlbHits: now.stlbHits - mark.stlbHits, walkRefs: now.walkRefs - mark.walkRefs };
    this.ledger.charge("translation.stlbHits", d.stlbHits, this.costs.latency.stlbHit);
    this.ledger.charge("translation.walkRefs", d.walkRefs, this.costs.latency.walkRefL2);
    return d.stlbHits * this.costs.latency.stlbHit + d.walkRefs * this.costs.latency.walkRefL2;
  }

  /** Host memory the pVMs hold (every VM's backing, by tier summed). */
  memory(): { bytes: number; vms: number } {
    let bytes = 0;
    const hv = this.sim.hypervisor(this.vmOptions.policy);
    for (const p of this.live()) for (const b of Object.values(hv.stats(p.vm.id).bytesByTier)) bytes += b;
    return { bytes, vms: this.live().length };
  }

  /** The process tree (live and zombie processes), from the processes without a parent. */
  tree(): ProcessTreeNode[] {
    return processTree(this.procs.values());
  }

}
