/**
 * Set-associative structures (TLBs, paging-structure caches, nested TLB) with the
 * replacement policies of docs/core.md section 3, and what their entries hold.
 */
import type { Geometry, PageSizeCode, Replacement } from "../../src/core/types.js";
import { PAGE_SHIFT } from "../../src/core/types.js";

/** xorshift32 (Marsaglia), the one random stream of a core; seed 0 becomes 0x9E3779B9. */
export class Xorshift32 {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x >>> 0;
    return this.x;
  }
}

/**
 * `sets` x `ways` slots. Each slot remembers a stamp: for `lru` the time of its last
 * use (hit or fill), for `fifo` the time of its fill. Fills take the lowest-numbered
 * invalid way first; otherwise the policy picks the victim.
 */
export class SetAssoc<T> {
  readonly sets: number;
  readonly ways: number;
  private readonly slots: (T | null)[];
  private readonly stamps: number[];
  private clock = 0;

  constructor(
    geometry: Geometry,
    private readonly policy: Replacement,
    private readonly rng: Xorshift32,
  ) {
    this.ways = geometry.ways;
    this.sets = geometry.entries / geometry.ways;
    this.slots = new Array<T | null>(geometry.entries).fill(null);
    this.stamps = new Array<number>(geometry.entries).fill(0);
  }

  /** The matching item of a set, marking it used (`lru` only), or null. */
  lookup(set: number, match: (item: T) => boolean): T | null {
    for (let w = 0; w < this.ways; w++) {
      const slot = set * this.ways + w;
      const item = this.slots[slot]!;
      if (item !== null && match(item)) {
        if (this.policy === "lru") this.stamps[slot] = ++this.clock;
        return item;
      }
    }
    return null;
  }

  /** Puts `item` in `set`; returns the item it evicted (null when a way was free). */
  insert(set: number, item: T): T | null {
    const base = set * this.ways;
    let way = -1;
    for (let w = 0; w < this.ways; w++) {
      if (this.slots[base + w] === null) {
        way = w;
        break;
      }
    }
    if (way < 0) {
      if (this.policy === "random") {
        way = this.rng.next() % this.ways;
      } else {
        // lru: least recently used; fifo: longest resident. Both are the smallest stamp.
        way = 0;
        for (let w = 1; w < this.ways; w++) if (this.stamps[base + w]! < this.stamps[base + way]!) way = w;
      }
    }
    const evicted = this.slots[base + way]!;
    this.slots[base + way] = item;
    this.stamps[base + way] = ++this.clock;
    return evicted;
  }

  /** Invalidates the items of one set (or of every set when `set` is undefined) that match. */
  remove(match: (item: T) => boolean, set?: number): void {
    const first = set === undefined ? 0 : set;
    const last = set === undefined ? this.sets - 1 : set;
    for (let s = first; s <= last; s++) {
      for (let w = 0; w < this.ways; w++) {
        const slot = s * this.ways + w;
        const item = this.slots[slot]!;
        if (item !== null && match(item)) this.slots[slot] = null;
      }
    }
  }
}

/** A structure with 0 entries is absent. */
export function makeSetAssoc<T>(g: Geometry | undefined | null, policy: Replacement, rng: Xorshift32): SetAssoc<T> | null {
  return g && g.entries > 0 ? new SetAssoc<T>(g, policy, rng) : null;
}

/** A TLB entry: one translation of a page of `size` (docs/core.md section 3). */
export interface Translation {
  vpid: number;
  pcid: number;
  global: boolean;
  size: PageSizeCode;
  /** Virtual page number at `size`. */
  vpn: number;
  /** Host and guest physical addresses of the page's first byte. */
  hpa: number;
  gpa: number;
  tier: number;
  /** Guest rights: AND of R/W and of U/S over the walk, OR of XD. */
  w: boolean;
  u: boolean;
  xd: boolean;
  /**
   * EPT rights of the data page (AND over its EPT walk). Reading: kept apart from the
   * guest's XD, so a fetch from a non-executable EPT page is an EPT violation on a hit
   * as in a walk (not a #PF through "XD = XD or not EPT X").
   */
  eptR: boolean;
  eptW: boolean;
  eptX: boolean;
  key: number;
  /** Guest D of the leaf, and EPT D of the data page when the VM has eptAD. */
  dirty: boolean;
}

export function vpnOf(va: number, size: PageSizeCode): number {
  return Math.floor(va / 2 ** PAGE_SHIFT[size]);
}

/** A TLB: set = VPN mod sets, VPN taken at each entry's own size. */
export class Tlb {
  readonly cache: SetAssoc<Translation>;
  constructor(g: Geometry, policy: Replacement, rng: Xorshift32) {
    this.cache = new SetAssoc<Translation>(g, policy, rng);
  }

  /** An entry of `size` for va in ctx: VPID equal, PCID equal or entry global. */
  lookup(vpid: number, pcid: number, va: number, size: PageSizeCode): Translation | null {
    const vpn = vpnOf(va, size);
    return this.cache.lookup(vpn % this.cache.sets, (t) => t.vpid === vpid && (t.pcid === pcid || t.global) && t.size === size && t.vpn === vpn);
  }

  fill(t: Translation): void {
    this.cache.insert(t.vpn % this.cache.sets, t);
  }

  /** Invalidates matching entries that translate `va` (any size). */
  removeAddress(va: number, match: (t: Translation) => boolean): void {
    for (const size of [0, 1, 2] as const) {
      const vpn = vpnOf(va, size);
      this.cache.remove((t) => t.size === size && t.vpn === vpn && match(t), vpn % this.cache.sets);
    }
  }

  removeAll(match: (t: Translation) => boolean): void {
    this.cache.remove(match);
  }
}

/** A paging-structure-cache entry: the next table's gPA and rights down to the cached entry. */
export interface PscEntry {
  vpid: number;
  pcid: number;
  tag: number;
  next: number;
  w: boolean;
  u: boolean;
  xd: boolean;
}

/** A nested-TLB entry: a guest table page's 4 KiB gPA frame -> host frame, with EPT rights. */
export interface NtlbEntry {
  vpid: number;
  gpfn: number;
  hpa: number;
  /** EPT R, W, X (bits 0..2) over that frame's EPT walk. */
  rights: number;
}
