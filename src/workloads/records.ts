/**
 * A growable table of fixed-size records in one buffer, read and written through typed
 * views. The workload models keep their per-item metadata here rather than in one array
 * per field: a record's fields then share a host cache line, so following a hash chain
 * or an LRU list touches one host line per record instead of one per field array (the
 * simulator's own state keeps the host caches busy, and those misses were most of a
 * chain walk's time).
 *
 * Field offsets are the caller's, in units of each view: with `recordBytes` B, the
 * 64-bit word `k` of record `r` is `f64[r * recordBytes / 8 + k]`, the 32-bit word `k`
 * is `i32[r * recordBytes / 4 + k]` (or `u32`), the byte `k` is `u8[r * recordBytes + k]`.
 * The views are replaced when the table grows: read them from the table after `reserve`.
 *
 * @example
 * const t = new RecordTable(16); // 16-byte records: 2 f64 words, or 4 i32 words
 * t.reserve(1000);
 * t.f64[7 * 2] = 0x1000;         // record 7, word 0
 * t.i32[7 * 4 + 2] = -1;         // record 7, 32-bit word 2
 */
export class RecordTable {
  f64 = new Float64Array(0);
  i32 = new Int32Array(0);
  u32 = new Uint32Array(0);
  u8 = new Uint8Array(0);
  /** Records the views hold. */
  capacity = 0;

  /** @param recordBytes bytes of a record, a positive multiple of 8 */
  constructor(readonly recordBytes: number) {
    if (!(Number.isInteger(recordBytes) && recordBytes > 0 && recordBytes % 8 === 0)) {
      throw new RangeError(`recordBytes: ${recordBytes} is not allowed; expected a positive multiple of 8`);
    }
  }

  /** Makes room for `need` records (doubling, at least 1024): contents kept, new records zeroed. */
  reserve(need: number): void {
    if (need <= this.capacity) return;
    let cap = Math.max(1024, this.capacity * 2);
    while (cap < need) cap *= 2;
    const buf = new ArrayBuffer(cap * this.recordBytes);
    const u8 = new Uint8Array(buf);
    u8.set(this.u8);
    this.u8 = u8;
    this.f64 = new Float64Array(buf);
    this.i32 = new Int32Array(buf);
    this.u32 = new Uint32Array(buf);
    this.capacity = cap;
  }
}
