import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { RecordTable } from "../../src/workloads/records.js";

describe("RecordTable", () => {
  it("keeps every record's fields across growth, and new records start zeroed", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ noNaN: true }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 3000 }), (recs) => {
        const t = new RecordTable(24); // f64 word 0, i32 word 2, byte 12
        recs.forEach(([f, i, b], r) => {
          t.reserve(r + 1);
          expect(t.f64[r * 3]).toBe(0);
          t.f64[r * 3] = f;
          t.i32[r * 6 + 2] = i;
          t.u8[r * 24 + 12] = b;
        });
        expect(t.capacity).toBeGreaterThanOrEqual(recs.length);
        recs.forEach(([f, i, b], r) => {
          expect(Object.is(t.f64[r * 3], f)).toBe(true);
          expect(t.i32[r * 6 + 2]).toBe(i);
          expect(t.u32[r * 6 + 2]).toBe(i >>> 0);
          expect(t.u8[r * 24 + 12]).toBe(b);
        });
      }),
      { numRuns: 30 },
    );
  });

  it("grows by doubling from 1024 records, to at least what is asked", () => {
    const t = new RecordTable(8);
    expect(t.capacity).toBe(0);
    t.reserve(1);
    expect(t.capacity).toBe(1024);
    t.reserve(1025);
    expect(t.capacity).toBe(2048);
    t.reserve(10_000);
    expect(t.capacity).toBe(16_384);
    expect(t.f64.length).toBe(16_384);
  });

  it("rejects a record size that is not a positive multiple of 8, naming it", () => {
    expect(() => new RecordTable(12)).toThrow(/recordBytes: 12 is not allowed; expected a positive multiple of 8/);
    expect(() => new RecordTable(0)).toThrow(/recordBytes: 0/);
  });
});
