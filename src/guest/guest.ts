/**
 * The unikernel's memory manager (the front-end): guest-physical page allocation per
 * node, page tables, the linear map of physical memory, virtual memory areas and
 * the page-fault handler. Allocators (src/guest/malloc/) and processes build on it.
 *
 * Like OSv, the guest maps all of its physical memory once, at LINEAR_BASE + gPA, with
 * large pages (OSv's `phys_mem` map; 2 MiB pages, since OSv never uses 1 GiB ones);
 * malloc hands out linear-map addresses. Anonymous mappings (mmap) live in their own
 * range and are faulted in by the policy: `osv` maps a 2 MiB page when the fault is in
 * the 2 MiB-aligned interior of the mapping and a 2 MiB frame is free, else 4 KiB
 * (REFERENCE.md section 2); a mapping may also ask to be populated at once.
 *
 * Everything runs at CPL 0 with user-accessible (U=1) pages, so that protection keys
 * (which apply to U=1 pages only) can guard memory, as the Iso-UniK model needs.
 *
 * @example
 * const guest = new GuestOs(sim, 0, { policy: "ucat" });
 * const gpa = guest.allocFrames(9, "dram");     // a 2 MiB frame on the DRAM node
 * const va = guest.linear(gpa);
 */
import type { PageSizeCode } from "../core/types.js";
import { PAGE_BYTES } from "../core/types.js";
import type { WasmCore } from "../core/wasm.js";
import { BuddyAllocator, ORDER_2M, ORDER_4K } from "../host/buddy.js";
import type { GuestNode, Hypervisor } from "../host/hypervisor.js";

/** Virtual base of the linear map of guest-physical memory (OSv's phys_mem, 0xffff800000000000, without sign extension). */
export const LINEAR_BASE = 0x8000_0000_0000;
/** Virtual base of anonymous mappings (OSv's mmap area starts at 0x200000000000). */
export const MMAP_BASE = 0x2000_0000_0000;

export type GuestPolicy = "osv" | "ucat";

export interface GuestOptions {
  policy: GuestPolicy;
  /** Page size of the linear map: 1 (2 MiB, OSv) or 2 (1 GiB). Default 1. */
  linearPage?: PageSizeCode;
  /** Node (by tier name) for allocator metadata and page tables. Default: the first node. */
  metadataTier?: string;
}

export interface Vma {
  start: number;
  end: number;
  /** Node the mapping's frames come from. */
  node: number;
  /** Page size: "policy" lets the fault handler choose; or a fixed size code. */
  page: "policy" | PageSizeCode;
  writable: boolean;
  key: number;
  /** Frames mapped in it, by virtual page base. */
  mapped: Map<number, { gpa: number; size: PageSizeCode }>;
}

export interface GuestNodeState extends GuestNode {
  frames: BuddyAllocator;
}

export class GuestOutOfMemory extends Error {
  constructor(
    readonly vm: number,
    readonly what: string,
  ) {
    super(`vm ${vm}: out of guest memory (${what})`);
    this.name = "GuestOutOfMemory";
  }
}

export class SegmentationFault extends Error {
  constructor(
    readonly vm: number,
    readonly va: number,
  ) {
    super(`vm ${vm}: access to unmapped address 0x${va.toString(16)}`);
    this.name = "SegmentationFault";
  }
}

export class GuestOs {
  readonly nodes: GuestNodeState[];
  readonly policy: GuestPolicy;
  readonly metadataNode: number;
  /** The kernel's root table: the linear map; processes share its upper half. */
  readonly kernelRoot: number;
  private readonly vmas: Vma[] = [];
  private mmapNext = MMAP_BASE;
  /** Mappings made by mapFixed (mmap steps over them). */
  private fixedMaps = 0;
  /** Guest pages mapped, by size, and page-table pages taken. */
  readonly counts = { pages4k: 0, pages2m: 0, pages1g: 0, tablePages: 0 };

  constructor(
    readonly core: WasmCore,
    readonly hv: Hypervisor,
    readonly vm: number,
    readonly options: GuestOptions,
  ) {
    this.policy = options.policy;
    this.nodes = hv.nodes(vm).map((n) => ({ ...n, frames: new BuddyAllocator(n.base, n.bytes) }));
    const meta = options.metadataTier ? this.nodes.findIndex((n) => n.tier === options.metadataTier) : 0;
    this.metadataNode = Math.max(0, meta);
    this.ensureTableFrames();
    this.kernelRoot = core.gptNewRoot(vm);
    this.mapLinear();
  }

  /** Node index of a tier name. */
  nodeOf(tier: string): number {
    const i = this.nodes.findIndex((n) => n.tier === tier);
    if (i < 0) throw new RangeError(`tier: ${JSON.stringify(tier)} is no node of vm ${this.vm}; nodes: ${this.nodes.map((n) => n.tier).join(", ")}`);
    return i;
  }

  linear(gpa: number): number {
    return LINEAR_BASE + gpa;
  }

  /** Guest-physical frames of 4 KiB * 2^order from a node (default: the metadata node); null when full. */
  allocFrames(order: number, node = this.metadataNode): number | null {
    return this.nodes[node].frames.alloc(order);
  }

  /** `n` calls of `allocFrames(0, node)` at once (BuddyAllocator.allocFrames): the 4 KiB frames into `out` from `at`; returns how many. */
  allocPages(n: number, out: Float64Array, at = 0, node = this.metadataNode): number {
    return this.nodes[node].frames.allocFrames(n, out, at);
  }

  freeFrames(gpa: number, order: number): void {
    const n = this.nodes.find((x) => gpa >= x.base && gpa < x.base + x.bytes);
    if (!n) throw new RangeError(`gpa: 0x${gpa.toString(16)} is in no node of vm ${this.vm}`);
    n.frames.free(gpa, order);
  }

  /** Keeps 3 backed table frames queued for the core (the most one map can take). */
  ensureTableFrames(n = 3): void {
    for (let need = n - this.core.framesAvailable(this.vm).guest; need > 0; need--) {
      const gpa = this.allocFrames(ORDER_4K);
      if (gpa === null) throw new GuestOutOfMemory(this.vm, "page-table frame");
      if (!this.hv.back(this.vm, gpa)) throw new GuestOutOfMemory(this.vm, "host memory for a page-table frame");
      this.core.addGuestFrames(this.vm, [{ gpa, hpa: this.hv.hpaOf(this.vm, gpa)! }]);
      this.counts.tablePages++;
    }
  }

  /** Maps `count` pages of `size` at `va` to `gpa` onward in `root`, supplying table frames. */
  map(root: number, va: number, gpa: number, size: PageSizeCode, count: number, writable = true, key = 0): void {
    let done = 0;
    while (done < count) {
      this.ensureTableFrames(12);
      const step = PAGE_BYTES[size];
      const r = this.core.gptMapRange(this.vm, root, va + done * step, gpa + done * step, size, count - done, { w: writable, u: true, xd: false, g: false, key });
      done += r.mapped;
      if (r.status !== "ok" && r.status !== "no-frames") throw new Error(`vm ${this.vm}: gptMap at 0x${(va + done * step).toString(16)}: ${r.status}`);
    }
    const k = (["pages4k", "pages2m", "pages1g"] as const)[size];
    this.counts[k] += count;
  }

  /** The linear map of every node, with large pages, in the kernel root. */
  private mapLinear(): void {
    const size = this.options.linearPage ?? 1;
    const bytes = PAGE_BYTES[size];
    for (const n of this.nodes) {
      const whole = Math.floor(n.bytes / bytes);
      if (whole > 0) this.map(this.kernelRoot, this.linear(n.base), n.base, size, whole);
      // a tail smaller than the page size goes in 2 MiB pages (node sizes are 2 MiB multiples)
      const tail = n.bytes - whole * bytes;
      if (tail > 0) this.map(this.kernelRoot, this.linear(n.base + whole * bytes), n.base + whole * bytes, 1, tail / PAGE_BYTES[1]);
    }
    // the guest's page counts are about mappings it makes for memory it hands out
    this.counts.pages2m = this.counts.pages1g = 0;
  }

  // ---- anonymous mappings ------------------------------------------------------------

  /**
   * Reserves `bytes` of virtual space (rounded up to 2 MiB, aligned to 1 GiB when
   * `page` is 1 GiB, else 2 MiB) whose frames come from `node`; `populate` maps it now.
   */
  mmap(bytes: number, opts: { node?: number; page?: "policy" | PageSizeCode; populate?: boolean; writable?: boolean; key?: number; root?: number } = {}): Vma {
    if (!Number.isInteger(bytes) || bytes <= 0) throw new RangeError(`bytes: ${bytes} is not allowed; expected a positive integer`);
    const page = opts.page ?? "policy";
    const align = page === 2 ? PAGE_BYTES[2] : PAGE_BYTES[1];
    const grain = page === "policy" ? PAGE_BYTES[0] : PAGE_BYTES[page];
    const size = Math.ceil(bytes / grain) * grain;
    let start = Math.ceil(this.mmapNext / align) * align;
    // step over fixed mappings (mapFixed) in the way
    if (this.fixedMaps > 0) for (let o = this.overlap(start, start + size); o; o = this.overlap(start, start + size)) start = Math.ceil(o[1] / align) * align;
    const vma: Vma = { start, end: start + size, node: opts.node ?? 0, page, writable: opts.writable ?? true, key: opts.key ?? 0, mapped: new Map() };
    this.mmapNext = Math.ceil((start + size) / PAGE_BYTES[1]) * PAGE_BYTES[1];
    this.vmas.push(vma);
    if (opts.populate) {
      try {
        for (let va = start; va < vma.end; ) va = this.faultIn(vma, va, opts.root ?? this.kernelRoot);
      } catch (e) {
        // nothing half-done: what was populated goes back with the mapping
        this.munmap(vma, opts.root ?? this.kernelRoot);
        throw e;
      }
    }
    return vma;
  }

  /** Unmaps a mapping: its frames go back to their node; the TLBs are flushed for it. */
  munmap(vma: Vma, root = this.kernelRoot, vcpus: number[] = []): void {
    const i = this.vmas.indexOf(vma);
    if (i < 0) throw new RangeError("munmap: not a mapping of this guest");
    for (const [va, m] of vma.mapped) {
      this.core.gptUnmap(this.vm, root, va, m.size);
      this.freeFrames(m.gpa, m.size === 0 ? 0 : m.size === 1 ? 9 : 18);
      for (const v of vcpus) this.core.invlpg(v, va);
    }
    this.vmas.splice(i, 1);
  }

  // ---- fixed mappings (trace replay) ---------------------------------------------------

  /**
   * Creates a mapping at the fixed virtual range [start, end), like Linux's
   * mmap(MAP_FIXED_NOREPLACE); nothing is mapped until a fault. `page` as for `mmap`:
   * "policy" (the default) lets the fault handler choose (2 MiB in the 2 MiB-aligned
   * interior when a 2 MiB frame is free, else 4 KiB), a size code fixes it, and the range
   * must then be aligned to that size. Throws a RangeError (and maps nothing) when the
   * range is not 4 KiB-aligned, is empty, passes 2^48, or overlaps a mapping or the
   * linear map; `freeAround` finds room.
   *
   * @example
   * const vma = guest.mapFixed(0x400000, 0x40000000, { page: 1 }); // 2 MiB pages from the first node
   * guest.pageFault(0x401234);                                      // maps the 2 MiB page at 0x400000
   */
  mapFixed(start: number, end: number, opts: { node?: number; page?: "policy" | PageSizeCode; writable?: boolean; key?: number } = {}): Vma {
    const page = opts.page ?? "policy";
    const align = page === "policy" ? PAGE_BYTES[0] : PAGE_BYTES[page];
    const hex = (n: number): string => `0x${n.toString(16)}`;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start || end > 2 ** 48 || start % align !== 0 || end % align !== 0) {
      throw new RangeError(`mapFixed: [${hex(start)}, ${hex(end)}) is not allowed; expected a non-empty range below 2^48 aligned to ${align} B`);
    }
    const node = opts.node ?? 0;
    if (!Number.isInteger(node) || node < 0 || node >= this.nodes.length) throw new RangeError(`mapFixed: node ${node} is not allowed; expected 0..${this.nodes.length - 1}`);
    const o = this.overlap(start, end);
    if (o) throw new RangeError(`mapFixed: [${hex(start)}, ${hex(end)}) overlaps [${hex(o[0])}, ${hex(o[1])}) (a mapping or the linear map)`);
    const vma: Vma = { start, end, node, page, writable: opts.writable ?? true, key: opts.key ?? 0, mapped: new Map() };
    this.vmas.push(vma);
    this.fixedMaps++;
    return vma;
  }

  /**
   * The largest range [start, end) inside [lo, hi) holding `va` that no mapping and no
   * part of the linear map covers, or null when `va` itself is covered.
   */
  freeAround(va: number, lo: number, hi: number): { start: number; end: number } | null {
    let start = lo;
    let end = hi;
    for (const [s, e] of this.occupied()) {
      if (s <= va && va < e) return null;
      if (e <= va) start = Math.max(start, e);
      else end = Math.min(end, s);
    }
    return start < end ? { start, end } : null;
  }

  /** Ranges of virtual space in use: the mappings and the linear map of each node. */
  private occupied(): [number, number][] {
    const out: [number, number][] = this.nodes.map((n) => [this.linear(n.base), this.linear(n.base + n.bytes)]);
    for (const v of this.vmas) out.push([v.start, v.end]);
    return out;
  }

  /** The first occupied range that overlaps [start, end), if any. */
  private overlap(start: number, end: number): [number, number] | undefined {
    return this.occupied().find(([s, e]) => s < end && start < e);
  }

  vmaOf(va: number): Vma | undefined {
    return this.vmas.find((v) => va >= v.start && va < v.end);
  }

  /** The page size the fault policy picks for `va` in `vma`. */
  private pickSize(vma: Vma, va: number): PageSizeCode {
    if (vma.page !== "policy") return vma.page;
    // osv (and ucat for plain mappings): 2 MiB in the 2 MiB-aligned interior, else 4 KiB
    const b = va - (va % PAGE_BYTES[1]);
    if (b >= vma.start && b + PAGE_BYTES[1] <= vma.end && this.nodes[vma.node].frames.canAlloc(ORDER_2M)) return 1;
    return 0;
  }

  /** Maps the page of `vma` holding `va`; returns the end of that page. */
  faultIn(vma: Vma, va: number, root = this.kernelRoot): number {
    const size = this.pickSize(vma, va);
    const bytes = PAGE_BYTES[size];
    const base = va - (va % bytes);
    const order = size === 0 ? 0 : size === 1 ? 9 : 18;
    const gpa = this.allocFrames(order, vma.node);
    if (gpa === null) throw new GuestOutOfMemory(this.vm, `a ${bytes} B frame on node ${vma.node}`);
    try {
      // a large guest page asks the back-end for an EPT page as large (ucat: both layers)
      if (size > 0 && this.policy === "ucat" && !this.hv.back(this.vm, gpa, size)) {
        throw new GuestOutOfMemory(this.vm, `host memory for a ${bytes} B page`);
      }
      this.map(root, base, gpa, size, 1, vma.writable, vma.key);
    } catch (e) {
      this.freeFrames(gpa, order);
      throw e;
    }
    vma.mapped.set(base, { gpa, size });
    return base + bytes;
  }

  /** A not-present page fault at `va`: maps it if a mapping holds it. */
  pageFault(va: number, root = this.kernelRoot): void {
    const vma = this.vmaOf(va);
    if (!vma) throw new SegmentationFault(this.vm, va);
    this.faultIn(vma, va, root);
  }
}
