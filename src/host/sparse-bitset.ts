/**
 * A set of integers in `[0, size)` kept as a bitmap that exists only where bits are set.
 *
 * Why this shape: the host frame allocator needs, per buddy order, a set of block
 * indices with membership, insertion, deletion and "lowest member" (and "lowest member
 * >= i"), over universes of up to 2^34 frames (a 64 TiB host), while its memory must
 * follow the number of members rather than the universe. A dense bitmap would cost
 * 128 MiB for the 4 KiB frames of a 4 TiB tier before anything is allocated; a sorted
 * tree of numbers costs tens of bytes per member. Here the bitmap is cut into chunks of
 * 1024 bits that are allocated only while they hold a member, and the set of non-empty
 * chunks is itself a `SparseBitset` over chunk indices (a radix tree of fan-out 1024,
 * at most four levels deep for 2^34). Within a chunk one summary word says which of its
 * 32 data words are non-zero, so finding the lowest member costs a few `Math.clz32`
 * calls per level.
 *
 * Memory: 132 bytes of chunk (33 words) plus one `Map` entry (about 40 bytes, an
 * estimate of V8's OrderedHashMap) per chunk, per level. Dense members (runs of
 * consecutive indices) cost about 1/6 byte each; an isolated member about 170 bytes per
 * level it alone keeps alive. Chunk storage is one pooled `Int32Array` per level (no
 * object per chunk). Chunks that empty are kept for reuse until they outnumber the live
 * ones; the pool shrinks once three quarters of it are unused; `trim()` gives back
 * everything unused. So storage stays within a small multiple of what the members need.
 *
 * @example
 * const s = new SparseBitset(1 << 30);
 * s.add(5); s.add(1_000_000);
 * s.first();       // 5
 * s.next(6);       // 1000000
 * s.has(5);        // true
 * s.delete(5);     // true
 * s.count;         // 1
 */

const CHUNK_BITS = 1024;
/** 32 data words and 1 summary word (bit w set iff data word w is non-zero). */
const STRIDE = 33;
const SUMMARY = 32;
/** Estimated bytes of one entry of a V8 `Map<number, number>` (key, value, chain, buckets, slack). */
const MAP_ENTRY_BYTES = 40;
/** Estimated fixed bytes of one level (the object, its Map and array headers). */
const LEVEL_BYTES = 200;
/** Pools of fewer slots are never compacted (see `releaseChunk`). */
const MIN_COMPACT_SLOTS = 8;
/** Empty chunks kept for reuse before a sweep is considered (see `chunkEmptied`). */
const MIN_SWEEP = 4;

/** Set bits of a 32-bit word. */
function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Index (0..31) of the lowest set bit of a non-zero 32-bit word. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class SparseBitset {
  /** The universe: members are integers in `[0, size)`. */
  readonly size: number;
  private members = 0;
  /** Chunks in `dir` that are empty (kept for reuse). */
  private empties = 0;
  /** Chunk storage: slot s occupies `pool[s * STRIDE .. s * STRIDE + STRIDE)`. */
  private pool = new Int32Array(0);
  /** Slots handed out so far (the high-water mark). */
  private slots = 0;
  /** Released slots (all-zero), reused before growing the pool. */
  private spare: number[] = [];
  /** Chunk index -> slot, for non-empty chunks only. */
  private readonly dir = new Map<number, number>();
  /** The chunk looked up last and its slot (-1: none): a buddy allocator's frames come in runs, and most operations hit the chunk the previous one did. */
  private lastChunk = -1;
  private lastSlot = -1;
  /**
   * No member is below it (exact after `first`): `first` and `next` start their scan
   * there. A buddy allocator's free set of a small order holds a block or two near the
   * front of its frames, and a scan from 0 would climb the parent levels to find them.
   */
  private low = 0;
  /** The set of non-empty chunk indices; null when the universe fits in one chunk. */
  private readonly parent: SparseBitset | null;

  /**
   * @param size the universe, a safe integer >= 0.
   * @example new SparseBitset(2 ** 34) // one bit per 4 KiB frame of 64 TiB, empty: ~1 KiB
   */
  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`size: ${size} is not allowed; expected a safe integer >= 0`);
    }
    this.size = size;
    this.parent = size > CHUNK_BITS ? new SparseBitset(Math.ceil(size / CHUNK_BITS)) : null;
  }

  /** The number of members. */
  get count(): number {
    return this.members;
  }

  /**
   * Whether `i` is a member. Any number outside `[0, size)` (or not an integer) is simply
   * not a member, so callers may probe a buddy index past the end without checking.
   * @example new SparseBitset(10).has(42) // false
   */
  has(i: number): boolean {
    if (!(i >= 0 && i < this.size) || i !== Math.floor(i)) return false;
    const slot = this.slotOf(Math.floor(i / CHUNK_BITS));
    if (slot < 0) return false;
    return ((this.pool[slot * STRIDE + ((i & (CHUNK_BITS - 1)) >>> 5)]! >>> (i & 31)) & 1) !== 0;
  }

  /**
   * Adds `i`; returns false if it was already a member.
   * @example s.add(7) // true the first time, false the second
   */
  add(i: number): boolean {
    this.check(i, "add");
    const c = Math.floor(i / CHUNK_BITS);
    const created = this.slotOf(c) < 0;
    const base = this.slotMade(c) * STRIDE;
    const w = (i & (CHUNK_BITS - 1)) >>> 5;
    const bit = 1 << (i & 31);
    const old = this.pool[base + w]!;
    if ((old & bit) !== 0) return false;
    this.pool[base + w] = old | bit;
    const summary = this.pool[base + SUMMARY]!;
    if (summary === 0) this.chunkFilled(c, created);
    this.pool[base + SUMMARY] = summary | (1 << w);
    this.members++;
    if (i < this.low) this.low = i;
    return true;
  }

  /**
   * Adds `start .. start + count - 1` (as many `add` calls, a word at a time: a buddy
   * allocator hands out blocks of frames); returns how many were not members yet.
   * Checks the whole run first: on a bad one nothing changes.
   * @example s.addRun(64, 32) // 32 on a set without them
   */
  addRun(start: number, count: number): number {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`addRun: count ${count} is not allowed; expected an integer >= 0`);
    if (count === 0) return 0;
    this.check(start, "addRun");
    this.check(start + count - 1, "addRun");
    let added = 0;
    const end = start + count;
    for (let i = start; i < end; ) {
      const c = Math.floor(i / CHUNK_BITS);
      const chunkEnd = Math.min(end, (c + 1) * CHUNK_BITS);
      const created = this.slotOf(c) < 0;
      const base = this.slotMade(c) * STRIDE;
      const was = this.pool[base + SUMMARY]!;
      let summary = was;
      while (i < chunkEnd) {
        const w = (i & (CHUNK_BITS - 1)) >>> 5;
        const lo = i & 31;
        const n = Math.min(32 - lo, chunkEnd - i);
        const mask = n === 32 ? -1 : ((1 << n) - 1) << lo;
        const old = this.pool[base + w]!;
        added += popcount(mask & ~old);
        this.pool[base + w] = old | mask;
        summary |= 1 << w;
        i += n;
      }
      this.pool[base + SUMMARY] = summary;
      if (was === 0) this.chunkFilled(c, created);
    }
    this.members += added;
    if (start < this.low) this.low = start;
    return added;
  }

  /**
   * Removes `i`; returns false if it was not a member.
   * @example s.delete(7) // true if 7 was a member
   */
  delete(i: number): boolean {
    this.check(i, "delete");
    const c = Math.floor(i / CHUNK_BITS);
    const slot = this.slotOf(c);
    if (slot < 0) return false;
    const base = slot * STRIDE;
    const w = (i & (CHUNK_BITS - 1)) >>> 5;
    const bit = 1 << (i & 31);
    const old = this.pool[base + w]!;
    if ((old & bit) === 0) return false;
    const now = old & ~bit;
    this.pool[base + w] = now;
    this.members--;
    if (now === 0) {
      const summary = this.pool[base + SUMMARY]! & ~(1 << w);
      this.pool[base + SUMMARY] = summary;
      if (summary === 0) this.chunkEmptied(c);
    }
    return true;
  }

  /**
   * The lowest member, or -1 if the set is empty.
   * @example s.first() // -1 on an empty set
   */
  first(): number {
    if (this.members === 0) return -1;
    const i = this.next(this.low);
    if (i >= 0) this.low = i;
    return i;
  }

  /**
   * The lowest member >= `from`, or -1 if there is none.
   * @example s.next(6) // the smallest member that is at least 6
   */
  next(from: number): number {
    if (!Number.isSafeInteger(from)) {
      throw new RangeError(`from: ${from} is not allowed; expected a safe integer`);
    }
    if (from < this.low) from = this.low;
    if (from >= this.size || this.members === 0) return -1;
    const c = Math.floor(from / CHUNK_BITS);
    const slot = this.slotOf(c);
    if (slot >= 0) {
      const r = this.scanChunk(slot, from & (CHUNK_BITS - 1));
      if (r >= 0) return c * CHUNK_BITS + r;
    }
    if (this.parent === null) return -1;
    const c2 = this.parent.next(c + 1);
    if (c2 < 0) return -1;
    return c2 * CHUNK_BITS + this.scanChunk(this.slotOf(c2), 0);
  }

  /**
   * Members in increasing order.
   * @example [...s.values()] // [5, 1000000]
   */
  *values(): Generator<number> {
    for (let i = this.first(); i >= 0; i = this.next(i + 1)) yield i;
  }

  /**
   * Gives back every empty chunk kept for reuse and shrinks storage to what the members
   * need (all levels). Never needed for correctness; for long runs that shrank.
   * @example s.trim()
   */
  trim(): void {
    this.sweep(true);
    this.parent?.trim();
  }

  /**
   * Estimated bytes this set occupies, all levels included.
   * @example new SparseBitset(1 << 20).bytesOverhead() // a few hundred bytes when empty
   */
  bytesOverhead(): number {
    return (
      LEVEL_BYTES +
      this.pool.byteLength +
      this.dir.size * MAP_ENTRY_BYTES +
      this.spare.length * 8 +
      (this.parent?.bytesOverhead() ?? 0)
    );
  }

  /** The slot of chunk `c`, or -1 when it has none. */
  private slotOf(c: number): number {
    if (c === this.lastChunk) return this.lastSlot;
    const slot = this.dir.get(c);
    if (slot === undefined) return -1;
    this.lastChunk = c;
    this.lastSlot = slot;
    return slot;
  }

  /** The slot of chunk `c`, made (all zero) when it has none. */
  private slotMade(c: number): number {
    let slot = this.slotOf(c);
    if (slot < 0) {
      slot = this.newSlot();
      this.dir.set(c, slot);
      this.lastChunk = c;
      this.lastSlot = slot;
    }
    return slot;
  }

  /** Chunk `c` got its first member: it was made for it (`created`), or is an empty one kept for reuse. */
  private chunkFilled(c: number, created: boolean): void {
    if (!created) this.empties--;
    this.parent?.add(c);
  }

  private check(i: number, op: string): void {
    if (!(i >= 0 && i < this.size) || i !== Math.floor(i)) {
      throw new RangeError(`${op}: index ${i} is not allowed; expected an integer in 0..${this.size - 1}`);
    }
  }

  /** Lowest set bit at or above bit `from` (0..1023) of a chunk; -1 if none. */
  private scanChunk(slot: number, from: number): number {
    const base = slot * STRIDE;
    let w = from >>> 5;
    const word = this.pool[base + w]! & (-1 << (from & 31));
    if (word !== 0) return w * 32 + ctz(word);
    w++;
    if (w >= 32) return -1;
    const summary = this.pool[base + SUMMARY]! & (-1 << w);
    if (summary === 0) return -1;
    w = ctz(summary);
    return w * 32 + ctz(this.pool[base + w]!);
  }

  private newSlot(): number {
    const reused = this.spare.pop();
    if (reused !== undefined) return reused;
    if ((this.slots + 1) * STRIDE > this.pool.length) {
      // Doubling keeps growth amortised O(1); the first chunk is allocated only when needed.
      const grown = new Int32Array(Math.max(STRIDE, this.pool.length * 2));
      grown.set(this.pool);
      this.pool = grown;
    }
    return this.slots++;
  }

  /**
   * A chunk just lost its last member. It leaves the parent (so `next` skips it) but
   * stays allocated: a set that toggles between empty and one member (the common case
   * for the free set of a large order while blocks are split and merged) must not pay
   * for Map updates and typed-array allocations each time. Empty chunks are swept once
   * they are at least `MIN_SWEEP` and more than half of all chunks, so they never cost
   * more than the live ones (plus a few), and the sweep is amortised O(1) per emptying.
   */
  private chunkEmptied(c: number): void {
    this.parent?.delete(c);
    this.empties++;
    if (this.empties >= MIN_SWEEP && this.empties * 2 > this.dir.size) this.sweep(false);
  }

  /** Frees every empty chunk; shrinks the pool when most of it is unused (always if `tight`). */
  private sweep(tight: boolean): void {
    this.lastChunk = -1; // slots are released or moved
    for (const [c, slot] of this.dir) {
      if (this.pool[slot * STRIDE + SUMMARY] === 0) {
        this.dir.delete(c); // deleting the current entry does not disturb Map iteration
        this.spare.push(slot); // its words are all zero already
      }
    }
    this.empties = 0;
    if (this.dir.size === 0) {
      this.pool = new Int32Array(0);
      this.slots = 0;
      this.spare = [];
    } else if (tight || (this.slots >= MIN_COMPACT_SLOTS && this.dir.size * 4 <= this.slots)) {
      this.compact(tight);
    }
  }

  /** Moves the live chunks to the front of a smaller pool (O(live chunks), amortised O(1)). */
  private compact(tight: boolean): void {
    const live = this.dir.size;
    const pool = new Int32Array((tight ? live : Math.max(MIN_COMPACT_SLOTS / 2, live * 2)) * STRIDE);
    let j = 0;
    for (const [c, slot] of this.dir) {
      pool.set(this.pool.subarray(slot * STRIDE, slot * STRIDE + STRIDE), j * STRIDE);
      this.dir.set(c, j); // changing the value of an existing key does not disturb iteration
      j++;
    }
    this.pool = pool;
    this.slots = live;
    this.spare = [];
  }
}
