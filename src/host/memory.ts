/**
 * Host physical memory: the memory tiers laid out in host-physical address space, each
 * with its own buddy allocator of 4 KiB / 2 MiB / 1 GiB frames.
 *
 * Layout (a modelling choice, not a measured fact): the first tier starts at
 * 0x1_0000_0000 (4 GiB) and every next tier at the first 1 GiB boundary after the end of
 * the previous one. The 4 GiB below the first tier are left empty, standing in for a
 * real machine's low memory and PCI hole (nothing is modelled there); the 1 GiB
 * alignment lets every tier hold 1 GiB frames aligned in host-physical space. The whole
 * layout must end at or below 2^46 (the core's physical-address limit).
 *
 * Capacities are positive multiples of 2 MiB (so that a tier is a whole number of the
 * large frames the guests and the EPT use; real tier sizes are whole GiB anyway, and
 * 2 MiB granularity lets tests build small hosts). A capacity that is not a multiple of
 * 1 GiB simply has no 1 GiB frame in its tail; the gap up to the next tier's base
 * belongs to no tier.
 *
 * The tiers are kept in the order given; `ranges()` returns them in that order, which is
 * the tier index the core counts accesses by (`CoreConfig.tiers`). The core accepts at
 * most `MAX_TIERS` ranges; this class itself does not limit the number of tiers.
 *
 * @example
 * const host = new HostMemory([{ name: "dram", capacity: 64 * GIB }, { name: "nvm", capacity: 512 * GIB }]);
 * host.ranges();                     // [{ base: 0x100000000, size: 64 GiB }, { base: 0x1100000000, size: 512 GiB }]
 * const f = host.alloc("dram", 9);   // a 2 MiB frame in DRAM, or null
 * const g = host.allocWithFallback(9, ["dram", "nvm"], true); // { hpa, tier, order } or null
 * host.tierOf(f!);                   // "dram"
 * host.free(f!, 9);
 */

import type { TierRange } from "../core/types.js";
import { BuddyAllocator, checkOrder, GIB, hex, HPA_LIMIT, MAX_ORDER, MIB, ORDER_1G, ORDER_2M, ORDER_4K, sizeName } from "./buddy.js";

/** Host-physical base of the first tier: 4 GiB, leaving room for a real machine's low memory hole. */
export const HOST_PHYS_BASE = 4 * GIB;
/** Every tier starts on a 1 GiB boundary so that it can hold aligned 1 GiB frames. */
export const TIER_ALIGN = GIB;
/** Tier capacities are multiples of this (2 MiB). */
export const CAPACITY_UNIT = 2 * MIB;

/** The orders of x86-64 page sizes, largest first: where `allocWithFallback` may fall back to. */
const PAGE_ORDERS = [ORDER_1G, ORDER_2M, ORDER_4K] as const;
/** For each order, the page-size orders below it, largest first. */
const SMALLER_PAGE_ORDERS: readonly (readonly number[])[] = Array.from({ length: MAX_ORDER + 1 }, (_, k) => PAGE_ORDERS.filter((o) => o < k));
const NONE: readonly number[] = [];

/** Estimated fixed bytes of a `HostMemory` besides its allocators. */
const FIXED_BYTES = 256;
/** Estimated fixed bytes per tier besides its allocator (layout record, name). */
const TIER_BYTES = 128;

/** One tier as configured. */
export interface TierSpec {
  /** A unique, non-empty name ("dram", "nvm", "cxl", ...). */
  name: string;
  /** Bytes; a positive multiple of 2 MiB. */
  capacity: number;
}

/** One tier as laid out. */
export interface TierLayout {
  /** Position in the configured order (the core's tier index). */
  index: number;
  name: string;
  /** First host-physical address (a multiple of 1 GiB). */
  base: number;
  /** Bytes (the configured capacity). */
  size: number;
}

/** A frame handed out by `allocWithFallback`. */
export interface AllocResult {
  hpa: number;
  tier: string;
  /** The order actually allocated (smaller than asked when it fell back to a smaller order). */
  order: number;
}

export interface FallbackOptions {
  /**
   * What to give up first when the preferred tier has no block of the requested order:
   * `"tier"` (default) keeps the tier and tries smaller orders there before trying the
   * next tier; `"size"` keeps the order and tries every tier before trying smaller
   * orders. The default follows Linux THP, which tries a huge page on the local node and
   * then falls back to small pages rather than to a remote huge page (commit 077fcf116c8c
   * "mm/thp: Allocate transparent hugepages on local node", 2015: "allocating pages on
   * local node is more beneficial than allocating hugepages on remote node"): a slower
   * tier costs on every access, a smaller page only on TLB misses. Only matters when
   * `allowSmaller` is true.
   */
  prefer?: "tier" | "size";
}

/** Frames in use and bytes of one tier. */
export interface TierUsage {
  name: string;
  index: number;
  base: number;
  capacity: number;
  bytesUsed: number;
  bytesFree: number;
  /** Allocated blocks of order 0 (4 KiB frames). */
  frames4k: number;
  /** Allocated blocks of order 9 (2 MiB frames). */
  frames2m: number;
  /** Allocated blocks of order 18 (1 GiB frames). */
  frames1g: number;
  /** Allocated blocks per order 0..18 (other orders than the three page sizes included). */
  blocksByOrder: number[];
  /** The largest order with a free block, -1 when the tier is full. */
  largestFreeOrder: number;
  /** Free bytes in blocks smaller than 2 MiB: free, yet useless to a 2 MiB request. */
  unusableFor2M: number;
  /** Free bytes in blocks smaller than 1 GiB. */
  unusableFor1G: number;
}

export interface HostMemoryStats {
  capacity: number;
  bytesUsed: number;
  bytesFree: number;
  /** Successful allocations (`alloc` and `allocWithFallback`). */
  allocs: number;
  frees: number;
  /** Allocation requests that returned null. */
  failures: number;
  /** `allocWithFallback` results in another tier than the first of `tierOrder`. */
  tierFallbacks: number;
  /** `allocWithFallback` results of a smaller order than requested. */
  smallerFallbacks: number;
  tiers: TierUsage[];
}

/** A problem of one tier as configured ({@link tierLayout}): the field, its value, what is allowed ("expected ..."). */
export interface TierIssue {
  index: number;
  field: "name" | "capacity";
  value: unknown;
  allowed: string;
}

/**
 * Where `tiers` go in host-physical memory, and every problem the constructor would
 * refuse them for (names non-empty and unique; capacities positive multiples of 2 MiB;
 * the layout below 2^46), without allocating anything: callers check a configuration
 * with it before they build one. A tier with a problem is left out of the layout.
 *
 * @example
 * tierLayout([{ name: "dram", capacity: 3 * MIB }]).issues[0]; // { index: 0, field: "capacity", value: 3145728, allowed: "expected a positive multiple of 2 MiB (2097152) bytes" }
 */
export function tierLayout(tiers: readonly TierSpec[]): { layout: TierLayout[]; issues: TierIssue[] } {
  const layout: TierLayout[] = [];
  const issues: TierIssue[] = [];
  const names = new Set<string>();
  let base = HOST_PHYS_BASE;
  tiers.forEach((t, i) => {
    const name: unknown = t?.name;
    if (typeof name !== "string" || name.length === 0) {
      issues.push({ index: i, field: "name", value: name, allowed: "expected a non-empty string" });
      return;
    }
    if (names.has(name)) {
      issues.push({ index: i, field: "name", value: name, allowed: "tier names must be unique; expected a name no tier before it has" });
      return;
    }
    names.add(name);
    const capacity: unknown = t.capacity;
    if (typeof capacity !== "number" || !Number.isSafeInteger(capacity) || capacity <= 0 || capacity % CAPACITY_UNIT !== 0) {
      issues.push({ index: i, field: "capacity", value: capacity, allowed: `expected a positive multiple of 2 MiB (${CAPACITY_UNIT}) bytes` });
      return;
    }
    if (base + capacity > HPA_LIMIT) {
      issues.push({
        index: i,
        field: "capacity",
        value: capacity,
        allowed: `tier "${name}" would end at ${hex(base + capacity)}, past the host-physical limit 2^46 (${hex(HPA_LIMIT)}); expected at most ${sizeName(HPA_LIMIT - base)} from ${hex(base)}, not ${sizeName(capacity)}`,
      });
      return;
    }
    layout.push({ index: i, name, base, size: capacity });
    base = Math.ceil((base + capacity) / TIER_ALIGN) * TIER_ALIGN;
  });
  return { layout, issues };
}

export class HostMemory {
  /** The tiers in configured order, with their host-physical placement. */
  readonly tiers: readonly TierLayout[];
  private readonly buddies: BuddyAllocator[];
  private readonly byName = new Map<string, number>();
  private allocs = 0;
  private frees = 0;
  private failures = 0;
  private tierFallbacks = 0;
  private smallerFallbacks = 0;
  /** Gives back frames reserved ahead (`holdUntilTouched`). */
  private held: (() => void) | null = null;

  /**
   * @param tiers at least one tier; names unique; capacities positive multiples of 2 MiB;
   *   the layout must end at or below 2^46.
   * @example new HostMemory([{ name: "dram", capacity: 16 * GIB }])
   */
  constructor(tiers: readonly TierSpec[]) {
    if (!Array.isArray(tiers) || tiers.length === 0) {
      throw new RangeError(`tiers: ${JSON.stringify(tiers)} is not allowed; expected a non-empty array of { name, capacity }`);
    }
    const { layout, issues } = tierLayout(tiers);
    const first = issues[0];
    if (first) {
      const v = first.field === "name" ? JSON.stringify(first.value) : String(first.value);
      throw new RangeError(`tiers[${first.index}].${first.field}: ${v} is not allowed; ${first.allowed}`);
    }
    layout.forEach((t) => this.byName.set(t.name, t.index));
    this.tiers = layout;
    this.buddies = layout.map((t) => new BuddyAllocator(t.base, t.size));
  }

  /**
   * Tier names in configured order.
   * @example host.tierNames() // ["dram", "nvm"]
   */
  tierNames(): string[] {
    return this.tiers.map((t) => t.name);
  }

  /**
   * The index of a tier by name; throws listing the known names when it is unknown.
   * @example host.tierIndex("nvm") // 1
   */
  tierIndex(name: string): number {
    const i = this.byName.get(name);
    if (i === undefined) {
      throw new RangeError(`tier: ${JSON.stringify(name)} is not allowed; known tiers: ${this.tierNames().join(", ")}`);
    }
    return i;
  }

  /**
   * The name of the tier holding `hpa`, or null for an address in no tier.
   * @example host.tierOf(0x1_0000_0000) // the first tier's name
   */
  tierOf(hpa: number): string | null {
    const i = this.tierIndexOf(hpa);
    return i < 0 ? null : this.tiers[i]!.name;
  }

  /**
   * The index of the tier holding `hpa`, or -1 for an address in no tier.
   * @example host.tierIndexOf(0) // -1: below the first tier
   */
  tierIndexOf(hpa: number): number {
    if (!Number.isSafeInteger(hpa) || hpa < 0) {
      throw new RangeError(`hpa: ${hpa} is not allowed; expected an integer >= 0`);
    }
    // Linear: hosts have a handful of tiers.
    for (const t of this.tiers) if (hpa >= t.base && hpa < t.base + t.size) return t.index;
    return -1;
  }

  /**
   * The tiers' host-physical ranges in tier order, for `CoreConfig.tiers`.
   * @example host.ranges() // [{ base: 0x100000000, size: 68719476736 }, ...]
   */
  ranges(): TierRange[] {
    return this.tiers.map((t) => ({ base: t.base, size: t.size }));
  }

  /**
   * A block of `order` (0 = 4 KiB, 9 = 2 MiB, 18 = 1 GiB) from one tier: its host-physical
   * address, or null when that tier has no free block of that order (fragmentation
   * included); no other tier is tried.
   * @example host.alloc("dram", 0) // 0x100000000 on a fresh host
   */
  alloc(tier: string, order: number): number | null {
    this.settle();
    const i = this.tierIndex(tier);
    checkOrder(order, "alloc: order");
    const hpa = this.buddies[i]!.alloc(order);
    if (hpa === null) this.failures++;
    else this.allocs++;
    return hpa;
  }

  /**
   * A block of `order` from the first tier of `tierOrder` that has one; with
   * `allowSmaller`, also the smaller page-size orders (1 GiB -> 2 MiB -> 4 KiB; any other
   * order falls back to the page-size orders below it). Returns null when nothing fits:
   * the caller turns that into the out-of-memory event the guest sees. See
   * `FallbackOptions.prefer` for whether a tier or the size is given up first.
   * @example host.allocWithFallback(9, ["dram", "nvm"], true) // { hpa, tier: "dram", order: 9 }
   */
  allocWithFallback(order: number, tierOrder: readonly string[], allowSmaller: boolean, opts: FallbackOptions = {}): AllocResult | null {
    this.settle();
    checkOrder(order, "allocWithFallback: order");
    if (!Array.isArray(tierOrder) || tierOrder.length === 0) {
      throw new RangeError(
        `tierOrder: ${JSON.stringify(tierOrder)} is not allowed; expected a non-empty array of tier names (known tiers: ${this.tierNames().join(", ")})`,
      );
    }
    for (let i = 0; i < tierOrder.length; i++) this.tierIndex(tierOrder[i]!); // every name must be known
    if (typeof allowSmaller !== "boolean") {
      throw new RangeError(`allowSmaller: ${String(allowSmaller)} is not allowed; expected true or false`);
    }
    const prefer = opts.prefer ?? "tier";
    if (prefer !== "tier" && prefer !== "size") {
      throw new RangeError(`prefer: ${JSON.stringify(prefer)} is not allowed; expected "tier" or "size"`);
    }
    // The candidates in preference order: (tier, order) pairs, tier-major or order-major;
    // indices rather than arrays (a hypervisor calls this on every fault).
    const smaller = allowSmaller ? SMALLER_PAGE_ORDERS[order]! : NONE;
    const orders = 1 + smaller.length;
    const first = this.tierIndex(tierOrder[0]!);
    const tierMajor = prefer === "tier";
    const outer = tierMajor ? tierOrder.length : orders;
    const inner = tierMajor ? orders : tierOrder.length;
    for (let a = 0; a < outer; a++) {
      for (let b = 0; b < inner; b++) {
        const i = tierMajor ? a : b;
        const j = tierMajor ? b : a;
        const t = i === 0 ? first : this.tierIndex(tierOrder[i]!);
        const o = j === 0 ? order : smaller[j - 1]!;
        const hpa = this.buddies[t]!.alloc(o);
        if (hpa === null) continue;
        this.allocs++;
        if (t !== first) this.tierFallbacks++;
        if (o < order) this.smallerFallbacks++;
        return { hpa, tier: this.tiers[t]!.name, order: o };
      }
    }
    this.failures++;
    return null;
  }

  /**
   * `allocWithFallback(order, names, false)` with the tiers given by index (`tierIndex`)
   * instead of by name: the same block and the same counts, without resolving names. For
   * a hypervisor that resolves its tier order once and allocates on every fault.
   * @example host.allocInTiers(0, [0, 1]) // { hpa, tier: "dram", order: 0 }
   */
  allocInTiers(order: number, tiers: readonly number[]): AllocResult | null {
    this.settle();
    checkOrder(order, "allocInTiers: order");
    if (tiers.length === 0) throw new RangeError("tiers: expected at least one tier index");
    for (let i = 0; i < tiers.length; i++) {
      if (this.buddies[tiers[i]!] === undefined) throw new RangeError(`tiers[${i}]: ${tiers[i]} is not allowed; expected a tier index in 0..${this.buddies.length - 1}`);
    }
    for (let i = 0; i < tiers.length; i++) {
      const t = tiers[i]!;
      const hpa = this.buddies[t]!.alloc(order);
      if (hpa === null) continue;
      this.allocs++;
      if (i > 0 && t !== tiers[0]) this.tierFallbacks++;
      return { hpa, tier: this.tiers[t]!.name, order };
    }
    this.failures++;
    return null;
  }

  /**
   * Returns a block to its tier. Throws (and changes nothing) for an address in no tier,
   * a misaligned address, a double free or the wrong order.
   * @example host.free(hpa, 9)
   */
  free(hpa: number, order: number): void {
    this.settle();
    checkOrder(order, "free: order");
    const i = this.tierIndexOf(hpa);
    if (i < 0) {
      const list = this.tiers.map((t) => `${t.name} ${hex(t.base)}..${hex(t.base + t.size - 1)}`).join(", ");
      throw new RangeError(`free: hpa ${hex(hpa)} is not allowed; it lies in no tier (tiers: ${list})`);
    }
    this.buddies[i]!.free(hpa, order);
    this.frees++;
  }

  /**
   * Draws up to `n` 4 KiB frames of tier `tier` (an index) into `out` from index `at`, in
   * the order `n` calls of `alloc` would return them, and counts nothing: frames held for
   * the core to take one fault at a time (src/host/first-touch.ts). Returns how many it
   * drew. Count the ones taken with `countTaken` and give back the rest with `unreserve`
   * before anything else allocates (see `holdUntilTouched`): the tier is then as if only
   * the taken ones had been allocated, by `alloc` calls.
   * @example const n = host.reserve(0, 64, frames);
   */
  reserve(tier: number, n: number, out: Float64Array, at = 0): number {
    const b = this.buddies[tier];
    if (!b) throw new RangeError(`reserve: tier ${tier} is not allowed; expected a tier index in 0..${this.buddies.length - 1}`);
    return b.allocFrames(n, out, at);
  }

  /**
   * Calls `release` once, before the next call that allocates, frees or reports (all
   * but the reservation's own and the layout's): the holder of reserved frames gives
   * them back there, so that nothing sees them or comes between them.
   * @example host.holdUntilTouched(() => host.unreserve(frames, 0, n));
   */
  holdUntilTouched(release: () => void): void {
    this.held = release;
  }

  private settle(): void {
    const release = this.held;
    if (release) {
      this.held = null;
      release();
    }
  }

  /**
   * Gives back reserved frames `frames[from..to)` uncounted (a buddy allocator's free
   * lists are canonical: the tier is as if they had never been drawn).
   * @example host.unreserve(frames, taken, n);
   */
  unreserve(frames: Float64Array, from: number, to: number): void {
    for (let i = to - 1; i >= from; i--) this.buddies[this.tierIndexOf(frames[i]!)]!.free(frames[i]!, 0);
  }

  /**
   * Counts `n` reserved frames as allocations: the ones taken.
   * @example host.countTaken(taken);
   */
  countTaken(n: number): void {
    this.allocs += n;
  }

  /**
   * Whether `hpa` is the start of a block allocated with `order`.
   * @example host.isAllocated(hpa, 0)
   */
  isAllocated(hpa: number, order: number): boolean {
    this.settle();
    checkOrder(order, "isAllocated: order");
    const i = this.tierIndexOf(hpa);
    return i >= 0 && this.buddies[i]!.isAllocated(hpa, order);
  }

  /**
   * Whether `alloc(tier, order)` would succeed now.
   * @example host.canAlloc("dram", 18)
   */
  canAlloc(tier: string, order: number): boolean {
    this.settle();
    return this.buddies[this.tierIndex(tier)]!.canAlloc(order);
  }

  /**
   * Frames in use by size, bytes used and free, and fragmentation of one tier.
   * @example host.usage("dram").frames2m
   */
  usage(tier: string): TierUsage {
    this.settle();
    const i = this.tierIndex(tier);
    const b = this.buddies[i]!;
    const s = b.stats();
    const f = b.fragmentation();
    const t = this.tiers[i]!;
    return {
      name: t.name,
      index: i,
      base: t.base,
      capacity: t.size,
      bytesUsed: s.usedBytes,
      bytesFree: s.freeBytes,
      frames4k: s.allocatedBlocks[ORDER_4K]!,
      frames2m: s.allocatedBlocks[ORDER_2M]!,
      frames1g: s.allocatedBlocks[ORDER_1G]!,
      blocksByOrder: s.allocatedBlocks,
      largestFreeOrder: s.largestFreeOrder,
      unusableFor2M: f.unusableFor2M,
      unusableFor1G: f.unusableFor1G,
    };
  }

  /**
   * Host-wide totals, event counts and per-tier usage.
   * @example host.stats().tierFallbacks
   */
  stats(): HostMemoryStats {
    this.settle();
    const tiers = this.tiers.map((t) => this.usage(t.name));
    let capacity = 0;
    let bytesUsed = 0;
    for (const u of tiers) {
      capacity += u.capacity;
      bytesUsed += u.bytesUsed;
    }
    return {
      capacity,
      bytesUsed,
      bytesFree: capacity - bytesUsed,
      allocs: this.allocs,
      frees: this.frees,
      failures: this.failures,
      tierFallbacks: this.tierFallbacks,
      smallerFallbacks: this.smallerFallbacks,
      tiers,
    };
  }

  /**
   * Gives back the allocators' storage kept for reuse (see `BuddyAllocator.trim`), e.g.
   * after destroying many VMs.
   * @example host.trim()
   */
  trim(): void {
    this.settle();
    for (const b of this.buddies) b.trim();
  }

  /**
   * Estimated bytes of the frame allocators' own memory (not of the modelled memory).
   * @example host.bytesOverhead() // ~12-35 KiB per fresh tier (1 GiB .. 60 TiB)
   */
  bytesOverhead(): number {
    this.settle();
    let n = FIXED_BYTES;
    for (const b of this.buddies) n += TIER_BYTES + b.bytesOverhead();
    return n;
  }
}
