/**
 * A hash map from non-negative safe integers (addresses, page numbers) to numbers, kept
 * in typed arrays: open addressing with linear probing over a power-of-two table, a
 * Float64Array of keys and a Float64Array or Uint32Array of values (or none: a set).
 * It grows by doubling past a load of 3/4 and halves below 1/8, and deletes by
 * shifting the rest of the probe run back (no tombstones).
 *
 * Why: a V8 `Map<number, V>` costs about 30 B per entry for its table, plus 16 B for a
 * key that is no small integer (guest addresses are not), plus the value's object: the
 * allocators' per-allocation records made up most of the simulator's JS heap. Here an
 * entry costs one slot, 12 B (u32 values) or 16 B (f64 values), at a load between 3/8
 * and 3/4, so 16 to 43 B per entry, and nothing for the garbage collector to trace.
 *
 * Iteration order is the table's (not insertion order); use it only where order does
 * not matter (sums, searches).
 *
 * @example
 * const m = new NumMap("u32");
 * m.set(0x8000_0000_1000, 1147);
 * m.get(0x8000_0000_1000); // 1147
 * m.delete(0x8000_0000_1000); // true
 * m.size; // 0
 */

/** The key of an empty slot (keys are >= 0). */
const EMPTY = -1;
const MIN_CAPACITY = 8;
const TWO32 = 4294967296;

export type NumMapValues = "f64" | "u32" | "none";

/**
 * The slot of a key in a table of `mask + 1` slots (murmur3's fmix32 over the key's two
 * 32-bit halves: addresses and page numbers share their low bits, so they must be mixed).
 */
function slotOf(key: number, mask: number): number {
  let h = (key >>> 0) ^ Math.imul((key / TWO32) >>> 0, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & mask;
}

export class NumMap {
  private keyArr: Float64Array;
  private valArr: Float64Array | Uint32Array | null;
  private mask: number;
  private count = 0;

  /**
   * @param values "f64" (any number), "u32" (integers 0..2^32-1, stored modulo 2^32) or
   *   "none" (a set: `get` returns 0 for members).
   * @param capacity initial slots (rounded up to a power of two, at least 8).
   */
  constructor(
    readonly values: NumMapValues = "f64",
    capacity = MIN_CAPACITY,
  ) {
    if (values !== "f64" && values !== "u32" && values !== "none") throw new RangeError(`values: ${JSON.stringify(values)} is not allowed; expected "f64", "u32" or "none"`);
    let cap = MIN_CAPACITY;
    while (cap < capacity) cap *= 2;
    this.mask = cap - 1;
    this.keyArr = new Float64Array(cap).fill(EMPTY);
    this.valArr = this.newValues(cap);
  }

  get size(): number {
    return this.count;
  }

  /** Slots in the table (for tests and memory estimates). */
  get capacity(): number {
    return this.mask + 1;
  }

  /** Bytes of the typed arrays. */
  bytes(): number {
    return this.keyArr.byteLength + (this.valArr?.byteLength ?? 0);
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /** The value of `key`, or undefined when it is absent. */
  get(key: number): number | undefined {
    const i = this.find(key);
    if (i < 0) return undefined;
    return this.valArr === null ? 0 : this.valArr[i]!;
  }

  /** Sets `key` (a non-negative safe integer) to `value`. */
  set(key: number, value = 0): this {
    if (!(key >= 0 && Number.isSafeInteger(key))) throw new RangeError(`NumMap key: ${key} is not allowed; expected a non-negative safe integer`);
    const keys = this.keyArr;
    const mask = this.mask;
    let i = slotOf(key, mask);
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        if (this.valArr !== null) this.valArr[i] = value;
        return this;
      }
      if (k === EMPTY) break;
      i = (i + 1) & mask;
    }
    if ((this.count + 1) * 4 > (mask + 1) * 3) {
      this.resize((mask + 1) * 2);
      return this.set(key, value);
    }
    keys[i] = key;
    if (this.valArr !== null) this.valArr[i] = value;
    this.count++;
    return this;
  }

  /** Removes `key`; false when it was absent. */
  delete(key: number): boolean {
    let i = this.find(key);
    if (i < 0) return false;
    const keys = this.keyArr;
    const vals = this.valArr;
    const mask = this.mask;
    // backward shift: move later entries of the run into the hole when their home allows
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j]!;
      if (k === EMPTY) break;
      const home = slotOf(k, mask);
      // the entry at j may move to i unless its home lies cyclically in (i, j]
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      keys[i] = k;
      if (vals !== null) vals[i] = vals[j]!;
      i = j;
    }
    keys[i] = EMPTY;
    this.count--;
    if (this.count * 8 < mask + 1 && mask + 1 > MIN_CAPACITY) this.resize((mask + 1) / 2);
    return true;
  }

  clear(): void {
    this.mask = MIN_CAPACITY - 1;
    this.keyArr = new Float64Array(MIN_CAPACITY).fill(EMPTY);
    this.valArr = this.newValues(MIN_CAPACITY);
    this.count = 0;
  }

  /** Calls `fn(value, key)` for every entry, in table order. `fn` must not change the map. */
  forEach(fn: (value: number, key: number) => void): void {
    const keys = this.keyArr;
    const vals = this.valArr;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k !== EMPTY) fn(vals === null ? 0 : vals[i]!, k);
    }
  }

  /** The entries as [key, value] pairs, in table order (a copy). */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    this.forEach((v, k) => out.push([k, v]));
    return out;
  }

  /** The slot holding `key`, or -1. */
  private find(key: number): number {
    if (!(key >= 0)) return -1; // also NaN: EMPTY is negative
    const keys = this.keyArr;
    const mask = this.mask;
    for (let i = slotOf(key, mask); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) return i;
      if (k === EMPTY) return -1;
    }
  }

  private newValues(cap: number): Float64Array | Uint32Array | null {
    return this.values === "f64" ? new Float64Array(cap) : this.values === "u32" ? new Uint32Array(cap) : null;
  }

  private resize(cap: number): void {
    const keys = this.keyArr;
    const vals = this.valArr;
    const nk = new Float64Array(cap).fill(EMPTY);
    const nv = this.newValues(cap);
    const mask = cap - 1;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k === EMPTY) continue;
      let j = slotOf(k, mask);
      while (nk[j] !== EMPTY) j = (j + 1) & mask;
      nk[j] = k;
      if (nv !== null) nv[j] = vals![i]!;
    }
    this.keyArr = nk;
    this.valArr = nv;
    this.mask = mask;
  }
}
