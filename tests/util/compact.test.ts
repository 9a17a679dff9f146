// The compact structures the allocators keep their records in (src/util/num-map.ts,
// recent-map.ts, paged-array.ts): each against the plain JavaScript structure it stands
// for, on random operation sequences.
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { NumMap } from "../../src/util/num-map.js";
import { RecentMap } from "../../src/util/recent-map.js";
import { PAGE_VALUES, PagedU32 } from "../../src/util/paged-array.js";

const LINEAR = 0x8000_0000_0000;

/** Keys as the allocators make them: page-aligned linear addresses, +64, small numbers, large ones, and a few collisions of low bits. */
const keyArb = fc.oneof(
  fc.integer({ min: 0, max: 4000 }).map((p) => LINEAR + p * 4096),
  fc.integer({ min: 0, max: 4000 }).map((p) => LINEAR + p * 4096 + 64),
  fc.integer({ min: 0, max: 64 }),
  fc.integer({ min: 0, max: 2 ** 20 }).map((p) => p * 2 ** 32),
  fc.constantFrom(0, Number.MAX_SAFE_INTEGER, 2 ** 46),
);

type MapOp = { kind: "set"; key: number; value: number } | { kind: "delete"; key: number } | { kind: "get"; key: number };
const mapOpArb: fc.Arbitrary<MapOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ key: keyArb, value: fc.nat() }).map((r) => ({ kind: "set" as const, ...r })) },
  { weight: 3, arbitrary: keyArb.map((key) => ({ kind: "delete" as const, key })) },
  { weight: 2, arbitrary: keyArb.map((key) => ({ kind: "get" as const, key })) },
);

describe("NumMap", () => {
  test("behaves as a Map<number, number> (f64 and u32 values) and as a Set (none)", () => {
    fc.assert(
      fc.property(fc.array(mapOpArb, { maxLength: 600 }), fc.constantFrom("f64", "u32", "none"), (ops, values) => {
        const m = new NumMap(values as "f64" | "u32" | "none");
        const ref = new Map<number, number>();
        const stored = (v: number): number => (values === "none" ? 0 : values === "u32" ? v >>> 0 : v);
        for (const op of ops) {
          if (op.kind === "set") {
            m.set(op.key, op.value);
            ref.set(op.key, stored(op.value));
          } else if (op.kind === "delete") {
            expect(m.delete(op.key)).toBe(ref.delete(op.key));
          } else {
            expect(m.get(op.key)).toBe(ref.get(op.key));
            expect(m.has(op.key)).toBe(ref.has(op.key));
          }
          expect(m.size).toBe(ref.size);
        }
        // every entry once, nothing else; the load stays at most 3/4
        const seen = new Map(m.entries());
        expect(seen).toEqual(ref);
        for (const [k, v] of ref) expect(m.get(k)).toBe(v);
        expect(m.size * 4).toBeLessThanOrEqual(m.capacity * 3);
      }),
      { numRuns: 200 },
    );
  });

  test("grows and shrinks: 100 000 page addresses in, then out", () => {
    const m = new NumMap("u32");
    for (let i = 0; i < 100_000; i++) m.set(LINEAR + i * 4096, i);
    expect(m.size).toBe(100_000);
    expect(m.capacity).toBe(2 ** 18); // 100 000 > 3/4 of 2^17
    let wrong = 0;
    for (let i = 0; i < 100_000; i += 2) if (!m.delete(LINEAR + i * 4096)) wrong++;
    for (let i = 0; i < 100_000; i++) if (m.get(LINEAR + i * 4096) !== (i % 2 === 1 ? i : undefined)) wrong++;
    expect(wrong).toBe(0);
    for (let i = 1; i < 100_000; i += 2) m.delete(LINEAR + i * 4096);
    expect(m.size).toBe(0);
    expect(m.capacity).toBeLessThanOrEqual(16);
  });

  test("keys are non-negative safe integers; anything else is never found", () => {
    const m = new NumMap();
    for (const bad of [-1, -4096, 1.5, Number.NaN, Infinity, 2 ** 53]) expect(() => m.set(bad, 1)).toThrow(RangeError);
    m.set(0, 7);
    for (const k of [-1, Number.NaN, -0.5]) {
      expect(m.has(k)).toBe(false);
      expect(m.get(k)).toBeUndefined();
      expect(m.delete(k)).toBe(false);
    }
    expect(m.get(-0)).toBe(7);
  });
});

type RecentOp = { kind: "remember"; key: number; value: number } | { kind: "delete"; key: number } | { kind: "get"; key: number };

/** The model: what osv.ts did with an insertion-ordered Map. */
function remember(m: Map<number, number>, key: number, value: number, limit: number): void {
  m.delete(key);
  m.set(key, value);
  if (m.size > limit) m.delete(m.keys().next().value!);
}

describe("RecentMap", () => {
  test("behaves as an insertion-ordered Map that forgets its oldest entry past the limit (sequence numbers renumbered when they run out)", () => {
    const smallKey = fc.integer({ min: 0, max: 40 }).map((p) => LINEAR + p * 4096);
    const opArb: fc.Arbitrary<RecentOp> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ key: smallKey, value: fc.integer({ min: 0, max: 15 }) }).map((r) => ({ kind: "remember" as const, ...r })) },
      { weight: 2, arbitrary: smallKey.map((key) => ({ kind: "delete" as const, key })) },
      { weight: 2, arbitrary: smallKey.map((key) => ({ kind: "get" as const, key })) },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 500 }), fc.integer({ min: 1, max: 24 }), fc.boolean(), (ops, limit, fewBits) => {
        // few sequence bits: renumbering happens every few dozen operations
        const seqBits = fewBits ? Math.ceil(Math.log2(limit + 1)) + 1 : 28;
        const m = new RecentMap(limit, 4, seqBits);
        const ref = new Map<number, number>();
        for (const op of ops) {
          if (op.kind === "remember") {
            m.remember(op.key, op.value);
            remember(ref, op.key, op.value, limit);
          } else if (op.kind === "delete") {
            expect(m.delete(op.key)).toBe(ref.delete(op.key));
          } else {
            expect(m.get(op.key)).toBe(ref.get(op.key));
            expect(m.has(op.key)).toBe(ref.has(op.key));
          }
          expect(m.size).toBe(ref.size);
        }
        expect(m.keys()).toEqual([...ref.keys()]);
      }),
      { numRuns: 300 },
    );
  });

  test("a long run past the limit keeps exactly the newest entries", () => {
    const m = new RecentMap(1000);
    const ref = new Map<number, number>();
    let seed = 1;
    for (let i = 0; i < 50_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const key = LINEAR + (seed % 5000) * 4096;
      if (seed % 7 === 0) expect(m.delete(key)).toBe(ref.delete(key));
      else {
        m.remember(key);
        remember(ref, key, 0, 1000);
      }
    }
    expect(m.size).toBe(ref.size);
    expect(m.keys()).toEqual([...ref.keys()]);
    expect(m.bytes()).toBeLessThan(64 * 1024);
  });

  test("values and limits are checked", () => {
    expect(() => new RecentMap(0)).toThrow(RangeError);
    expect(() => new RecentMap(10, 4, 3)).toThrow(RangeError); // 2^3 <= 10: no room to renumber
    const m = new RecentMap(10, 4);
    expect(() => m.remember(1, 16)).toThrow(RangeError);
    expect(() => m.remember(1, -1)).toThrow(RangeError);
  });
});

describe("PagedU32", () => {
  test("behaves as a Map<index, u32> whose absent entries read 0, and drops pages that empty", () => {
    const indexArb = fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 2 ** 34, max: 2 ** 34 + 3000 }), fc.constantFrom(Number.MAX_SAFE_INTEGER));
    const opArb = fc.record({ i: indexArb, v: fc.oneof(fc.constant(0), fc.nat(), fc.constant(2 ** 32 - 1)) });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 500 }), (ops) => {
        const a = new PagedU32();
        const ref = new Map<number, number>();
        for (const { i, v } of ops) {
          a.set(i, v);
          if (v === 0) ref.delete(i);
          else ref.set(i, v >>> 0);
          expect(a.get(i)).toBe(ref.get(i) ?? 0);
          expect(a.count).toBe(ref.size);
        }
        const seen = new Map<number, number>();
        a.forEach((v, i) => seen.set(i, v));
        expect(seen).toEqual(ref);
        // whole pages: every value of each page in use, zeros included, at its index
        const byPage = new Map<number, number>();
        const firsts: number[] = [];
        a.forEachPage((values, first) => {
          expect(first % PAGE_VALUES).toBe(0);
          firsts.push(first);
          for (let o = 0; o < PAGE_VALUES; o++) if (values[o] !== 0) byPage.set(first + o, values[o]!);
        });
        expect(byPage).toEqual(ref);
        expect(firsts.length).toBe(a.pageCount);
        expect(a.pageCount).toBe(new Set([...ref.keys()].map((i) => Math.floor(i / 512))).size);
      }),
      { numRuns: 200 },
    );
  });

  test("other indices read 0; only non-negative safe integers can be set", () => {
    const a = new PagedU32();
    a.set(0, 9);
    for (const i of [-1, -512, 0.5, Number.NaN, 2 ** 60]) expect(a.get(i)).toBe(0);
    for (const i of [-1, 0.5, Number.NaN, 2 ** 53]) expect(() => a.set(i, 1)).toThrow(RangeError);
  });
});
