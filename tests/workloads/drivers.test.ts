import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { runMemaslap, runYcsb, type WorkloadRunResult } from "../../src/workloads/drivers.js";
import { MemcachedServer } from "../../src/workloads/memcached/server.js";
import { KvStore } from "../../src/workloads/ycsb/store.js";
import { fnvHash64, fnvHash64Digits, fnvHash64Mod, fnvHash64String } from "../../src/workloads/ycsb/generators.js";
import { FakeProcess } from "./drivers-fake.js";

const WORKLOADS = ["a", "b", "c", "d", "e", "f"] as const;

describe("drivers: determinism", () => {
  it("memaslap: the same seed gives the same result and the same accesses; another seed does not", () => {
    const run = (seed: number): [WorkloadRunResult, FakeProcess] => {
      const p = new FakeProcess(true, true);
      return [runMemaslap(p, { seed, concurrency: 4, windowSize: 1024, operations: 20_000, server: { memoryLimit: 2 * 1024 * 1024 } }), p];
    };
    const [a, pa] = run(7);
    const [b, pb] = run(7);
    const [c] = run(8);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(pa.log).toEqual(pb.log);
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
    expect(a.accesses).toBe(pa.accesses);
    expect(a.accessBytes).toBe(pa.readBytes + pa.writeBytes);
    expect(a.mallocs).toBe(pa.mallocs.length);
    // Over the limit, some gets miss: the server evicted keys memaslap still reads.
    expect(a.misses).toBeGreaterThan(0);
    expect(a.hits + a.misses).toBe(a.ops.get);
  });

  it("YCSB: the same seed gives the same result on both backends", () => {
    for (const backend of ["kv-store", "memcached"] as const) {
      const run = (seed: number): WorkloadRunResult =>
        runYcsb(new FakeProcess(), "a", { seed, backend, recordCount: 300, operationCount: 2000, ...(backend === "memcached" ? { memcached: { memoryLimit: 0 } } : {}) });
      expect(JSON.stringify(run(3))).toBe(JSON.stringify(run(3)));
      expect(JSON.stringify(run(4))).not.toBe(JSON.stringify(run(3)));
    }
  });
});

describe("drivers: YCSB A-F", () => {
  it("run every core workload against the in-place store", () => {
    for (const w of WORKLOADS) {
      const r = runYcsb(new FakeProcess(), w, { recordCount: 500, operationCount: 2000 });
      expect(r.workload).toBe(`ycsb-${w}`);
      expect(r.loadOperations).toBe(500);
      const total = Object.values(r.ops).reduce((x, y) => x + y, 0);
      expect(total).toBe(2000);
      // Every key YCSB asks for exists: no misses.
      expect(r.misses).toBe(0);
      expect(r.hits).toBe(r.ops.read + r.ops.readmodifywrite);
      expect(r.store!.records).toBe(500 + r.ops.insert);
      if (w === "e") {
        expect(r.ops.scan).toBeGreaterThan(1800);
        expect(r.scannedRecords).toBeGreaterThan(r.ops.scan * 30); // uniform 1..100
      }
      if (w === "c") expect(r.ops).toEqual({ read: 2000, update: 0, insert: 0, scan: 0, readmodifywrite: 0 });
    }
  });

  it("run every core workload against memcached through the YCSB binding (no scans there)", () => {
    for (const w of WORKLOADS) {
      const r = runYcsb(new FakeProcess(), w, { backend: "memcached", recordCount: 500, operationCount: 2000, memcached: { memoryLimit: 0 } });
      expect(r.backend).toBe("memcached");
      expect(r.unsupported).toBe(r.ops.scan);
      expect(r.misses).toBe(0);
      expect(r.memcached!.stats.currItems).toBe(500 + r.ops.insert);
    }
  });

  it("the YCSB memcached binding shrinks updated records into a smaller slab class", () => {
    const p = new FakeProcess();
    const server = new MemcachedServer(p, { memoryLimit: 0 });
    // Load only: every record is a JSON object of 10 fields x 100 B (about 1140 B) under a
    // 33-byte key "usertable-user<digits>": items of about 1240 B, class 1480.
    runYcsb(p, "a", { backend: "memcached", memcached: server, recordCount: 400, operationCount: 0 });
    expect(server.statsSlabs().map((c) => [c.chunkSize, c.items])).toEqual([[1480, 400]]);
    // Workload A: updates replace a record's value with ONLY the updated field ({"fieldN":"..."},
    // about 115 B): items of about 210 B, class 240.
    const r = runYcsb(p, "a", { backend: "memcached", memcached: server, recordCount: 400, operationCount: 4000, load: false });
    const byClass = Object.fromEntries(server.statsSlabs().map((c) => [c.chunkSize, c.items]));
    expect(byClass[240]).toBeGreaterThan(0);
    expect(byClass[1480]! + byClass[240]!).toBe(400);
    expect(byClass[1480]).toBeLessThan(400);
    // Reads of shrunk records return the small value.
    expect(r.bytesRequested).toBeLessThan(r.ops.read * 1150 + r.ops.update * 120);
  });

  it("uses a store or server passed in, counting from the start of the run", () => {
    const p = new FakeProcess();
    const store = new KvStore(p, { fieldCount: 10, fieldLength: 100 });
    const load = runYcsb(p, "b", { store, recordCount: 100, operationCount: 0 });
    const run = runYcsb(p, "b", { store, recordCount: 100, operationCount: 500, load: false });
    expect(load.mallocs).toBe(100 + store.stats().treeNodes);
    expect(run.loadAccesses).toBe(0);
    expect(run.mallocs).toBe(0);
    expect(load.accesses + run.accesses).toBe(p.accesses - 1); // the constructor zeroed its bucket array
    expect(() => runYcsb(p, "b", { store, spec: { fieldLength: 50 }, operationCount: 1, load: false })).toThrow(/fields/);
  });
});

describe("drivers: progress", () => {
  it("calls back with monotone counts, load then run, ending at the total", () => {
    const calls: [number, number, string][] = [];
    runYcsb(new FakeProcess(), "d", {
      recordCount: 1000,
      operationCount: 3000,
      progressEvery: 500,
      onProgress: (d, t, ph) => calls.push([d, t, ph]),
    });
    expect(calls.every(([, t]) => t === 4000)).toBe(true);
    expect(calls.map(([d]) => d)).toEqual([500, 1000, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4000]);
    expect(calls.map(([, , ph]) => ph)).toEqual(["load", "load", "load", "run", "run", "run", "run", "run", "run", "run"]);
    const ms: number[] = [];
    runMemaslap(new FakeProcess(), { concurrency: 2, windowSize: 1024, operations: 10_001, progressEvery: 4096, onProgress: (d, t) => ms.push(d, t) });
    expect(ms).toEqual([4096, 10_000, 8192, 10_000, 10_000, 10_000]); // floor(10001 / 2) per connection
  });
});

describe("fnvHash64 fast paths (no BigInt) equal the BigInt reference", () => {
  it("for small, YCSB-sized and 53-bit values", () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat({ max: 1e6 }), fc.nat({ max: 1e10 }), fc.maxSafeNat()), fc.oneof(fc.integer({ min: 1, max: 2 ** 37 }), fc.integer({ min: 2 ** 36 - 1000, max: 2 ** 36 + 1000 })), (v, n) => {
        expect(fnvHash64String(v)).toBe(fnvHash64(v).toString());
        expect(fnvHash64Digits(v)).toBe(fnvHash64(v).toString().length);
        expect(fnvHash64Mod(v, n)).toBe(Number(fnvHash64(v) % BigInt(n)));
      }),
      { numRuns: 20_000 },
    );
    expect(fnvHash64String(0)).toBe("6284781860667377211");
    expect(fnvHash64Mod(0, 1000)).toBe(211);
  });
});
