/**
 * UCat's heap allocator (a reconstruction: the paper, Tian et al., Front. Comput. Sci.
 * 2023, is public only as its abstract; REFERENCE.md section 1). The abstract gives three
 * ideas: the guest sees the host's memory tiers (here: one guest-physical node per tier,
 * src/host/hypervisor.ts), memory is mapped with large pages in both translation layers,
 * and small objects come from slabs against internal fragmentation. Everything below
 * that is inferred; docs/guest-ucat.md gives the reasons for each choice.
 *
 * Three grains, each from the node of the chosen tier:
 * - small (0..8 KiB): 64 fine size classes (8 B steps to 128 B, then 8 classes per
 *   doubling, at most 12.5% apart) in slabs carved from 2 MiB guest-physical frames,
 *   reached through the linear map (2 MiB guest pages) and backed by 2 MiB EPT pages.
 *   The free lists are the Wasm core's slab heaps (one heap per tier, page shift 21,
 *   no in-page header: the slab's metadata lives outside the page, in DRAM).
 * - page runs (8 KiB < size < 2 MiB): whole 4 KiB pages, first fit, contiguous, inside
 *   2 MiB "run frames" of the tier (so the node only ever gives out 2 MiB or larger
 *   frames and stays unfragmented for large pages).
 * - large (>= 2 MiB): an anonymous mapping of 2 MiB pages, or 1 GiB pages when the
 *   size is at least 1 GiB and rounding up to 1 GiB wastes at most 1/8, populated at
 *   once, each guest page backed by an EPT page as large.
 *
 * Placement: `tier: "dram" | "nvm" | ...` (the VM's node tiers) takes that tier and
 * fails with GuestOutOfMemory when it is full (option `onTierFull: "fallback"` falls back
 * to the other tiers by latency); `tier: "auto"` (the default) puts small hot objects
 * (smaller than the slow tiers' media access granularity, 256 B on Optane) in the
 * fastest tier, and bulk data there too unless that would leave the fastest tier with
 * less than a quarter (a guess) of its memory free; then bulk data goes to the next
 * tier by latency. Every auto placement falls back to the other tiers when its first
 * choice is full.
 *
 * Alignment: every address is aligned to 8 B and to the largest power of two dividing
 * the requested size, up to 4 KiB (C23's reading, WG14 N2293); page runs are 4 KiB
 * aligned, large allocations 2 MiB or 1 GiB.
 *
 * @example
 * const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: GiB }, { tier: "nvm", bytes: 2 * GiB }] });
 * const a = vm.allocator;                      // a UcatAllocator
 * const p = a.malloc(1147, { tier: "dram" });  // a 1152 B slot in a 2 MiB DRAM slab page
 * a.usableSize(p);                             // 1152
 * const big = a.malloc(2 * 2 ** 20, { tier: "nvm" }); // one 2 MiB page in both layers
 * a.free(p);
 * a.stats().byTier.dram.allocatedBytes;        // 0
 */
import type { Vm } from "../../sim/vm.js";
import type { GuestOs, GuestNodeState, Vma } from "../guest.js";
import { GuestOutOfMemory, LINEAR_BASE } from "../guest.js";
import type { PageSizeCode } from "../../core/types.js";
import type { Allocator, AllocatorStats, MallocOptions, InvalidFreeReason, TierBytes } from "./types.js";
import { InvalidFree } from "./types.js";
import { NumMap } from "../../util/num-map.js";

// ---- sizes ---------------------------------------------------------------------------

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
/** The small page: page runs are whole 4 KiB pages (x86-64). */
const PAGE = 4 * KIB;
/** Slab pages and run frames are 2 MiB frames (x86-64's 2 MiB page; the issue's choice). */
const FRAME = 2 * MIB;
const FRAME_ORDER = 9;
const FRAME_SHIFT = 21;
const PAGES_PER_FRAME = FRAME / PAGE;
/** The largest slab class (the issue: slabs up to 8 KiB, page runs above). */
export const SLAB_MAX = 8 * KIB;

/**
 * The 64 size classes of a slab heap (the core's limit per heap, assembly/slab.ts
 * MAX_CACHES): 8 B steps from 8 to 128 B (16 classes), then 8 classes in each doubling
 * from 128 B to 8 KiB (6 x 8 = 48), so consecutive classes are at most 1/8 = 12.5%
 * apart above 128 B. The class of a request wastes less than 8 B up to 128 B and
 * less than 12.5% of the request above. 16 + 48 is exactly 64: one core heap per tier.
 *
 * @example
 * UCAT_CLASSES.slice(14, 20); // [120, 128, 144, 160, 176, 192]
 * UCAT_CLASSES[63];           // 8192
 */
export const UCAT_CLASSES: readonly number[] = (() => {
  const c: number[] = [];
  for (let s = 8; s <= 128; s += 8) c.push(s);
  for (let k = 7; k < 13; k++) {
    const step = 2 ** (k - 3);
    for (let j = 1; j <= 8; j++) c.push(2 ** k + j * step);
  }
  return Object.freeze(c);
})();

/** Class index by ceil(size / 8), for sizes 0..8192. */
const CLASS_BY_EIGHTHS: Uint8Array = (() => {
  const t = new Uint8Array(SLAB_MAX / 8 + 1);
  let c = 0;
  for (let e = 0; e <= SLAB_MAX / 8; e++) {
    while (UCAT_CLASSES[c]! < e * 8) c++;
    t[e] = c;
  }
  return t;
})();

/**
 * The class index of a small request (0..8192 bytes).
 * @example UCAT_CLASSES[ucatClassOf(1147)]; // 1152
 */
export function ucatClassOf(size: number): number {
  if (!Number.isInteger(size) || size < 0 || size > SLAB_MAX) throw new RangeError(`size: ${size} is not allowed; expected an integer in 0..${SLAB_MAX}`);
  return CLASS_BY_EIGHTHS[Math.ceil(size / 8)]!;
}

/**
 * The alignment UCat guarantees for a request of `size` bytes: 8 B, raised to the
 * largest power of two dividing the size, capped at 4 KiB (a type of size s never
 * needs more than that: C23 7.24.3, WG14 N2293). Large allocations get more (2 MiB).
 * @example ucatAlignment(24); // 8
 * @example ucatAlignment(1024); // 1024
 */
export function ucatAlignment(size: number): number {
  let a = 8;
  while (a < PAGE && size > 0 && size % (a * 2) === 0) a *= 2;
  return a;
}

// ---- metadata sizes (what the guest would keep outside its pages) ---------------------

/** A slab heap record: 48 B header + 64 classes x 32 B (assembly/slab.ts HEAP_BYTES). */
const HEAP_RECORD_BYTES = 48 + 64 * 32;
/** Per slab page: a 32 B page record (assembly/slab.ts PAGE_HDR) + its free bitmap, + a 16 B hash entry at load <= 1/2 (assembly/hash.ts). */
function slabPageMetaBytes(objSize: number): number {
  const perPage = Math.floor(FRAME / objSize);
  return 32 + Math.ceil(perPage / 64) * 8 + 32;
}
/** A run frame: a 512-bit page map (64 B) and a 16 B record (base, node, free count): inferred, the smallest C layout. */
const RUN_FRAME_META_BYTES = 64 + 16;
/** A page run: start and length, 16 B: inferred. */
const RUN_META_BYTES = 16;
/** A large allocation: a VMA-sized record (start, end, node, page, flags), 64 B: a guess. */
const LARGE_META_BYTES = 64;

// ---- options -------------------------------------------------------------------------

export interface UcatOptions {
  /**
   * auto: bulk data goes to the fastest tier only while, after the allocation, that
   * tier's node keeps at least this fraction of its bytes free. Default 0.25: a guess
   * (room for the small hot objects, allocator metadata and page tables that always go
   * to the fastest tier).
   */
  watermark?: number;
  /**
   * auto: requests smaller than this many bytes are "small hot" and always go to the
   * fastest tier. Default: the largest media access granularity among the VM's slower
   * tiers (256 B for Optane's XPLine, REFERENCE.md section 7), at least 64 B.
   */
  hotBelow?: number;
  /** An explicitly named tier that is full: "fail" (GuestOutOfMemory, the default) or "fallback" to the other tiers by latency. */
  onTierFull?: "fail" | "fallback";
  /** The core slab heap of node `node`. Default: a fresh heap from the simulator when the node is first used. */
  heapId?: (node: number) => number;
}

/** `AllocatorStats` and UCat's own counts. */
export interface UcatStats extends AllocatorStats {
  /** Tier whose memory the metadata would occupy (the guest's metadata node). */
  metadataTier: string;
  /** Placements on another tier than the first choice (the first choice was full). */
  tierFallbacks: number;
  /** auto placements of bulk data away from the fastest tier because of the watermark. */
  watermarkDiversions: number;
  /** Large allocations that asked for 1 GiB pages and got 2 MiB pages (no 1 GiB frame in the node). */
  page1gFallbacks: number;
  /** 2 MiB frames given back to their node (empty slab pages and run frames). */
  framesReturned: number;
  /** Now held: slab pages, run frames, spare frames (one per node at most), large mappings. */
  slabPages: number;
  runFrames: number;
  spareFrames: number;
  largeMappings: number;
}

// ---- state ---------------------------------------------------------------------------

/** Shared empty requested-size array of a slab page with no object yet (replaced, never written, on the first). */
const NO_REQ = new Uint16Array(0);

interface SlabPage {
  node: number;
  cls: number;
  live: number;
  /**
   * Requested size + 1 of object i (at base + i x class size), 0 when free (the
   * simulator's bookkeeping for stats, not guest metadata). The core hands out the
   * lowest free object, so only a prefix of the objects is ever used: the array covers
   * it and grows by doubling.
   */
  req: Uint16Array;
}

interface RunFrame {
  base: number;
  node: number;
  /** 1 bit per 4 KiB page, 1 = in a run. */
  used: Uint32Array;
  freePages: number;
  /** Per first page of a live run: its pages + RUN_REQ x its requested bytes (the simulator's bookkeeping); 0 elsewhere. */
  runs: Uint32Array;
}

/** Packs a run's requested bytes (< 2 MiB) above its pages (<= 512) in RunFrame.runs. */
const RUN_REQ = 1024;

interface Run {
  frame: RunFrame;
  first: number;
  pages: number;
  requested: number;
}

interface Large {
  vma: Vma;
  node: number;
  bytes: number;
  requested: number;
}

interface NodeState {
  index: number;
  tier: string;
  heap: number;
  heapReady: boolean;
  /** Slab pages per class. */
  classPages: Int32Array;
  /** Empty slab pages kept because each is its class's last page. */
  emptyKept: Set<number>;
  /** An empty 2 MiB frame kept for the next slab page or run frame (linear address), or null. */
  spare: number | null;
  /** Run frames in address order (first fit). */
  runFrames: RunFrame[];
  requested: number;
  allocated: number;
  held: number;
}

type Grain = { kind: "slab"; cls: number; usable: number } | { kind: "run"; pages: number; usable: number } | { kind: "large"; page: PageSizeCode; usable: number };

export class UcatAllocator implements Allocator {
  readonly name = "ucat" as const;
  private readonly guest: GuestOs;
  private readonly nodes: NodeState[];
  /** Node indices from the lowest load latency to the highest (ties: node order). */
  private readonly ranked: number[];
  private readonly watermark: number;
  private readonly hotBelow: number;
  private readonly onTierFull: "fail" | "fallback";

  private readonly slabPages = new Map<number, SlabPage>();
  /** Live slab objects and page runs (their records are in their slab pages and run frames). */
  private slabObjects = 0;
  private runCount = 0;
  private readonly larges = new Map<number, Large>();
  /** Starts of freed large allocations: mmap never reuses virtual space, so a second free there is certainly a double free. */
  private readonly freedLarges = new NumMap("none");

  private metadata = 0;
  private mallocs = 0;
  private frees = 0;
  private tierFallbacks = 0;
  private watermarkDiversions = 0;
  private page1gFallbacks = 0;
  private framesReturned = 0;

  constructor(
    readonly vm: Vm,
    options: UcatOptions = {},
  ) {
    this.guest = vm.guest;
    const gn = this.guest.nodes;
    const heapId = options.heapId ?? ((): number => vm.sim.allocHeap());
    this.nodes = gn.map((n, i) => ({
      index: i,
      tier: n.tier,
      heap: heapId(i),
      heapReady: false,
      classPages: new Int32Array(UCAT_CLASSES.length),
      emptyKept: new Set(),
      spare: null,
      runFrames: [],
      requested: 0,
      allocated: 0,
      held: 0,
    }));
    const presets = vm.sim.tierPresets;
    const latency = (i: number): number => presets[gn[i]!.tier]?.loadRandomNs ?? Number.POSITIVE_INFINITY;
    this.ranked = gn.map((_, i) => i).sort((a, b) => latency(a) - latency(b) || a - b);
    const w = options.watermark ?? 0.25;
    if (!(typeof w === "number" && w >= 0 && w <= 1)) throw new RangeError(`watermark: ${w} is not allowed; expected a fraction in 0..1`);
    this.watermark = w;
    const slowGrain = Math.max(64, ...this.ranked.slice(1).map((i) => presets[gn[i]!.tier]?.accessBytes ?? 64));
    const hot = options.hotBelow ?? slowGrain;
    if (!Number.isInteger(hot) || hot < 0) throw new RangeError(`hotBelow: ${hot} is not allowed; expected a non-negative integer`);
    this.hotBelow = hot;
    const tf = options.onTierFull ?? "fail";
    if (tf !== "fail" && tf !== "fallback") throw new RangeError(`onTierFull: ${JSON.stringify(tf)} is not allowed; expected "fail" or "fallback"`);
    this.onTierFull = tf;
  }

  // ---- malloc ------------------------------------------------------------------------

  malloc(size: number, opts: MallocOptions = {}): number {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size: ${size} is not allowed; expected a non-negative integer`);
    const tier = opts.tier ?? "auto";
    const grain = this.grainOf(size);
    const { order, diverted } = this.placement(tier, size, grain.usable);
    const tried: string[] = [];
    for (let k = 0; k < order.length; k++) {
      const node = order[k]!;
      const va = this.allocIn(node, size, grain);
      if (va !== null) {
        // counted only on success: a failed malloc changes nothing
        if (k > 0) this.tierFallbacks++;
        if (diverted && node !== this.ranked[0]) this.watermarkDiversions++;
        this.mallocs++;
        return va;
      }
      tried.push(this.nodes[node]!.tier);
    }
    throw new GuestOutOfMemory(this.vm.id, `malloc(${size}, tier ${tier}): no room for ${grain.usable} B (${grain.kind}) on ${tried.join(", ")}`);
  }

  /** The grain and usable size of a request. */
  private grainOf(size: number): Grain {
    if (size <= SLAB_MAX) {
      const cls = ucatClassOf(size);
      return { kind: "slab", cls, usable: UCAT_CLASSES[cls]! };
    }
    if (size < FRAME) {
      const pages = Math.ceil(size / PAGE);
      return { kind: "run", pages, usable: pages * PAGE };
    }
    // 1 GiB pages when there is at least one and rounding to them wastes at most 1/8 (the class spacing)
    const g = Math.ceil(size / GIB) * GIB;
    if (size >= GIB && g - size <= g / 8) return { kind: "large", page: 2, usable: g };
    return { kind: "large", page: 1, usable: Math.ceil(size / FRAME) * FRAME };
  }

  /** Nodes to try, in order, for a request; `diverted` when the watermark sent bulk data away from the fastest tier. */
  private placement(tier: string, size: number, usable: number): { order: number[]; diverted: boolean } {
    if (tier === "auto") {
      const fast = this.ranked[0]!;
      if (size < this.hotBelow || this.ranked.length === 1) return { order: this.ranked, diverted: false };
      const n = this.guest.nodes[fast]!;
      if ((n.frames.freeBytes - usable) / n.bytes >= this.watermark) return { order: this.ranked, diverted: false };
      return { order: [...this.ranked.slice(1), fast], diverted: true };
    }
    if (typeof tier !== "string" || !this.nodes.some((n) => n.tier === tier)) {
      const names = [...new Set(this.nodes.map((n) => n.tier))];
      throw new RangeError(`tier: ${JSON.stringify(tier)} is not allowed; expected "auto" or one of vm ${this.vm.id}'s tiers: ${names.map((t) => JSON.stringify(t)).join(", ")}`);
    }
    const own = this.ranked.filter((i) => this.nodes[i]!.tier === tier);
    return { order: this.onTierFull === "fail" ? own : [...own, ...this.ranked.filter((i) => this.nodes[i]!.tier !== tier)], diverted: false };
  }

  /**
   * Allocates in one node; null when the node is full. A null leaves everything as it
   * was, except that empty frames the allocator kept may have gone back to the node
   * (trim) when that could make room.
   */
  private allocIn(node: number, size: number, g: Grain): number | null {
    const va = g.kind === "slab" ? this.slabAlloc(node, size, g.cls) : g.kind === "run" ? this.runAlloc(node, size, g.pages) : this.largeAlloc(node, size, g.page);
    if (va === null) return null;
    const s = this.nodes[node]!;
    s.requested += size;
    // a large allocation may have fallen back from 1 GiB to 2 MiB pages: its own size
    s.allocated += g.kind === "large" ? this.larges.get(va)!.bytes : g.usable;
    return va;
  }

  // ---- 2 MiB frames of a node ------------------------------------------------------------

  /** An empty 2 MiB frame of the node (its linear address): the spare, else from the node, else after trimming. */
  private takeFrame(node: number): number | null {
    const s = this.nodes[node]!;
    if (s.spare !== null) {
      const va = s.spare;
      s.spare = null;
      return va;
    }
    let gpa = this.guest.allocFrames(FRAME_ORDER, node);
    if (gpa === null && this.trim(node) > 0) gpa = this.guest.allocFrames(FRAME_ORDER, node);
    if (gpa === null) return null;
    s.held += FRAME;
    return this.guest.linear(gpa);
  }

  /** An emptied frame: kept as the node's spare when it has none, else back to the node. */
  private releaseFrame(node: number, va: number): void {
    const s = this.nodes[node]!;
    if (s.spare === null) {
      s.spare = va;
      return;
    }
    this.returnFrame(node, va);
  }

  private returnFrame(node: number, va: number): void {
    this.guest.freeFrames(va - LINEAR_BASE, FRAME_ORDER);
    this.nodes[node]!.held -= FRAME;
    this.framesReturned++;
  }

  /**
   * Gives a node's empty frames back to it: the spare and the empty slab pages kept as
   * their class's last page. Runs by itself before a node is declared full. Returns the
   * bytes given back.
   *
   * @example ucat.trim(); // every node
   */
  trim(node?: number): number {
    if (node === undefined) return this.nodes.reduce((a, n) => a + this.trim(n.index), 0);
    const s = this.nodes[node];
    if (!s) throw new RangeError(`trim: node ${node} is not allowed; expected 0..${this.nodes.length - 1} or none (every node)`);
    let bytes = 0;
    if (s.spare !== null) {
      this.returnFrame(node, s.spare);
      s.spare = null;
      bytes += FRAME;
    }
    for (const base of s.emptyKept) {
      this.removeSlabPage(s, base);
      this.returnFrame(node, base);
      bytes += FRAME;
    }
    s.emptyKept.clear();
    return bytes;
  }

  /** Bytes `trim(node)` would give back. */
  private trimmable(node: number): number {
    const s = this.nodes[node]!;
    return ((s.spare === null ? 0 : 1) + s.emptyKept.size) * FRAME;
  }

  // ---- slabs ---------------------------------------------------------------------------

  /** Throws unless the node's heap id is one the core has and no other allocator holds. */
  private checkHeap(s: NodeState): void {
    const core = this.vm.sim.core;
    const where = `slab heap ${s.heap} (vm ${this.vm.id} node ${s.index})`;
    const count = core.config.slabHeaps ?? core.config.vms;
    if (!Number.isInteger(s.heap) || s.heap < 0 || s.heap >= count) {
      throw new RangeError(`ucat: ${where} is not available: the core has heaps 0..${count - 1}; raise maxVcpus (the core's slab heap count) or pass options.heapId`);
    }
    // creating a heap resets it: never take one another allocator has (the osv allocator's default is heap vm.id)
    if (core.slabStats(s.heap).classes.some((c) => c !== undefined)) {
      throw new Error(`ucat: ${where} is already in use by another allocator; pass options.heapId, or give the allocators one id scheme`);
    }
  }

  /** The node's core heap, made (with the 64 classes) on first use. */
  private heapOf(s: NodeState): number {
    if (!s.heapReady) {
      this.checkHeap(s);
      const core = this.vm.sim.core;
      core.slabHeapCreate(s.heap, FRAME_SHIFT);
      // no in-page header (0): UCat keeps slab metadata outside the page, in DRAM; objects from the page start
      UCAT_CLASSES.forEach((size, c) => core.slabClassCreate(s.heap, c, size, 0, false));
      s.heapReady = true;
      this.metadata += HEAP_RECORD_BYTES;
    }
    return s.heap;
  }

  private slabAlloc(node: number, size: number, cls: number): number | null {
    const s = this.nodes[node]!;
    const core = this.vm.sim.core;
    let va = s.heapReady ? core.slabAlloc(s.heap, cls) : null;
    if (va === null) {
      // the heap is made with the tier's first page (so a tier full from the start takes none), but checked before it
      if (!s.heapReady) this.checkHeap(s);
      const frame = this.takeFrame(node);
      if (frame === null) return null;
      const heap = this.heapOf(s);
      try {
        core.slabAddPage(heap, cls, frame);
      } catch (e) {
        this.releaseFrame(node, frame);
        throw e;
      }
      this.slabPages.set(frame, { node, cls, live: 0, req: NO_REQ });
      s.classPages[cls]++;
      this.metadata += slabPageMetaBytes(UCAT_CLASSES[cls]!);
      va = core.slabAlloc(heap, cls);
      if (va === null) throw new Error(`ucat: slab class ${cls} is empty right after a page was added`);
    }
    const base = va - (va % FRAME);
    const page = this.slabPages.get(base)!;
    if (page.live++ === 0) s.emptyKept.delete(base);
    const i = (va - base) / UCAT_CLASSES[cls]!;
    if (i >= page.req.length) {
      // the prefix in use grew past the array: double it (up to the objects per page)
      let n = Math.max(16, page.req.length * 2);
      while (n <= i) n *= 2;
      const req = new Uint16Array(Math.min(n, Math.floor(FRAME / UCAT_CLASSES[cls]!)));
      req.set(page.req);
      page.req = req;
    }
    page.req[i] = size + 1;
    this.slabObjects++;
    return va;
  }

  private removeSlabPage(s: NodeState, base: number): void {
    const page = this.slabPages.get(base)!;
    if (!this.vm.sim.core.slabRemovePage(s.heap, base)) throw new Error(`ucat: slab page 0x${base.toString(16)} is busy though empty`);
    this.slabPages.delete(base);
    s.classPages[page.cls]--;
    this.metadata -= slabPageMetaBytes(UCAT_CLASSES[page.cls]!);
  }

  /** The live object at `va` in the slab page `page` at `base`: its index, or why it is none. */
  private slabObjectAt(va: number, base: number, page: SlabPage): number | InvalidFreeReason {
    const size = UCAT_CLASSES[page.cls]!;
    const off = va - base;
    if (off % size !== 0 || off / size >= Math.floor(FRAME / size)) return "misaligned";
    const i = off / size;
    return i < page.req.length && page.req[i] !== 0 ? i : "double-free";
  }

  private slabFree(va: number, base: number, page: SlabPage): void {
    const s = this.nodes[page.node]!;
    const size = UCAT_CLASSES[page.cls]!;
    const i = this.slabObjectAt(va, base, page);
    if (typeof i === "string") throw new InvalidFree(va, i);
    const requested = page.req[i]! - 1;
    const st = this.vm.sim.core.slabFree(s.heap, va);
    if (st !== "ok") throw new Error(`ucat: the core refused a free of live object 0x${va.toString(16)}: ${st}`);
    page.req[i] = 0;
    this.slabObjects--;
    s.requested -= requested;
    s.allocated -= size;
    if (--page.live === 0) {
      // an emptied page leaves its class unless it is the class's last (OSv's pools keep an empty page too: core/mempool.cc)
      if (s.classPages[page.cls]! > 1) {
        this.removeSlabPage(s, base);
        this.releaseFrame(page.node, base);
      } else s.emptyKept.add(base);
    }
  }

  // ---- page runs -----------------------------------------------------------------------

  private runAlloc(node: number, size: number, pages: number): number | null {
    const s = this.nodes[node]!;
    let frame: RunFrame | null = null;
    let first = -1;
    for (const f of s.runFrames) {
      if (f.freePages < pages) continue;
      first = findRun(f.used, pages);
      if (first >= 0) {
        frame = f;
        break;
      }
    }
    if (!frame) {
      const base = this.takeFrame(node);
      if (base === null) return null;
      frame = { base, node, used: new Uint32Array(PAGES_PER_FRAME / 32), freePages: PAGES_PER_FRAME, runs: new Uint32Array(PAGES_PER_FRAME) };
      s.runFrames.splice(lowerBound(s.runFrames, base), 0, frame);
      this.metadata += RUN_FRAME_META_BYTES;
      first = 0;
    }
    setBits(frame.used, first, pages, true);
    frame.freePages -= pages;
    const va = frame.base + first * PAGE;
    frame.runs[first] = pages + RUN_REQ * size;
    this.runCount++;
    this.metadata += RUN_META_BYTES;
    return va;
  }

  private runFree(run: Run): void {
    const f = run.frame;
    const s = this.nodes[f.node]!;
    setBits(f.used, run.first, run.pages, false);
    f.freePages += run.pages;
    f.runs[run.first] = 0;
    this.runCount--;
    this.metadata -= RUN_META_BYTES;
    s.requested -= run.requested;
    s.allocated -= run.pages * PAGE;
    if (f.freePages === PAGES_PER_FRAME) {
      s.runFrames.splice(lowerBound(s.runFrames, f.base), 1);
      this.metadata -= RUN_FRAME_META_BYTES;
      this.releaseFrame(f.node, f.base);
    }
  }

  // ---- large allocations ---------------------------------------------------------------

  private largeAlloc(node: number, size: number, page: PageSizeCode): number | null {
    let vma = this.mapPopulated(node, size, page);
    if (vma === null && page === 2) {
      vma = this.mapPopulated(node, size, 1);
      if (vma !== null) this.page1gFallbacks++;
    }
    if (vma === null) return null;
    const bytes = vma.end - vma.start;
    this.larges.set(vma.start, { vma, node, bytes, requested: size });
    this.nodes[node]!.held += bytes;
    this.metadata += LARGE_META_BYTES;
    return vma.start;
  }

  /** An anonymous mapping of `page`-sized pages on `node`, every page mapped and backed now; null (nothing kept) when the node or the host is out of memory. */
  private mapPopulated(node: number, size: number, page: PageSizeCode): Vma | null {
    const need = Math.ceil(size / (page === 2 ? GIB : FRAME)) * (page === 2 ? GIB : FRAME);
    const frames = this.guest.nodes[node]!.frames;
    // give empty frames back first only when that can make room (a hopeless request changes nothing)
    if (frames.freeBytes < need && frames.freeBytes + this.trimmable(node) >= need) this.trim(node);
    if (frames.freeBytes < need) return null;
    for (let attempt = 0; attempt < 2; attempt++) {
      // populate by hand (not mmap's populate) so that a failure part-way can be undone
      const vma = this.guest.mmap(size, { node, page });
      try {
        for (let va = vma.start; va < vma.end; ) va = this.guest.faultIn(vma, va);
        return vma;
      } catch (e) {
        this.guest.munmap(vma);
        if (!(e instanceof GuestOutOfMemory)) throw e;
      }
      if (attempt > 0 || this.trim(node) === 0) break;
    }
    return null;
  }

  private largeFree(va: number, l: Large): void {
    const s = this.nodes[l.node]!;
    // accesses still queued for this range must run before it goes away
    this.vm.sim.flush();
    this.guest.munmap(l.vma, this.guest.kernelRoot, [this.vm.vcpu]);
    this.larges.delete(va);
    this.freedLarges.set(va);
    s.held -= l.bytes;
    s.requested -= l.requested;
    s.allocated -= l.bytes;
    this.metadata -= LARGE_META_BYTES;
  }

  // ---- free ----------------------------------------------------------------------------

  free(va: number): void {
    const what = this.locate(va);
    if (typeof what === "string") throw new InvalidFree(va, what);
    if (what.kind === "slab") this.slabFree(va, what.base, what.page);
    else if (what.kind === "run") this.runFree(what.run);
    else this.largeFree(va, what.large);
    this.frees++;
  }

  /** What `va` is: a live allocation's record, or why it is none (a slab slot is judged by `slabFree`). */
  private locate(va: number): { kind: "slab"; base: number; page: SlabPage } | { kind: "run"; run: Run } | { kind: "large"; large: Large } | InvalidFreeReason {
    if (!Number.isSafeInteger(va) || va < 0) return "foreign";
    if (va < LINEAR_BASE) {
      // large allocations live in the mmap area, below the linear map
      const large = this.larges.get(va);
      if (large) return { kind: "large", large };
      if (this.freedLarges.has(va)) return "double-free";
      const vma = this.guest.vmaOf(va);
      return vma && this.larges.get(vma.start)?.vma === vma ? "misaligned" : "foreign";
    }
    const base = va - (va % FRAME);
    const page = this.slabPages.get(base);
    if (page) return { kind: "slab", base, page };
    const node = this.nodeOfLinear(base);
    if (node >= 0) {
      const frames = this.nodes[node]!.runFrames;
      const f = frames[lowerBound(frames, base)];
      if (f && f.base === base) {
        if (va % PAGE !== 0) return "misaligned";
        const first = (va - base) / PAGE;
        const r = f.runs[first]!;
        if (r !== 0) return { kind: "run", run: { frame: f, first, pages: r % RUN_REQ, requested: Math.floor(r / RUN_REQ) } };
        return getBit(f.used, first) ? "misaligned" : "double-free";
      }
    }
    return "foreign";
  }

  private nodeOfLinear(va: number): number {
    const gpa = va - LINEAR_BASE;
    return this.guest.nodes.findIndex((n: GuestNodeState) => gpa >= n.base && gpa < n.base + n.bytes);
  }

  usableSize(va: number): number {
    const what = this.locate(va);
    if (typeof what === "string") throw new RangeError(`usableSize(0x${va.toString(16)}): not a live allocation (${what})`);
    if (what.kind === "slab") {
      if (typeof this.slabObjectAt(va, what.base, what.page) === "string") throw new RangeError(`usableSize(0x${va.toString(16)}): not a live allocation`);
      return UCAT_CLASSES[what.page.cls]!;
    }
    return what.kind === "run" ? what.run.pages * PAGE : what.large.bytes;
  }

  // ---- stats ---------------------------------------------------------------------------

  stats(): UcatStats {
    const byTier: Record<string, TierBytes> = {};
    let requestedBytes = 0;
    let allocatedBytes = 0;
    let heldBytes = 0;
    let spareFrames = 0;
    let runFrames = 0;
    for (const n of this.nodes) {
      const t = (byTier[n.tier] ??= { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 });
      t.requestedBytes += n.requested;
      t.allocatedBytes += n.allocated;
      t.heldBytes += n.held;
      requestedBytes += n.requested;
      allocatedBytes += n.allocated;
      heldBytes += n.held;
      if (n.spare !== null) spareFrames++;
      runFrames += n.runFrames.length;
    }
    return {
      requestedBytes,
      allocatedBytes,
      heldBytes,
      metadataBytes: this.metadata,
      liveObjects: this.slabObjects + this.runCount + this.larges.size,
      mallocs: this.mallocs,
      frees: this.frees,
      byTier,
      metadataTier: this.guest.nodes[this.guest.metadataNode]!.tier,
      tierFallbacks: this.tierFallbacks,
      watermarkDiversions: this.watermarkDiversions,
      page1gFallbacks: this.page1gFallbacks,
      framesReturned: this.framesReturned,
      slabPages: this.slabPages.size,
      runFrames,
      spareFrames,
      largeMappings: this.larges.size,
    };
  }
}

// ---- bit runs ------------------------------------------------------------------------

function getBit(bits: Uint32Array, i: number): boolean {
  return ((bits[i >>> 5]! >>> (i & 31)) & 1) === 1;
}

function setBits(bits: Uint32Array, first: number, count: number, on: boolean): void {
  for (let i = first; i < first + count; i++) {
    if (on) bits[i >>> 5] |= 1 << (i & 31);
    else bits[i >>> 5] &= ~(1 << (i & 31));
  }
}

/** The first index of `count` consecutive clear bits among 512, or -1 (first fit: lowest address). */
function findRun(bits: Uint32Array, count: number): number {
  let start = 0;
  let len = 0;
  for (let i = 0; i < PAGES_PER_FRAME; i++) {
    if ((i & 31) === 0 && bits[i >>> 5] === 0xffffffff) {
      // a full word: skip it
      len = 0;
      start = i + 32;
      i += 31;
      continue;
    }
    if (getBit(bits, i)) {
      len = 0;
      start = i + 1;
    } else if (++len === count) return start;
  }
  return -1;
}

function lowerBound(frames: RunFrame[], base: number): number {
  let lo = 0;
  let hi = frames.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (frames[mid]!.base < base) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
