/**
 * Multi-process unikernels: processes inside one OSv VM, isolated from the library OS
 * and from each other with page tables and protection keys (Iso-UniK), and the
 * alternatives beside it (docs/iso-unik.md):
 *
 * - `iso-unik`: each process has its own guest page tables (its own root, tagged with
 *   its own PCID so that switching keeps the TLB) that share the kernel's mappings:
 *   the root's PML4 entries for the kernel half point at the kernel's own PDPT pages,
 *   as Linux shares its kernel PGD entries, so the kernel costs one entry per 512 GiB
 *   slot and no table page per process. The library OS's memory carries key 0, which
 *   user PKRU denies; system calls open it through a gate (gate.ts). fork copies the
 *   page tables copy-on-write (fork.ts).
 * - `shared-as`: one address space (the kernel's root, PCID 0); processes differ only
 *   by key; at most 15 user keys, virtualised libmpk-style when asked (keys.ts); fork
 *   copies the parent's memory to new addresses (sharedas.ts).
 * - `none`: the Iso-UniK machinery with every process trusted: system calls are plain
 *   calls, no key is set up; address spaces stay separate (fork needs them).
 * - `linux`: the Iso-UniK address-space structure with Linux's costs (syscall, page
 *   fault, context switch, fork's VMA and rmap work). The kernel is kept out by the
 *   kernel key here, because the simulator runs guest code at CPL 0 with user pages;
 *   in Linux the U/S bit does it, with the same effect on what an access may reach.
 *
 * Memory of processes is kept by this module, not by the VM's heap allocator: each
 * region is a range of guest-virtual addresses (from one VM-wide range, so that an
 * address names its owner) whose frames come from the guest's frame allocator and are
 * mapped into the process's page tables. The module keeps its own record of every
 * mapping (region, page, frame, reference count, a content version per frame), and
 * the page tables in the core mirror it; fork reads the record instead of reading the
 * parent's entries back one call at a time (see fork.ts for why).
 *
 * Accesses run through the simulator's queue. A violation shows up as a fault in the
 * core (a key fault, or a page fault for an address the process's tables do not map),
 * reaches the process's `protectionFault` / `pageFault`, is recorded here with the
 * accessing and the owning process, and then stands (the Simulator records it as an
 * AccessFault); the process is killed or goes on, per its configuration.
 *
 * @example
 * const os = new IsoOs(vm, { design: "iso-unik" });
 * const httpd = os.spawn({ name: "httpd" }, { text: 512 * KiB, heap: 1 * MiB, stack: 64 * KiB });
 * const { child } = os.fork(httpd);
 * os.write(child, os.addressOf(child, "heap"), 8);   // a COW fault copies the page
 * os.exit(child, 0);
 * os.wait(httpd);                                     // { pid, name, code: 0 }
 */
import type { PageSizeCode } from "../../core/types.js";
import { PAGE_BYTES, PF_P, PF_PK, PF_W, READ, WRITE, FETCH } from "../../core/types.js";
import type { Vm } from "../../sim/vm.js";
import { Process } from "../../sim/process.js";
import { LINEAR_BASE, MMAP_BASE, SegmentationFault, GuestOutOfMemory } from "../guest.js";
import { checkProcessConfig, IsolationConfigError, isTrusted, shareSpec, UnknownPeerError, type ProcessConfig } from "./config.js";
import { isolationCosts, Ledger, pageZeroCycles, translationCycles, type Breakdown, type IsolationCosts } from "./costs.js";
import { gateOpen, KERNEL_KEY, keyBits, PKRU_DENY_ALL, syscallLedger, usesGate, type Design } from "./gate.js";
import { assertLoadable, type ProcessImage } from "./inspect.js";
import { KeyManager, PARKED_KEY, type VirtualKey } from "./keys.js";
import { forkMultiAs, resolveCow } from "./fork.js";
import { forkSharedAs } from "./sharedas.js";

/** Start of the user range: process memory lives in [USER_BASE, USER_END) (PML4 slots 32..63). */
export const USER_BASE = 0x1000_0000_0000;
export const USER_END = MMAP_BASE;
/** Regions start on 2 MiB boundaries (so that they can hold 2 MiB pages) with a 2 MiB guard gap after each. */
const REGION_ALIGN = PAGE_BYTES[1];
/** The key of process-private memory in the multi-address-space designs. */
export const USER_KEY = 1;
/** Exit status of a process killed for a violation (128 + SIGSEGV). */
export const KILLED_STATUS = 139;
const SLOT = 2 ** 39;
const KIND_NAME = ["fetch", "read", "write"] as const;

export type MultiDesign = Exclude<Design, "vm-per-process">;
export type ProcState = "alive" | "zombie" | "reaped";

/** A physical frame of process memory, with its reference count and the version of its content. */
export interface Frame {
  gpa: number;
  size: PageSizeCode;
  node: number;
  /** Page-table entries that map it (in every address space). */
  refs: number;
  /** Stands for the page's bytes: a new version on each write (the simulator stores no data). */
  content: number;
}

/** A page of a region: its frame and whether the entry is writable now (false while copy-on-write). */
export interface PageRef {
  frame: Frame;
  w: boolean;
}

/** A mapping: a range of guest-virtual addresses with its pages, mapped by one process (private) or by peers (shared). */
export interface Region {
  id: number;
  name: string;
  kind: "private" | "shared";
  start: number;
  end: number;
  pageSize: PageSizeCode;
  /** The owner's right; peers of a shared region may be read-only. */
  writable: boolean;
  node: number;
  /** Virtual key (shared regions with keys; private memory in shared-as); null: the design's fixed key. */
  vkey: VirtualKey | null;
  owner: IsoProcess;
  /** Processes that map it and their rights. */
  members: Map<IsoProcess, "rw" | "ro">;
  /** Pages mapped, by page base. */
  pages: Map<number, PageRef>;
}

/** An access that broke isolation, with both sides. */
export interface IsolationFault {
  design: Design;
  /** key: a protection-key fault; page: the address is not mapped for the accessor; protection: a write to a read-only page. */
  kind: "key" | "page" | "protection";
  access: "read" | "write" | "fetch";
  va: number;
  accessor: { pid: number; name: string };
  /** The processes whose memory it is, or the kernel, or nobody (an unmapped address). */
  owners: { pid: number; name: string }[] | "kernel" | "nobody";
  region?: string;
  action: "killed" | "reported";
}

export interface AccessResult {
  ok: boolean;
  fault?: IsolationFault;
}

/** What a new process holds: sizes in bytes (0 or absent: no such region). */
export interface Layout {
  /** Code and read-only data (shared with children, never written). */
  text?: number;
  data?: number;
  heap?: number;
  stack?: number;
  /** Page size of the regions (0: 4 KiB, the default; 1: 2 MiB). */
  pageSize?: PageSizeCode;
  /** Map every page now (default true); false faults pages in on first touch. */
  populate?: boolean;
  /** Tier (node name) of the process's frames; default the VM's first node. */
  tier?: string;
  /** The code to load: inspected for WRPKRU before anything is mapped. */
  image?: ProcessImage;
}

export interface MmapOptions {
  writable?: boolean;
  pageSize?: PageSizeCode;
  populate?: boolean;
  tier?: string;
}

export interface IsoOsOptions {
  design: MultiDesign;
  /** libmpk-style key virtualisation (default false: the 16th key user is an error). */
  keyVirtualisation?: boolean;
  costs?: IsolationCosts;
  /** Also refuse XRSTOR in images (ERIM does; default false). */
  inspectXrstor?: boolean;
}

/**
 * A process of the multi-process unikernel. Its page faults and protection faults go to
 * its OS (copy-on-write, demand paging, isolation violations).
 */
export class IsoProcess extends Process {
  state: ProcState = "alive";
  exitCode: number | null = null;
  parent: IsoProcess | null;
  readonly children = new Set<IsoProcess>();
  readonly regions: Region[] = [];
  /** Private memory's virtual key (shared-as only). */
  vkey: VirtualKey | null = null;
  /** A violation seen while its accesses ran: it is killed once the batch is over (when configured so). */
  violated = false;
  /** Kind of the access queued last (a not-present fault does not carry it to the guest). */
  lastKind: 0 | 1 | 2 = READ;
  private bump = 0;

  constructor(
    readonly os: IsoOs,
    pid: number,
    root: number,
    pcid: number,
    readonly config: Required<ProcessConfig>,
    parent: IsoProcess | null,
  ) {
    super(os.vm, pid, os.vm.vcpu, root, os.vm.allocator, pcid);
    this.parent = parent;
  }

  get name(): string {
    return this.config.name;
  }

  get alive(): boolean {
    return this.state === "alive";
  }

  /** The region of this process that holds `va`, if any. */
  regionAt(va: number): Region | undefined {
    for (const r of this.regions) if (va >= r.start && va < r.end) return r;
    return undefined;
  }

  region(name: string): Region {
    const r = this.regions.find((x) => x.name === name);
    if (!r) throw new RangeError(`process ${this.name}: no region ${JSON.stringify(name)}; regions: ${this.regions.map((x) => x.name).join(", ") || "none"}`);
    return r;
  }

  /** Allocates from the process's heap region (a bump pointer: frees are not reused). */
  override malloc(size: number): number {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`size: ${size} is not allowed; expected a positive integer`);
    const heap = this.region("heap");
    const at = heap.start + Math.ceil(this.bump / 16) * 16;
    if (at + size > heap.end) throw new GuestOutOfMemory(this.vm.id, `${size} B in the heap of process ${this.name}`);
    this.bump = at + size - heap.start;
    return at;
  }

  override free(_va: number): void {
    // a bump heap: nothing to give back until the process exits
  }

  /** @internal the fork copies the heap pointer */
  copyHeapPointer(from: IsoProcess): void {
    this.bump = from.bump;
  }

  override access(va: number, bytes: number, kind: 0 | 1 | 2): void {
    this.lastKind = kind;
    super.access(va, bytes, kind);
  }

  override pageFault(va: number): void {
    this.os.onNotPresent(this, va);
  }

  override protectionFault(va: number, error: number): boolean {
    return this.os.onProtection(this, va, error);
  }
}

/**
 * The multi-process library OS of one VM. One vCPU runs one process at a time.
 */
export class IsoOs {
  readonly design: MultiDesign;
  readonly costs: IsolationCosts;
  /** Everything charged, by step ("fork.entriesCopied", "syscall.wrpkruOpen", ...). */
  readonly ledger: Ledger;
  readonly faults: IsolationFault[] = [];
  readonly keys: KeyManager | null;
  readonly singleAs: boolean;
  private readonly procs = new Map<number, IsoProcess>();
  private readonly allRegions = new Set<Region>();
  /** Live frames of process memory by gPA (the reference-count table). */
  readonly frames = new Map<number, Frame>();
  private nextPid = 1;
  private nextRegion = 1;
  private nextVa = USER_BASE;
  private contentClock = 0;
  private running: IsoProcess | null = null;
  private readonly freePcids: number[] = [];
  private readonly rootPool: number[] = [];
  /** PML4 entries of the kernel half, shared by every process root: slot -> raw entry. */
  private readonly kernelSlots = new Map<number, bigint>();
  private probeRoot = -1;
  /** Kernel buffers (linear-map addresses) that system-call handlers touch. */
  private kernelBase = -1;
  readonly kernelBytes = 64 * 4096;
  /** Copy-on-write faults taken, by page size (4 KiB, 2 MiB, 1 GiB). */
  readonly cowFaults: [number, number, number] = [0, 0, 0];

  constructor(
    readonly vm: Vm,
    opts: IsoOsOptions,
  ) {
    const designs: MultiDesign[] = ["none", "iso-unik", "shared-as", "linux"];
    if (!designs.includes(opts.design)) throw new IsolationConfigError(`design: ${JSON.stringify(opts.design)} is not allowed; expected one of ${designs.join(", ")} (vm-per-process is KylinxOs)`);
    this.design = opts.design;
    this.singleAs = opts.design === "shared-as";
    this.costs = opts.costs ?? isolationCosts(vm.sim.cpu, vm.sim.tierPresets);
    this.ledger = new Ledger(this.costs.frequencyHz);
    this.inspectXrstor = opts.inspectXrstor ?? false;
    const virtualise = opts.keyVirtualisation ?? false;
    if (this.singleAs) {
      this.keys = new KeyManager({ userKeys: range(1, 15), virtualise, retag: (v, to) => this.retag(v, to) });
    } else if (this.design === "iso-unik") {
      // key 1 is every process's private key (page tables keep processes apart); 2..15 for shared regions
      this.keys = new KeyManager({ userKeys: range(2, 15), virtualise, retag: (v, to) => this.retag(v, to) });
    } else {
      this.keys = null;
    }
    for (let p = 4095; p >= 1; p--) this.freePcids.push(p);
    if (!this.singleAs) this.scanKernelSlots();
    // kernel buffers the system-call handlers touch: socket buffers, page cache, kernel stack
    const gpa = vm.guest.allocFrames(6);
    if (gpa === null) throw new GuestOutOfMemory(vm.id, "kernel buffers");
    this.kernelBase = vm.guest.linear(gpa);
  }

  private readonly inspectXrstor: boolean;

  get sim() {
    return this.vm.sim;
  }

  get core() {
    return this.vm.sim.core;
  }

  get vcpu(): number {
    return this.vm.vcpu;
  }

  // ---- the kernel's share of every address space -----------------------------------------

  /** Records the kernel root's PML4 entries outside the user range, finding the table each points to. */
  private scanKernelSlots(): void {
    const { core, vm } = this;
    for (let s = 0; s < 512; s++) {
      if (s * SLOT >= USER_BASE && s * SLOT < USER_END) continue;
      if (this.kernelSlots.has(s)) continue;
      const e = core.gptEntry(vm.id, vm.guest.kernelRoot, s * SLOT);
      if (e.level === 4 && (e.raw & 1n) === 0n) continue;
      this.kernelSlots.set(s, this.discoverPml4(s));
    }
  }

  /**
   * The raw PML4 entry of kernel slot `s`. The core reads back leaves, not the tables on
   * the way, so the PDPT the kernel root points at is found among the VM's table pages:
   * a candidate is written into a scratch root and accepted when every 1 GiB of the slot
   * walks to the same entry as in the kernel root (a table is identified by its content
   * as seen through walks; the first candidate is almost always the right one).
   */
  private discoverPml4(s: number): bigint {
    const { core, vm } = this;
    if (this.probeRoot < 0) {
      vm.guest.ensureTableFrames();
      this.probeRoot = core.gptNewRoot(vm.id);
    }
    const base = s * SLOT;
    const want = Array.from({ length: 512 }, (_, i) => core.gptEntry(vm.id, vm.guest.kernelRoot, base + i * 2 ** 30));
    const roots = new Set([vm.guest.kernelRoot, this.probeRoot]);
    try {
      for (const f of core.tableFrames(vm.id).guest) {
        if (roots.has(f.gpa)) continue;
        const raw = BigInt(f.gpa) | 7n; // P, R/W, U/S: rights are enforced at the leaves
        core.gptWriteRaw(vm.id, this.probeRoot, base, 4, raw);
        let same = true;
        for (let i = 0; i < 512 && same; i++) {
          const got = core.gptEntry(vm.id, this.probeRoot, base + i * 2 ** 30);
          same = got.level === want[i].level && got.raw === want[i].raw;
        }
        if (same) return raw;
      }
    } finally {
      core.gptWriteRaw(vm.id, this.probeRoot, base, 4, 0n);
    }
    throw new Error(`vm ${vm.id}: the kernel's table for PML4 slot ${s} was not found among the VM's table pages`);
  }

  /** @internal A root for a new process: a reused one or a new table page, with the kernel's PML4 entries. Returns the entries written. */
  newRoot(): { root: number; kernelEntries: number } {
    let root = this.rootPool.pop();
    if (root === undefined) {
      this.vm.guest.ensureTableFrames();
      root = this.core.gptNewRoot(this.vm.id);
      for (const [s, raw] of this.kernelSlots) this.core.gptWriteRaw(this.vm.id, root, s * SLOT, 4, raw);
    }
    return { root, kernelEntries: this.kernelSlots.size };
  }

  /** @internal A PCID for a new process (exit flushed it, so a reused one holds no stale entry). */
  newPcid(): number {
    const pcid = this.freePcids.pop();
    if (pcid === undefined) throw new RangeError(`vm ${this.vm.id}: all 4095 PCIDs are in use`);
    return pcid;
  }

  /** @internal PML4 entries a new root gets from the kernel. */
  kernelEntryCount(): number {
    return this.kernelSlots.size;
  }

  /** A kernel address (the library OS's memory, key 0) `offset` bytes into the kernel buffers. */
  kernelAddress(offset = 0): number {
    return this.kernelBase + (offset % this.kernelBytes);
  }

  // ---- processes ----------------------------------------------------------------------------

  /**
   * Creates a process from scratch (like posix_spawn): its address space, its key and
   * its regions. An image with an unsanctioned WRPKRU is refused before anything is made.
   */
  spawn(config: ProcessConfig, layout: Layout = {}): IsoProcess {
    const cfg = checkProcessConfig(config);
    this.checkNameFree(cfg.name);
    if (layout.image) assertLoadable(layout.image, { xrstor: this.inspectXrstor });
    const p = this.newProcess(cfg, null);
    const textBytes = Math.max(layout.text ?? 0, layout.image?.code.length ?? 0);
    const opts = { pageSize: layout.pageSize ?? 0, populate: layout.populate ?? true, tier: layout.tier };
    try {
      if (textBytes > 0) this.mmap(p, textBytes, { ...opts, writable: false }, "text");
      for (const name of ["data", "heap", "stack"] as const) {
        const b = layout[name] ?? 0;
        if (b > 0) this.mmap(p, b, { ...opts, writable: true }, name);
      }
    } catch (e) {
      this.exit(p, 1);
      this.reap(p);
      throw e;
    }
    return p;
  }

  /** @internal Makes the process object: root and PCID (multi-AS) or the shared root; its key. */
  newProcess(cfg: Required<ProcessConfig>, parent: IsoProcess | null): IsoProcess {
    let root: number;
    let pcid: number;
    if (this.singleAs) {
      root = this.vm.guest.kernelRoot;
      pcid = 0;
    } else {
      root = this.newRoot().root;
      pcid = this.newPcid();
    }
    const p = new IsoProcess(this, this.nextPid++, root, pcid, cfg, parent);
    if (this.singleAs && !isTrusted(cfg)) p.vkey = this.keys!.create(`process ${cfg.name}`);
    if (parent) parent.children.add(p);
    this.procs.set(p.pid, p);
    p.pkru = this.pkruOf(p);
    return p;
  }

  private checkNameFree(name: string): void {
    for (const q of this.procs.values()) {
      if (q.alive && q.name === name) throw new IsolationConfigError(`name: ${JSON.stringify(name)} is taken by process ${q.pid}; names must be unique among live processes`);
    }
  }

  /** Live processes, by pid. */
  live(): IsoProcess[] {
    return [...this.procs.values()].filter((p) => p.alive);
  }

  process(pid: number): IsoProcess {
    const p = this.procs.get(pid);
    if (!p) throw new RangeError(`pid: ${pid} is no process of this VM`);
    return p;
  }

  byName(name: string): IsoProcess | undefined {
    return this.live().find((p) => p.name === name);
  }

  /** The process tree (live and zombie processes), from the processes without a parent. */
  tree(): ProcessTreeNode[] {
    return processTree(this.procs.values());
  }

  private alive(p: IsoProcess, op: string): void {
    if (!p.alive) throw new RangeError(`${op}: process ${p.pid} (${p.name}) is ${p.state === "zombie" ? "a zombie" : "gone"}`);
    if (p.os !== this) throw new RangeError(`${op}: process ${p.pid} belongs to another VM`);
  }

  // ---- memory ------------------------------------------------------------------------------------

  /** @internal A fresh range of guest-virtual addresses (VM-wide, so that an address names its owner). */
  reserveVa(bytes: number): number {
    const start = Math.ceil(this.nextVa / REGION_ALIGN) * REGION_ALIGN;
    const end = start + Math.ceil(bytes / REGION_ALIGN) * REGION_ALIGN;
    if (end + REGION_ALIGN > USER_END) throw new GuestOutOfMemory(this.vm.id, `${bytes} B of user address space`);
    this.nextVa = end + REGION_ALIGN; // a guard gap
    return start;
  }

  private nodeOf(tier?: string): number {
    return tier === undefined ? 0 : this.vm.guest.nodeOf(tier);
  }

  /** @internal A frame of `size` from `node`, counted in the reference-count table. */
  allocFrame(size: PageSizeCode, node: number): Frame {
    const order = size === 0 ? 0 : size === 1 ? 9 : 18;
    const gpa = this.vm.guest.allocFrames(order, node);
    if (gpa === null) throw new GuestOutOfMemory(this.vm.id, `a ${PAGE_BYTES[size]} B frame on node ${node}`);
    const f: Frame = { gpa, size, node, refs: 0, content: 0 };
    this.frames.set(gpa, f);
    return f;
  }

  /** @internal Drops one reference; the frame goes back to the guest at zero. Returns true when freed. */
  unref(f: Frame): boolean {
    if (--f.refs > 0) return false;
    if (f.refs < 0) throw new Error(`frame 0x${f.gpa.toString(16)}: reference count below zero`);
    this.frames.delete(f.gpa);
    this.vm.guest.freeFrames(f.gpa, f.size === 0 ? 0 : f.size === 1 ? 9 : 18);
    return true;
  }

  /** Tier name of a frame (the host frame's tier once backed, else its node's). */
  tierOf(f: Frame): string {
    return this.vm.hv.tierAt(this.vm.id, f.gpa) ?? this.vm.guest.nodes[f.node].tier;
  }

  /** @internal The key a member's entries carry for a region. */
  keyFor(r: Region): number {
    if (r.vkey) return r.vkey.hw ?? PARKED_KEY;
    if (this.singleAs) return KERNEL_KEY; // trusted processes' memory (no virtual key) is the kernel's to reach
    return USER_KEY;
  }

  /** @internal Maps pages into `root`, coalescing runs of consecutive pages and frames. */
  mapPages(root: number, pages: { va: number; gpa: number; size: PageSizeCode; w: boolean; key: number }[]): void {
    let i = 0;
    while (i < pages.length) {
      const a = pages[i];
      let n = 1;
      const step = PAGE_BYTES[a.size];
      while (i + n < pages.length) {
        const b = pages[i + n];
        if (b.size !== a.size || b.w !== a.w || b.key !== a.key || b.va !== a.va + n * step || b.gpa !== a.gpa + n * step) break;
        n++;
      }
      this.vm.guest.map(root, a.va, a.gpa, a.size, n, a.w, a.key);
      i += n;
    }
  }

  /** Roots and PCIDs where a region is mapped (one in shared-as). */
  private rootsOf(r: Region): { root: number; pcid: number; w: boolean }[] {
    if (this.singleAs) return [{ root: this.vm.guest.kernelRoot, pcid: 0, w: r.writable }];
    return [...r.members].map(([m, acc]) => ({ root: m.root, pcid: m.pcid, w: r.writable && acc === "rw" }));
  }

  /**
   * A new private region of `bytes` for `p` (like anonymous mmap), with its own addresses.
   * Populated now by default; else pages are faulted in on first touch.
   */
  mmap(p: IsoProcess, bytes: number, opts: MmapOptions = {}, name = `mmap-${this.nextRegion}`): Region {
    this.alive(p, "mmap");
    // queued accesses run first: they were made before this mapping existed, and a map may grow the core's memory
    this.sim.flush();
    if (!Number.isInteger(bytes) || bytes <= 0) throw new RangeError(`bytes: ${bytes} is not allowed; expected a positive integer`);
    const size = opts.pageSize ?? 0;
    if (size !== 0 && size !== 1) throw new RangeError(`pageSize: ${size} is not allowed; expected 0 (4 KiB) or 1 (2 MiB)`);
    if (p.regions.some((r) => r.name === name)) throw new RangeError(`mmap: process ${p.name} has a region ${JSON.stringify(name)} already`);
    const pb = PAGE_BYTES[size];
    const start = this.reserveVa(bytes);
    const r: Region = {
      id: this.nextRegion++,
      name,
      kind: "private",
      start,
      end: start + Math.ceil(bytes / pb) * pb,
      pageSize: size,
      writable: opts.writable ?? true,
      node: this.nodeOf(opts.tier),
      vkey: this.singleAs ? p.vkey : null,
      owner: p,
      members: new Map([[p, "rw"]]),
      pages: new Map(),
    };
    p.regions.push(r);
    this.allRegions.add(r);
    if (opts.populate ?? true) this.populate(r);
    return r;
  }

  /** @internal Maps every page of a region into every member (new frames, zeroed). */
  populate(r: Region): void {
    const pb = PAGE_BYTES[r.pageSize];
    const fresh: { va: number; gpa: number; size: PageSizeCode }[] = [];
    for (let va = r.start; va < r.end; va += pb) {
      if (r.pages.has(va)) continue;
      const f = this.allocFrame(r.pageSize, r.node);
      r.pages.set(va, { frame: f, w: r.writable });
      fresh.push({ va, gpa: f.gpa, size: r.pageSize });
    }
    const key = this.keyFor(r);
    for (const t of this.rootsOf(r)) {
      this.mapPages(t.root, fresh.map((x) => ({ ...x, w: t.w, key })));
      for (const x of fresh) r.pages.get(x.va)!.frame.refs++;
    }
  }

  /**
   * Creates shared region `name` owned by `owner`, mapped by the peers its configuration
   * names (every one must be a live process) with the rights it gives them. With keys
   * (iso-unik, shared-as), the region gets its own key; in shared-as that key is how the
   * peers reach it, in iso-unik it also lets the OS revoke or narrow access with WRPKRU.
   */
  share(owner: IsoProcess, name: string, bytes: number, opts: { pageSize?: PageSizeCode; tier?: string } = {}): Region {
    this.alive(owner, "share");
    this.sim.flush();
    const spec = shareSpec(owner.config, name);
    if (!spec) {
      throw new IsolationConfigError(
        `process ${JSON.stringify(owner.name)}: its configuration does not share a region ${JSON.stringify(name)}; add { share: [{ region: ${JSON.stringify(name)}, with: [...] }] } to its isolation`,
      );
    }
    const live = this.live();
    const peers = spec.with.map((n) => {
      const q = live.find((x) => x.name === n);
      if (!q) throw new UnknownPeerError(owner.name, name, n, live.map((x) => x.name));
      return q;
    });
    if (!Number.isInteger(bytes) || bytes <= 0) throw new RangeError(`bytes: ${bytes} is not allowed; expected a positive integer`);
    const size = opts.pageSize ?? 0;
    const pb = PAGE_BYTES[size];
    // with keys, the region needs one before anything is mapped (KeyExhaustedError leaves no trace)
    const vkey = this.regionKeys() ? this.keys!.create(`region ${name} of ${owner.name}`) : null;
    const start = this.reserveVa(bytes);
    const r: Region = {
      id: this.nextRegion++,
      name,
      kind: "shared",
      start,
      end: start + Math.ceil(bytes / pb) * pb,
      pageSize: size,
      writable: true,
      node: this.nodeOf(opts.tier),
      vkey,
      owner,
      members: new Map([[owner, "rw"]]),
      pages: new Map(),
    };
    const access = spec.access ?? "rw";
    for (const q of peers) r.members.set(q, access);
    for (const m of r.members.keys()) m.regions.push(r);
    this.allRegions.add(r);
    this.populate(r);
    this.refreshPkru();
    return r;
  }

  /** @internal Whether shared regions get their own key. */
  regionKeys(): boolean {
    return this.design === "iso-unik" || this.design === "shared-as";
  }

  /** The address of region `name` as process `p` sees it. */
  addressOf(p: IsoProcess, name: string): number {
    return p.region(name).start;
  }

  // ---- protection keys ----------------------------------------------------------------------

  /** The virtual keys `p` needs resident to run. */
  private neededKeys(p: IsoProcess): VirtualKey[] {
    const out: VirtualKey[] = [];
    if (p.vkey) out.push(p.vkey);
    for (const r of p.regions) if (r.kind === "shared" && r.vkey) out.push(r.vkey);
    return out;
  }

  /** @internal The PKRU value of `p` with the keys as they are mapped now. */
  pkruOf(p: IsoProcess): number {
    if (this.design === "none" || isTrusted(p.config)) return 0;
    let v = PKRU_DENY_ALL;
    if (!this.singleAs) v &= ~keyBits(USER_KEY);
    if (p.vkey?.hw != null) v &= ~keyBits(p.vkey.hw);
    for (const r of p.regions) {
      if (r.kind !== "shared" || !r.vkey || r.vkey.hw === null) continue;
      const acc = r.members.get(p);
      // read-only peers keep WD (bit 2k+1); the owner and rw peers open both bits
      v &= acc === "ro" ? ~(1 << (2 * r.vkey.hw)) : ~keyBits(r.vkey.hw);
    }
    return v >>> 0;
  }

  /** Recomputes the PKRU of every live process; the running one's register too. */
  private refreshPkru(): void {
    for (const p of this.live()) p.pkru = this.pkruOf(p);
    if (this.running?.alive) this.core.setPkru(this.vcpu, this.running.pkru);
  }

  /** Re-tags every page of a virtual key in every address space that maps it (keys.ts calls this). */
  private retag(v: VirtualKey, to: number): number {
    let n = 0;
    for (const r of this.allRegions) {
      if (r.vkey !== v) continue;
      for (const t of this.rootsOf(r)) {
        for (const [va, pg] of r.pages) {
          const st = this.core.gptProtect(this.vm.id, t.root, va, r.pageSize, { w: t.w && pg.w, u: true, xd: false, g: false, key: to });
          if (st !== "ok") throw new Error(`retag 0x${va.toString(16)}: ${st}`);
          this.core.invpcid(this.vcpu, 0, t.pcid, va);
          n++;
        }
      }
    }
    return n;
  }

  /** Makes `p`'s keys resident (virtualisation), charging the re-tagging; refreshes PKRU values. */
  private loadKeys(p: IsoProcess, step: string): void {
    if (!this.keys) return;
    const need = this.neededKeys(p);
    const pages = this.keys.ensure(need, need);
    this.chargeRetag(step, pages);
    for (const q of this.live()) q.pkru = this.pkruOf(q);
  }

  private chargeRetag(step: string, pages: number): void {
    const c = this.costs;
    this.ledger.charge(`${step}.retagEntries`, pages, c.params.atomicRmw);
    this.ledger.charge(`${step}.retagInvlpg`, pages, c.cpu.invlpg);
  }

  // ---- running -------------------------------------------------------------------------------

  /** The process on the vCPU now. */
  current(): IsoProcess | null {
    return this.running;
  }

  /**
   * Puts `p` on the vCPU: runs what the previous process queued, then a context switch
   * (the scheduler, MOV CR3 with the PCID and no flush when the address space changes,
   * WRPKRU when keys are in use), charged under `switch`.
   */
  switchTo(p: IsoProcess): void {
    this.alive(p, "switchTo");
    if (this.running === p) return;
    this.sim.flush();
    this.settle();
    if (!p.alive) throw new RangeError(`switchTo: process ${p.pid} (${p.name}) was killed`);
    const prev = this.running;
    const c = this.costs;
    if (this.design === "linux") this.ledger.charge("switch.linuxContextSwitch", 1, c.params.linuxContextSwitch);
    else this.ledger.charge("switch.threadSwitch", 1, c.params.threadSwitchUnikernel);
    if (!this.singleAs && prev?.root !== p.root) this.ledger.charge("switch.movCr3Pcid", 1, c.cpu.movCr3Pcid);
    if (this.singleAs || this.design === "iso-unik") {
      this.loadKeys(p, "switch");
      this.ledger.charge("switch.wrpkru", 1, c.cpu.wrpkru);
    }
    p.pkru = this.pkruOf(p);
    this.vm.switchTo(this.vcpu, p);
    this.running = p;
  }

  /** Runs the queued accesses and carries out what violations asked for (kills). */
  settle(): void {
    this.sim.flush();
    for (const p of this.live()) {
      if (p.violated) {
        p.violated = false;
        if (p.config.onViolation === "kill") this.exit(p, KILLED_STATUS);
      }
    }
  }

  /**
   * One access by `p`, run at once; returns whether it succeeded and, if not, the
   * isolation fault. Writes give the pages written a new content version.
   */
  access(p: IsoProcess, va: number, bytes: number, kind: 0 | 1 | 2): AccessResult {
    this.switchTo(p);
    const before = this.faults.length;
    const faultsBefore = this.sim.faultCount;
    p.access(va, bytes, kind);
    this.sim.flush();
    const ok = this.sim.faultCount === faultsBefore;
    if (ok && kind === WRITE) this.bumpContent(p, va, bytes);
    const fault = this.faults.length > before ? this.faults[this.faults.length - 1] : undefined;
    this.settle();
    return ok ? { ok } : { ok, fault };
  }

  read(p: IsoProcess, va: number, bytes: number): AccessResult {
    return this.access(p, va, bytes, READ);
  }

  write(p: IsoProcess, va: number, bytes: number): AccessResult {
    return this.access(p, va, bytes, WRITE);
  }

  /** Queues accesses by `p` without running them now (workloads): faults are handled when the queue runs. */
  touch(p: IsoProcess, va: number, bytes: number, kind: 0 | 1 | 2): void {
    this.switchTo(p);
    p.access(va, bytes, kind);
  }

  private bumpContent(p: IsoProcess, va: number, bytes: number): void {
    for (let a = va; a < va + bytes; ) {
      // a trusted process in the one address space may write another's memory
      const r = p.regionAt(a) ?? (this.singleAs ? this.regionAtGlobal(a) : undefined);
      const pb = r ? PAGE_BYTES[r.pageSize] : 4096;
      const base = a - (a % pb);
      const pg = r?.pages.get(base);
      if (pg) pg.frame.content = ++this.contentClock;
      a = base + pb;
    }
  }

  /** The content version `p` sees at `va` (null: no page of `p` there). */
  contentAt(p: IsoProcess, va: number): number | null {
    const r = p.regionAt(va);
    if (!r) return null;
    const pb = PAGE_BYTES[r.pageSize];
    return r.pages.get(va - (va % pb))?.frame.content ?? null;
  }

  /**
   * A system call by `p`: the design's path (gate, call or Linux syscall), the handler's
   * own work (`handlerCycles`, the same in every design), and the kernel memory the
   * handler touches, accessed with the kernel key open (a gate's WRPKRU takes effect at
   * once, so the queue runs before and after).
   */
  syscall(p: IsoProcess, name: string, opts: { handlerCycles?: number; kernelAccesses?: { offset: number; bytes: number; kind: 0 | 1 | 2 }[] } = {}): Breakdown {
    this.switchTo(p);
    const l = syscallLedger(this.design, this.costs);
    if (opts.handlerCycles) l.charge(`handler.${name}`, 1, opts.handlerCycles);
    const accesses = opts.kernelAccesses ?? [];
    if (accesses.length > 0) {
      const gate = usesGate(this.design) || this.design === "linux";
      if (gate && p.pkru !== 0) {
        this.sim.flush();
        this.core.setPkru(this.vcpu, gateOpen(p.pkru));
      }
      for (const a of accesses) p.access(this.kernelAddress(a.offset), a.bytes, a.kind);
      if (gate && p.pkru !== 0) {
        this.sim.flush();
        this.core.setPkru(this.vcpu, p.pkru);
      }
    }
    this.ledger.add(l, "syscall.");
    return l.breakdown();
  }

  // ---- faults ---------------------------------------------------------------------------------

  /** A not-present page fault of `p` (the core's event, through Vm and IsoProcess). */
  onNotPresent(p: IsoProcess, va: number): void {
    // in one address space the mappings are everyone's: fault the page in, and let the key decide on the retry
    const r = p.regionAt(va) ?? (this.singleAs ? this.regionAtGlobal(va) : undefined);
    if (r) {
      const pb = PAGE_BYTES[r.pageSize];
      const base = va - (va % pb);
      if (!r.pages.has(base)) {
        this.demandFault(p, r, base);
        return;
      }
    }
    if (!r && (va < USER_BASE || va >= USER_END) && !this.singleAs) {
      // a kernel slot added after this root was made: share it now, as Linux syncs kernel PGD entries
      const s = Math.floor(va / SLOT);
      if (!this.kernelSlots.has(s)) {
        this.scanKernelSlots();
        const raw = this.kernelSlots.get(s);
        if (raw !== undefined) {
          for (const q of this.procs.values()) if (q.alive) this.core.gptWriteRaw(this.vm.id, q.root, s * SLOT, 4, raw);
          for (const root of this.rootPool) this.core.gptWriteRaw(this.vm.id, root, s * SLOT, 4, raw);
          return;
        }
      }
    }
    this.violation(p, va, "page", 0);
    throw new SegmentationFault(this.vm.id, va);
  }

  /** The live region that holds `va` in any process (unique in the shared address space). */
  private regionAtGlobal(va: number): Region | undefined {
    for (const r of this.allRegions) if (va >= r.start && va < r.end) return r;
    return undefined;
  }

  private demandFault(_p: IsoProcess, r: Region, base: number): void {
    const c = this.costs;
    const f = this.allocFrame(r.pageSize, r.node);
    r.pages.set(base, { frame: f, w: r.writable });
    const key = this.keyFor(r);
    for (const t of this.rootsOf(r)) {
      this.vm.guest.map(t.root, base, f.gpa, r.pageSize, 1, t.w, key);
      f.refs++;
    }
    this.ledger.charge("demandFault.entry", 1, this.design === "linux" ? c.cpu.pageFaultLinux : c.cpu.pageFaultUnikernel);
    this.ledger.charge("demandFault.zero", 1, pageZeroCycles(c, r.pageSize, this.vm.guest.nodes[r.node].tier));
    this.ledger.charge("demandFault.pte", 1, c.params.pteWrite);
  }

  /** A protection fault of `p`: copy-on-write, a parked key to load, or a violation. */
  onProtection(p: IsoProcess, va: number, error: number): boolean {
    const r = p.regionAt(va);
    if (r && error & PF_PK && r.vkey && r.vkey.hw === null && this.keys?.virtualise) {
      // a virtualised key that was evicted: load it (libmpk's fault path) and retry
      const pages = this.keys.ensure([r.vkey], [r.vkey]);
      this.ledger.charge("keyFault.entry", 1, this.costs.cpu.pageFaultUnikernel);
      this.chargeRetag("keyFault", pages);
      for (const q of this.live()) q.pkru = this.pkruOf(q);
      this.ledger.charge("keyFault.wrpkru", 1, this.costs.cpu.wrpkru);
      this.core.setPkru(this.vcpu, p.pkru);
      return true;
    }
    if (r && !(error & PF_PK) && error & PF_W && error & PF_P) {
      const pb = PAGE_BYTES[r.pageSize];
      const pg = r.pages.get(va - (va % pb));
      if (pg && !pg.w && r.writable && r.kind === "private") {
        resolveCow(this, p, r, va - (va % pb));
        return true;
      }
    }
    this.violation(p, va, error & PF_PK ? "key" : "protection", error);
    return false;
  }

  /** Records a violation by `p` at `va` with the owners of the address. */
  private violation(p: IsoProcess, va: number, kind: IsolationFault["kind"], error: number): void {
    let owners: IsolationFault["owners"];
    let region: string | undefined;
    if (va < USER_BASE || va >= USER_END) owners = "kernel";
    else if (p.regionAt(va)) {
      // its own memory, used against its rights (a write to its text, or to a read-only shared region)
      const r = p.regionAt(va)!;
      region = r.name;
      owners = r.kind === "shared" ? [{ pid: r.owner.pid, name: r.owner.name }] : [{ pid: p.pid, name: p.name }];
    } else {
      const rs = [...this.allRegions].filter((r) => va >= r.start && va < r.end);
      const os = new Map<number, { pid: number; name: string }>();
      for (const r of rs) {
        region ??= r.name;
        for (const m of r.members.keys()) os.set(m.pid, { pid: m.pid, name: m.name });
      }
      owners = os.size > 0 ? [...os.values()].sort((a, b) => a.pid - b.pid) : "nobody";
    }
    const kill = p.config.onViolation === "kill";
    const f: IsolationFault = {
      design: this.design,
      kind,
      access: kind === "page" ? KIND_NAME[p.lastKind] : error & PF_W ? "write" : "read",
      va,
      accessor: { pid: p.pid, name: p.name },
      owners,
      ...(region ? { region } : {}),
      action: kill ? "killed" : "reported",
    };
    this.faults.push(f);
    this.ledger.charge("isolationFault.entry", 1, this.design === "linux" ? this.costs.cpu.pageFaultLinux : this.costs.cpu.pageFaultUnikernel);
    p.violated = true;
  }

  // ---- fork, exit, wait --------------------------------------------------------------------

  /**
   * fork(): a child with a copy of the parent's memory (copy-on-write in the
   * multi-address-space designs, an eager copy to new addresses in shared-as), the
   * parent's shared regions, a new PCID and its keys. Returns the child and the cost.
   */
  fork(parent: IsoProcess, opts: { name?: string } = {}): { child: IsoProcess; cost: Breakdown } {
    this.alive(parent, "fork");
    this.switchTo(parent);
    const name = opts.name ?? `${parent.name}-${this.nextPid}`;
    this.checkNameFree(name);
    const cfg = { ...parent.config, name };
    const r = this.singleAs ? forkSharedAs(this, parent, cfg) : forkMultiAs(this, parent, cfg);
    this.ledger.add(r.ledger, "fork.");
    return { child: r.child, cost: r.ledger.breakdown() };
  }

  /** @internal Registers a region made by a fork. */
  addRegion(p: IsoProcess, r: Region): void {
    p.regions.push(r);
    this.allRegions.add(r);
  }

  /** @internal A fresh region id. */
  regionId(): number {
    return this.nextRegion++;
  }

  /**
   * exit(): unmaps the process's memory (frames go back when no one maps them), leaves
   * its shared regions, frees its PCID (flushed) and key, reparents its children, and
   * leaves a zombie for the parent's wait() (or is reaped at once without a parent).
   */
  exit(p: IsoProcess, code = 0): Breakdown {
    this.alive(p, "exit");
    this.sim.flush();
    const c = this.costs;
    const l = syscallLedger(this.design, c);
    l.charge(this.design === "linux" ? "linuxExitFixed" : "processExit", 1, this.design === "linux" ? c.params.linuxExitFixed : c.params.processExitUnikernel);
    let entries = 0;
    let freed = 0;
    const vas: { va: number; size: PageSizeCode }[] = [];
    const singleAsVas: number[] = [];
    for (const r of p.regions) {
      const mine = r.kind === "private" || !this.singleAs;
      if (r.kind === "shared") r.members.delete(p);
      const last = r.kind === "private" || r.members.size === 0;
      if (mine || last) {
        const root = this.singleAs ? this.vm.guest.kernelRoot : p.root;
        for (const [va, pg] of r.pages) {
          const st = this.core.gptUnmap(this.vm.id, root, va, r.pageSize);
          if (st !== "ok") throw new Error(`exit: unmap 0x${va.toString(16)}: ${st}`);
          if (this.singleAs) singleAsVas.push(va);
          entries++;
          vas.push({ va, size: r.pageSize });
          if (this.unref(pg.frame)) freed++;
        }
      }
      if (last) {
        this.allRegions.delete(r);
        if (r.vkey && r.kind === "shared") this.keys!.release(r.vkey);
        r.pages.clear();
      }
    }
    p.regions.length = 0;
    if (p.vkey) {
      this.keys!.release(p.vkey);
      p.vkey = null;
    }
    l.charge("entriesCleared", entries, c.params.pteWrite);
    l.charge("refcountDecrements", entries, c.params.atomicRmw);
    l.charge("framesFreed", freed, c.params.tableFree);
    if (singleAsVas.length > 0) {
      // one address space: the entries of every process share PCID 0, so they go page by page,
      // or all at once beyond Linux's single-page flush ceiling (tlb_single_page_flush_ceiling = 33)
      if (singleAsVas.length > 33) {
        this.core.invpcid(this.vcpu, 1, 0, 0);
        l.charge("tlbFlush", 1, c.params.invpcidSingle);
      } else {
        for (const va of singleAsVas) this.core.invlpg(this.vcpu, va);
        l.charge("invlpg", singleAsVas.length, c.cpu.invlpg);
      }
    }
    if (!this.singleAs) {
      const tables = countTables(vas);
      l.charge("tablePagesFreed", tables.pages, c.params.tableFree);
      // the PCID may be reused: its entries go now
      this.core.invpcid(this.vcpu, 1, p.pcid, 0);
      l.charge("pcidFlush", 1, c.params.invpcidSingle);
      this.freePcids.push(p.pcid);
      this.rootPool.push(p.root);
    }
    p.state = "zombie";
    p.exitCode = code;
    if (this.running === p) this.running = null;
    for (const ch of p.children) ch.parent = null;
    // orphans that already exited are reaped by "init"
    for (const ch of [...p.children]) if (ch.state === "zombie") this.reap(ch);
    p.children.clear();
    if (!p.parent || !p.parent.alive) this.reap(p);
    this.refreshPkru();
    this.ledger.add(l, "exit.");
    return l.breakdown();
  }

  /** @internal Removes a zombie for good. */
  reap(p: IsoProcess): void {
    reapProcess(this.procs, p);
  }

  /**
   * wait(): reaps one zombie child of `parent` and returns its pid, name and status, or
   * null when no child has exited (the simulation does not block).
   */
  wait(parent: IsoProcess): { pid: number; name: string; code: number; cost: Breakdown } | null {
    this.alive(parent, "wait");
    const z = zombieChild(parent);
    if (!z) return null;
    const l = syscallLedger(this.design, this.costs);
    l.charge("reap", 1, this.costs.params.waitReap);
    this.reap(z);
    this.ledger.add(l, "wait.");
    return { pid: z.pid, name: z.name, code: z.exitCode ?? 0, cost: l.breakdown() };
  }

  // ---- accounting ------------------------------------------------------------------------------

  /** Cycles of translation (STLB hits, walk references) since `mark`, charged under `translation`. */
  chargeTranslation(mark: { stlbHits: number; walkRefs: number }): number {
    const c = this.sim.counters(this.vcpu);
    const d = { stlbHits: c.stlbHits - mark.stlbHits, walkRefs: c.walkRefs - mark.walkRefs };
    this.ledger.charge("translation.stlbHits", d.stlbHits, this.costs.latency.stlbHit);
    this.ledger.charge("translation.walkRefs", d.walkRefs, this.costs.latency.walkRefL2);
    return translationCycles(this.costs, d);
  }

  /** A counters mark for `chargeTranslation`. */
  mark(): { stlbHits: number; walkRefs: number } {
    const c = this.sim.counters(this.vcpu);
    return { stlbHits: c.stlbHits, walkRefs: c.walkRefs };
  }

  /** Frames of process memory alive now, and the bytes they hold. */
  memory(): { frames: number; bytes: number; regions: number } {
    let bytes = 0;
    for (const f of this.frames.values()) bytes += PAGE_BYTES[f.size];
    return { frames: this.frames.size, bytes, regions: this.allRegions.size };
  }
}

export interface ProcessTreeNode {
  pid: number;
  name: string;
  state: ProcState;
  children: ProcessTreeNode[];
}

/** What every process manager (this one, kylinx.ts) keeps of a process for the tree, wait and reaping. */
interface TreeMember<P> {
  readonly pid: number;
  readonly name: string;
  state: ProcState;
  parent: P | null;
  readonly children: Set<P>;
}

/** The tree of the live and zombie processes among `procs`, from those without a parent, by pid. */
export function processTree<P extends TreeMember<P>>(procs: Iterable<P>): ProcessTreeNode[] {
  const byPid = (a: P, b: P) => a.pid - b.pid;
  const node = (p: P): ProcessTreeNode => ({
    pid: p.pid,
    name: p.name,
    state: p.state,
    children: [...p.children].filter((c) => c.state !== "reaped").sort(byPid).map(node),
  });
  return [...procs].filter((p) => p.parent === null && p.state !== "reaped").sort(byPid).map(node);
}

/** Removes zombie `p` for good: from its parent's children and from `procs`. */
export function reapProcess<P extends TreeMember<P>>(procs: Map<number, P>, p: P): void {
  p.state = "reaped";
  p.parent?.children.delete(p);
  procs.delete(p.pid);
}

/** The zombie child of `parent` that wait() reaps first (the lowest pid), if any. */
export function zombieChild<P extends TreeMember<P>>(parent: P): P | undefined {
  let z: P | undefined;
  for (const c of parent.children) if (c.state === "zombie" && (!z || c.pid < z.pid)) z = c;
  return z;
}

/**
 * The page-table pages below the root that map a set of pages: one PDPT per 512 GiB
 * slot, one PD per 1 GiB, one PT per 2 MiB that holds 4 KiB pages.
 */
export function countTables(pages: { va: number; size: PageSizeCode }[]): { pages: number; pdpt: number; pd: number; pt: number } {
  const pdpt = new Set<number>();
  const pd = new Set<number>();
  const pt = new Set<number>();
  for (const p of pages) {
    pdpt.add(Math.floor(p.va / 2 ** 39));
    pd.add(Math.floor(p.va / 2 ** 30));
    if (p.size === 0) pt.add(Math.floor(p.va / 2 ** 21));
  }
  return { pages: pdpt.size + pd.size + pt.size, pdpt: pdpt.size, pd: pd.size, pt: pt.size };
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

export { READ, WRITE, FETCH, LINEAR_BASE };
