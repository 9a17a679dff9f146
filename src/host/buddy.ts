/**
 * A buddy allocator of host-physical frames over one contiguous range (one per tier).
 *
 * Orders 0 (4 KiB) .. 18 (1 GiB); a block of order k is 2^k frames of 4 KiB, aligned to
 * its own size in host-physical address space (so a 2 MiB block can back a 2 MiB EPT
 * leaf and a 1 GiB block a 1 GiB leaf). Host fragmentation is therefore real: a 2 MiB
 * request fails when every free byte lies in blocks smaller than 2 MiB.
 *
 * Policy (deterministic): `alloc(k)` takes the lowest-addressed free block of the
 * smallest order >= k that has one, and splits it, keeping the lower half each time and
 * freeing the upper halves. Preferring the smallest sufficient order (rather than the
 * lowest address overall) is the classic buddy policy (Knuth, TAOCP 2.5; Linux
 * `__rmqueue_smallest`): it does not break a large block while a small one is free.
 * `free` coalesces a block with its buddy while the buddy is free, up to order 18.
 *
 * Representation: per order, two `SparseBitset`s of block indices: the free blocks of
 * that order, and the blocks allocated with that order. The second is what detects a
 * double free and a free with the wrong order, and it costs one bit per allocated block
 * (in chunks that exist only where blocks are). Both follow the number of blocks, not
 * the capacity. Measured with `bytesOverhead()`: a new 4 TiB allocator (4096 free
 * 1 GiB blocks) ~20 KiB, mostly fixed per-order cost; 1,000,000 consecutive 4 KiB
 * frames ~0.2 bytes each; a mix of 4 KiB runs, 2 MiB frames and scattered frees
 * ~0.8 bytes per allocated block. The worst case is isolation: a lone allocated 4 KiB
 * frame every 4 MiB costs ~0.5 KiB, for its own bit's chunk and the chunks of the ten
 * free blocks of orders 0..9 around it (~50 bytes per block, free ones included).
 *
 * @example
 * const b = new BuddyAllocator(4 * GIB, 1 * GIB);
 * const a = b.alloc(0);    // 0x100000000: the lowest 4 KiB frame; the 1 GiB block is split
 * const h = b.alloc(9);    // 0x100200000: the lowest free 2 MiB block
 * b.free(a, 0);            // coalesces back up as far as its buddies are free
 * b.stats().freeBytes;     // 1 GiB - 2 MiB
 */

import { SparseBitset } from "./sparse-bitset.js";

/** Bytes of the smallest frame (order 0). */
export const FRAME_BYTES = 4096;
export const ORDER_4K = 0;
export const ORDER_2M = 9;
export const ORDER_1G = 18;
/** The largest order: 1 GiB blocks, the largest x86-64 page. */
export const MAX_ORDER = 18;
export const GIB = 2 ** 30;
export const MIB = 2 ** 20;
/** Host-physical addresses are below 2^46 (docs/core.md): every number stays exact. */
export const HPA_LIMIT = 2 ** 46;

/** Bytes of a block of each order. */
export const ORDER_BYTES: readonly number[] = Array.from({ length: MAX_ORDER + 1 }, (_, k) => FRAME_BYTES * 2 ** k);

/** Estimated fixed bytes of the allocator object itself (fields, arrays). */
const FIXED_BYTES = 512;

/** `0x...` for messages. */
export function hex(n: number): string {
  return Number.isSafeInteger(n) && n >= 0 ? `0x${n.toString(16)}` : String(n);
}

/** "4 KiB", "2 MiB", "1 GiB", "128 KiB"... for messages. */
export function sizeName(bytes: number): string {
  if (bytes >= GIB && bytes % GIB === 0) return `${bytes / GIB} GiB`;
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/**
 * Throws unless `order` is an integer in 0..18.
 * @example checkOrder(9, "alloc: order") // ok; checkOrder(19, "alloc: order") throws
 */
export function checkOrder(order: number, what: string): void {
  if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) {
    throw new RangeError(`${what} ${order} is not allowed; expected an integer in 0..${MAX_ORDER} (0 = 4 KiB, 9 = 2 MiB, 18 = 1 GiB)`);
  }
}

/** A block: its first host-physical address and its order. */
export interface Block {
  addr: number;
  order: number;
}

export interface BuddyStats {
  /** Bytes managed (the range's size). */
  capacity: number;
  freeBytes: number;
  usedBytes: number;
  /** Free blocks per order (index = order). */
  freeBlocks: number[];
  /** Allocated blocks per order (index = order). */
  allocatedBlocks: number[];
  /** The largest order with a free block, or -1 when nothing is free. */
  largestFreeOrder: number;
}

/**
 * Free memory that large requests cannot use. In a buddy allocator an aligned 2 MiB
 * region that is entirely free is always one block of order >= 9, so free bytes in
 * blocks of order < 9 are exactly the free bytes no 2 MiB request can get.
 */
export interface Fragmentation {
  freeBytes: number;
  /** Free bytes in blocks smaller than 2 MiB (order < 9). */
  unusableFor2M: number;
  /** Free bytes in blocks smaller than 1 GiB (order < 18). */
  unusableFor1G: number;
  /** unusableFor2M / freeBytes (0 when nothing is free). */
  ratio2M: number;
  /** unusableFor1G / freeBytes (0 when nothing is free). */
  ratio1G: number;
}

export class BuddyAllocator {
  /** First host-physical address of the range (a multiple of 1 GiB). */
  readonly base: number;
  /** Bytes in the range (a multiple of 4 KiB). */
  readonly size: number;
  /** 4 KiB frames in the range. */
  readonly frames: number;
  /** Per order, indices (relative to `base`, in blocks of that order) of free blocks. */
  private readonly freeSets: SparseBitset[] = [];
  /** Per order, indices of blocks allocated with that order. */
  private readonly usedSets: SparseBitset[] = [];
  private freeBytesNow: number;

  /**
   * @param base first address; a multiple of 1 GiB so that blocks of every order are
   *   aligned in host-physical space, not only relative to the range.
   * @param size bytes; a positive multiple of 4 KiB with `base + size <= 2^46`.
   * @example new BuddyAllocator(0x1_0000_0000, 64 * GIB)
   */
  constructor(base: number, size: number) {
    if (!Number.isSafeInteger(base) || base < 0 || base % GIB !== 0 || base >= HPA_LIMIT) {
      throw new RangeError(`base: ${hex(base)} is not allowed; expected a multiple of 1 GiB below 2^46`);
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size % FRAME_BYTES !== 0 || base + size > HPA_LIMIT) {
      throw new RangeError(
        `size: ${size} is not allowed; expected a positive multiple of 4096 with base + size <= 2^46 (base is ${hex(base)})`,
      );
    }
    this.base = base;
    this.size = size;
    this.frames = size / FRAME_BYTES;
    for (let k = 0; k <= MAX_ORDER; k++) {
      const blocks = Math.floor(this.frames / 2 ** k);
      this.freeSets.push(new SparseBitset(blocks));
      this.usedSets.push(new SparseBitset(blocks));
    }
    // The initial free blocks: the largest aligned blocks that fit, from the bottom up
    // (1 GiB blocks, then a tail of decreasing sizes when size is not a multiple of 1 GiB).
    let p = 0;
    while (p < this.frames) {
      let k = MAX_ORDER;
      while (k > 0 && (p % 2 ** k !== 0 || p + 2 ** k > this.frames)) k--;
      this.freeSets[k]!.add(p / 2 ** k);
      p += 2 ** k;
    }
    this.freeBytesNow = size;
  }

  /**
   * Allocates a block of `order`; returns its address, or null when no free block of
   * that order or larger exists (nothing changes then).
   * @example b.alloc(9) // a 2 MiB-aligned address, or null
   */
  alloc(order: number): number | null {
    checkOrder(order, "alloc: order");
    for (let k = order; k <= MAX_ORDER; k++) {
      const set = this.freeSets[k]!;
      if (set.count === 0) continue;
      let idx = set.first();
      set.delete(idx);
      while (k > order) {
        k--;
        idx *= 2;
        this.freeSets[k]!.add(idx + 1); // the upper half stays free; keep splitting the lower
      }
      this.usedSets[order]!.add(idx);
      this.freeBytesNow -= ORDER_BYTES[order]!;
      return this.base + idx * ORDER_BYTES[order]!;
    }
    return null;
  }

  /**
   * `n` calls of `alloc(0)` at once, faster: writes the 4 KiB frames they would return,
   * in order, into `out` from index `at`, and leaves the allocator as they would.
   * Returns how many it wrote (fewer than `n` when the range runs out).
   *
   * Why it can take whole blocks: `alloc(0)` splits the lowest block of the smallest
   * order that has one, and no smaller block is then free but the halves it splits off;
   * each next call takes the lowest of those, so the calls take that block's frames in
   * address order, and what a partial run leaves free are the largest aligned blocks of
   * the rest (free blocks are canonical: a function of what is allocated).
   * @example b.allocFrames(64, out) // 64, the frames of 64 alloc(0) calls
   */
  allocFrames(n: number, out: Float64Array, at = 0): number {
    let done = 0;
    while (done < n) {
      let k = 0;
      while (k <= MAX_ORDER && this.freeSets[k]!.count === 0) k++;
      if (k > MAX_ORDER) break;
      const set = this.freeSets[k]!;
      const idx = set.first();
      set.delete(idx);
      const frames = 2 ** k;
      const first = idx * frames;
      const take = Math.min(frames, n - done);
      this.usedSets[0]!.addRun(first, take);
      for (let i = 0; i < take; i++) out[at + done + i] = this.base + (first + i) * FRAME_BYTES;
      // the rest of the block, [take, frames), as the largest aligned blocks (orders rising)
      for (let p = take; p < frames; ) {
        let j = 0;
        while (p % 2 ** (j + 1) === 0 && p + 2 ** (j + 1) <= frames) j++;
        this.freeSets[j]!.add((first + p) / 2 ** j);
        p += 2 ** j;
      }
      done += take;
      this.freeBytesNow -= take * FRAME_BYTES;
    }
    return done;
  }

  /**
   * Frees a block allocated by `alloc(order)` at `addr`, coalescing it with free buddies.
   * Throws (and changes nothing) when `addr` is misaligned, out of range, not allocated
   * (double free) or was allocated with another order.
   * @example b.free(b.alloc(0)!, 0)
   */
  free(addr: number, order: number): void {
    checkOrder(order, "free: order");
    this.checkAddr(addr, order, "free");
    const bytes = ORDER_BYTES[order]!;
    let idx = (addr - this.base) / bytes;
    if (!this.usedSets[order]!.has(idx)) throw new Error(this.explainBadFree(addr, order));
    this.usedSets[order]!.delete(idx);
    let k = order;
    while (k < MAX_ORDER) {
      const set = this.freeSets[k]!;
      const buddy = idx % 2 === 0 ? idx + 1 : idx - 1;
      // Stop at a buddy that is allocated, split, or past the end of the range.
      if (buddy >= set.size || !set.delete(buddy)) break;
      idx = Math.floor(idx / 2);
      k++;
    }
    this.freeSets[k]!.add(idx);
    this.freeBytesNow += bytes;
  }

  /**
   * Whether `addr` is the start of a block currently allocated with `order`.
   * @example b.isAllocated(a, 0) // true after a = b.alloc(0)
   */
  isAllocated(addr: number, order: number): boolean {
    checkOrder(order, "isAllocated: order");
    if (!this.contains(addr)) return false;
    const off = addr - this.base;
    return off % ORDER_BYTES[order]! === 0 && this.usedSets[order]!.has(off / ORDER_BYTES[order]!);
  }

  /**
   * Whether `addr` lies in this allocator's range.
   * @example b.contains(b.base) // true
   */
  contains(addr: number): boolean {
    return Number.isSafeInteger(addr) && addr >= this.base && addr < this.base + this.size;
  }

  /**
   * Whether `alloc(order)` would succeed now.
   * @example b.canAlloc(18) // false once no 1 GiB block is free
   */
  canAlloc(order: number): boolean {
    checkOrder(order, "canAlloc: order");
    for (let k = order; k <= MAX_ORDER; k++) if (this.freeSets[k]!.count > 0) return true;
    return false;
  }

  /** Free bytes now. */
  get freeBytes(): number {
    return this.freeBytesNow;
  }

  /**
   * Counts of free and allocated blocks per order, and byte totals.
   * @example b.stats().largestFreeOrder // 18 on a fresh allocator of >= 1 GiB
   */
  stats(): BuddyStats {
    const freeBlocks = this.freeSets.map((s) => s.count);
    const allocatedBlocks = this.usedSets.map((s) => s.count);
    let largestFreeOrder = -1;
    for (let k = MAX_ORDER; k >= 0; k--) {
      if (freeBlocks[k]! > 0) {
        largestFreeOrder = k;
        break;
      }
    }
    return {
      capacity: this.size,
      freeBytes: this.freeBytesNow,
      usedBytes: this.size - this.freeBytesNow,
      freeBlocks,
      allocatedBlocks,
      largestFreeOrder,
    };
  }

  /**
   * Free bytes that a 2 MiB or a 1 GiB request cannot use.
   * @example b.fragmentation().unusableFor2M // > 0 once 4 KiB frames are scattered
   */
  fragmentation(): Fragmentation {
    let below2M = 0;
    let below1G = 0;
    for (let k = 0; k < MAX_ORDER; k++) {
      const bytes = this.freeSets[k]!.count * ORDER_BYTES[k]!;
      below1G += bytes;
      if (k < ORDER_2M) below2M += bytes;
    }
    const free = this.freeBytesNow;
    return {
      freeBytes: free,
      unusableFor2M: below2M,
      unusableFor1G: below1G,
      ratio2M: free === 0 ? 0 : below2M / free,
      ratio1G: free === 0 ? 0 : below1G / free,
    };
  }

  /**
   * All free blocks in address order. Costs O(free blocks): for tests and reports.
   * @example new BuddyAllocator(0, 2 * GIB).freeBlocks() // [{addr: 0, order: 18}, {addr: 0x40000000, order: 18}]
   */
  freeBlocks(): Block[] {
    return this.listBlocks(this.freeSets);
  }

  /**
   * All allocated blocks in address order. Costs O(allocated blocks): for tests, leak
   * checks and reports.
   * @example b.allocatedBlocks() // [{addr: 0x100000000, order: 0}, ...]
   */
  allocatedBlocks(): Block[] {
    return this.listBlocks(this.usedSets);
  }

  /**
   * Estimated bytes of the allocator's own memory (its bitmaps, directories and fixed
   * parts); an estimate because JS engines do not expose object sizes.
   * @example new BuddyAllocator(0, 1024 * GIB).bytesOverhead() // about 18 KiB
   */
  bytesOverhead(): number {
    let n = FIXED_BYTES;
    for (let k = 0; k <= MAX_ORDER; k++) n += this.freeSets[k]!.bytesOverhead() + this.usedSets[k]!.bytesOverhead();
    return n;
  }

  /**
   * Gives back storage kept for reuse (empty bitmap chunks, unused pool space). Never
   * needed for correctness: the bitmaps already shrink on their own, with hysteresis.
   * @example b.trim(); b.bytesOverhead() // as small as the blocks now need
   */
  trim(): void {
    for (let k = 0; k <= MAX_ORDER; k++) {
      this.freeSets[k]!.trim();
      this.usedSets[k]!.trim();
    }
  }

  private listBlocks(sets: SparseBitset[]): Block[] {
    const out: Block[] = [];
    for (let k = 0; k <= MAX_ORDER; k++) {
      for (const i of sets[k]!.values()) out.push({ addr: this.base + i * ORDER_BYTES[k]!, order: k });
    }
    return out.sort((a, b) => a.addr - b.addr);
  }

  private checkAddr(addr: number, order: number, op: string): void {
    const end = this.base + this.size;
    if (!Number.isSafeInteger(addr) || addr < this.base || addr >= end) {
      throw new RangeError(`${op}: addr ${hex(addr)} is not allowed; expected an address in ${hex(this.base)}..${hex(end - 1)}`);
    }
    const bytes = ORDER_BYTES[order]!;
    if ((addr - this.base) % bytes !== 0) {
      throw new RangeError(
        `${op}: addr ${hex(addr)} is not allowed for order ${order}; expected a multiple of ${sizeName(bytes)}`,
      );
    }
    if (addr + bytes > end) {
      throw new RangeError(
        `${op}: addr ${hex(addr)} with order ${order} (${sizeName(bytes)}) is not allowed; the block would end past ${hex(end - 1)}`,
      );
    }
  }

  /** Why `(addr, order)` is not an allocated block: the message of the error `free` throws. */
  private explainBadFree(addr: number, order: number): string {
    const off = addr - this.base;
    const what = `free: addr ${hex(addr)} with order ${order} is not allowed`;
    // Allocated at this very address with another order.
    for (let j = 0; j <= MAX_ORDER; j++) {
      if (j !== order && off % ORDER_BYTES[j]! === 0 && this.usedSets[j]!.has(off / ORDER_BYTES[j]!)) {
        return `${what}: the block there was allocated with order ${j} (${sizeName(ORDER_BYTES[j]!)}); free it with order ${j}`;
      }
    }
    // Inside a larger allocated block.
    for (let j = order + 1; j <= MAX_ORDER; j++) {
      const start = off - (off % ORDER_BYTES[j]!);
      if (this.usedSets[j]!.has(start / ORDER_BYTES[j]!)) {
        return `${what}: it lies inside the order-${j} block allocated at ${hex(this.base + start)}; free that block with order ${j}`;
      }
    }
    // Containing smaller allocated blocks (allocated as several smaller pieces).
    for (let j = order - 1; j >= 0; j--) {
      const first = off / ORDER_BYTES[j]!;
      const found = this.usedSets[j]!.next(first);
      if (found >= 0 && found < first + 2 ** (order - j)) {
        return `${what}: it is not one allocated block; it contains the order-${j} block allocated at ${hex(this.base + found * ORDER_BYTES[j]!)}`;
      }
    }
    // Inside a free block.
    for (let j = 0; j <= MAX_ORDER; j++) {
      const start = off - (off % ORDER_BYTES[j]!);
      if (this.freeSets[j]!.has(start / ORDER_BYTES[j]!)) {
        return `${what}: it is not allocated (double free?); it lies in the free order-${j} block at ${hex(this.base + start)}`;
      }
    }
    return `${what}: it is not allocated (double free?)`;
  }
}
