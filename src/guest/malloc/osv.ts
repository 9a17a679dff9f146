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
import { GuestOutOfMemory, type Vma } from "../guest.js";
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

/** Sets `key` in an insertion-ordered map as its newest entry, dropping the oldest past FREED_HISTORY. */
function remember<V>(m: Map<number, V>, key: number, value: V): void {
  m.delete(key);
  m.set(key, value);
  if (m.size > FREED_HISTORY) m.delete(m.keys().next().value!);
}

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

/** One pool page: its objects' requested sizes (+1; 0 = free) and its place in OSv's `_free` list. */
interface PoolPage {
  va: number;
  gpa: number;
  cls: number;
  nalloc: number;
  reqSum: number;
  req: Uint16Array;
  listed: boolean;
  prev: PoolPage | null;
  next: PoolPage | null;
}

/** One pool (malloc_pools[cls]) and its list of pages with free objects, front first (pool::_free). */
interface Pool {
  cls: number;
  size: number;
  perPage: number;
  firstOff: number;
  front: PoolPage | null;
  back: PoolPage | null;
  pages: number;
}

interface LargeObject {
  gpa: number;
  pages: number;
  requested: number;
}

interface MappedObject {
  vma: Vma;
  bytes: number;
  requested: number;
}

interface WholePage {
  gpa: number;
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
 */
class PageRanges {
  /** Blocks taken from the buddy allocator, by base gPA. */
  private readonly blocks = new Map<number, { order: number; used: number }>();
  /** Free ranges: pages by start gPA, start by end gPA, and a version to spot stale list entries. */
  private readonly byStart = new Map<number, { pages: number; ver: number }>();
  private readonly byEnd = new Map<number, number>();
  private readonly lists: [number, number][][] = Array.from({ length: RANGE_ORDERS }, () => []);
  private ver = 0;
  slackPages = 0;

  constructor(
    private readonly take: (order: number) => number | null,
    private readonly give: (gpa: number, order: number) => void,
  ) {}

  /** n pages at consecutive gPAs, or null when neither a free range nor a buddy block is large enough. */
  alloc(n: number): number | null {
    const exact = ceilLog2(n);
    for (let k = exact; k < RANGE_ORDERS; k++) {
      const list = this.lists[k];
      while (list.length > 0) {
        const [start, ver] = list.pop()!;
        const r = this.byStart.get(start);
        if (!r || r.ver !== ver) continue; // stale: merged or taken since
        this.removeFree(start, r.pages);
        if (r.pages > n) this.addFree(start + n * PAGE, r.pages - n);
        this.blockOf(start).block.used += n;
        return start;
      }
    }
    const base = this.take(exact);
    if (base === null) return null;
    this.blocks.set(base, { order: exact, used: n });
    if (2 ** exact > n) this.addFree(base + n * PAGE, 2 ** exact - n);
    return base;
  }

  free(gpa: number, n: number): void {
    const { base, block } = this.blockOf(gpa);
    const end = base + PAGE * 2 ** block.order;
    block.used -= n;
    // coalesce with free neighbours inside the block (blocks go back to the buddy allocator one by one)
    let start = gpa;
    let pages = n;
    const before = this.byEnd.get(start);
    if (before !== undefined && before >= base) {
      const r = this.byStart.get(before)!;
      this.removeFree(before, r.pages);
      start = before;
      pages += r.pages;
    }
    const after = gpa + n * PAGE < end ? this.byStart.get(gpa + n * PAGE) : undefined;
    if (after) {
      this.removeFree(gpa + n * PAGE, after.pages);
      pages += after.pages;
    }
    if (block.used === 0) {
      // free ranges in a block are always coalesced, so this one is the whole block
      if (start !== base || pages !== 2 ** block.order) throw new Error(`osv page ranges: block 0x${base.toString(16)} is free but not whole (internal error)`);
      this.blocks.delete(base);
      this.give(base, block.order);
      return;
    }
    this.addFree(start, pages);
  }

  get blockCount(): number {
    return this.blocks.size;
  }

  /** Free ranges (start gPA, pages), for tier attribution. */
  freeRanges(): IterableIterator<[number, { pages: number; ver: number }]> {
    return this.byStart.entries();
  }

  private blockOf(gpa: number): { base: number; block: { order: number; used: number } } {
    for (let k = 0; k < RANGE_ORDERS; k++) {
      const base = gpa - (gpa % (PAGE * 2 ** k));
      const block = this.blocks.get(base);
      if (block && block.order === k) return { base, block };
    }
    throw new Error(`osv page ranges: gPA 0x${gpa.toString(16)} is in no block (internal error)`);
  }

  private addFree(start: number, pages: number): void {
    const ver = ++this.ver;
    this.byStart.set(start, { pages, ver });
    this.byEnd.set(start + pages * PAGE, start);
    const list = this.lists[Math.min(floorLog2(pages), RANGE_ORDERS - 1)];
    list.push([start, ver]);
    // drop stale entries now and then so a list that is never taken from stays small
    if (list.length > 64 && list.length > 4 * this.byStart.size) {
      const live = list.filter(([s, v]) => this.byStart.get(s)?.ver === v);
      list.length = 0;
      list.push(...live);
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
  private readonly poolPages = new Map<number, PoolPage>();
  private readonly wholePages = new Map<number, WholePage>();
  private readonly large = new Map<number, LargeObject>();
  private readonly mapped = new Map<number, MappedObject>();
  /**
   * Pages released by a pool (va -> class), to call a later free of one of their objects
   * a double free. Kept when the frame is reused: they are asked only about addresses
   * that no live allocation covers. Bounded like `freedHistory`.
   */
  private readonly releasedPoolPages = new Map<number, number>();
  /** Recently freed whole-page, large and mapped objects (insertion-ordered, bounded). */
  private readonly freedHistory = new Map<number, true>();
  private readonly ranges: PageRanges;
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
    this.pagePools = options.pagePools ?? true;
    const core = vm.sim.core;
    core.slabHeapCreate(this.heap, 12);
    // malloc_pools[n] for n = 3..10: objects of 2^n bytes (compute_object_size)
    for (let cls = 3; cls <= 10; cls++) {
      const size = 2 ** cls;
      // pool::add_page: objects at page + page_size - k * size while they stay past the header
      const perPage = Math.floor((PAGE - OSV.POOL_HEADER) / size);
      core.slabClassCreate(this.heap, cls, size, OSV.POOL_HEADER, true);
      this.pools[cls] = { cls, size, perPage, firstOff: PAGE - perPage * size, front: null, back: null, pages: 0 };
    }
    const guest = vm.guest;
    this.ranges = new PageRanges(
      (order) => guest.allocFrames(order, 0),
      (gpa, order) => guest.freeFrames(gpa, order),
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
      this.wholePages.set(va, { gpa, requested: size });
      bytes = PAGE;
    } else {
      // malloc_large(size, 16, block = true, contiguous = false)
      const total = Math.ceil((size + OSV.LARGE_OFFSET) / PAGE) * PAGE;
      const pages = total / PAGE;
      const gpa = total < OSV.HUGE_PAGE ? this.ranges.alloc(pages) : null;
      if (gpa !== null) {
        va = this.vm.guest.linear(gpa) + OSV.LARGE_OFFSET;
        this.large.set(va, { gpa, pages, requested: size });
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
      const page: PoolPage = { va: base, gpa, cls, nalloc: 0, reqSum: 0, req: new Uint16Array(pool.perPage), listed: false, prev: null, next: null };
      this.poolPages.set(base, page);
      pool.pages++;
      this.pushFront(pool, page); // push_back onto an empty list
      va = core.slabAlloc(this.heap, cls);
      if (va === null) throw new Error(`osv: slab class ${cls} is empty after adding a page (internal error)`);
    }
    const base = va - (va % PAGE);
    const page = this.poolPages.get(base);
    // the core takes from the front page of the class's list, as pool::alloc does from _free->begin()
    if (!page || page !== pool.front) throw new Error(`osv: core slab page 0x${base.toString(16)} is not the front of pool ${pool.size} (internal error)`);
    page.req[(va - base - pool.firstOff) / pool.size] = size + 1;
    page.nalloc++;
    page.reqSum += size;
    if (page.nalloc === pool.perPage) this.unlink(pool, page); // no local_free left: _free->erase
    return va;
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
    const page = this.poolPages.get(base);
    if (page) return this.poolFree(page, va);
    const whole = this.wholePages.get(va);
    if (whole) {
      this.wholePages.delete(va);
      this.freePage(whole.gpa);
      this.release(va, whole.requested, PAGE);
      return;
    }
    const big = this.large.get(va);
    if (big) {
      // free_large: the page range goes back to free_page_ranges
      this.large.delete(va);
      this.ranges.free(big.gpa, big.pages);
      this.largePages -= big.pages;
      this.release(va, big.requested, big.pages * PAGE);
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
    remember(this.freedHistory, va, true);
  }

  private poolFree(page: PoolPage, va: number): void {
    const why = this.poolWhyNot(page, va);
    if (why !== "ok") throw new InvalidFree(va, why);
    const pool = this.pools[page.cls];
    const idx = (va - page.va - pool.firstOff) / pool.size;
    const req = page.req[idx];
    const core = this.vm.sim.core;
    const st = core.slabFree(this.heap, va);
    if (st !== "ok") throw new Error(`osv: core slabFree(0x${va.toString(16)}) = ${st} for a live object (internal error)`);
    page.req[idx] = 0;
    page.nalloc--;
    page.reqSum -= req - 1;
    this.requested -= req - 1;
    this.allocated -= pool.size;
    this.live--;
    this.frees++;
    // pool::free_same_cpu: an empty page goes back to the page allocator when the back
    // of _free is an empty page (have_full_pages(); that may be this page itself)
    if (page.nalloc === 0 && pool.back !== null && pool.back.nalloc === 0) {
      this.unlink(pool, page);
      if (!core.slabRemovePage(this.heap, page.va)) throw new Error(`osv: core kept pool page 0x${page.va.toString(16)} (internal error)`);
      this.poolPages.delete(page.va);
      remember(this.releasedPoolPages, page.va, page.cls);
      pool.pages--;
      this.freePage(page.gpa);
      return;
    }
    // a full page (no local_free) goes back on the front of _free, as the core does
    if (!page.listed) this.pushFront(pool, page);
  }

  /** Why `va` is no live allocation's start. */
  private whyNot(va: number): InvalidFreeReason {
    const base = va - (va % PAGE);
    if (this.wholePages.has(base)) return "misaligned";
    // a large object: its header page is at most 510 pages below va
    for (let p = base, n = 0; n < OSV.LARGE_MAX_PAGES && p >= 0; n++, p -= PAGE) {
      const big = this.large.get(p + OSV.LARGE_OFFSET);
      if (big) {
        if (va < p + big.pages * PAGE) return "misaligned";
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
    const page = this.poolPages.get(base);
    if (page) {
      const why = this.poolWhyNot(page, va);
      if (why === "ok") return this.pools[page.cls].size;
      throw new RangeError(`usableSize: 0x${va.toString(16)} is not a live allocation (${why})`);
    }
    if (this.wholePages.has(va)) return PAGE;
    const big = this.large.get(va);
    if (big) return big.pages * PAGE - OSV.LARGE_OFFSET;
    const m = this.mapped.get(va);
    if (m) return m.bytes - OSV.LARGE_OFFSET;
    const why = Number.isSafeInteger(va) && va > 0 ? this.whyNot(va) : "foreign";
    throw new RangeError(`usableSize: ${Number.isFinite(va) ? "0x" + va.toString(16) : va} is not a live allocation (${why})`);
  }

  /** Why `va`, in the live pool page `page`, is no live object: "ok" when it is one. */
  private poolWhyNot(page: PoolPage, va: number): InvalidFreeReason | "ok" {
    const pool = this.pools[page.cls];
    const off = va - page.va - pool.firstOff;
    if (off < 0 || off % pool.size !== 0) return "misaligned";
    return page.req[off / pool.size] === 0 ? "double-free" : "ok";
  }

  // ---- OSv's _free list of a pool ------------------------------------------------------

  private pushFront(pool: Pool, page: PoolPage): void {
    page.prev = null;
    page.next = pool.front;
    if (pool.front) pool.front.prev = page;
    else pool.back = page;
    pool.front = page;
    page.listed = true;
  }

  private unlink(pool: Pool, page: PoolPage): void {
    if (!page.listed) return;
    if (page.prev) page.prev.next = page.next;
    else pool.front = page.next;
    if (page.next) page.next.prev = page.prev;
    else pool.back = page.prev;
    page.prev = page.next = null;
    page.listed = false;
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
    while (this.l2.length < this.l2Max / 2) {
      const batch: number[] = [];
      for (let i = 0; i < OSV.BATCH; i++) {
        const g = this.ranges.alloc(1);
        if (g === null) {
          for (const x of batch) this.ranges.free(x, 1);
          return made;
        }
        batch.push(g);
      }
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
    const metadata = pool * OSV.POOL_HEADER + (this.large.size + this.mapped.size) * OSV.LARGE_OFFSET;
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
      wholePages: this.wholePages.size,
      largeObjects: this.large.size,
      largePages: this.largePages,
      mappedObjects: this.mapped.size,
      mappedBytes: this.mappedBytes,
      l1Pages: l1,
      l2Batches: l2,
      rangeSlackPages: slack,
      bufferedBytes: (l1 + l2 * OSV.BATCH + slack) * PAGE,
    };
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
    const tierOf = (gpa: number): TierBytes => {
      const backed = alive ? this.vm.hv.lookup(this.vm.id, gpa) : null;
      let name = backed?.tier;
      if (!name) name = nodes.find((n) => gpa >= n.base && gpa < n.base + n.bytes)?.tier ?? nodes[0].tier;
      return (out[name] ??= { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 });
    };
    // a span of frames from gPA `gpa`, `bytes` long, at `va`; `req` the requested bytes' virtual range
    const span = (va: number, gpa: number, bytes: number, allocated: boolean, reqStart = 0, reqEnd = 0): void => {
      for (let off = 0; off < bytes; off += PAGE) {
        const t = tierOf(gpa + off);
        t.heldBytes += PAGE;
        if (!allocated) continue;
        t.allocatedBytes += PAGE;
        const lo = Math.max(va + off, reqStart);
        const hi = Math.min(va + off + PAGE, reqEnd);
        if (hi > lo) t.requestedBytes += hi - lo;
      }
    };
    for (const p of this.poolPages.values()) {
      const t = tierOf(p.gpa);
      t.heldBytes += PAGE;
      t.allocatedBytes += p.nalloc * this.pools[p.cls].size;
      t.requestedBytes += p.reqSum;
    }
    for (const [va, w] of this.wholePages) span(va, w.gpa, PAGE, true, va, va + w.requested);
    for (const [va, b] of this.large) {
      const start = va - OSV.LARGE_OFFSET;
      span(start, b.gpa, b.pages * PAGE, true, va, va + b.requested);
    }
    for (const [va, m] of this.mapped) {
      for (const [pva, pg] of m.vma.mapped) span(pva, pg.gpa, [PAGE, 2 ** 21, 2 ** 30][pg.size], true, va, va + m.requested);
    }
    for (const g of this.l1) span(0, g, PAGE, false);
    for (const b of this.l2) for (const g of b) span(0, g, PAGE, false);
    for (const [g, r] of this.ranges.freeRanges()) span(0, g, r.pages * PAGE, false);
    return out;
  }
}
