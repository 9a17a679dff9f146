/**
 * The simulator: a host with memory tiers, one Wasm core holding every VM's page
 * tables, TLBs and slab heaps, a hypervisor per back-end policy, and the VMs. Accesses
 * are queued in the core's request buffer and run in batches; the events that need the
 * host (guest page faults, EPT violations) are handled by the VM's guest and the
 * hypervisor, then the batch resumes.
 *
 * @example
 * const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 64 * GiB }, { name: "nvm", preset: "optane", capacity: 512 * GiB }] });
 * const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 1 * GiB }, { tier: "nvm", bytes: 3 * GiB }] });
 * const app = vm.process;
 * const p = app.malloc(1147, { tier: "dram" });
 * app.write(p, 64);
 * sim.flush();
 * sim.stats();
 */
import { WasmCore } from "../core/wasm.js";
import { loadCoreModule, type LoadOptions } from "../core/load.js";
import { GeneratorThread } from "../workloads/ycsb/run-thread.js";
import { modelConfig } from "../core/models.js";
import type { CoreEvent, Counters, PageSizeCode } from "../core/types.js";
import { PF_P, PF_PK, WRITE, READ, FETCH } from "../core/types.js";
import { HostMemory } from "../host/memory.js";
import { FirstTouch } from "../host/first-touch.js";
import { Hypervisor, backendIssues, nodeIssues, prepopulateIssue, type BackendPolicy, type HypervisorOptions } from "../host/hypervisor.js";
import { GuestOs, SegmentationFault, GuestOutOfMemory, type GuestOptions } from "../guest/guest.js";
import type { CpuName, CpuPreset } from "../cost/cpus.js";
import type { TierName, TierPreset } from "../cost/tiers.js";
import { formatIssue, PresetError, resolveCpu, resolveTier, type PresetIssue } from "../cost/schema.js";
import { configIssues } from "../core/config.js";
import type { CoreConfig, TierRange } from "../core/types.js";
import { tierLayout } from "../host/memory.js";
import { Vm, type VmOptions } from "./vm.js";
import type { RequestWriter } from "../core/wasm.js";

export interface TierConfig {
  /** Name the guest and the reports use (e.g. "dram", "nvm"). */
  name: string;
  /**
   * Cost preset (src/cost/tiers.ts): a name, or an object of overrides on a `base` preset
   * (or a whole preset), as `resolveTier` takes it: `{ base: "optane", loadRandomNs: 350 }`.
   */
  preset: TierName | TierPreset | Record<string, unknown>;
  capacity: number;
}

/** The CPU preset of a simulator whose options name none. */
export const DEFAULT_CPU: CpuName = "skylake";

export interface SimulatorOptions {
  tiers: TierConfig[];
  /** CPU preset (src/cost/cpus.ts): a name, or overrides on a `base` preset as `resolveCpu` takes them. Default DEFAULT_CPU ("skylake"). */
  cpu?: CpuName | CpuPreset | Record<string, unknown>;
  /** Physical CPUs (TLB sets); VM v's vCPU runs on pCPU v mod pcpus. Default 1. */
  pcpus?: number;
  /** Most VMs and vCPUs the core holds. Defaults 64 and 4 vCPUs per VM. */
  maxVms?: number;
  maxVcpus?: number;
  /** Back-end options shared by every VM of a policy. */
  hypervisor?: Omit<HypervisorOptions, "policy">;
  seed?: number;
  /**
   * What the core's line cache models (docs/model.md, the cycle model): "all" (default)
   * page-table and data lines, "walks" page-table lines only (data accesses are charged
   * as misses to their tier; runs 1.2-1.5x faster), "off" none.
   */
  lineCache?: LineCacheMode;
  /**
   * Set sampling of the line cache: model 1 set in this many (a power of two up to the
   * preset's sets; default 1, every set) and estimate its counts from them
   * (docs/model.md). With 16, data lines cost about a tenth; line counts are estimates.
   */
  lineSampling?: number;
  /**
   * Run the line cache on a worker thread (Node only; docs/core.md section 5c): the same
   * counts, computed in parallel with the rest. Needs the line cache ("all" or "walks").
   * Call `close()` when done. Default false.
   */
  lineThread?: boolean;
  /**
   * Draw YCSB's run phases that have no inserts or scans (workloads A, B, C and F) on a
   * worker thread, ahead of the translation (Node only; docs/core.md section 10b): the
   * same results, sooner on a multi-core host. Call `close()` when done. Default false.
   */
  generatorThread?: boolean;
  load?: LoadOptions;
}

/** What the core's line cache models: page-table and data lines, page-table lines only, or nothing. */
export type LineCacheMode = "all" | "walks" | "off";
export const LINE_CACHE_MODES: readonly LineCacheMode[] = ["all", "walks", "off"];

/** Something that went wrong for a VM while its accesses ran: the guest sees it. */
export interface AccessFault {
  kind: "segfault" | "protection" | "key" | "oom" | "ept-misconfig";
  vm: number;
  vcpu: number;
  va: number;
  error?: number;
}

/**
 * Every problem of `options` that `Simulator.create` would refuse, without building
 * anything: the tiers (names, presets, capacities and their layout), the CPU preset,
 * the line cache and the core's configuration made of them. Paths are the options'
 * (`tiers.0.capacity`, `cpu.tlb.stlb`, `lineSampling`), values as given.
 *
 * @example
 * simulatorIssues({ tiers: [{ name: "dram", preset: "dram", capacity: 3 * MiB }] })[0].path; // "tiers.0.capacity"
 */
export function simulatorIssues(options: SimulatorOptions): PresetIssue[] {
  if (!options || !Array.isArray(options.tiers) || options.tiers.length === 0) {
    return [{ path: "tiers", value: options?.tiers, allowed: "expected at least one { name, preset, capacity }" }];
  }
  const issues: PresetIssue[] = [];
  // a preset's own problems, each with its path (resolveCpu and resolveTier check field by field)
  const resolved = <T>(f: () => T): T | null => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof PresetError)) throw e;
      issues.push(...e.issues);
      return null;
    }
  };
  const { layout, issues: tierIssues } = tierLayout(options.tiers);
  options.tiers.forEach((t, i) => {
    for (const x of tierIssues) if (x.index === i) issues.push({ path: `tiers.${i}.${x.field}`, value: x.value, allowed: x.allowed });
    resolved(() => resolveTier(t.preset, `tiers.${i}.preset`));
  });
  const cpu = resolved(() => resolveCpu(options.cpu ?? DEFAULT_CPU, "cpu"));
  if (options.generatorThread !== undefined && typeof options.generatorThread !== "boolean") {
    issues.push({ path: "generatorThread", value: options.generatorThread, allowed: "expected true or false" });
  }
  const lineCache = options.lineCache ?? "all";
  if (!LINE_CACHE_MODES.includes(lineCache)) issues.push({ path: "lineCache", value: lineCache, allowed: `expected one of ${LINE_CACHE_MODES.join(", ")}` });
  else if (cpu && lineCache !== "off" && cpu.lineCache.entries === 0) {
    // 0 entries is "absent" for a structure; the line cache's absence is lineCache "off", said so rather than guessed
    issues.push({ path: "cpu.lineCache.entries", value: 0, allowed: `expected an integer >= 1 with lineCache ${JSON.stringify(lineCache)} (use lineCache "off" for no line cache)` });
  } else if (cpu) {
    const ranges = layout.map((t) => ({ base: t.base, size: t.size }));
    for (const e of configIssues(coreConfig(options, cpu, ranges))) {
      // the core's structures come from the CPU preset: their problems are the preset's
      // fields; its VM and vCPU counts are the options'
      const path = /^(tlb|psc|ntlb|lineCache)\b/.test(e.field) ? `cpu.${e.field}` : (CORE_FIELDS[e.field] ?? e.field.replace(/\[(\d+)\]/g, ".$1"));
      issues.push({ path, value: e.value, allowed: `expected ${e.allowed}` });
    }
  }
  return issues;
}

/** The options behind the core's configuration fields that are named otherwise. */
const CORE_FIELDS: Record<string, string> = { vms: "maxVms", vcpus: "maxVcpus", slabHeaps: "maxVcpus" };

/** The core's configuration of a simulator: the CPU's structures, the tiers' ranges, the VMs and vCPUs it holds. */
function coreConfig(options: SimulatorOptions, cpu: CpuPreset, tiers: TierRange[]): CoreConfig {
  const maxVms = options.maxVms ?? 64;
  const cfg = modelConfig("default", {
    cpu,
    pcpus: options.pcpus ?? 1,
    vms: maxVms,
    vcpus: options.maxVcpus ?? maxVms * 4,
    tiers,
    seed: options.seed,
    // walks and data compete for the cache capacity: the cycle model charges both by it (docs/model.md)
    lineCache: options.lineCache ?? "all",
    lineSampling: options.lineSampling,
  });
  // Batches of 2^14 requests (256 KiB): the workload model writes a batch and the run
  // reads it back while it is still in the host's L2, beside the models' own data
  // (2^18, 4 MiB, made memslap 7-10 % slower with walk-only or sampled line caches;
  // docs/performance.md). With a line thread 2^15: a batch's burst of line records
  // then fits its ring while the worker catches up (docs/performance.md, the line thread).
  return { ...cfg, slabHeaps: options.maxVcpus ?? maxVms * 4, requestBuffer: options.lineThread ? 1 << 15 : 1 << 14, ...(options.lineThread ? { lineThread: true } : {}) };
}

/**
 * Every problem of a VM of `vm`'s options on a simulator of `options` that
 * `Simulator.createVm` would refuse, without building anything: its back-end options
 * (paths `hypervisor.pageTableTier`, ...) and its nodes (`nodes.0.bytes`, ...).
 *
 * @example
 * vmIssues(simOptions, { policy: "osv", nodes: [{ tier: "dram", bytes: 3 * MiB }] })[0].path; // "nodes.0.bytes"
 */
export function vmIssues(options: SimulatorOptions, vm: VmOptions): PresetIssue[] {
  const tiers = Array.isArray(options?.tiers) ? options.tiers.map((t) => t?.name) : [];
  const issues = backendIssues({ ...options.hypervisor, policy: vm.policy }, tiers).map((i) => (i.path === "policy" ? i : { ...i, path: `hypervisor.${i.path}` }));
  const nodes = nodeIssues(vm.policy, vm.nodes, tiers);
  if (!nodes.length && options.hypervisor?.prepopulate) {
    // a host with no VM yet: all its capacity to give
    const full = prepopulateIssue(vm.nodes, options.tiers.reduce((a, t) => a + (Number.isFinite(t?.capacity) ? t.capacity : 0), 0));
    if (full) nodes.push({ ...full, path: "hypervisor.prepopulate" });
  }
  return [...issues, ...nodes];
}

export class Simulator {
  readonly cpu: CpuPreset;
  readonly tierPresets: Record<string, TierPreset>;
  private readonly hypervisors = new Map<BackendPolicy, Hypervisor>();
  private readonly vms = new Map<number, Vm>();
  private readonly byVcpu = new Map<number, Vm>();
  private nextVm = 0;
  private nextVcpu = 0;
  private nextHeap = 0;
  private writer: RequestWriter;
  private queued = 0;
  /** Requests the core's buffer holds (read once: `enqueue` runs for every access). */
  private readonly batch: number;
  private runMs = 0;
  /** The osv back-end's first touches backed in the core, once an osv VM exists. */
  private firstTouch: FirstTouch | null = null;
  /** Faults the guests saw, in order (bounded: the last 10 000). */
  readonly faults: AccessFault[] = [];
  faultCount = 0;

  private constructor(
    readonly core: WasmCore,
    readonly host: HostMemory,
    readonly options: SimulatorOptions,
    cpu: CpuPreset,
    tierPresets: TierPreset[],
    private genThread: GeneratorThread | null,
  ) {
    this.cpu = cpu;
    this.tierPresets = Object.fromEntries(options.tiers.map((t, i) => [t.name, tierPresets[i]!]));
    this.writer = core.writer();
    this.batch = core.capacity;
  }

  static async create(options: SimulatorOptions): Promise<Simulator> {
    const issues = simulatorIssues(options);
    if (issues.length) throw new RangeError(issues.map(formatIssue).join("\n"));
    const tierPresets = options.tiers.map((t) => resolveTier(t.preset));
    const cpu = resolveCpu(options.cpu ?? DEFAULT_CPU);
    const host = new HostMemory(options.tiers.map((t) => ({ name: t.name, capacity: t.capacity })));
    const cfg = coreConfig(options, cpu, host.ranges());
    if (options.generatorThread) await GeneratorThread.available();
    const core = await WasmCore.create(cfg, options.load);
    let thread: GeneratorThread | null = null;
    if (options.generatorThread) {
      // with a line thread, its worker runs the generator in its spare time (a core to
      // spare runs both); else a worker of its own, of the plain build (it shares no memory)
      const line = core.lineThread;
      try {
        thread = line ? GeneratorThread.hostedBy(line) : await GeneratorThread.acquire(await loadCoreModule({ ...options.load, shared: false }));
        // (null: the generator failed on that line thread's worker before; the phases run here)
      } catch (e) {
        core.close();
        throw e;
      }
    }
    return new Simulator(core, host, options, cpu, tierPresets, thread);
  }

  /**
   * Runs what is queued and gives the line cache's and the generator's threads back, if
   * any, for the next simulator (results stay readable; no more accesses can run).
   * Idempotent.
   */
  close(): void {
    this.flush();
    // (the generator first: it may be hosted by the core's line thread)
    const gen = this.genThread;
    this.genThread = null;
    try {
      gen?.release();
    } finally {
      this.core.close();
    }
  }

  /** The thread YCSB's run phases are drawn on (`options.generatorThread`), until `close()`. */
  get generatorThread(): GeneratorThread | null {
    return this.genThread;
  }

  /** The tier of `tiers` with the lowest random load latency. */
  fastestTier(tiers: string[]): string {
    return [...tiers].sort((a, b) => this.tierPresets[a].loadRandomNs - this.tierPresets[b].loadRandomNs)[0];
  }

  hypervisor(policy: BackendPolicy): Hypervisor {
    let hv = this.hypervisors.get(policy);
    if (!hv) {
      hv = new Hypervisor(this.core, this.host, { ...this.options.hypervisor, policy });
      this.hypervisors.set(policy, hv);
    }
    return hv;
  }

  /** Creates a VM: its guest memory, page tables, vCPU and first process. */
  createVm(options: VmOptions): Vm {
    const id = this.nextVm;
    if (id >= (this.options.maxVms ?? 64)) throw new RangeError(`createVm: at most ${this.options.maxVms ?? 64} VMs (maxVms)`);
    const hv = this.hypervisor(options.policy);
    const nodes = hv.createVm(id, options.nodes);
    this.nextVm++;
    if (hv.inCoreTier() >= 0) {
      this.firstTouch ??= new FirstTouch(this.core, this.host, hv);
      this.firstTouch.enable(id, Math.max(...nodes.map((n) => n.base + n.bytes)));
    }
    // page tables and allocator metadata go to the fastest node by default (UCat keeps them in DRAM)
    const metadataTier = options.metadataTier ?? this.fastestTier(options.nodes.map((n) => n.tier));
    const guestOpts: GuestOptions = { policy: options.policy, linearPage: options.linearPage, metadataTier: options.policy === "osv" ? undefined : metadataTier };
    const guest = new GuestOs(this.core, hv, id, guestOpts);
    const vm = new Vm(this, id, hv, guest, options);
    this.vms.set(id, vm);
    return vm;
  }

  /**
   * A fresh slab heap of the core for an allocator (one id scheme for every
   * allocator, so two never share a heap).
   */
  allocHeap(): number {
    const max = this.options.maxVcpus ?? (this.options.maxVms ?? 64) * 4;
    if (this.nextHeap >= max) throw new RangeError(`allocHeap: the core holds ${max} slab heaps (maxVcpus); raise maxVcpus`);
    return this.nextHeap++;
  }

  /** A fresh vCPU number for `vm`, on pCPU vm mod pcpus. */
  newVcpu(vm: Vm): number {
    const v = this.nextVcpu++;
    this.core.createVcpu(v, vm.id, vm.id % (this.options.pcpus ?? 1));
    this.core.setControl(v, { cpl: 0, wp: true, pke: true, smap: false, smep: false });
    this.byVcpu.set(v, vm);
    return v;
  }

  destroyVm(vm: Vm): void {
    this.flush();
    this.firstTouch?.disable(vm.id);
    vm.destroy();
    this.vms.delete(vm.id);
    for (const [v, m] of [...this.byVcpu]) if (m === vm) this.byVcpu.delete(v);
  }

  // ---- the access queue --------------------------------------------------------------

  /** Queues one access; runs the queue when the core's buffer is full. */
  enqueue(vcpu: number, va: number, kind: 0 | 1 | 2, size: number): void {
    this.writer.put(this.queued++, va, kind, size, vcpu);
    if (this.queued === this.batch) this.flush();
  }

  /**
   * Lets a generator in the core write accesses into the queue: `fill(at, capacity)`
   * writes requests from index `at` of the core's buffer and returns the queue's new
   * length (at most `capacity`). A full queue runs at once.
   *
   * @example
   * sim.fillQueue((at, cap) => { g.ycsbRun(at, 1000, cap); return g.ycsbQueued(); });
   */
  fillQueue(fill: (at: number, capacity: number) => number): void {
    this.setQueued(fill(this.queued, this.batch));
  }

  /** Requests queued in the core's buffer, and the buffer's capacity. */
  get queuedRequests(): number {
    return this.queued;
  }
  get queueCapacity(): number {
    return this.batch;
  }

  /**
   * The queue's length after a generator in the core wrote requests up to `n` (from
   * `queuedRequests` on, or from 0 after a flush). A full queue runs at once.
   */
  setQueued(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.batch)) {
      throw new RangeError(`setQueued: ${n} requests is not allowed; expected 0..${this.batch}`);
    }
    this.queued = n;
    if (n === this.batch) this.flush();
  }

  /** Runs every queued access, letting the guests and hypervisors handle events. */
  flush(): void {
    if (this.queued === 0) return;
    const n = this.queued;
    this.queued = 0;
    const t0 = performance.now();
    for (let ev = this.runPart(n); ev; ev = this.handled(ev) ? this.runPart() : (this.core.skip(), this.runPart()));
    this.runMs += performance.now() - t0;
  }

  /**
   * Runs the queue (its `n` requests from the start, or on from the last event); with
   * osv VMs, the stream of frames for the first touches the core backs itself is topped
   * up before and accounted after (src/host/first-touch.ts).
   */
  private runPart(n?: number): CoreEvent | null {
    const ft = this.firstTouch?.active ? this.firstTouch : null;
    ft?.begin();
    try {
      return n === undefined ? this.core.run() : this.core.runBuffer(n);
    } finally {
      ft?.end();
    }
  }

  /**
   * Wall seconds spent running queued accesses so far: the core's runs and the handling
   * of the faults they raise (guest and hypervisor models). The rest of a run's time is
   * the workload models' and the allocators'. For profiling; never part of a report
   * (reports are byte-identical run to run).
   *
   * @example
   * const t0 = performance.now();
   * runMemaslap(vm.process, { operations: 100_000 });
   * const share = sim.runSeconds / ((performance.now() - t0) / 1000); // the core's share
   */
  get runSeconds(): number {
    return this.runMs / 1000;
  }

  /** Handles an event; true to retry the access, false to drop it (the fault is recorded). */
  private handled(ev: CoreEvent): boolean {
    const vm = this.byVcpu.get(ev.vcpu);
    if (!vm) throw new Error(`event for unknown vcpu ${ev.vcpu}`);
    try {
      if (ev.type === "page-fault") {
        if ((ev.error & PF_P) === 0) {
          vm.pageFault(ev.vcpu, ev.va);
          return true;
        }
        if (vm.protectionFault(ev.vcpu, ev.va, ev.error)) return true;
        this.record({ kind: ev.error & PF_PK ? "key" : "protection", vm: vm.id, vcpu: ev.vcpu, va: ev.va, error: ev.error });
        return false;
      }
      if (ev.type === "ept-violation") {
        if (vm.hv.back(vm.id, ev.gpa)) return true;
        this.record({ kind: "oom", vm: vm.id, vcpu: ev.vcpu, va: ev.va });
        return false;
      }
      this.record({ kind: "ept-misconfig", vm: vm.id, vcpu: ev.vcpu, va: ev.va });
      return false;
    } catch (e) {
      if (e instanceof SegmentationFault) this.record({ kind: "segfault", vm: vm.id, vcpu: ev.vcpu, va: ev.va });
      else if (e instanceof GuestOutOfMemory) this.record({ kind: "oom", vm: vm.id, vcpu: ev.vcpu, va: ev.va });
      else throw e;
      return false;
    }
  }

  private record(f: AccessFault): void {
    this.faultCount++;
    if (this.faults.length >= 10_000) this.faults.shift();
    this.faults.push(f);
    this.vms.get(f.vm)?.onFault(f);
  }

  /** Counters of a vCPU (runs the queue first). */
  counters(vcpu: number): Counters {
    this.flush();
    return this.core.counters(vcpu);
  }

  allVms(): Vm[] {
    return [...this.vms.values()];
  }
}

export { READ, WRITE, FETCH };
export type { PageSizeCode };

