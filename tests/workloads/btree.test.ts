import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BPlusTree, packKey } from "../../src/workloads/ycsb/btree.js";
import { MeteredProcess } from "../../src/workloads/metered.js";
import { FakeProcess } from "./drivers-fake.js";

/** Keys whose first 12 characters often tie (the packed pairs are equal) and whose code units straddle the packing's clamp at 254. */
const key = fc
  .array(fc.constantFrom("\u0000", "0", "1", "9", "a", "\u00fd", "\u00fe", "\u00ff", "\u0100", "\uffff"), { minLength: 0, maxLength: 16 })
  .map((cs) => (cs.length % 2 === 0 ? "user12345678" : "") + cs.join(""));

function tree(nodeBytes = 512): { tree: BPlusTree; p: FakeProcess } {
  const p = new FakeProcess();
  return { tree: new BPlusTree(new MeteredProcess(p), { nodeBytes, keySlotBytes: 24 }), p };
}

describe("BPlusTree", () => {
  it("visits values in the order JavaScript compares their keys, from any start key", () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 300 }), fc.array(key, { maxLength: 5 }), fc.constantFrom(112, 512), (keys, starts, nodeBytes) => {
        const { tree: t } = tree(nodeBytes);
        keys.forEach((k, i) => t.insert(k, i));
        const sorted = keys.map((k, i) => [k, i] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        for (const s of ["", ...starts]) {
          const got: number[] = [];
          const n = t.scan(s, 1e9, (v) => got.push(v));
          const want = sorted.filter(([k]) => k >= s).map(([, v]) => v);
          expect(got).toEqual(want);
          expect(n).toBe(want.length);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("splits a full leaf into two under a new root (15 slots of 32 B in 512 B)", () => {
    const { tree: t, p } = tree();
    expect(t.slotsPerNode).toBe(15);
    for (let i = 0; i < 15; i++) t.insert(`k${String(i).padStart(2, "0")}`, i);
    expect([t.nodes, t.height, p.mallocs.length]).toEqual([1, 1, 1]);
    const a = p.accesses;
    t.insert("k15", 15);
    // the leaf read; the split: upper half read, new node written, old header written; the new root written
    expect(p.accesses - a).toBe(1 + 4);
    expect([t.nodes, t.height, p.mallocs.length]).toEqual([3, 2, 3]);
    const got: number[] = [];
    expect(t.scan("k07", 3, (v) => got.push(v))).toBe(3);
    expect(got).toEqual([7, 8, 9]);
  });

  it("insertPacked with nameOf: the same tree, accesses and order as insert with the strings, names asked only on ties", () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 300 }), fc.constantFrom(112, 512), (keys, nodeBytes) => {
        const pa = new FakeProcess(true, true);
        const a = new BPlusTree(new MeteredProcess(pa), { nodeBytes, keySlotBytes: 24 });
        keys.forEach((k, i) => a.insert(k, i));
        const pb = new FakeProcess(true, true);
        let asked = 0;
        const b = new BPlusTree(new MeteredProcess(pb), { nodeBytes, keySlotBytes: 24, nameOf: (v) => (asked++, keys[v]!) });
        const head = new Float64Array(2);
        keys.forEach((k, i) => {
          packKey(k, head);
          b.insertPacked(head[0]!, head[1]!, i);
        });
        expect(pb.log.length).toBeGreaterThanOrEqual(keys.length * 2);
        expect(pb.log).toEqual(pa.log);
        const order = (t: BPlusTree): number[] => {
          const got: number[] = [];
          t.scan("", 1e9, (v) => got.push(v));
          return got;
        };
        expect(order(b)).toEqual(order(a));
        // names are made only where two packed heads are equal
        const heads = new Set(keys.map((k) => (packKey(k, head), `${head[0]},${head[1]}`)));
        if (heads.size === keys.length) expect(asked).toBe(0);
      }),
      { numRuns: 150 },
    );
    expect(() => tree().tree.insertPacked(1, 2, 0)).toThrow(/insertPacked: the tree has no nameOf option/);
  });

  it("rejects a node too small for three slots, naming the field", () => {
    expect(() => tree(100)).toThrow(/nodeBytes: 100 is not allowed/);
  });
});
