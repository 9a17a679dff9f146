import { describe, expect, it } from "vitest";
import { ycsbKeyNaming } from "../../src/workloads/ycsb/workloads.js";
import { KvStore } from "../../src/workloads/ycsb/store.js";
import { buildKeyName } from "../../src/workloads/ycsb/workloads.js";
import { runYcsb } from "../../src/workloads/drivers.js";
import { FakeProcess } from "./drivers-fake.js";

const align8 = (n: number): number => Math.ceil(n / 8) * 8;
const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => buildKeyName(i));

describe("KV store: memory and accesses counted by hand", () => {
  // One bucket that never grows: every lookup walks the whole chain (newest first), so the
  // counts are exact. Network off: only the store's structures.
  const opts = { initialBuckets: 1, maxLoadFactor: 1000, network: false } as const;

  it("inserts: one record allocation each, a chain walk, the record and bucket writes, a leaf update", () => {
    const p = new FakeProcess();
    const s = new KvStore(p, opts);
    expect([p.mallocs.length, p.accesses]).toEqual([1, 1]); // the bucket array, zeroed
    const ks = keys(10);
    for (let i = 0; i < 10; i++) {
      const a = p.accesses;
      expect(s.insert(i, ks[i]!)).toBe(true);
      // bucket read + i headers (hashes differ: no key reads) + record write + bucket write
      // + B+-tree: the root leaf read, its slots shifted, its count.
      expect(p.accesses - a).toBe(1 + i + 1 + 1 + 3);
    }
    const st = s.stats();
    expect(st.records).toBe(10);
    expect(st.recordBytes).toBe(ks.reduce((n, k) => n + 32 + align8(k.length) + 1000, 0));
    expect([st.treeNodes, st.treeBytes, st.treeHeight]).toEqual([1, 512, 1]);
    expect(p.mallocs.length).toBe(1 + 10 + 1);
    expect(s.insert(3, ks[3]!)).toBe(false); // an existing key: nothing allocated
    expect(p.mallocs.length).toBe(12);
  });

  it("insertKey: the same accesses, allocations, scans and names as insert with the key strings", () => {
    for (const over of [{}, { insertOrder: "ordered" as const, zeroPadding: 3 }]) {
      const naming = ycsbKeyNaming({ zeroPadding: over.zeroPadding ?? 1, insertOrder: over.insertOrder ?? "hashed" });
      // ordered keys 1000..1999: many share their first 8 characters, so names decide
      const nums = Array.from({ length: 600 }, (_, i) => (over.insertOrder ? 1000 + ((i * 7) % 1000) : i * 13));
      const pa = new FakeProcess(true, true);
      const pb = new FakeProcess(true, true);
      const pc = new FakeProcess(true, true);
      const a = new KvStore(pa, { initialBuckets: 64 });
      const b = new KvStore(pb, { initialBuckets: 64 });
      // c: runs of keys by number between keys by string (records named in runs of both kinds)
      const c = new KvStore(pc, { initialBuckets: 64 });
      nums.forEach((k, i) => {
        expect(b.insertKey(k, naming)).toBe(a.insert(k, naming.name(k)));
        expect(i % 50 < 7 ? c.insert(k, naming.name(k)) : c.insertKey(k, naming)).toBe(true);
      });
      expect(b.insertKey(nums[5]!, naming)).toBe(false);
      expect(a.insert(nums[5]!, naming.name(nums[5]!))).toBe(false);
      expect(c.insertKey(nums[5]!, naming)).toBe(false);
      for (const k of [nums[0]!, nums[99]!]) {
        expect(b.scan(naming.name(k), 20)).toBe(a.scan(naming.name(k), 20));
        expect(c.scan(naming.name(k), 20)).toBe(20);
      }
      expect(pb.log.length).toBeGreaterThan(600 * 5);
      expect(pb.log).toEqual(pa.log);
      expect(pc.log).toEqual(pa.log);
      expect(b.stats()).toEqual(a.stats());
      expect(c.stats()).toEqual(a.stats());
      expect([a.allNamedBy(naming), b.allNamedBy(naming), c.allNamedBy(naming)]).toEqual([false, true, false]);
    }
  });

  it("reads, updates and scans", () => {
    const p = new FakeProcess(true, true);
    const s = new KvStore(p, opts);
    const ks = keys(10);
    ks.forEach((k, i) => s.insert(i, k));
    for (let j = 0; j < 10; j++) {
      let a = p.accesses;
      expect(s.read(j, ks[j]!.length)).toBe(true);
      // bucket + (10 - j) headers (record j sits 10 - j deep) + key + all fields in one read.
      expect(p.accesses - a).toBe(1 + (10 - j) + 1 + 1);
      a = p.accesses;
      expect(s.update(j, ks[j]!.length, 3)).toBe(true);
      expect(p.accesses - a).toBe(1 + (10 - j) + 1 + 1);
    }
    // The update wrote field 3 of record 0 in place: 100 B at header + key + 300.
    p.log.length = 0;
    s.update(0, ks[0]!.length, 3);
    const rec = s.addressOf(0, ks[0]!.length);
    expect(p.log[p.log.length - 1]).toEqual([2, rec + 32 + align8(ks[0]!.length) + 300, 100]);
    expect(s.read(99, 10)).toBe(false);
    const sorted = [...ks].sort();
    const a = p.accesses;
    expect(s.scan(sorted[0]!, 5)).toBe(5);
    expect(p.accesses - a).toBe(1 + 5 * 2); // the leaf, then each record's header and fields
    for (let k = 0; k < 10; k++) expect(s.scan(sorted[k]!, 100)).toBe(10 - k);
  });

  it('layout "fields": a record of field pointers plus one allocation per field', () => {
    const p = new FakeProcess();
    const s = new KvStore(p, { ...opts, layout: "fields" });
    const ks = keys(10);
    ks.forEach((k, i) => s.insert(i, k));
    expect(p.mallocs.length).toBe(1 + 10 * 11 + 1);
    expect(s.stats().recordBytes).toBe(ks.reduce((n, k) => n + 32 + align8(k.length) + 80 + 1000, 0));
    const a = p.accesses;
    s.read(9, ks[9]!.length);
    expect(p.accesses - a).toBe(1 + 1 + 1 + 1 + 10); // bucket, header, key, pointers, 10 fields
  });
});

describe("KV store: indexes", () => {
  it("splits B+-tree nodes of 15 slots and keeps keys in order across leaves", () => {
    const s = new KvStore(new FakeProcess(), { network: false });
    const ks = keys(300);
    ks.slice(0, 15).forEach((k, i) => s.insert(i, k));
    expect(s.stats().treeNodes).toBe(1);
    s.insert(15, ks[15]!);
    expect([s.stats().treeNodes, s.stats().treeHeight]).toEqual([3, 2]);
    ks.slice(16).forEach((k, i) => s.insert(i + 16, k));
    expect(s.stats().treeHeight).toBeGreaterThanOrEqual(3);
    const sorted = [...ks].sort();
    for (const k of [0, 1, 14, 15, 16, 150, 298, 299]) expect(s.scan(sorted[k]!, 1000)).toBe(300 - k);
    expect(s.scan("user~", 10)).toBe(0); // past the last key
  });

  it("doubles the hash index past one record per bucket and frees the old array", () => {
    const p = new FakeProcess();
    const s = new KvStore(p, { initialBuckets: 4, network: false });
    const ks = keys(9);
    ks.slice(0, 4).forEach((k, i) => s.insert(i, k));
    expect(s.stats().hashBuckets).toBe(4);
    s.insert(4, ks[4]!);
    expect(s.stats()).toMatchObject({ hashBuckets: 8, hashBytes: 64, hashExpansions: 1 });
    expect(p.frees).toHaveLength(1);
    ks.slice(5).forEach((k, i) => s.insert(i + 5, k));
    expect(s.stats().hashBuckets).toBe(16);
    ks.forEach((k, i) => expect(s.read(i, k.length)).toBe(true));
  });

  it("rejects bad options", () => {
    const p = new FakeProcess();
    expect(() => new KvStore(p, { initialBuckets: 3 })).toThrow(/initialBuckets/);
    expect(() => new KvStore(p, { layout: "rows" as never })).toThrow(/layout/);
    expect(() => new KvStore(p, { nodeBytes: 64 })).toThrow(/nodeBytes/);
    expect(() => new KvStore(p, { orderedIndex: false }).scan("user1", 1)).toThrow(/ordered index/);
    const s = new KvStore(p);
    s.insert(1, "user1");
    expect(() => s.update(1, 5, 10)).toThrow(/field/);
  });
});

describe("KV store under YCSB: a small run", () => {
  it("holds 1000 records of 10 x 100 B and accounts its memory", () => {
    const p = new FakeProcess();
    const r = runYcsb(p, "a", { recordCount: 1000, operationCount: 1000, store: { network: false } });
    const st = r.store!;
    const recordBytes = keys(1000).reduce((n, k) => n + 32 + align8(k.length) + 1000, 0);
    expect(st).toMatchObject({ records: 1000, recordBytes, hashBuckets: 65536, hashBytes: 524288, hashExpansions: 0, inserts: 1000 });
    // Malloc'ed: the bucket array, 1000 records, the B+-tree's nodes.
    expect(r.mallocBytes).toBe(524288 + recordBytes + st.treeBytes);
    expect(r.mallocs).toBe(1 + 1000 + st.treeNodes);
    // 1000 inserts into 512 B nodes of 15 slots: between 1000/15 and 1000/7.5 leaves, height 3.
    expect(st.treeNodes).toBeGreaterThan(1000 / 15);
    expect(st.treeNodes).toBeLessThan(1000 / 7 + 12);
    expect(st.treeHeight).toBe(3);
    // Every read finds its record; an operation costs at least bucket + header + key + data.
    expect(r.ops.read + r.ops.update).toBe(1000);
    expect([r.hits, r.misses]).toEqual([r.ops.read, 0]);
    const run = r.accesses - r.loadAccesses;
    expect(run).toBeGreaterThanOrEqual(4 * 1000);
    expect(run).toBeLessThan(4.2 * 1000); // chains are short: 1000 keys in 65536 buckets
    expect(r.bytesRequested).toBe(r.ops.read * 1000 + r.ops.update * 100);
  });
});
