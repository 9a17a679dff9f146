/**
 * The WebAssembly translation core behind the `MmuCore` interface: typed views over
 * its memory, table-frame pools, the request buffer and the event loop.
 *
 * @example
 * const core = await WasmCore.create(config);
 * core.addEptFrames(0, [0x1000_0000]);
 * core.createVm(0);
 * core.submit([{ vcpu: 0, va: 0x1000, kind: READ, size: 8 }]);
 * for (let ev = core.run(); ev; ev = core.run()) handle(ev);
 */
import type {
  BadFreeReason, CoreConfig, CoreEvent, Counters, EntryInfo, EptAttrs, GuestAttrs, MapStatus,
  MmuCore, PageSizeCode, Request, SlabEvent, VcpuControl,
} from "./types.js";
import { DEFAULT_CONTROL, MAX_TIERS, TLB_NAMES } from "./types.js";
import { BACKING, C, EV, EV_ADDR, REQ_BYTES, REQ_CAPACITY, SLAB, SLAB_STATUS, STATUS, STRUCT } from "./layout.js";
import { estimateLines } from "./sampling.js";
import { checkConfig } from "./config.js";
import { coreImports, loadCoreModule, type CoreSink, type LoadOptions } from "./load.js";
import { CHUNK_RECORDS, LINE_MARK, LINE_RESET, LineThread, RING_RECORDS, type LineConsumer } from "./line-thread.js";

interface Exports {
  memory: WebAssembly.Memory;
  setGeometry(s: number, entries: number, ways: number): void;
  setTier(i: number, base: number, size: number): void;
  init(model: number, policy: number, pcpus: number, vcpus: number, vms: number, repl: number, seed: number, reqCap: number, psc: number, ntlb: number, slabHeaps: number, lines: number): number;
  slabHeapCreate(heap: number, pageShift: number): number;
  slabCacheCreate(heap: number, cache: number, objSize: number, header: number, fromEnd: number): number;
  slabAddPage(heap: number, cache: number, base: number): number;
  slabRemovePage(heap: number, base: number): number;
  slabAlloc(heap: number, cache: number): number;
  slabFree(heap: number, addr: number): number;
  slabHeapAddress(heap: number): number;
  requestBuffer(): number;
  countersBase(): number;
  heapTop(): number;
  setLineSampling(k: number): number;
  lineBuffer(records: number, chunk: number): number;
  lineEmitFlush(): void;
  lineEmitMark(kind: number): void;
  consumeLines(at: number, n: number): number;
  tableSlots(): number;
  outOfMemory(): number;
  submit(n: number): void;
  resetCounters(): void;
  run(): number;
  skip(): void;
  bkRegion(vms: number, capacity: number): number;
  advanceClock(to: number): void;
  vmCreate(vm: number, ad: number): number;
  vmDestroy(vm: number): void;
  tableRelease(hpa: number): number;
  vcpuCreate(vcpu: number, vm: number, pcpu: number): void;
  vcpuSetCr3(vcpu: number, root: number, pcid: number, noflush: number): void;
  vcpuSetPkru(vcpu: number, v: number): void;
  vcpuSetPkrs(vcpu: number, v: number): void;
  vcpuSetControl(vcpu: number, ctl: number): void;
  invlpg(vcpu: number, va: number): void;
  invpcid(vcpu: number, type: number, pcid: number, va: number): void;
  invvpid(vm: number, type: number, va: number): void;
  invept(vm: number): void;
  eptMap(vm: number, gpa: number, hpa: number, size: number, rights: number): number;
  eptMapRange(vm: number, gpa: number, hpa: number, size: number, count: number, rights: number): number;
  gptMapRange(vm: number, root: number, va: number, gpa: number, size: number, count: number, attrs: number): number;
  eptUnmap(vm: number, gpa: number, size: number): number;
  eptProtect(vm: number, gpa: number, size: number, rwx: number): number;
  eptEntry(vm: number, gpa: number): number;
  eptWriteRaw(vm: number, gpa: number, level: number): number;
  eptLookup(vm: number, gpa: number): number;
  eptTierIndex(vm: number, gpa: number): number;
  eptTierIndices(vm: number, gpa: number, n: number): number;
  eptLeavesFrom(vm: number, gpa: number): number;
  gptNewRoot(vm: number): number;
  gptMap(vm: number, root: number, va: number, gpa: number, size: number, attrs: number): number;
  gptUnmap(vm: number, root: number, va: number, size: number): number;
  gptProtect(vm: number, root: number, va: number, size: number, attrs: number): number;
  gptEntry(vm: number, root: number, va: number): number;
  gptWriteRaw(vm: number, root: number, va: number, level: number): number;
  layoutConstant(i: number): number;
}

/**
 * The core's YCSB run-phase generator (assembly/ycsb.ts): its exports and the core's
 * memory, for src/workloads/ycsb/core-run.ts, which documents the protocol.
 */
export interface YcsbGenerator {
  memory: WebAssembly.Memory;
  /** The address of the core's request buffer. */
  requestBuffer(): number;
  ycsbRegion(bytes: number): number;
  kvConfigure(
    vcpu: number, bucketsAt: number, buckets: number, recordsAt: number, records: number, recordCapacity: number,
    fieldCount: number, fieldLength: number, network: number, tableVa: number, requestBuffer: number, responseBuffer: number, responseOffset: number,
    lengthsAt: number, lengthSlots: number, zeroPadding: number, ordered: number,
  ): void;
  kvCounter(i: number): number;
  kvSetCounter(i: number, v: number): void;
  treeConfigure(
    present: number, count: number, leaf: number, next: number, va: number, keyA: number, keyB: number, rid: number, kid: number,
    capacity: number, slotsPerNode: number, slotBytes: number, nodeBytes: number, root: number, nodes: number, height: number,
  ): void;
  treeState(i: number): number;
  ycsbConfigure(
    flags: number, lb: number, interval: number, items: number, zetan: number, eta: number, alpha: number, secondBound: number, min: number, count: number, limit: number,
    scanMin: number, scanInterval: number, maxLoadFactor: number,
  ): number;
  ycsbLatest(items: number, zetan: number, countForZeta: number, eta: number, theta: number, zeta2theta: number, alpha: number, secondBound: number): void;
  ycsbSeed(a: number, b: number, c: number, d: number): void;
  ycsbRngWord(i: number): number;
  ycsbShare(i: number, share: number, op: number): void;
  ycsbCounter(i: number): number;
  ycsbSetCounter(i: number, v: number): void;
  ycsbQueued(): number;
  ycsbRequeue(at: number): void;
  ycsbFailed(): number;
  ycsbRun(at: number, ops: number, capacity: number): number;
  /** Operations drawn ahead (assembly/ycsb.ts; src/workloads/ycsb/run-thread.ts). */
  ycsbDrawRegion(ops: number): number;
  ycsbDraw(entries: number, states: number, ops: number): number;
  ycsbReplay(entries: number, states: number, ops: number): void;
  ycsbReplayFrom(done: number): void;
  ycsbLoad(at: number, keyStart: number, ops: number, capacity: number, maxLoad: number): number;
  ycsbStatus(): number;
  ycsbNamesCheck(start: number, count: number): number;
  keysCompare(hi1: number, lo1: number, l1: number, hi2: number, lo2: number, l2: number): number;
  keysPack(hi: number, lo: number, len: number, part: number): number;
}

/**
 * The core's memcached server model (assembly/memcached.ts): its exports and the core's
 * memory, for src/workloads/memcached/core-run.ts, which documents the protocol.
 */
export interface MemcachedCore {
  memory: WebAssembly.Memory;
  /** A reusable region of at least `bytes` (8-aligned) for the server's state; 0 when memory ran out. */
  mcRegion(bytes: number): number;
  mcConfigure(
    chunksAt: number, chunkCapacity: number, classesAt: number, n: number, sizesAt: number, classCount: number, firstClass: number,
    table: number, spare: number, spareBuckets: number, rbuf: number, wbuf: number, connections: number, totalsAt: number,
    cas: number, hot: number, warm: number, net: number, inline: number, limit: number, pageSize: number,
    code: number, codeRegion: number, fetches: number, fetchBytes: number, vcpu: number,
  ): void;
  mcQueueAt(at: number, capacity: number): void;
  mcQueued(): number;
  mcRequeue(at: number): void;
  mcRunReset(): void;
  mcRunCounter(i: number): number;
  mcServe(at: number, n: number): number;
  mcMemaslap(n: number): number;
  mcStatus(): number;
}

/** Where the memcached model in the core calls its host (null handlers: none). */
export type MemcachedSink = Required<Pick<CoreSink, "mcMalloc" | "mcFree" | "queueFull">>;

/**
 * The core's memaslap request stream (assembly/memaslap.ts): its exports and the core's
 * memory, for src/workloads/memcached/core-memaslap.ts, which copies a Memaslap's state
 * in and back.
 */
export interface MemaslapGenerator {
  memory: WebAssembly.Memory;
  /** A reusable region of at least `bytes` (8-aligned); 0 when memory ran out. */
  msRegion(bytes: number): number;
  msConfigure(
    keyIdsAt: number, storedAt: number, connsAt: number, activeAt: number, keySizesAt: number, valueSizesAt: number,
    concurrency: number, windowSize: number, setProp: number, getProp: number, overwrite: number, schedule: number,
    nextKeyId: number, turn: number, warmingUp: number, activeCount: number, gets: number, sets: number, retired: number,
  ): void;
  msSeed(a: number, b: number, c: number, d: number): void;
  msRngWord(i: number): number;
  /** 0 nextKeyId, 1 turn, 2 warmingUp, 3 active connections, 4 gets, 5 sets, 6 retired keys. */
  msState(i: number): number;
  /** Up to `n` requests as 32-byte records at `out`; returns how many. */
  msDraw(n: number, out: number): number;
}

const VA_LIMIT = 2 ** 48;
const PA_LIMIT = 2 ** 46;
const SIZE_BYTES = [4096, 2 ** 21, 2 ** 30];

interface VmState {
  eptPool: number[];
  guestPool: { gpa: number; hpa: number }[];
  /** Host frames of the EPT's table pages (the hypervisor's to free). */
  eptTables: number[];
  /** Frames of the guest's table pages (guest memory: the guest's to free). */
  guestTables: { gpa: number; hpa: number }[];
  roots: Set<number>;
}

function newVmState(): VmState {
  return { eptPool: [], guestPool: [], eptTables: [], guestTables: [], roots: new Set() };
}

/** Throws unless `v` is an integer in 0..limit-1 aligned to `align` (a power of two). */
function checkAddr(field: string, v: number, limit: number, align = 1): void {
  // (alignment by division, exact for a power of two: `%` of a double above 2^31 is a slow call)
  if (!Number.isInteger(v) || v < 0 || v >= limit || Math.floor(v / align) !== v / align) {
    throw new RangeError(`${field}: ${v} is not allowed; expected an integer in 0..${limit - 1}${align > 1 ? ` aligned to ${align}` : ""}`);
  }
}

function checkSize(size: number): void {
  if (size !== 0 && size !== 1 && size !== 2) throw new RangeError(`size: ${size} is not allowed; expected 0 (4 KiB), 1 (2 MiB) or 2 (1 GiB)`);
}

/** A core dropped without close() gives its line thread back when it is collected. */
const unclosed = new FinalizationRegistry<LineThread>((t) => t.release());

/**
 * The core's linear memory (at most 4 GiB of Wasm memory) cannot hold what was asked
 * of it: a configuration's structures, or a workload model's state in the core. A
 * limit of the simulator for that size, not a bug (runJob reports it as a JobError).
 *
 * @example
 * throw new CoreMemoryFull("the YCSB store's structures (1.2 GiB)");
 */
export class CoreMemoryFull extends Error {
  constructor(what: string) {
    super(`the core's memory (at most 4 GiB of Wasm memory) cannot hold ${what}`);
    this.name = "CoreMemoryFull";
  }
}

/**
 * Whether a region of `bytes` could fit the core's memory at all: the core's exports
 * take sizes as u32, so a larger one would wrap around to a small one.
 *
 * @example
 * fitsCore(2 ** 33); // false
 */
export function fitsCore(bytes: number): boolean {
  return bytes < 2 ** 32;
}

/**
 * A region of `bytes` of a core's heap from `take` (a model's region export, such as
 * `ycsbRegion`): its address, or a CoreMemoryFull naming `what` and the size when the
 * core's memory has no room for it (or it could never fit).
 *
 * @example
 * const base = coreRegion(bytes, (b) => g.mcRegion(b), "the memcached model's state");
 */
export function coreRegion(bytes: number, take: (bytes: number) => number, what: string): number {
  // an address: past 2 GiB the export's i32 reads negative
  const base = fitsCore(bytes) ? take(bytes) >>> 0 : 0;
  if (base === 0) throw new CoreMemoryFull(`${what} (${Math.ceil(bytes / 2 ** 20)} MiB)`);
  return base;
}

export class WasmCore implements MmuCore, LineConsumer {
  private x: Exports;
  private buffer: ArrayBuffer | SharedArrayBuffer;
  private u32!: Uint32Array;
  private u64!: BigUint64Array;
  private readonly io: { raw: number; level: number; nframes: number; used: number; frames: number; done: number; maxFrames: number; scratch: number };
  private readonly reqBase: number;
  private readonly cntBase: number;
  private readonly vms = new Map<number, VmState>();
  private readonly vcpuVm = new Map<number, number>();
  private pending: Request[] = [];
  private pendingAt = 0; // index of the first request in the core's buffer
  private lastEvent: CoreEvent | SlabEvent | null = null;
  /** Sets per sampled set of the line cache (1: every set modelled). */
  private readonly sampling: number;
  /** The line cache's thread (config.lineThread), its counter table at the last mark, and whether runs came after it. */
  private lines: LineThread | null = null;
  private lineCounts: BigUint64Array | null = null;
  private linesStale = false;
  private linesClosed = false;
  /** The buffer `consumeLineRecords` copies records into. */
  private lineScratch = 0;
  /** The first-touch stream's region, and each enabled VM's EPT pool when the stream started. */
  private backing: { base: number; vms: Map<number, number[]>; started: boolean } | null = null;

  private constructor(
    readonly config: CoreConfig,
    instance: WebAssembly.Instance,
    private readonly sink: CoreSink = {},
  ) {
    this.x = instance.exports as unknown as Exports;
    this.buffer = this.x.memory.buffer;
    this.views();
    const t = config.tlb;
    TLB_NAMES.forEach((name, i) => this.x.setGeometry(i, t[name].entries, t[name].ways));
    const psc = config.psc;
    this.x.setGeometry(STRUCT.psc4, psc?.pml4.entries ?? 0, psc?.pml4.ways ?? 0);
    this.x.setGeometry(STRUCT.psc3, psc?.pdpt.entries ?? 0, psc?.pdpt.ways ?? 0);
    this.x.setGeometry(STRUCT.psc2, psc?.pd.entries ?? 0, psc?.pd.ways ?? 0);
    this.x.setGeometry(STRUCT.ntlb, config.ntlb?.entries ?? 0, config.ntlb?.ways ?? 0);
    this.x.setGeometry(STRUCT.lines, config.lineCache?.entries ?? 0, config.lineCache?.ways ?? 0);
    config.tiers.slice(0, MAX_TIERS).forEach((r, i) => this.x.setTier(i, r.base, r.size));
    const conf = config.model === "conformance";
    const failed = this.x.init(
      conf ? 1 : 0,
      config.policy === "2m" ? 1 : 0,
      conf ? 1 : config.pcpus,
      conf ? 1 : config.vcpus,
      conf ? 1 : config.vms,
      // the conformance model is true LRU by definition (REFERENCE.md section 9)
      conf ? 0 : ["lru", "fifo", "random"].indexOf(config.replacement),
      config.seed >>> 0,
      config.requestBuffer ?? REQ_CAPACITY,
      config.psc && !conf ? 1 : 0,
      config.ntlb && !conf ? 1 : 0,
      config.slabHeaps ?? config.vms,
      config.lineCache && !conf ? (config.lineCacheData ? 2 : 1) : 0,
    );
    this.sampling = config.lineCache && !conf ? (config.lineSampling ?? 1) : 1;
    if (failed || (this.sampling > 1 && !this.x.setLineSampling(this.sampling))) {
      throw new CoreMemoryFull("the configuration's structures");
    }
    this.io = {
      raw: this.x.layoutConstant(0),
      level: this.x.layoutConstant(1),
      nframes: this.x.layoutConstant(2),
      used: this.x.layoutConstant(3),
      frames: this.x.layoutConstant(4),
      done: this.x.layoutConstant(7),
      maxFrames: this.x.layoutConstant(8),
      scratch: this.x.layoutConstant(9),
    };
    this.reqBase = this.x.requestBuffer() >>> 0;
    this.cntBase = this.x.countersBase() >>> 0;
    if (conf) {
      this.vms.set(0, newVmState());
      this.vcpuVm.set(0, 0);
    }
  }

  /**
   * Creates a core; `options` choose the Wasm build (release by default). With
   * `config.lineThread` it starts the line cache's thread (call `close()` when done).
   */
  static async create(config: CoreConfig, options: LoadOptions = {}): Promise<WasmCore> {
    checkConfig(config);
    if (config.lineThread) await LineThread.available();
    // a line thread reads the core's records where the core wrote them: the build whose memory is shared
    const module = await loadCoreModule(config.lineThread ? { ...options, shared: true } : options);
    const sink: CoreSink = {};
    const core = new WasmCore(config, new WebAssembly.Instance(module, coreImports(sink)), sink);
    if (config.lineThread) {
      const at = core.x.lineBuffer(RING_RECORDS, CHUNK_RECORDS) >>> 0;
      if (!at) throw new CoreMemoryFull("the configuration's structures and the line thread's ring");
      const ring = { memory: core.x.memory.buffer, at, records: RING_RECORDS };
      const thread = await LineThread.acquire(config, module, config.vcpus * C.COUNT * 8, ring);
      core.lines = thread;
      unclosed.register(core, thread, core);
      sink.linesOut = (at, bytes) => thread.handed(at, bytes);
    }
    return core;
  }

  /** The line cache's thread (`config.lineThread`) until `close()`, else null. */
  get lineThread(): LineThread | null {
    return this.linesClosed ? null : this.lines;
  }

  /** Creates a core from a module already compiled (see `loadCoreModule`), synchronously (no line thread: see `create`). */
  static fromModule(config: CoreConfig, module: WebAssembly.Module): WasmCore {
    checkConfig(config);
    if (config.lineThread) throw new RangeError("lineThread: true is not allowed with WasmCore.fromModule; expected WasmCore.create, which starts the thread");
    const sink: CoreSink = {};
    return new WasmCore(config, new WebAssembly.Instance(module, coreImports(sink)), sink);
  }

  /**
   * Gives the line cache's thread back, if any (its counts stay readable; the core can
   * run no more accesses). Idempotent.
   */
  close(): void {
    if (!this.lines || this.linesClosed) return;
    this.lineTotals();
    this.linesClosed = true;
    unclosed.unregister(this);
    this.lines.release();
  }

  /** After close() nothing may reach the thread: it serves another core now. */
  private checkOpen(): void {
    if (this.linesClosed) throw new Error("lineThread: the core was closed; it cannot run accesses or reset its counters any more");
  }

  /** The line counters at this point of the runs: the thread's, when it runs the line cache (waits for it). */
  private lineTotals(): BigUint64Array | null {
    if (!this.lines) return null;
    if (this.linesClosed) {
      if (this.linesStale) throw new Error("lineThread: the core was closed; its counts are those at close()");
      return this.lineCounts;
    }
    if (this.linesStale || !this.lineCounts) {
      this.x.lineEmitMark(LINE_MARK);
      this.x.lineEmitFlush();
      // a copy of this core's part: the shared table is the thread's, and the next core's after close()
      this.lineCounts = this.lines.counters().slice(0, this.config.vcpus * C.COUNT);
      this.linesStale = false;
    }
    return this.lineCounts;
  }

  /** @internal Runs line-cache records up to a control record (the line thread's side, LineConsumer); returns the records done. */
  consumeLineRecords(records: Uint8Array): number {
    if (!this.lineScratch) {
      this.lineScratch = this.x.lineBuffer(CHUNK_RECORDS, 0) >>> 0;
      if (!this.lineScratch) throw new Error("the core has no line cache, or no memory for its record buffer");
    }
    const n = Math.min(records.length >>> 3, CHUNK_RECORDS);
    new Uint8Array(this.x.memory.buffer).set(records.subarray(0, n * 8), this.lineScratch);
    return this.x.consumeLines(this.lineScratch, n);
  }

  /** @internal The whole counter table (LineConsumer). */
  counterBytes(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer, this.cntBase, this.config.vcpus * C.COUNT * 8);
  }

  private views(): void {
    this.buffer = this.x.memory.buffer;
    this.u32 = new Uint32Array(this.buffer);
    this.u64 = new BigUint64Array(this.buffer);
  }

  /** Typed views are re-made when the core has grown its memory (growth detaches a plain buffer; a shared one keeps its old length). */
  private fresh(): void {
    if (this.buffer !== this.x.memory.buffer) this.views();
  }

  /** Bytes of Wasm memory the core uses (its heap top). */
  memoryBytes(): number {
    return this.x.heapTop() >>> 0;
  }

  /** Page-table pages the core holds. */
  tablePages(): number {
    return this.x.tableSlots() >>> 0;
  }

  // ---- VMs and frames ------------------------------------------------------------

  private vm(vm: number): VmState {
    const s = this.vms.get(vm);
    if (!s) throw new RangeError(`vm: ${vm} does not exist; existing VMs: ${[...this.vms.keys()].join(", ") || "none"}`);
    return s;
  }

  private noConformance(op: string): void {
    if (this.config.model === "conformance") throw new Error(`${op}: the conformance model has no page tables`);
  }

  createVm(vm: number, opts: { eptAD?: boolean } = {}): void {
    this.noConformance("createVm");
    if (!Number.isInteger(vm) || vm < 0 || vm >= this.config.vms) {
      throw new RangeError(`vm: ${vm} is not allowed; expected an integer in 0..${this.config.vms - 1}`);
    }
    if (this.vms.has(vm)) throw new RangeError(`vm: ${vm} already exists`);
    // EPT frames for the root may have been queued before the VM existed
    const state = this.early.get(vm) ?? newVmState();
    this.early.delete(vm);
    this.vms.set(vm, state);
    try {
      this.withFrames(state, true, 1, () => this.x.vmCreate(vm, opts.eptAD === false ? 0 : 1), "createVm");
    } catch (e) {
      this.vms.delete(vm);
      this.early.set(vm, state);
      throw e;
    }
  }

  destroyVm(vm: number): void {
    const s = this.vm(vm);
    this.x.vmDestroy(vm);
    this.backing?.vms.delete(vm);
    for (const hpa of s.eptTables) this.x.tableRelease(hpa);
    for (const f of s.guestTables) this.x.tableRelease(f.hpa);
    this.vms.delete(vm);
    for (const [v, m] of [...this.vcpuVm]) if (m === vm) this.vcpuVm.delete(v);
  }

  // ---- first touches backed in the core (assembly/backing.ts, docs/core.md section 5d) -----

  /**
   * @internal Lets the core back first touches of `vm` below guest-physical `limit`
   * itself, with one 4 KiB frame of the stream `firstTouchStart` hands it, as the osv
   * back-end would (src/host/first-touch.ts); 0 turns it off.
   */
  firstTouchVm(vm: number, limit: number): void {
    this.vm(vm);
    checkAddr("limit", limit, PA_LIMIT + 1, 4096);
    if (!this.backing) {
      const base = this.x.bkRegion(this.config.vms, BACKING.CAPACITY) >>> 0;
      if (!base) throw new Error("the core could not allocate its first-touch stream: the core's 4 GiB of Wasm memory ran out");
      this.backing = { base, vms: new Map(), started: false };
    }
    if (limit === 0) this.backing.vms.delete(vm);
    else this.backing.vms.set(vm, []);
    this.fresh();
    const at = (this.backing.base + BACKING.VM0 + vm * BACKING.VM_BYTES) / 4;
    this.u32[at] = limit >>> 0;
    this.u32[at + 1] = limit / 4294967296;
  }

  /**
   * @internal Hands the core the stream `frames[0..n)` (at most `BACKING.CAPACITY`: host
   * frames in the order the host's allocator would give them; the core holds those below
   * `from` from the last stream, which `firstTouchEnd` moved to the front) and each
   * enabled VM's EPT pool, until `firstTouchEnd`.
   */
  firstTouchStart(frames: Float64Array, from: number, n: number): void {
    const b = this.backing;
    if (!b) throw new Error("firstTouchStart: no VM backs its first touches in the core; call firstTouchVm first");
    if (b.started) throw new Error("firstTouchStart: a stream is already started; call firstTouchEnd after each run");
    if (!(Number.isInteger(n) && n >= 0 && n <= BACKING.CAPACITY)) throw new RangeError(`n: ${n} is not allowed; expected 0..${BACKING.CAPACITY}`);
    if (!(Number.isInteger(from) && from >= 0 && from <= n)) throw new RangeError(`from: ${from} is not allowed; expected 0..${n}`);
    this.fresh();
    const u = this.u32;
    const vmAt = (b.base + BACKING.VM0) / 4;
    // (forEach and index loops here and in firstTouchEnd: they run around every run, and iterators are garbage)
    b.vms.forEach((start, vm) => {
      const pool = this.vm(vm).eptPool;
      const at = vmAt + (vm * BACKING.VM_BYTES) / 4;
      start.length = 0;
      // a longer pool than a fault tops up stays on the host (the core's holds 3)
      if (pool.length > BACKING.POOL) {
        u[at + 2] = 0xffffffff;
        return;
      }
      u[at + 2] = pool.length;
      for (let i = 0; i < pool.length; i++) {
        const h = pool[i]!;
        start.push(h);
        u[at + 4 + 2 * i] = h >>> 0;
        u[at + 5 + 2 * i] = h / 4294967296;
      }
    });
    const f = (b.base + BACKING.VM0 + this.config.vms * BACKING.VM_BYTES) / 4;
    for (let i = from; i < n; i++) {
      u[f + 2 * i] = frames[i] >>> 0;
      u[f + 2 * i + 1] = frames[i] / 4294967296;
    }
    u[b.base / 4 + 1] = 0; // taken
    u[b.base / 4 + 2] = n; // count
    b.started = true;
  }

  /**
   * @internal Ends the stream: moves the table frames the core took into each VM's
   * record (its pool, then its tables, as the host's own maps would), moves the frames
   * not taken to the stream's front (the caller does the same with its copy) and returns
   * the log of the frames taken, in order (`vm << 1 | 1` for a table frame, `vm << 1`
   * for a data page): a view, valid until the core next runs. Until the next
   * `firstTouchStart` the core takes no frame.
   */
  firstTouchEnd(): Uint32Array {
    const b = this.backing;
    if (!b?.started) throw new Error("firstTouchEnd: no stream started");
    b.started = false;
    this.fresh();
    const u = this.u32;
    const taken = u[b.base / 4 + 1];
    const count = u[b.base / 4 + 2];
    u[b.base / 4 + 1] = 0;
    u[b.base / 4 + 2] = 0;
    const f = (b.base + BACKING.VM0 + this.config.vms * BACKING.VM_BYTES) / 4;
    const log = u.subarray(f + 2 * BACKING.CAPACITY, f + 2 * BACKING.CAPACITY + taken);
    // (a fault the core backs takes a frame at least: without one no pool changed)
    if (taken === 0) return log;
    const vmAt = (b.base + BACKING.VM0) / 4;
    // `seq`: the VM's pool in order, what it held when the stream started, then the frames the core topped it up with
    b.vms.forEach((seq, vm) => {
      const at = vmAt + (vm * BACKING.VM_BYTES) / 4;
      const k = u[at + 2];
      if (k > BACKING.POOL) return;
      const held = seq.length;
      for (let i = 0; i < taken; i++) if (log[i] === ((vm << 1) | 1)) seq.push(u[f + 2 * i] + u[f + 2 * i + 1] * 4294967296);
      if (seq.length === held && k === held) return;
      const s = this.vm(vm);
      const keep = seq.length - k;
      for (let i = 0; i < k; i++) {
        if (u[at + 4 + 2 * i] + u[at + 5 + 2 * i] * 4294967296 !== seq[keep + i]) throw new Error(`firstTouchEnd: vm ${vm}'s EPT frame pool in the core does not follow its frames`);
      }
      for (let i = 0; i < keep; i++) s.eptTables.push(seq[i]);
      s.eptPool = seq.slice(keep);
    });
    u.copyWithin(f, f + 2 * taken, f + 2 * count);
    return log;
  }

  /** The VM's page-table pages: EPT tables (host frames) and guest tables (guest frames). */
  tableFrames(vm: number): { ept: number[]; guest: { gpa: number; hpa: number }[] } {
    const s = this.vm(vm);
    return { ept: [...s.eptTables], guest: [...s.guestTables] };
  }

  addEptFrames(vm: number, hpas: number[]): void {
    const s = this.eptPoolOf(vm);
    hpas.forEach((h, i) => checkAddr(`hpas[${i}]`, h, PA_LIMIT, 4096));
    s.eptPool.push(...hpas);
  }

  private eptPoolOf(vm: number): VmState {
    // Frames for a VM's EPT root are queued before the VM exists.
    let s = this.vms.get(vm);
    if (!s) {
      if (!Number.isInteger(vm) || vm < 0 || vm >= this.config.vms) {
        throw new RangeError(`vm: ${vm} is not allowed; expected an integer in 0..${this.config.vms - 1}`);
      }
      s = this.early.get(vm);
      if (!s) this.early.set(vm, (s = newVmState()));
    }
    return s;
  }
  private readonly early = new Map<number, VmState>();

  addGuestFrames(vm: number, frames: { gpa: number; hpa: number }[]): void {
    const s = this.vm(vm);
    frames.forEach((f, i) => {
      checkAddr(`frames[${i}].gpa`, f.gpa, PA_LIMIT, 4096);
      checkAddr(`frames[${i}].hpa`, f.hpa, PA_LIMIT, 4096);
    });
    s.guestPool.push(...frames);
  }

  /** `framesAvailable(vm).ept` without making an object (the hypervisor asks on every fault). */
  eptFramesQueued(vm: number): number {
    return (this.vms.get(vm) ?? this.early.get(vm))?.eptPool.length ?? 0;
  }

  framesAvailable(vm: number): { ept: number; guest: number } {
    const s = this.vms.get(vm) ?? this.early.get(vm);
    return { ept: s?.eptPool.length ?? 0, guest: s?.guestPool.length ?? 0 };
  }

  /** Offers up to `max` pool frames to a core call, then takes what it used from the pool. */
  private withFrames(s: VmState, ept: boolean, max: number, call: () => number, op: string): MapStatus {
    this.offerFrames(s, ept, max);
    return this.takeFrames(s, ept, call(), op);
  }

  /** Writes up to `max` frames of the pool into the IO block for the next map call. */
  private offerFrames(s: VmState, ept: boolean, max: number): void {
    const pool = ept ? s.eptPool : s.guestPool;
    const n = Math.min(max, pool.length);
    this.fresh();
    // (gPA, hPA) u64 pairs, written as u32 halves: a BigInt per value cost more than the map
    const base = this.io.frames / 4;
    const u32 = this.u32;
    for (let i = 0; i < n; i++) {
      const f = pool[i];
      const gpa = ept ? 0 : (f as { gpa: number }).gpa;
      const hpa = ept ? (f as number) : (f as { hpa: number }).hpa;
      u32[base + 4 * i] = gpa >>> 0;
      u32[base + 4 * i + 1] = gpa / 4294967296;
      u32[base + 4 * i + 2] = hpa >>> 0;
      u32[base + 4 * i + 3] = hpa / 4294967296;
    }
    u32[this.io.nframes / 4] = n;
  }

  /** After a map call that returned `code`: moves the frames it used from the pool to the VM's tables. */
  private takeFrames(s: VmState, ept: boolean, code: number, op: string): MapStatus {
    const status = STATUS[code] ?? "out-of-memory";
    this.fresh();
    const used = this.u32[this.io.used / 4];
    if (used > 0) {
      const pool = ept ? s.eptPool : s.guestPool;
      for (const f of pool.splice(0, used)) {
        if (ept) s.eptTables.push(f as number);
        else s.guestTables.push(f as { gpa: number; hpa: number });
      }
    }
    if (status === "out-of-memory") throw new Error(`${op}: the core ran out of Wasm memory (4 GiB)`);
    if (status === "no-frames" && op === "createVm") throw new Error(`createVm: no EPT frame queued for the root; call addEptFrames first`);
    return status as MapStatus;
  }

  // ---- EPT ---------------------------------------------------------------------------

  private eptRights(a: EptAttrs): number {
    if (!Number.isInteger(a.memType) || a.memType < 0 || a.memType > 7) {
      throw new RangeError(`memType: ${a.memType} is not allowed; expected 0..7`);
    }
    return (a.r ? 1 : 0) | (a.w ? 2 : 0) | (a.x ? 4 : 0) | (a.memType << 3);
  }

  eptMap(vm: number, gpa: number, hpa: number, size: PageSizeCode, attrs: EptAttrs): MapStatus {
    const s = this.vm(vm);
    checkSize(size);
    checkAddr("gpa", gpa, PA_LIMIT, SIZE_BYTES[size]);
    checkAddr("hpa", hpa, PA_LIMIT, SIZE_BYTES[size]);
    const rights = this.eptRights(attrs);
    // (no closure: the hypervisor maps on every fault)
    this.offerFrames(s, true, 3);
    return this.takeFrames(s, true, this.x.eptMap(vm, gpa, hpa, size, rights), "eptMap");
  }

  /**
   * Maps `count` consecutive EPT pages of `size` from `gpa` to `hpa` onward, taking
   * table frames from the pool as needed. Returns how many were mapped and why it
   * stopped ("ok" when all were).
   */
  eptMapRange(vm: number, gpa: number, hpa: number, size: PageSizeCode, count: number, attrs: EptAttrs): { status: MapStatus; mapped: number } {
    const s = this.vm(vm);
    checkSize(size);
    checkAddr("gpa", gpa, PA_LIMIT, SIZE_BYTES[size]);
    checkAddr("hpa", hpa, PA_LIMIT, SIZE_BYTES[size]);
    if (gpa + count * SIZE_BYTES[size] > PA_LIMIT || hpa + count * SIZE_BYTES[size] > PA_LIMIT) throw new RangeError(`count: ${count} pages pass 2^46`);
    const rights = this.eptRights(attrs);
    const step = SIZE_BYTES[size];
    return this.range(s, true, count, (k, n) => this.x.eptMapRange(vm, gpa + k * step, hpa + k * step, size, n, rights), "eptMapRange");
  }

  /** `count` consecutive guest pages of `size` from `va` to `gpa` onward; like `eptMapRange`. */
  gptMapRange(vm: number, root: number, va: number, gpa: number, size: PageSizeCode, count: number, attrs: GuestAttrs): { status: MapStatus; mapped: number } {
    const s = this.vm(vm);
    checkSize(size);
    checkAddr("va", va, VA_LIMIT, SIZE_BYTES[size]);
    checkAddr("gpa", gpa, PA_LIMIT, SIZE_BYTES[size]);
    if (va + count * SIZE_BYTES[size] > VA_LIMIT || gpa + count * SIZE_BYTES[size] > PA_LIMIT) throw new RangeError(`count: ${count} pages pass the address limit`);
    const bits = this.guestAttrs(attrs);
    const step = SIZE_BYTES[size];
    return this.range(s, false, count, (k, n) => this.x.gptMapRange(vm, root, va + k * step, gpa + k * step, size, n, bits), "gptMapRange");
  }

  /** Runs a range map in calls that each get up to the IO block's frames from the pool. */
  private range(s: VmState, ept: boolean, count: number, call: (from: number, n: number) => number, op: string): { status: MapStatus; mapped: number } {
    let mapped = 0;
    let status: MapStatus = "ok";
    while (mapped < count) {
      status = this.withFrames(s, ept, this.io.maxFrames, () => call(mapped, count - mapped), op);
      const done = this.u32[this.io.done / 4];
      mapped += done;
      if (status === "ok") break;
      // out of offered frames: go on while the pool has more and the call made progress
      const pool = ept ? s.eptPool : s.guestPool;
      if (status !== "no-frames" || pool.length === 0 || (done === 0 && pool.length < 3)) break;
    }
    return { status, mapped };
  }

  eptUnmap(vm: number, gpa: number, size: PageSizeCode): MapStatus {
    this.vm(vm);
    checkSize(size);
    checkAddr("gpa", gpa, PA_LIMIT, SIZE_BYTES[size]);
    return STATUS[this.x.eptUnmap(vm, gpa, size)] as MapStatus;
  }

  eptProtect(vm: number, gpa: number, size: PageSizeCode, attrs: EptAttrs): MapStatus {
    this.vm(vm);
    checkSize(size);
    checkAddr("gpa", gpa, PA_LIMIT, SIZE_BYTES[size]);
    return STATUS[this.x.eptProtect(vm, gpa, size, this.eptRights(attrs) & 7)] as MapStatus;
  }

  private readEntry(ok: number): EntryInfo {
    this.fresh();
    if (!ok) return { level: 0, raw: 0n };
    return { level: this.u32[this.io.level / 4], raw: this.u64[this.io.raw / 8] };
  }

  eptEntry(vm: number, gpa: number): EntryInfo {
    this.vm(vm);
    checkAddr("gpa", gpa, PA_LIMIT);
    return this.readEntry(this.x.eptEntry(vm, gpa));
  }

  private writeRaw(raw: bigint): void {
    this.fresh();
    this.u64[this.io.raw / 8] = BigInt.asUintN(64, raw);
  }

  eptWriteRaw(vm: number, gpa: number, level: number, raw: bigint): MapStatus {
    this.vm(vm);
    checkAddr("gpa", gpa, PA_LIMIT);
    this.writeRaw(raw);
    return STATUS[this.x.eptWriteRaw(vm, gpa, level)] as MapStatus;
  }

  /**
   * Every leaf of the VM's EPT, in guest-physical order: what backs the guest, read
   * from the tables themselves (the host keeps no record per page).
   */
  *eptLeaves(vm: number): Generator<{ gpa: number; hpa: number; size: PageSizeCode }> {
    this.vm(vm);
    const scratch = this.io.scratch / 8;
    let from = 0;
    for (;;) {
      const n = this.x.eptLeavesFrom(vm, from);
      this.fresh();
      const out: { gpa: number; hpa: number; size: PageSizeCode }[] = [];
      for (let i = 0; i < n; i++) {
        const b = scratch + i * 3;
        out.push({ gpa: Number(this.u64[b]), hpa: Number(this.u64[b + 1]), size: (Number(this.u64[b + 2]) - 1) as PageSizeCode });
      }
      const next = this.u64[this.io.raw / 8];
      yield* out;
      if (next === 0xffffffffffffffffn) return;
      from = Number(next);
    }
  }

  /** The host address the EPT maps `gpa` to (a silent walk), or null. */
  eptLookup(vm: number, gpa: number): number | null {
    this.vm(vm);
    const h = this.x.eptLookup(vm, gpa);
    return h < 0 ? null : h;
  }

  /**
   * The index of the configured tier (`tiers`) holding the page that backs `gpa`: -1 when
   * none backs it, -2 when its host address lies in none of the core's tiers.
   *
   * @example
   * core.eptTierIndex(vm, 0x200000); // 0: backed from the first tier
   */
  eptTierIndex(vm: number, gpa: number): number {
    this.vm(vm);
    return this.x.eptTierIndex(vm, gpa);
  }

  /**
   * `eptTierIndex` of `n` (1..4096) consecutive 4 KiB pages from `gpa` (4 KiB aligned), in
   * one call: per-page statistics over a run of pages. Writes them into `out` from 0.
   *
   * @example
   * core.eptTierIndices(vm, 0, 512, out); // out[i]: the tier index of gPA i * 4096
   */
  eptTierIndices(vm: number, gpa: number, n: number, out: Int8Array | Int32Array): void {
    this.vm(vm);
    checkAddr("gpa", gpa, PA_LIMIT, 4096);
    if (!(Number.isInteger(n) && n >= 1 && n <= 4096)) throw new RangeError(`n: ${n} is not allowed; expected 1..4096`);
    if (out.length < n) throw new RangeError(`out: ${out.length} entries is not allowed; expected at least n (${n})`);
    this.x.eptTierIndices(vm, gpa, n);
    this.fresh();
    const src = new Int8Array(this.buffer, this.io.scratch, n);
    for (let i = 0; i < n; i++) out[i] = src[i]!;
  }

  // ---- guest tables ----------------------------------------------------------------

  gptNewRoot(vm: number): number {
    const s = this.vm(vm);
    const frame = s.guestPool[0];
    const status = this.withFrames(s, false, 1, () => this.x.gptNewRoot(vm), "gptNewRoot");
    if (status !== "ok") throw new Error(`gptNewRoot: ${status === "no-frames" ? "no guest frame queued; call addGuestFrames first" : status}`);
    s.roots.add(frame.gpa);
    return frame.gpa;
  }

  private guestAttrs(a: GuestAttrs): number {
    if (!Number.isInteger(a.key) || a.key < 0 || a.key > 15) throw new RangeError(`key: ${a.key} is not allowed; expected 0..15`);
    return (a.w ? 1 : 0) | (a.u ? 2 : 0) | (a.xd ? 4 : 0) | (a.g ? 8 : 0) | (a.key << 4);
  }

  gptMap(vm: number, root: number, va: number, gpa: number, size: PageSizeCode, attrs: GuestAttrs): MapStatus {
    const s = this.vm(vm);
    checkSize(size);
    checkAddr("va", va, VA_LIMIT, SIZE_BYTES[size]);
    checkAddr("gpa", gpa, PA_LIMIT, SIZE_BYTES[size]);
    const bits = this.guestAttrs(attrs);
    return this.withFrames(s, false, 3, () => this.x.gptMap(vm, root, va, gpa, size, bits), "gptMap");
  }

  gptUnmap(vm: number, root: number, va: number, size: PageSizeCode): MapStatus {
    this.vm(vm);
    checkSize(size);
    checkAddr("va", va, VA_LIMIT, SIZE_BYTES[size]);
    return STATUS[this.x.gptUnmap(vm, root, va, size)] as MapStatus;
  }

  gptProtect(vm: number, root: number, va: number, size: PageSizeCode, attrs: GuestAttrs): MapStatus {
    this.vm(vm);
    checkSize(size);
    checkAddr("va", va, VA_LIMIT, SIZE_BYTES[size]);
    return STATUS[this.x.gptProtect(vm, root, va, size, this.guestAttrs(attrs))] as MapStatus;
  }

  gptEntry(vm: number, root: number, va: number): EntryInfo {
    this.vm(vm);
    checkAddr("va", va, VA_LIMIT);
    return this.readEntry(this.x.gptEntry(vm, root, va));
  }

  gptWriteRaw(vm: number, root: number, va: number, level: number, raw: bigint): MapStatus {
    this.vm(vm);
    checkAddr("va", va, VA_LIMIT);
    this.writeRaw(raw);
    return STATUS[this.x.gptWriteRaw(vm, root, va, level)] as MapStatus;
  }

  // ---- vCPUs ---------------------------------------------------------------------------

  private vcpu(vcpu: number): number {
    const vm = this.vcpuVm.get(vcpu);
    if (vm === undefined) throw new RangeError(`vcpu: ${vcpu} does not exist`);
    return vm;
  }

  createVcpu(vcpu: number, vm: number, pcpu: number): void {
    this.noConformance("createVcpu");
    this.vm(vm);
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.config.vcpus) {
      throw new RangeError(`vcpu: ${vcpu} is not allowed; expected an integer in 0..${this.config.vcpus - 1}`);
    }
    if (this.vcpuVm.has(vcpu)) throw new RangeError(`vcpu: ${vcpu} already exists`);
    if (!Number.isInteger(pcpu) || pcpu < 0 || pcpu >= this.config.pcpus) {
      throw new RangeError(`pcpu: ${pcpu} is not allowed; expected an integer in 0..${this.config.pcpus - 1}`);
    }
    this.x.vcpuCreate(vcpu, vm, pcpu);
    this.vcpuVm.set(vcpu, vm);
  }

  setCr3(vcpu: number, root: number, pcid: number, noflush: boolean): void {
    this.vcpu(vcpu);
    checkAddr("root", root, PA_LIMIT, 4096);
    if (!Number.isInteger(pcid) || pcid < 0 || pcid > 4095) throw new RangeError(`pcid: ${pcid} is not allowed; expected 0..4095`);
    this.x.vcpuSetCr3(vcpu, root, pcid, noflush ? 1 : 0);
  }

  setPkru(vcpu: number, value: number): void {
    this.vcpu(vcpu);
    this.x.vcpuSetPkru(vcpu, value >>> 0);
  }

  setPkrs(vcpu: number, value: number): void {
    this.vcpu(vcpu);
    this.x.vcpuSetPkrs(vcpu, value >>> 0);
  }

  private controls = new Map<number, VcpuControl>();

  setControl(vcpu: number, control: Partial<VcpuControl>): void {
    this.vcpu(vcpu);
    const c = { ...(this.controls.get(vcpu) ?? DEFAULT_CONTROL), ...control };
    if (c.cpl !== 0 && c.cpl !== 3) throw new RangeError(`cpl: ${c.cpl} is not allowed; expected 0 or 3`);
    this.controls.set(vcpu, c);
    const bits =
      (c.cpl === 3 ? 1 : 0) | (c.wp ? 2 : 0) | (c.pke ? 4 : 0) | (c.pks ? 8 : 0) |
      (c.nxe ? 16 : 0) | (c.smep ? 32 : 0) | (c.smap ? 64 : 0) | (c.ac ? 128 : 0);
    this.x.vcpuSetControl(vcpu, bits);
  }

  invlpg(vcpu: number, va: number): void {
    this.vcpu(vcpu);
    checkAddr("va", va, VA_LIMIT);
    this.x.invlpg(vcpu, va);
  }

  invpcid(vcpu: number, type: 0 | 1 | 2 | 3, pcid: number, va: number): void {
    this.vcpu(vcpu);
    if (![0, 1, 2, 3].includes(type)) throw new RangeError(`type: ${type} is not allowed; expected 0..3`);
    this.x.invpcid(vcpu, type, pcid, va);
  }

  invvpid(vm: number, type: 0 | 1 | 3, va: number): void {
    this.vm(vm);
    if (![0, 1, 3].includes(type)) throw new RangeError(`type: ${type} is not allowed; expected 0, 1 or 3`);
    this.x.invvpid(vm, type, va);
  }

  invept(vm: number): void {
    this.vm(vm);
    this.x.invept(vm);
  }

  // ---- the engine ----------------------------------------------------------------------

  submit(requests: Request[]): void {
    if (this.lastEvent) throw new Error("submit: the last event is not handled yet; call run() to resume or skip() to drop its request");
    requests.forEach((r, i) => {
      if (!this.vcpuVm.has(r.vcpu)) throw new RangeError(`requests[${i}].vcpu: ${r.vcpu} does not exist`);
      if (r.kind !== 0 && r.kind !== 1 && r.kind !== 2) throw new RangeError(`requests[${i}].kind: ${r.kind} is not allowed; expected 0 (fetch), 1 (read) or 2 (write)`);
      if (!Number.isInteger(r.size) || r.size < 1 || r.size > 0xffffffff) throw new RangeError(`requests[${i}].size: ${r.size} is not allowed; expected an integer >= 1`);
      checkAddr(`requests[${i}].va`, r.va, VA_LIMIT);
      if (r.va + r.size > VA_LIMIT) throw new RangeError(`requests[${i}]: va + size passes 2^48`);
    });
    this.pending = requests;
    this.pendingAt = 0;
    this.load(0);
  }

  /** Writes the chunk of `pending` that starts at `from` into the core's buffer. */
  private load(from: number): void {
    this.fresh();
    const n = Math.min(this.capacity, this.pending.length - from);
    const w = new RequestWriter(this.x.memory, this.reqBase);
    for (let i = 0; i < n; i++) {
      const r = this.pending[from + i];
      w.put(i, r.va, r.kind, r.size, r.vcpu);
    }
    this.pendingAt = from;
    this.x.submit(n);
  }

  /** Runs a batch of accesses only; see `runAll` for batches with slab operations. */
  run(): CoreEvent | null {
    const ev = this.runAll();
    if (ev && (ev.type === "slab-empty" || ev.type === "bad-free")) {
      throw new Error(`request ${ev.index}: a slab event (${ev.type}) in a batch run with run(); use runAll()`);
    }
    return ev as CoreEvent | null;
  }

  /** Runs the queued batch (accesses and slab operations) until done or an event. */
  runAll(): CoreEvent | SlabEvent | null {
    this.checkOpen();
    this.linesStale = true;
    for (;;) {
      const code = this.x.run();
      if (code === EV.DONE) {
        const next = this.pendingAt + this.capacity;
        if (next < this.pending.length) {
          this.load(next);
          continue;
        }
        this.lastEvent = null;
        return null;
      }
      this.lastEvent = this.readEvent(code);
      return this.lastEvent;
    }
  }

  private readEvent(code: number): CoreEvent | SlabEvent {
    this.fresh();
    const u = this.u32;
    const index = this.pendingAt + u[EV_ADDR.INDEX / 4];
    const vcpu = u[EV_ADDR.VCPU / 4];
    // u32 halves: a BigInt per field cost more than the rest of the event (addresses are below 2^53)
    const va = u[EV_ADDR.VA / 4] + u[EV_ADDR.VA / 4 + 1] * 4294967296;
    const gpa = u[EV_ADDR.GPA / 4] + u[EV_ADDR.GPA / 4 + 1] * 4294967296;
    const err = u[EV_ADDR.ERROR / 4];
    switch (code) {
      case EV.PAGE_FAULT:
        return { type: "page-fault", index, vcpu, va, error: err };
      case EV.EPT_VIOLATION:
        return { type: "ept-violation", index, vcpu, va, gpa, qualification: err };
      case EV.EPT_MISCONFIG:
        return { type: "ept-misconfig", index, vcpu, va, gpa };
      case EV.SLAB_EMPTY:
        return { type: "slab-empty", index, heap: vcpu, sizeClass: err };
      case EV.BAD_FREE:
        return { type: "bad-free", index, heap: vcpu, va, reason: SLAB_STATUS[err] as BadFreeReason };
      default:
        throw new Error(`request ${index}: a bad request: vcpu (or slab heap) ${vcpu} does not exist in the core, or the size class is out of range (0..${SLAB.MAX_CACHES - 1})`);
    }
  }

  skip(): void {
    if (!this.lastEvent) throw new Error("skip: no event is pending");
    this.lastEvent = null;
    this.x.skip();
  }

  /**
   * Moves the TLBs' replacement clock forward (never back), so that tests can reach its
   * renormalisation, which a run does above 0xF0000000. Results do not change: only the
   * order of stamps within a set counts.
   *
   * @example
   * core.advanceClock(0xF000_0000 - 100);
   */
  advanceClock(to: number): void {
    if (!Number.isInteger(to) || to < 0 || to > 0xF000_0000) throw new RangeError(`advanceClock: ${to} is not allowed; expected an integer 0..0xF0000000`);
    this.x.advanceClock(to);
  }

  /**
   * Runs a batch already written into the core's buffer (see `writer()`): the fast
   * path for benchmarks and trace replay, without a `Request` object per access.
   * Returns null when the batch is done, or the event; after handling the event,
   * `run()` resumes the batch at the access that raised it (`skip()` drops it).
   */
  runBuffer(count: number): CoreEvent | null {
    if (this.lastEvent) throw new Error("runBuffer: the last event is not handled yet; call run() to resume or skip() to drop its request");
    this.pending = [];
    this.pendingAt = 0;
    this.x.submit(count);
    return this.run();
  }

  /** `runBuffer` for batches that hold slab operations too. */
  runBufferAll(count: number): CoreEvent | SlabEvent | null {
    if (this.lastEvent) throw new Error("runBufferAll: the last event is not handled yet; call run() to resume or skip() to drop its request");
    this.pending = [];
    this.pendingAt = 0;
    this.x.submit(count);
    return this.runAll();
  }

  /** A writer over the core's request buffer (it follows the core's memory when it grows). */
  writer(): RequestWriter {
    return new RequestWriter(this.x.memory, this.reqBase);
  }

  /**
   * The YCSB run-phase generator in this core: requests it writes go into the buffer
   * `writer()` writes (src/workloads/ycsb/core-run.ts drives it).
   */
  ycsbGenerator(): YcsbGenerator {
    return this.x as unknown as YcsbGenerator;
  }

  /** The memaslap request stream in this core (src/workloads/memcached/core-memaslap.ts hands a stream over). */
  memaslapGenerator(): MemaslapGenerator {
    return this.x as unknown as MemaslapGenerator;
  }

  /** Where the core's YCSB load phase allocates guest memory (null: nowhere; the core then refuses to allocate). */
  setKvMalloc(malloc: CoreSink["kvMalloc"] | null): void {
    if (malloc) this.sink.kvMalloc = malloc;
    else delete this.sink.kvMalloc;
  }

  /** The memcached server model in this core (src/workloads/memcached/core-run.ts drives it). */
  memcachedCore(): MemcachedCore {
    return this.x as unknown as MemcachedCore;
  }

  /** Where the memcached model's allocations, frees and full queues go (null: nowhere). */
  setMemcachedSink(sink: MemcachedSink | null): void {
    if (sink) Object.assign(this.sink, sink);
    else {
      delete this.sink.mcMalloc;
      delete this.sink.mcFree;
      delete this.sink.queueFull;
    }
  }

  /** Requests the core's buffer holds. */
  get capacity(): number {
    return this.config.requestBuffer ?? REQ_CAPACITY;
  }

  // ---- slab heaps (the allocation fast path) --------------------------------------------

  private slabCheck(op: string, st: number): void {
    if (st !== 0) throw new Error(`${op}: ${SLAB_STATUS[st] ?? st}`);
  }

  /**
   * Creates slab heap `heap` whose pages are 2^pageShift bytes (12: 4 KiB, 21: 2 MiB).
   *
   * @example
   * core.slabHeapCreate(0, 21);
   * core.slabClassCreate(0, 0, 64, 0, false);   // 64 B objects from 2 MiB pages
   * core.slabAddPage(0, 0, 0x4000_0000);
   * const p = core.slabAlloc(0, 0);              // 0x4000_0000
   */
  slabHeapCreate(heap: number, pageShift: number): void {
    const max = this.config.slabHeaps ?? this.config.vms;
    if (!Number.isInteger(heap) || heap < 0 || heap >= max) throw new RangeError(`heap: ${heap} is not allowed; expected 0..${max - 1}`);
    if (!Number.isInteger(pageShift) || pageShift < 12 || pageShift > 30) throw new RangeError(`pageShift: ${pageShift} is not allowed; expected 12..30`);
    this.slabCheck("slabHeapCreate", this.x.slabHeapCreate(heap, pageShift));
  }

  /** Size class `sizeClass` of a heap: objects of `objSize` bytes; `header` bytes per page; carved from the page end (`fromEnd`) or the start. */
  slabClassCreate(heap: number, sizeClass: number, objSize: number, header: number, fromEnd: boolean): void {
    if (!Number.isInteger(sizeClass) || sizeClass < 0 || sizeClass >= SLAB.MAX_CACHES) {
      throw new RangeError(`sizeClass: ${sizeClass} is not allowed; expected 0..${SLAB.MAX_CACHES - 1}`);
    }
    if (!Number.isInteger(objSize) || objSize < 1) throw new RangeError(`objSize: ${objSize} is not allowed; expected a positive integer`);
    this.slabCheck("slabClassCreate", this.x.slabCacheCreate(heap, sizeClass, objSize, header, fromEnd ? 1 : 0));
  }

  slabAddPage(heap: number, sizeClass: number, base: number): void {
    checkAddr("base", base, VA_LIMIT);
    this.slabCheck("slabAddPage", this.x.slabAddPage(heap, sizeClass, base));
  }

  /** Takes a page whose objects are all free out of its class; false when some are in use. */
  slabRemovePage(heap: number, base: number): boolean {
    const st = this.x.slabRemovePage(heap, base);
    if (st === 7) return false;
    this.slabCheck("slabRemovePage", st);
    return true;
  }

  /** One allocation: the object's address, or null when the class has no free object. */
  slabAlloc(heap: number, sizeClass: number): number | null {
    const a = this.x.slabAlloc(heap, sizeClass);
    if (a === -2) throw new RangeError(`slabAlloc: heap ${heap} or class ${sizeClass} does not exist`);
    return a < 0 ? null : a;
  }

  /** One free: "ok", or why the address is not a live object. */
  slabFree(heap: number, addr: number): "ok" | BadFreeReason {
    const st = this.x.slabFree(heap, addr);
    if (st === 5) throw new RangeError(`slabFree: heap ${heap} does not exist`);
    return SLAB_STATUS[st] as "ok" | BadFreeReason;
  }

  /** A heap's counters and, per class, pages and free objects. */
  slabStats(heap: number): { allocs: number; frees: number; empties: number; badFrees: number; classes: { objSize: number; perPage: number; pages: number; freeObjects: number }[] } {
    this.fresh();
    const h = this.x.slabHeapAddress(heap) >>> 0;
    const v64 = (o: number): number => Number(this.u64[(h + o) / 8]);
    const classes = [];
    for (let c = 0; c < SLAB.MAX_CACHES; c++) {
      const b = (h + SLAB.HDR + c * SLAB.CACHE_BYTES) / 4;
      if (this.u32[b] === 0) continue;
      classes[c] = { objSize: this.u32[b], perPage: this.u32[b + 1], pages: this.u32[b + 4], freeObjects: this.u32[b + 5] };
    }
    return { allocs: v64(SLAB.ALLOCS), frees: v64(SLAB.FREES), empties: v64(SLAB.EMPTIES), badFrees: v64(SLAB.BAD_FREES), classes };
  }

  // ---- counters ------------------------------------------------------------------------

  counters(vcpu: number): Counters {
    this.vcpu(vcpu);
    this.fresh();
    const b = this.cntBase / 8 + vcpu * C.COUNT;
    // the line cache's slots come from its thread's copy when it runs there
    const lines = this.lineTotals();
    const l = vcpu * C.COUNT;
    const v = (i: number): number => Number(lines && i >= C.REFS_CACHED ? lines[l + i] : this.u64[b + i]);
    const conf = this.config.model === "conformance";
    const twoM = conf && this.config.policy === "2m";
    const req: [number, number, number] = [v(C.REQ), v(C.REQ + 1), v(C.REQ + 2)];
    const ret = [v(C.RETRY), v(C.RETRY + 1), v(C.RETRY + 2)];
    const l1MissF = v(C.L1MISS_F), l1MissD = v(C.L1MISS_D);
    const fetchL1 = req[0] + ret[0] - l1MissF;
    const dataL1 = req[1] + req[2] + ret[1] + ret[2] - l1MissD;
    const i2m = twoM ? fetchL1 : v(C.HIT_I2M);
    const d2m = twoM ? dataL1 : v(C.HIT_D2M);
    const d1g = v(C.HIT_D1G);
    const s4 = v(C.STLB4K), s2 = v(C.STLB2M), s1 = v(C.STLB1G);
    const faults = [C.PF, C.PROT, C.RSVD, C.PK, C.EPTV, C.EPTM].reduce((a, i) => a + v(i), 0);
    const counters: Counters = {
      requests: req[0] + req[1] + req[2],
      requestsByKind: req,
      retries: ret[0] + ret[1] + ret[2],
      l1Hits: fetchL1 + dataL1,
      l1Misses: l1MissF + l1MissD,
      itlb4kHits: fetchL1 - i2m,
      itlb2mHits: i2m,
      dtlb4kHits: dataL1 - d2m - d1g,
      dtlb2mHits: d2m,
      dtlb1gHits: d1g,
      stlbHits: s4 + s2 + s1,
      stlbHits4k: s4,
      stlbHits2m: s2,
      stlbHits1g: s1,
      walks: v(C.WALKS),
      walkRefs: v(C.REFS),
      walkRefsGuest: v(C.REFS_G),
      walkRefsEpt: v(C.REFS_E),
      refsByTier: Array.from({ length: 8 }, (_, t) => v(C.REFS_TIER + t)),
      pwcHits: [v(C.PWC_HIT), v(C.PWC_HIT + 1), v(C.PWC_HIT + 2)],
      pwcMisses: v(C.PWC_MISS),
      ntlbHits: v(C.NTLB_HIT),
      ntlbMisses: v(C.NTLB_MISS),
      faults,
      pageFaults: v(C.PF),
      protFaults: v(C.PROT),
      rsvdFaults: v(C.RSVD),
      keyFaults: v(C.PK),
      eptViolations: v(C.EPTV),
      eptMisconfigs: v(C.EPTM),
      dirtyAssists: v(C.DASSIST),
      aUpdates: v(C.A),
      dUpdates: v(C.D),
      eptAUpdates: v(C.EPT_A),
      eptDUpdates: v(C.EPT_D),
      data: Array.from({ length: 8 }, (_, t) => [0, 1, 2].map((k) => v(C.DATA + t * 3 + k))),
      walkRefsCached: v(C.REFS_CACHED),
      refMissesByTier: Array.from({ length: 8 }, (_, t) => v(C.REF_MISS_TIER + t)),
      dataLineHits: [v(C.DLINE_HIT), v(C.DLINE_HIT + 1), v(C.DLINE_HIT + 2)],
      dataLineMisses: Array.from({ length: 8 }, (_, t) => [0, 1, 2].map((k) => v(C.DLINE_MISS + t * 3 + k))),
      writebacks: Array.from({ length: 8 }, (_, t) => v(C.WRITEBACK + t)),
    };
    if (this.sampling > 1) {
      estimateLines(counters, Array.from({ length: 8 }, (_, t) => [0, 1, 2].map((k) => v(C.DLINE_ALL + t * 3 + k))), this.sampling);
    }
    return counters;
  }

  resetCounters(): void {
    this.checkOpen();
    this.x.resetCounters();
    if (this.lines) {
      this.x.lineEmitMark(LINE_RESET);
      this.linesStale = true;
    }
  }
}

/**
 * Writes requests straight into the core's buffer.
 *
 * @example
 * const w = core.writer();
 * w.put(0, 0x7000, READ, 8, 0);
 * core.runBuffer(1);
 */
export class RequestWriter {
  private u32: Uint32Array;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly base: number,
  ) {
    this.u32 = new Uint32Array(memory.buffer);
  }

  /** The view over the core's memory, re-made when the core has grown it (growth detaches the old buffer: length 0). */
  private view(): Uint32Array {
    if (this.u32.length === 0) this.u32 = new Uint32Array(this.memory.buffer);
    return this.u32;
  }

  /** Request `i`: an access (kind 0..2) of `size` bytes by `vcpu`, or a slab op (kind 3: allocate from class `size` of heap `vcpu`; 4: free `va`). */
  put(i: number, va: number, kind: number, size: number, vcpu: number): void {
    const o = (this.base + i * REQ_BYTES) >>> 2;
    const u = this.view();
    // `>>> 0` is va mod 2^32 for any va below 2^53, without the slow double `%`
    u[o] = va >>> 0;
    u[o + 1] = va / 4294967296;
    u[o + 2] = kind | (vcpu << 8);
    u[o + 3] = size;
  }

  /** Writes whole requests (16 bytes each, as another core's buffer holds them) from request `i` on. */
  copy(i: number, requests: Uint8Array): void {
    new Uint8Array(this.memory.buffer, this.base + i * REQ_BYTES, requests.length).set(requests);
  }

  /** The address field of request `i` (an allocation's result after the run). */
  address(i: number): number {
    const o = (this.base + i * REQ_BYTES) >>> 2;
    const u = this.view();
    return u[o] + u[o + 1] * 4294967296;
  }
}
