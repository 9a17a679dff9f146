/**
 * A bounded map that remembers the most recently set keys: `remember(key, value)` makes
 * `key` the newest entry and, past `limit` entries, forgets the oldest one. It is what
 * an insertion-ordered `Map` does with `delete(key); set(key, value); if (size > limit)
 * delete(first key)`, in typed arrays (see NumMap): an entry costs one 12 B slot of a
 * hash table mapping the key to its sequence number and value.
 *
 * The order of entries (a ring of keys and sequence numbers, stale ones skipped) is only
 * needed to forget the oldest entry, so it is built the first time the map overflows and
 * kept from then on. Sequence numbers share a 32-bit word with the value
 * (`32 - valueBits` bits); when they run out, the live entries are renumbered in order.
 *
 * @example
 * const freed = new RecentMap(65_536);        // keys only
 * freed.remember(0x8000_0000_1000);
 * freed.has(0x8000_0000_1000);              // true
 * const pages = new RecentMap(65_536, 4);     // values 0..15
 * pages.remember(0x8000_0000_2000, 10);
 * pages.get(0x8000_0000_2000);              // 10
 */
import { NumMap } from "./num-map.js";

interface Ring {
  keys: Float64Array;
  seqs: Uint32Array;
  head: number;
  tail: number;
}

export class RecentMap {
  private readonly map = new NumMap("u32");
  private readonly valueRange: number;
  private readonly seqLimit: number;
  private seq = 0;
  private ring: Ring | null = null;

  /**
   * @param limit the most entries kept (>= 1).
   * @param valueBits bits of a value (0..16): values are integers in 0..2^valueBits-1.
   * @param seqBits bits of the sequence numbers (at most 32 - valueBits; fewer only for tests of the renumbering).
   */
  constructor(
    readonly limit: number,
    readonly valueBits = 0,
    seqBits = 32 - valueBits,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit: ${limit} is not allowed; expected an integer >= 1`);
    if (!Number.isInteger(valueBits) || valueBits < 0 || valueBits > 16) throw new RangeError(`valueBits: ${valueBits} is not allowed; expected an integer in 0..16`);
    if (!Number.isInteger(seqBits) || seqBits < 2 || seqBits > 32 - valueBits) throw new RangeError(`seqBits: ${seqBits} is not allowed; expected an integer in 2..${32 - valueBits}`);
    this.valueRange = 2 ** valueBits;
    this.seqLimit = 2 ** seqBits;
    // renumbering gives the live entries (at most `limit`) 0..limit-1 and needs room for the next
    if (this.seqLimit <= limit) throw new RangeError(`seqBits: ${seqBits} is not allowed for limit ${limit}; expected 2^seqBits > limit`);
  }

  get size(): number {
    return this.map.size;
  }

  /** Bytes of the typed arrays. */
  bytes(): number {
    return this.map.bytes() + (this.ring ? this.ring.keys.byteLength + this.ring.seqs.byteLength : 0);
  }

  has(key: number): boolean {
    return this.map.has(key);
  }

  /** The value remembered for `key`, or undefined. */
  get(key: number): number | undefined {
    const v = this.map.get(key);
    return v === undefined ? undefined : v % this.valueRange;
  }

  delete(key: number): boolean {
    return this.map.delete(key);
  }

  /** Makes `key` the newest entry, with `value`; forgets the oldest entry past the limit. */
  remember(key: number, value = 0): void {
    if (!(Number.isInteger(value) && value >= 0 && value < this.valueRange)) throw new RangeError(`value: ${value} is not allowed; expected an integer in 0..${this.valueRange - 1}`);
    if (this.seq >= this.seqLimit) this.renumber();
    const s = this.seq++;
    this.map.set(key, s * this.valueRange + value);
    if (this.ring !== null) this.append(key, s);
    if (this.map.size > this.limit) this.forgetOldest();
  }

  /** Keys, oldest first (a copy; for tests). */
  keys(): number[] {
    return this.ordered().map((e) => e[0]);
  }

  private seqOf(key: number): number {
    const v = this.map.get(key);
    return v === undefined ? -1 : Math.floor(v / this.valueRange);
  }

  /** Live entries as [key, seq], oldest first. */
  private ordered(): [number, number][] {
    const out: [number, number][] = [];
    this.map.forEach((v, k) => out.push([k, Math.floor(v / this.valueRange)]));
    return out.sort((a, b) => a[1] - b[1]);
  }

  private forgetOldest(): void {
    if (this.ring === null) this.ring = this.ringOf(this.ordered());
    const r = this.ring;
    while (r.head < r.tail) {
      const k = r.keys[r.head]!;
      const s = r.seqs[r.head]!;
      r.head++;
      // an entry set again since, or deleted, is stale: its key has another sequence number or none
      if (this.seqOf(k) === s) {
        this.map.delete(k);
        return;
      }
    }
    throw new Error("RecentMap: the order ring lost an entry (internal error)");
  }

  private ringOf(live: [number, number][]): Ring {
    const cap = Math.max(16, 2 * live.length);
    const r: Ring = { keys: new Float64Array(cap), seqs: new Uint32Array(cap), head: 0, tail: live.length };
    live.forEach(([k, s], i) => {
      r.keys[i] = k;
      r.seqs[i] = s;
    });
    return r;
  }

  private append(key: number, s: number): void {
    let r = this.ring!;
    if (r.tail === r.keys.length) {
      // full: keep only the live entries, in order, in a ring twice their number
      const live: [number, number][] = [];
      for (let i = r.head; i < r.tail; i++) if (this.seqOf(r.keys[i]!) === r.seqs[i]) live.push([r.keys[i]!, r.seqs[i]!]);
      r = this.ring = this.ringOf(live);
    }
    r.keys[r.tail] = key;
    r.seqs[r.tail] = s;
    r.tail++;
  }

  /** Sequence numbers ran out: number the live entries 0..n-1 in their order. */
  private renumber(): void {
    const live = this.ordered();
    live.forEach(([k], i) => {
      const v = this.map.get(k)!;
      this.map.set(k, i * this.valueRange + (v % this.valueRange));
      live[i]![1] = i;
    });
    this.seq = live.length;
    if (this.ring !== null) this.ring = this.ringOf(live);
  }
}
