/**
 * The `osv` heap allocator: OSv's malloc (cloudius-systems/osv, core/mempool.cc, tags
 * v0.55.0 and v0.56.0, which do not differ here), as seen from one vCPU. See
 * docs/guest-osv.md for what is modelled and the source of each choice.
 *
 * - 0..1024 B (`std_malloc`, first two branches): per-CPU power-of-two pools 8..1024
 *   (`malloc_pools[ilog2_roundup(max(size, 8))]`). A pool page is one 4 KiB frame with
 *   a 40 B `pool::page_header` at its start and objects carved from its end
 *   (`pool::add_page`), so 3 x 1024 B or 507 x 8 B per page. Free lists live in the
 *   a Wasm core slab heap from the simulator (one class per pool); this class mirrors only the
 *   order of OSv's per-pool page list, to decide, as `pool::free_same_cpu` does, when a
 *   page that became empty goes back to the page allocator.
 * - 1025..4096 B (`std_malloc`, `alloc_page` branch): one whole 4 KiB page, no header.
 * - larger (`malloc_large`, called with contiguous = false): the request plus a 64 B
 *   header (`sizeof(page_range)` 56, aligned up to malloc's 16 B alignment) rounded up
 *   to whole pages, from OSv's page-range allocator; when that total is >= 2 MiB, or
 *   when no free range is large enough, an anonymous mapping populated at once
 *   (`mapped_malloc_large`), freed with munmap.
 * - Pages for pools and whole-page objects come from OSv's per-CPU L1 page buffer and
 *   global L2 buffer (`page_pool::l1`, `l2`), refilled and drained in batches of 32.
 *
 * Everything comes from node 0 (OSv is NUMA- and tier-oblivious); `opts.tier` is
 * ignored. Addresses are in the guest's linear map (`guest.linear(gpa)`) or, for
 * mappings, in its mmap area.
 *
 * @example
 * const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 8 * GiB }] });
 * const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 1 * GiB }] });
 * const heap = vm.allocator;        // an OsvAllocator
 * const a = heap.malloc(1024);      // a pool object: 3 of them share a 4 KiB page
 * const b = heap.malloc(1147);      // a whole 4 KiB page
 * heap.usableSize(b);               // 4096
 * heap.free(a); heap.free(b);
 */
import type { Vm } from "../../sim/vm.js";
import { GuestOutOfMemory, LINEAR_BASE, type Vma } from "../guest.js";
import { NumMap } from "../../util/num-map.js";
import { PAGE_VALUES, PagedU32 } from "../../util/paged-array.js";
import { RecentMap } from "../../util/recent-map.js";
import {
  InvalidFree,
  type Allocator,
  type AllocatorStats,
  type InvalidFreeReason,
  type MallocOptions,
  type TierBytes,
} from "./types.js";

/** OSv's constants, each with its source (v0.56.0). */
export const OSV = {
  /** include/osv/mempool.hh: `page_size`. */
  PAGE: 4096,
  /** sizeof(pool::page_header) (include/osv/mempool.hh: owner, cpu_id, nalloc, a list hook, local_free), x86-64 g++. */
  POOL_HEADER: 40,
  /** core/mempool.cc: `pool::min_object_size = sizeof(free_object)`. */
  MIN_OBJECT: 8,
  /** core/mempool.cc: `pool::max_object_size = page_size / 4`. */
  MAX_OBJECT: 1024,
  /** sizeof(page_range) (include/osv/mempool.hh: size, a set hook, a list hook), x86-64 g++ with boost 1.74. */
  PAGE_RANGE: 56,
  /** core/mempool.cc malloc(): `alignof(max_align_t)` (16 on x86-64), lowered for sizes below it. */
  MALLOC_ALIGN: 16,
  /** core/mempool.cc malloc_large(): `offset = align_up(sizeof(page_range), alignment)` = align_up(56, 16). */
  LARGE_OFFSET: 64,
  /** include/osv/mmu-defs.hh: `huge_page_size`; malloc_large() maps when the rounded size is >= it. */
  HUGE_PAGE: 2 * 1024 * 1024,
  /** core/mempool.cc page_pool::l1: `max` pages per CPU, refill below max/4, drain above max*3/4. */
  L1_MAX: 512,
  L1_LO: 128,
  L1_HI: 384,
  /** core/mempool.cc page_pool::page_batch::nr_pages. */
  BATCH: 32,
  /** core/mempool.cc page_pool::l2: `_max = ncpus * (l1::max / page_batch::nr_pages)` batches, watermarks max/4, max*3/4. */
  L2_MAX_PER_CPU: 16,
  /** page_range_allocator::alloc: lists by ilog2(pages); a request of n pages looks in lists >= ilog2_roundup(n). */
  LARGE_MAX_PAGES: 511,
} as const;

const PAGE = OSV.PAGE;
/** Orders of the model's page-range lists: a large object is at most 511 pages (< 2 MiB), so order <= 9. */
const RANGE_ORDERS = 10;
/** How many freed addresses (and released pool pages) are remembered to call a second free a double free (guess: bounds memory). */
const FREED_HISTORY = 65_536;

/**
 * What a 4 KiB frame of the linear map holds, as one 32-bit word per frame (`frames`, a
 * sparse array by gPA / 4096; 0: nothing of the heap's). The low 2 bits are the kind:
 * - POOL: a pool page; bits 2-5 the pool (3..10), bits 6-31 its record in the pool;
 * - WHOLE: a whole-page object; bits 2-31 its requested size (1025..4096);
 * - LARGE: the first frame of a large object (the object starts 64 B into it); bits 2-10
 *   its pages (2..511), bits 11-31 its requested size (< 2 MiB).
 * A large object's other frames hold 0 (free() and whyNot() find its first frame).
 */
const POOL = 1;
const WHOLE = 2;
const LARGE = 3;
/** Pool page records per pool: bits 6-31 of a frame word. */
const MAX_POOL_RECORDS = 2 ** 26;

export interface OsvAllocatorOptions {
  /**
   * Model OSv's page buffers (page_pool::l1 per CPU, l2 global): pool pages and
   * whole-page objects come from them, and freed pages go back to them; they are
   * filled at boot to 224 + 8 x 32 pages. Default true (faithful). False takes and
   * returns single pages straight from the page-range allocator (for ablations and
   * hand-computed examples).
   */
  pagePools?: boolean;
  /** Core slab heap for the pools. Default: the VM's id (one heap per VM; the core has one per vCPU slot). */
  heap?: number;
}

/** What the allocator holds, by kind (for reports; `stats()` has the totals). */
export interface OsvDetail {
  /** Pool pages per class size (8..1024). */
  poolPages: Record<number, number>;
  wholePages: number;
  largeObjects: number;
  largePages: number;
  mappedObjects: number;
  mappedBytes: number;
  /** Free pages in the L1 buffer and batches in the L2 buffer. */
  l1Pages: number;
  l2Batches: number;
  /** Free pages the page-range model holds inside blocks taken from the guest's buddy allocator (an artefact: see docs/guest-osv.md). */
  rangeSlackPages: number;
  /** Free pages held: the buffers plus the slack; heldBytes minus this is the memory in use. */
  bufferedBytes: number;
}

/** Words of a pool page record (PoolRecords.meta). */
const REC = 7;
const NALLOC = 0;
const REQSUM = 1;
const PREV = 2;
const NEXT = 3;
const LISTED = 4;
/** The page's frame number (gPA / 4096, below 2^34), in two words: frame % 2^30 and the rest. */
const FRAME_LO = 5;
const FRAME_HI = 6;
/** Pools with fewer record slots than this are never compacted. */
const MIN_COMPACT = 64;

/** Shared empty storage of pools that never had a page (replaced, never written, on the first). */
const NO_META = new Int32Array(0);
const NO_REQ = new Uint16Array(0);

/**
 * The pages of one pool as records in typed arrays. Record r is REC words of `meta` from
 * r x REC: its live objects (NALLOC; -1 for a free record), the sum of their requested
 * sizes (REQSUM), its neighbours in OSv's `_free` list (PREV, NEXT; -1: none), whether
 * it is listed (LISTED) and its frame (FRAME_LO, FRAME_HI); its objects' requested sizes
 * (+1; 0 = free) are `req[r * perPage + i]`. Free records are chained through NEXT for
 * reuse. Storage grows by doubling; once three quarters of it are free, `compact` moves
 * the live records to the front of storage half as large again.
 */
class PoolRecords {
  meta = NO_META;
  req = NO_REQ;
  private cap = 0;
  private used = 0;
  private live = 0;
  private freeHead = -1;

  constructor(readonly perPage: number) {}

  /** A new record for the page at `frame`: no objects, unlisted. */
  add(frame: number): number {
    let r = this.freeHead;
    if (r >= 0) this.freeHead = this.meta[r * REC + NEXT]!;
    else {
      if (this.used === this.cap) this.resize(Math.max(4, this.cap * 2));
      r = this.used++;
    }
    if (r >= MAX_POOL_RECORDS) throw new Error(`osv: more than ${MAX_POOL_RECORDS} pages in one pool`);
    const m = this.meta;
    m.fill(0, r * REC, r * REC + REC);
    m[r * REC + PREV] = m[r * REC + NEXT] = -1;
    m[r * REC + FRAME_LO] = frame % 2 ** 30;
    m[r * REC + FRAME_HI] = Math.floor(frame / 2 ** 30);
    this.req.fill(0, r * this.perPage, (r + 1) * this.perPage);
    this.live++;
    return r;
  }

  /** Frees record `r`; true when storage is now mostly free and `compact` is due. */
  remove(r: number): boolean {
    this.meta[r * REC + NALLOC] = -1;
    this.meta[r * REC + NEXT] = this.freeHead;
    this.freeHead = r;
    this.live--;
    return this.cap >= MIN_COMPACT && this.live * 4 <= this.cap;
  }

  frameOf(r: number): number {
    return this.meta[r * REC + FRAME_LO]! + 2 ** 30 * this.meta[r * REC + FRAME_HI]!;
  }

  /**
   * Renumbers the live records 0..n-1 in their order, in storage for 2n, and returns the
   * new number of each old record (-1 for free ones). PREV and NEXT are renumbered here;
   * the caller renumbers what else names records (the frame words, the list's ends).
   */
  compact(): Int32Array {
    const m = this.meta;
    const moved = new Int32Array(this.used).fill(-1);
    let n = 0;
    for (let r = 0; r < this.used; r++) if (m[r * REC + NALLOC]! >= 0) moved[r] = n++;
    const meta = new Int32Array(Math.max(4, 2 * n) * REC);
    const req = new Uint16Array(Math.max(4, 2 * n) * this.perPage);
    for (let r = 0; r < this.used; r++) {
      const j = moved[r]!;
      if (j < 0) continue;
      meta.set(m.subarray(r * REC, r * REC + REC), j * REC);
      for (const f of [PREV, NEXT]) {
        const x = m[r * REC + f]!;
        meta[j * REC + f] = x < 0 ? x : moved[x]!;
      }
      req.set(this.req.subarray(r * this.perPage, (r + 1) * this.perPage), j * this.perPage);
    }
    this.meta = meta;
    this.req = req;
    this.cap = Math.max(4, 2 * n);
    this.used = n;
    this.freeHead = -1;
    return moved;
  }

  private resize(cap: number): void {
    const meta = new Int32Array(cap * REC);
    meta.set(this.meta);
    const req = new Uint16Array(cap * this.perPage);
    req.set(this.req);
    this.meta = meta;
    this.req = req;
    this.cap = cap;
  }
}

/** One pool (malloc_pools[cls]), its page records, and its list of pages with free objects, front first (pool::_free; records, -1 = none). */
interface Pool {
  cls: number;
  size: number;
  perPage: number;
  firstOff: number;
  front: number;
  back: number;
  pages: number;
  recs: PoolRecords;
}

interface MappedObject {
  vma: Vma;
  bytes: number;
  requested: number;
}

/**
 * OSv's page-range allocator (core/mempool.cc page_range_allocator), over blocks taken
 * from the guest's buddy allocator: a request of n pages takes the front of the lowest
 * list k >= ilog2_roundup(n) that is not empty (list k: free ranges of 2^k..2^(k+1)-1
 * pages, newest first) and splits it, keeping the start; when no list has one, it takes
 * a new buddy block of 2^ilog2_roundup(n) pages. Frees coalesce with free neighbours
 * in the same block; a block that is wholly free goes back to the buddy allocator.
 * OSv's allocator owns all free memory; this one only the blocks it took.
 * (Exported for its tests.)
 */
export class PageRanges {
  /**
   * Blocks of order >= 1 taken from the buddy allocator: base gPA -> order + 16 x pages
   * used. A single page taken alone (order 0, the common case: the page buffers take
   * pages one by one) is no entry: a page in no recorded block is such a block.
   */
  private readonly blocks = new NumMap("u32");
  private singlePages = 0;
  /** Free ranges: start gPA -> pages + 1024 x version (to spot stale list entries); end gPA -> start. */
  private readonly byStart = new NumMap("f64");
  private readonly byEnd = new NumMap("f64");
  /** Per list: (start, version) pairs, flat, newest last. */
  private readonly lists: number[][] = Array.from({ length: RANGE_ORDERS }, () => []);
  private ver = 0;
  slackPages = 0;

  constructor(
    private readonly take: (order: number) => number | null,
    private readonly give: (gpa: number, order: number) => void,
    /** `n` calls of `take(0)` at once, into `out` from `at`; how many it took. */
    private readonly takePages: (n: number, out: Float64Array, at: number) => number,
  ) {}

  /**
   * `n` single pages as `n` calls of `alloc(1)` would give them, into `out` from `at`;
   * returns how many (fewer when memory runs out). While no list holds a range (not even
   * a stale entry, which `alloc` would drop on its way), each would be a buddy page of
   * its own, so the rest are taken at once.
   */
  allocPages(n: number, out: Float64Array, at = 0): number {
    let i = 0;
    while (i < n) {
      if (this.lists.every((l) => l.length === 0)) {
        const got = this.takePages(n - i, out, at + i);
        this.singlePages += got;
        return i + got;
      }
      const g = this.alloc(1);
      if (g === null) return i;
      out[at + i++] = g;
    }
    return i;
  }

  /** n pages at consecutive gPAs, or null when neither a free range nor a buddy block is large enough. */
  alloc(n: number): number | null {
    const exact = ceilLog2(n);
    for (let k = exact; k < RANGE_ORDERS; k++) {
      const list = this.lists[k];
      while (list.length > 0) {
        const ver = list.pop()!;
        const start = list.pop()!;
        const r = this.byStart.get(start);
        if (r === undefined || Math.floor(r / 1024) !== ver) continue; // stale: merged or taken since
        const rPages = r % 1024;
        this.removeFree(start, rPages);
        if (rPages > n) this.addFree(start + n * PAGE, rPages - n);
        const b = this.blockOf(start);
        this.blocks.set(b.base, b.order + 16 * (b.used + n));
        return start;
      }
    }
    const base = this.take(exact);
    if (base === null) return null;
    if (exact === 0) this.singlePages++;
    else this.blocks.set(base, exact + 16 * n);
    if (2 ** exact > n) this.addFree(base + n * PAGE, 2 ** exact - n);
    return base;
  }

  free(gpa: number, n: number): void {
    const { base, order, used: was } = this.blockOf(gpa, n);
    const end = base + PAGE * 2 ** order;
    const used = was - n;
    if (order > 0) this.blocks.set(base, order + 16 * used);
    // coalesce with free neighbours inside the block (blocks go back to the buddy allocator one by one)
    let start = gpa;
    let pages = n;
    const before = this.byEnd.get(start);
    if (before !== undefined && before >= base) {
      const rPages = this.byStart.get(before)! % 1024;
      this.removeFree(before, rPages);
      start = before;
      pages += rPages;
    }
    const after = gpa + n * PAGE < end ? this.byStart.get(gpa + n * PAGE) : undefined;
    if (after !== undefined) {
      this.removeFree(gpa + n * PAGE, after % 1024);
      pages += after % 1024;
    }
    if (used === 0) {
      // free ranges in a block are always coalesced, so this one is the whole block
      if (start !== base || pages !== 2 ** order) throw new Error(`osv page ranges: block 0x${base.toString(16)} is free but not whole (internal error)`);
      if (order > 0) this.blocks.delete(base);
      else this.singlePages--;
      this.give(base, order);
      return;
    }
    this.addFree(start, pages);
  }

  get blockCount(): number {
    return this.blocks.size + this.singlePages;
  }

  /** Calls `fn(start gPA, pages)` for every free range, for tier attribution. */
  forEachFree(fn: (start: number, pages: number) => void): void {
    this.byStart.forEach((r, start) => fn(start, r % 1024));
  }

  /**
   * The block holding `gpa`: a recorded block of order >= 1, else the single page at
   * `gpa` (which only a free of one page, `n` = 1, can be).
   */
  private blockOf(gpa: number, n = 0): { base: number; order: number; used: number } {
    for (let k = 1; k < RANGE_ORDERS; k++) {
      const base = gpa - (gpa % (PAGE * 2 ** k));
      const b = this.blocks.get(base);
      if (b !== undefined && b % 16 === k) return { base, order: k, used: Math.floor(b / 16) };
    }
    if (n === 1 && gpa % PAGE === 0 && this.singlePages > 0) return { base: gpa, order: 0, used: 1 };
    throw new Error(`osv page ranges: gPA 0x${gpa.toString(16)} is in no block (internal error)`);
  }

  private addFree(start: number, pages: number): void {
    const ver = ++this.ver;
    this.byStart.set(start, pages + 1024 * ver);
    this.byEnd.set(start + pages * PAGE, start);
    const list = this.lists[Math.min(floorLog2(pages), RANGE_ORDERS - 1)];
    list.push(start, ver);
    // drop stale entries now and then so a list that is never taken from stays small
    if (list.length > 128 && list.length > 8 * this.byStart.size) {
      let w = 0;
      for (let i = 0; i < list.length; i += 2) {
        const r = this.byStart.get(list[i]!);
        if (r !== undefined && Math.floor(r / 1024) === list[i + 1]) {
          list[w++] = list[i]!;
          list[w++] = list[i + 1]!;
        }
      }
      list.length = w;
    }
    this.slackPages += pages;
  }

  private removeFree(start: number, pages: number): void {
    this.byStart.delete(start);
    this.byEnd.delete(start + pages * PAGE);
    this.slackPages -= pages;
  }
}

function ceilLog2(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

function floorLog2(n: number): number {
  return 31 - Math.clz32(n);
}

export class OsvAllocator implements Allocator {
  readonly name = "osv" as const;
  /** The core slab heap holding the pools' free lists (default: the VM's id). */
  readonly heap: number;
  readonly pagePools: boolean;

  private readonly pools: Pool[] = [];
  /** What each frame of the linear map holds: pool pages, whole pages, large objects (see POOL, WHOLE, LARGE). */
  private readonly frames = new PagedU32();
  private wholeCount = 0;
  private largeCount = 0;
  private readonly mapped = new Map<number, MappedObject>();
  /**
   * Pages released by a pool (va -> class), to call a later free of one of their objects
   * a double free. Kept when the frame is reused: they are asked only about addresses
   * that no live allocation covers. Bounded like `freedHistory`.
   */
  private readonly releasedPoolPages = new RecentMap(FREED_HISTORY, 4);
  /** Recently freed whole-page, large and mapped objects (the newest FREED_HISTORY). */
  private readonly freedHistory = new RecentMap(FREED_HISTORY);
  private readonly ranges: PageRanges;
  /** A batch's pages as L2's refill takes them (copied into the batch it keeps). */
  private readonly batchScratch = new Float64Array(OSV.BATCH);
  /** page_pool::l1 (one vCPU) and page_pool::l2: free gPAs. */
  private readonly l1: number[] = [];
  private readonly l2: number[][] = [];
  private wakeL1 = false;
  private wakeL2 = false;

  private requested = 0;
  private allocated = 0;
  private live = 0;
  private mallocs = 0;
  private frees = 0;
  private largePages = 0;
  private mappedBytes = 0;

  constructor(
    readonly vm: Vm,
    options: OsvAllocatorOptions = {},
  ) {
    this.heap = options.heap ?? vm.sim.allocHeap();
    // frames are found from addresses as (va - LINEAR_BASE) / 4096: the guest's linear map
    if (vm.guest.linear(PAGE) !== LINEAR_BASE + PAGE) throw new Error("osv: the guest's linear map is not at LINEAR_BASE + gPA");
    this.pagePools = options.pagePools ?? true;
    const core = vm.sim.core;
    core.slabHeapCreate(this.heap, 12);
    // malloc_pools[n] for n = 3..10: objects of 2^n bytes (compute_object_size)
    for (let cls = 3; cls <= 10; cls++) {
      const size = 2 ** cls;
      // pool::add_page: objects at page + page_size - k * size while they stay past the header
      const perPage = Math.floor((PAGE - OSV.POOL_HEADER) / size);
      core.slabClassCreate(this.heap, cls, size, OSV.POOL_HEADER, true);
      this.pools[cls] = { cls, size, perPage, firstOff: PAGE - perPage * size, front: -1, back: -1, pages: 0, recs: new PoolRecords(perPage) };
    }
    const guest = vm.guest;
    this.ranges = new PageRanges(
      (order) => guest.allocFrames(order, 0),
      (gpa, order) => guest.freeFrames(gpa, order),
      (n, out, at) => guest.allocPages(n, out, at, 0),
    );
    if (this.pagePools) {
      // boot: the L1 fill thread finds its buffer below the low watermark and fills it
      // (l1::fill_thread), which in turn fills L2 (l2::refill)
      this.wakeL1 = true;
      this.runFillThreads();
    }
  }

  // ---- malloc ------------------------------------------------------------------------

  /**
   * OSv's malloc(size). `opts.tier` is ignored: OSv does not know about tiers.
   * @example heap.malloc(100) // a 128 B pool object, aligned to 128
   */
  malloc(size: number, _opts?: MallocOptions): number {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`size: ${size} is not allowed; expected an integer >= 0`);
    }
    let va: number;
    let bytes: number;
    if (size <= OSV.MAX_OBJECT) {
      // std_malloc: malloc_pools[ilog2_roundup(max(size, min_object_size))]; the
      // alignment malloc() asks for (<= 16, or the size's power of two) never changes the pool
      const cls = ceilLog2(Math.max(size, OSV.MIN_OBJECT));
      va = this.poolAlloc(cls, size);
      bytes = 2 ** cls;
    } else if (size <= PAGE) {
      // std_malloc: minimum_size <= page_size -> alloc_page(), no header
      const gpa = this.allocPage();
      va = this.vm.guest.linear(gpa);
      this.frames.set(gpa / PAGE, WHOLE + 4 * size);
      this.wholeCount++;
      bytes = PAGE;
    } else {
      // malloc_large(size, 16, block = true, contiguous = false)
      const total = Math.ceil((size + OSV.LARGE_OFFSET) / PAGE) * PAGE;
      const pages = total / PAGE;
      const gpa = total < OSV.HUGE_PAGE ? this.ranges.alloc(pages) : null;
      if (gpa !== null) {
        va = this.vm.guest.linear(gpa) + OSV.LARGE_OFFSET;
        this.frames.set(gpa / PAGE, LARGE + 4 * pages + 2048 * size);
        this.largeCount++;
        this.largePages += pages;
      } else {
        // >= 2 MiB, or no free range of 2^ilog2_roundup(pages) pages: mapped_malloc_large
        va = this.mapLarge(total, size);
      }
      bytes = total;
    }
    this.freedHistory.delete(va);
    this.requested += size;
    this.allocated += bytes;
    this.live++;
    this.mallocs++;
    return va;
  }

  private poolAlloc(cls: number, size: number): number {
    const core = this.vm.sim.core;
    const pool = this.pools[cls];
    const recs = pool.recs;
    let va = core.slabAlloc(this.heap, cls);
    if (va === null) {
      // pool::alloc: while (_free->empty()) add_page()
      const gpa = this.allocPage();
      const base = this.vm.guest.linear(gpa);
      try {
        core.slabAddPage(this.heap, cls, base);
      } catch (e) {
        this.freePage(gpa); // the core is out of memory for page records: keep the frame accounted
        throw e;
      }
      const r = recs.add(gpa / PAGE);
      this.frames.set(gpa / PAGE, POOL + 4 * cls + 64 * r);
      pool.pages++;
      this.pushFront(pool, r); // push_back onto an empty list
      va = core.slabAlloc(this.heap, cls);
      if (va === null) throw new Error(`osv: slab class ${cls} is empty after adding a page (internal error)`);
    }
    const base = va - (va % PAGE);
    const r = this.poolRecordAt(base, cls);
    // the core takes from the front page of the class's list, as pool::alloc does from _free->begin()
    if (r < 0 || r !== pool.front) throw new Error(`osv: core slab page 0x${base.toString(16)} is not the front of pool ${pool.size} (internal error)`);
    recs.req[r * pool.perPage + (va - base - pool.firstOff) / pool.size] = size + 1;
    const m = recs.meta;
    m[r * REC + REQSUM] += size;
    if (++m[r * REC + NALLOC] === pool.perPage) this.unlink(pool, r); // no local_free left: _free->erase
    return va;
  }

  /** The frame word of the page at linear address `base` (0 for anything else). */
  private frameWord(base: number): number {
    return this.frames.get((base - LINEAR_BASE) / PAGE);
  }

  /** The record of the live pool page at `base` in pool `cls` (any pool when -1), or -1. */
  private poolRecordAt(base: number, cls = -1): number {
    const w = this.frameWord(base);
    if ((w & 3) !== POOL || (cls >= 0 && ((w >>> 2) & 15) !== cls)) return -1;
    return w >>> 6;
  }

  /** mapped_malloc_large: map_anon(size, mmap_populate); the object starts `offset` into it. */
  private mapLarge(total: number, size: number): number {
    const guest = this.vm.guest;
    if (total > guest.nodes[0].bytes) throw new GuestOutOfMemory(this.vm.id, `a ${total} B mapping (larger than memory)`);
    const vma = guest.mmap(total, { node: 0 });
    try {
      for (let va = vma.start; va < vma.end; ) va = guest.faultIn(vma, va);
    } catch (e) {
      guest.munmap(vma, guest.kernelRoot, [this.vm.vcpu]);
      throw e;
    }
    const va = vma.start + OSV.LARGE_OFFSET;
    this.mapped.set(va, { vma, bytes: vma.end - vma.start, requested: size });
    this.mappedBytes += vma.end - vma.start;
    return va;
  }

  // ---- free --------------------------------------------------------------------------

  /**
   * OSv's free(va); free(0) does nothing, as in OSv. Anything that is not a live
   * allocation throws InvalidFree and changes nothing.
   * @example heap.free(heap.malloc(64))
   */
  free(va: number): void {
    if (va === 0) return; // free(): if (!object) return;
    if (!Number.isSafeInteger(va) || va < 0) throw new InvalidFree(va, "foreign");
    const base = va - (va % PAGE);
    const w = this.frameWord(base);
    const kind = w & 3;
    if (kind === POOL) return this.poolFree((w >>> 2) & 15, w >>> 6, base, va);
    if (kind === WHOLE && va === base) {
      const gpa = base - LINEAR_BASE;
      this.frames.set(gpa / PAGE, 0);
      this.wholeCount--;
      this.freePage(gpa);
      this.release(va, w >>> 2, PAGE);
      return;
    }
    if (kind === LARGE && va === base + OSV.LARGE_OFFSET) {
      // free_large: the page range goes back to free_page_ranges
      const gpa = base - LINEAR_BASE;
      const pages = (w >>> 2) & 511;
      this.frames.set(gpa / PAGE, 0);
      this.largeCount--;
      this.ranges.free(gpa, pages);
      this.largePages -= pages;
      this.release(va, w >>> 11, pages * PAGE);
      return;
    }
    const m = this.mapped.get(va);
    if (m) {
      // mapped_free_large: munmap; accesses queued before the free run first
      this.vm.sim.flush();
      this.vm.guest.munmap(m.vma, this.vm.guest.kernelRoot, [this.vm.vcpu]);
      this.mapped.delete(va);
      this.mappedBytes -= m.bytes;
      this.release(va, m.requested, m.bytes);
      return;
    }
    throw new InvalidFree(va, this.whyNot(va));
  }

  private release(va: number, requested: number, bytes: number): void {
    this.requested -= requested;
    this.allocated -= bytes;
    this.live--;
    this.frees++;
    this.freedHistory.remember(va);
  }

  /** Frees `va` in the pool page `r` of pool `cls` at linear address `base`. */
  private poolFree(cls: number, r: number, base: number, va: number): void {
    const pool = this.pools[cls];
    const recs = pool.recs;
    const why = this.poolWhyNot(pool, r, base, va);
    if (why !== "ok") throw new InvalidFree(va, why);
    const idx = r * pool.perPage + (va - base - pool.firstOff) / pool.size;
    const req = recs.req[idx];
    const core = this.vm.sim.core;
    const st = core.slabFree(this.heap, va);
    if (st !== "ok") throw new Error(`osv: core slabFree(0x${va.toString(16)}) = ${st} for a live object (internal error)`);
    recs.req[idx] = 0;
    const m = recs.meta;
    const nalloc = --m[r * REC + NALLOC];
    m[r * REC + REQSUM] -= req - 1;
    this.requested -= req - 1;
    this.allocated -= pool.size;
    this.live--;
    this.frees++;
    // pool::free_same_cpu: an empty page goes back to the page allocator when the back
    // of _free is an empty page (have_full_pages(); that may be this page itself)
    if (nalloc === 0 && pool.back >= 0 && m[pool.back * REC + NALLOC] === 0) {
      this.unlink(pool, r);
      if (!core.slabRemovePage(this.heap, base)) throw new Error(`osv: core kept pool page 0x${base.toString(16)} (internal error)`);
      const gpa = base - LINEAR_BASE;
      this.frames.set(gpa / PAGE, 0);
      if (recs.remove(r)) this.compactPool(pool);
      this.releasedPoolPages.remember(base, cls);
      pool.pages--;
      this.freePage(gpa);
      return;
    }
    // a full page (no local_free) goes back on the front of _free, as the core does
    if (m[r * REC + LISTED] === 0) this.pushFront(pool, r);
  }

  /** Why `va` is no live allocation's start. */
  private whyNot(va: number): InvalidFreeReason {
    const base = va - (va % PAGE);
    if ((this.frameWord(base) & 3) === WHOLE) return "misaligned";
    // a large object: its header page is at most 510 pages below va
    for (let p = base, n = 0; n < OSV.LARGE_MAX_PAGES && p >= 0; n++, p -= PAGE) {
      const w = this.frameWord(p);
      if ((w & 3) === LARGE) {
        if (va < p + ((w >>> 2) & 511) * PAGE) return "misaligned";
        break;
      }
    }
    const vma = this.vm.guest.vmaOf(va);
    if (vma && this.mapped.has(vma.start + OSV.LARGE_OFFSET)) return "misaligned";
    if (this.freedHistory.has(va)) return "double-free";
    const cls = this.releasedPoolPages.get(base);
    if (cls !== undefined) {
      const pool = this.pools[cls];
      const off = va - base - pool.firstOff;
      if (off >= 0 && off % pool.size === 0) return "double-free";
    }
    return "foreign";
  }

  /**
   * malloc_usable_size(va): the pool's size, a whole page, or the page span less the
   * 64 B header for large and mapped objects (object_size()).
   * @example heap.usableSize(heap.malloc(5000)) // 8192 - 64
   */
  usableSize(va: number): number {
    const base = va - (va % PAGE);
    const w = this.frameWord(base);
    const kind = w & 3;
    if (kind === POOL) {
      const pool = this.pools[(w >>> 2) & 15];
      const why = this.poolWhyNot(pool, w >>> 6, base, va);
      if (why === "ok") return pool.size;
      throw new RangeError(`usableSize: 0x${va.toString(16)} is not a live allocation (${why})`);
    }
    if (kind === WHOLE && va === base) return PAGE;
    if (kind === LARGE && va === base + OSV.LARGE_OFFSET) return ((w >>> 2) & 511) * PAGE - OSV.LARGE_OFFSET;
    const m = this.mapped.get(va);
    if (m) return m.bytes - OSV.LARGE_OFFSET;
    const why = Number.isSafeInteger(va) && va > 0 ? this.whyNot(va) : "foreign";
    throw new RangeError(`usableSize: ${Number.isFinite(va) ? "0x" + va.toString(16) : va} is not a live allocation (${why})`);
  }

  /** Moves a pool's page records to smaller storage (PoolRecords.compact) and renumbers the frame words and list ends naming them. */
  private compactPool(pool: Pool): void {
    const moved = pool.recs.compact();
    if (pool.front >= 0) pool.front = moved[pool.front]!;
    if (pool.back >= 0) pool.back = moved[pool.back]!;
    for (let r = 0; r < moved.length; r++) {
      const j = moved[r]!;
      if (j >= 0 && j !== r) this.frames.set(pool.recs.frameOf(j), POOL + 4 * pool.cls + 64 * j);
    }
  }

  /** Why `va`, in the live pool page `r` at `base`, is no live object: "ok" when it is one. */
  private poolWhyNot(pool: Pool, r: number, base: number, va: number): InvalidFreeReason | "ok" {
    const off = va - base - pool.firstOff;
    if (off < 0 || off % pool.size !== 0) return "misaligned";
    return pool.recs.req[r * pool.perPage + off / pool.size] === 0 ? "double-free" : "ok";
  }

  // ---- OSv's _free list of a pool ------------------------------------------------------

  private pushFront(pool: Pool, r: number): void {
    const m = pool.recs.meta;
    m[r * REC + PREV] = -1;
    m[r * REC + NEXT] = pool.front;
    if (pool.front >= 0) m[pool.front * REC + PREV] = r;
    else pool.back = r;
    pool.front = r;
    m[r * REC + LISTED] = 1;
  }

  private unlink(pool: Pool, r: number): void {
    const m = pool.recs.meta;
    if (m[r * REC + LISTED] === 0) return;
    const prev = m[r * REC + PREV]!;
    const next = m[r * REC + NEXT]!;
    if (prev >= 0) m[prev * REC + NEXT] = next;
    else pool.front = next;
    if (next >= 0) m[next * REC + PREV] = prev;
    else pool.back = prev;
    m[r * REC + PREV] = m[r * REC + NEXT] = -1;
    m[r * REC + LISTED] = 0;
  }

  // ---- pages: page_pool::l1 / l2 over the page-range allocator -------------------------

  /** One 4 KiB frame (alloc_page / untracked_alloc_page). Throws GuestOutOfMemory. */
  private allocPage(): number {
    if (!this.pagePools) return this.rangePage();
    let gpa: number | null;
    // l1::alloc_page: while (!(ret = alloc_page_local())) refill();
    while ((gpa = this.l1AllocLocal()) === null) {
      if (!this.l1Refill()) {
        // OSv would wait for the reclaimer, then abort; here: one page straight from the ranges
        gpa = this.rangePage();
        break;
      }
    }
    this.runFillThreads();
    return gpa;
  }

  private rangePage(): number {
    const gpa = this.ranges.alloc(1);
    if (gpa === null) throw new GuestOutOfMemory(this.vm.id, "a 4 KiB page for malloc");
    return gpa;
  }

  /** free_page / untracked_free_page: to L1 (l1::free_page), draining a batch when it is full. */
  private freePage(gpa: number): void {
    if (!this.pagePools) return this.ranges.free(gpa, 1);
    while (!this.l1FreeLocal(gpa)) this.l1Unfill();
    this.runFillThreads();
  }

  private l1AllocLocal(): number | null {
    if (this.l1.length < OSV.L1_LO) this.wakeL1 = true;
    return this.l1.length === 0 ? null : this.l1.pop()!;
  }

  private l1FreeLocal(gpa: number): boolean {
    if (this.l1.length > OSV.L1_HI) this.wakeL1 = true;
    if (this.l1.length === OSV.L1_MAX) return false;
    this.l1.push(gpa);
    return true;
  }

  /** l1::refill: one batch from L2 while L1 is below half; false when no batch could be had. */
  private l1Refill(): boolean {
    if (this.l1.length + OSV.BATCH >= OSV.L1_MAX / 2) return true;
    const pb = this.l2AllocBatch();
    if (!pb) return false;
    if (this.l1.length + OSV.BATCH <= OSV.L1_MAX) for (const g of pb) this.l1.push(g);
    else this.l2FreeBatch(pb);
    return true;
  }

  /** l1::unfill: one batch (popped from the top) to L2 while L1 is above half plus a batch. */
  private l1Unfill(): void {
    if (this.l1.length <= OSV.BATCH + OSV.L1_MAX / 2) return;
    const pb: number[] = [];
    for (let i = 0; i < OSV.BATCH; i++) pb.push(this.l1.pop()!);
    this.l2FreeBatch(pb);
  }

  private get l2Max(): number {
    return OSV.L2_MAX_PER_CPU; // one CPU: the VM's vCPU
  }

  /** l2::alloc_page_batch: pop a batch, refilling L2 when it is empty; null when memory is out. */
  private l2AllocBatch(): number[] | null {
    for (;;) {
      if (this.l2.length < this.l2Max / 4) this.wakeL2 = true;
      const pb = this.l2.pop();
      if (pb) return pb;
      if (!this.l2Refill()) return null;
    }
  }

  private l2FreeBatch(pb: number[]): void {
    for (;;) {
      if (this.l2.length > (this.l2Max * 3) / 4) this.wakeL2 = true;
      if (this.l2.length < this.l2Max) {
        this.l2.push(pb);
        return;
      }
      this.l2Unfill();
    }
  }

  /** l2::refill: batches of 32 pages from the page ranges until L2 is half full; false when none could be made. */
  private l2Refill(): boolean {
    let made = false;
    const pages = this.batchScratch;
    while (this.l2.length < this.l2Max / 2) {
      const got = this.ranges.allocPages(OSV.BATCH, pages);
      if (got < OSV.BATCH) {
        for (let i = 0; i < got; i++) this.ranges.free(pages[i]!, 1);
        return made;
      }
      // copied by hand: Array.from goes through an iterator, a garbage object a page
      const batch = new Array<number>(OSV.BATCH);
      for (let i = 0; i < OSV.BATCH; i++) batch[i] = pages[i]!;
      this.l2.push(batch);
      made = true;
    }
    return true;
  }

  /** l2::unfill: batches back to the page ranges until L2 is half full. */
  private l2Unfill(): void {
    while (this.l2.length > this.l2Max / 2) for (const g of this.l2.pop()!) this.ranges.free(g, 1);
  }

  /**
   * The fill threads (l1::fill_thread, l2::fill_thread), run as soon as they are woken
   * (a guess at their timing: they are woken threads pinned to the CPU).
   */
  private runFillThreads(): void {
    for (let guard = 0; guard < 64 && (this.wakeL1 || this.wakeL2); guard++) {
      if (this.wakeL1) {
        this.wakeL1 = false;
        if (this.l1.length < OSV.L1_LO) {
          while (this.l1.length + OSV.BATCH < OSV.L1_MAX / 2) if (!this.l1Refill()) break;
        }
        if (this.l1.length > OSV.L1_HI) {
          while (this.l1.length > OSV.BATCH + OSV.L1_MAX / 2) this.l1Unfill();
        }
      } else {
        this.wakeL2 = false;
        if (this.l2.length < this.l2Max / 4) this.l2Refill();
        if (this.l2.length > (this.l2Max * 3) / 4) this.l2Unfill();
      }
    }
  }

  // ---- accounting ----------------------------------------------------------------------

  /**
   * Live bytes and objects, and frames held by tier. A frame's tier is the one the
   * hypervisor backed it with, else its node's nominal tier (an osv VM's one flat node
   * names the first tier; the back-end fills the tiers in order).
   * @example heap.stats().byTier.dram.heldBytes
   */
  stats(): AllocatorStats {
    const d = this.detail();
    let pool = 0;
    for (const p of this.pools) if (p) pool += p.pages;
    const held = (pool + d.wholePages + this.largePages) * PAGE + this.mappedBytes + d.bufferedBytes;
    const metadata = pool * OSV.POOL_HEADER + (this.largeCount + this.mapped.size) * OSV.LARGE_OFFSET;
    return {
      requestedBytes: this.requested,
      allocatedBytes: this.allocated,
      heldBytes: held,
      metadataBytes: metadata,
      liveObjects: this.live,
      mallocs: this.mallocs,
      frees: this.frees,
      byTier: this.byTier(),
    };
  }

  /** What is held, by kind. */
  detail(): OsvDetail {
    const poolPages: Record<number, number> = {};
    for (const p of this.pools) if (p) poolPages[p.size] = p.pages;
    const l1 = this.l1.length;
    const l2 = this.l2.length;
    const slack = this.ranges.slackPages;
    return {
      poolPages,
      wholePages: this.wholeCount,
      largeObjects: this.largeCount,
      largePages: this.largePages,
      mappedObjects: this.mapped.size,
      mappedBytes: this.mappedBytes,
      l1Pages: l1,
      l2Batches: l2,
      rangeSlackPages: slack,
      bufferedBytes: (l1 + l2 * OSV.BATCH + slack) * PAGE,
    };
  }

  /**
   * Adds a frames-map page's pool and whole frames, and its large objects that end in
   * the block, to `sums` (held, allocated and requested bytes by tier index, `tiers[o]`
   * for value `o`; none when `tiers` is null) and writes the offsets of the others
   * (frames in no tier) into `rest`; returns how many. A method, not a closure of
   * byTier, so its optimized code serves every call.
   */
  private sumFramePage(words: Uint32Array, tiers: Int32Array | null, sums: Float64Array, rest: Int32Array, use: Float64Array): number {
    let n = 0;
    for (let o = 0; o < PAGE_VALUES; o++) {
      const w = words[o]!;
      if (w === 0) continue;
      if (tiers === null) {
        rest[n++] = o;
        continue;
      }
      const kind = w & 3;
      if (kind !== POOL && kind !== WHOLE) {
        // LARGE: a large object's pages, when they all lie in this block and in a tier
        const pages = (w >>> 2) & 511;
        let inTiers = o + pages <= PAGE_VALUES;
        for (let k = 0; inTiers && k < pages; k++) inTiers = tiers[o + k]! >= 0;
        if (!inTiers) {
          rest[n++] = o;
          continue;
        }
        const end = OSV.LARGE_OFFSET + (w >>> 11);
        for (let k = 0; k < pages; k++) {
          const i = tiers[o + k]!;
          sums[3 * i] += PAGE;
          sums[3 * i + 1] += PAGE;
          sums[3 * i + 2] += overlap(k * PAGE, (k + 1) * PAGE, OSV.LARGE_OFFSET, end);
        }
        continue;
      }
      const i = tiers[o]!;
      if (i < 0) {
        rest[n++] = o;
        continue;
      }
      this.frameUse(w, use);
      sums[3 * i] += PAGE;
      sums[3 * i + 1] += use[0]!;
      sums[3 * i + 2] += use[1]!;
    }
    return n;
  }

  /** A pool or whole page's allocated and requested bytes (frame word `w`), into `use`. */
  private frameUse(w: number, use: Float64Array): void {
    if ((w & 3) === POOL) {
      const pool = this.pools[(w >>> 2) & 15];
      const r = w >>> 6;
      use[0] = pool.recs.meta[r * REC + NALLOC]! * pool.size;
      use[1] = pool.recs.meta[r * REC + REQSUM]!;
    } else {
      // WHOLE: an object of 1025..4096 bytes starting the page
      use[0] = PAGE;
      use[1] = w >>> 2;
    }
  }

  private byTier(): Record<string, TierBytes> {
    const out: Record<string, TierBytes> = {};
    for (const t of this.vm.sim.host.tierNames()) out[t] = { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 };
    let alive = true;
    try {
      this.vm.hv.nodes(this.vm.id);
    } catch {
      alive = false; // destroyed: no backing to ask about
    }
    const nodes = this.vm.guest.nodes;
    const hv = this.vm.hv;
    const id = this.vm.id;
    // by the host's tier index: a page's tier without a name or a lookup by it
    const byIndex = this.vm.sim.host.tierNames().map((t) => out[t]!);
    const tierOf = (gpa: number): TierBytes => {
      const i = alive ? hv.tierIndexAt(id, gpa) : -1;
      if (i >= 0) return byIndex[i]!;
      const name = nodes.find((n) => gpa >= n.base && gpa < n.base + n.bytes)?.tier ?? nodes[0].tier;
      return (out[name] ??= { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 });
    };
    // a span's frames one core call a 2 MiB block for their tiers
    const BLOCK = PAGE_VALUES;
    const blockTiers = new Int32Array(BLOCK);
    let blockAt = -1;
    const tierInBlock = (gpa: number): TierBytes => {
      if (!alive) return tierOf(gpa);
      const b = Math.floor(gpa / (BLOCK * PAGE)) * BLOCK * PAGE;
      if (b !== blockAt) {
        hv.tierIndicesAt(id, b, BLOCK, blockTiers);
        blockAt = b;
      }
      const i = blockTiers[(gpa - b) / PAGE]!;
      return i >= 0 ? byIndex[i]! : tierOf(gpa);
    };
    // a span of frames from gPA `gpa`, `bytes` long, at `va`; `req` the requested bytes' virtual range
    const span = (va: number, gpa: number, bytes: number, allocated: boolean, reqStart = 0, reqEnd = 0, tierAt = tierOf): void => {
      for (let off = 0; off < bytes; off += PAGE) {
        const t = tierAt(gpa + off);
        t.heldBytes += PAGE;
        if (!allocated) continue;
        t.allocatedBytes += PAGE;
        t.requestedBytes += overlap(va + off, va + off + PAGE, reqStart, reqEnd);
      }
    };
    // The frames map's pages are 2 MiB blocks: their tiers in one core call, and the pool
    // and whole pages (most frames: a YCSB record each) and the large objects (memcached's
    // slab pages) summed by tier index in a plain loop; the rest (frames in no tier) after
    // it, in order. A large object never runs past its block (its range comes from an
    // aligned buddy block of at most 2 MiB); sumFramePage still leaves such a one here.
    const pageTiers = new Int32Array(BLOCK);
    const sums = new Float64Array(3 * byIndex.length); // held, allocated, requested by tier index
    const rest = new Int32Array(BLOCK);
    const use = new Float64Array(2);
    this.frames.forEachPage((words, first) => {
      const base = first * PAGE;
      if (alive) hv.tierIndicesAt(id, base, BLOCK, pageTiers);
      const n = this.sumFramePage(words, alive ? pageTiers : null, sums, rest, use);
      for (let k = 0; k < n; k++) {
        const o = rest[k]!;
        const w = words[o]!;
        const gpa = base + o * PAGE;
        if ((w & 3) === POOL || (w & 3) === WHOLE) {
          this.frameUse(w, use);
          const t = tierOf(gpa);
          t.heldBytes += PAGE;
          t.allocatedBytes += use[0]!;
          t.requestedBytes += use[1]!;
        } else {
          const start = this.vm.guest.linear(gpa);
          const va = start + OSV.LARGE_OFFSET;
          span(start, gpa, ((w >>> 2) & 511) * PAGE, true, va, va + (w >>> 11), tierInBlock);
        }
      }
    });
    byIndex.forEach((t, i) => {
      t.heldBytes += sums[3 * i]!;
      t.allocatedBytes += sums[3 * i + 1]!;
      t.requestedBytes += sums[3 * i + 2]!;
    });
    for (const [va, m] of this.mapped) {
      for (const [pva, pg] of m.vma.mapped) span(pva, pg.gpa, [PAGE, 2 ** 21, 2 ** 30][pg.size], true, va, va + m.requested);
    }
    for (const g of this.l1) span(0, g, PAGE, false);
    for (const b of this.l2) for (const g of b) span(0, g, PAGE, false);
    this.ranges.forEachFree((g, pages) => span(0, g, pages * PAGE, false));
    return out;
  }
}

/** Bytes [lo1, hi1) and [lo2, hi2) share. */
function overlap(lo1: number, hi1: number, lo2: number, hi2: number): number {
  return Math.max(0, Math.min(hi1, hi2) - Math.max(lo1, lo2));
}
