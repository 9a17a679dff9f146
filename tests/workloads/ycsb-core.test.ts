// YCSB's run phase in the core against the host's (the reference): the same results,
// the same store statistics, the same simulator counters and the same requests, in the
// same order, for every workload and option the core takes; and the host's path for
// what it does not take.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulator } from "../../src/sim/simulator.js";
import { runYcsb, type YcsbRunOptions } from "../../src/workloads/drivers.js";
import { KvStore } from "../../src/workloads/ycsb/store.js";
import { CoreYcsbLoad, CoreYcsbRun } from "../../src/workloads/ycsb/core-run.js";
import { YcsbRunStream, ycsbKeyNaming, ycsbWorkload, type YcsbWorkloadName } from "../../src/workloads/ycsb/workloads.js";
import { FakeProcess } from "./drivers-fake.js";
import { packKey } from "../../src/workloads/ycsb/btree.js";
import { GiB, MiB, vmOf, ycsbFingerprint } from "./core-helpers.js";

/** A run on a fresh simulator: the result, the store's stats, the counters, the requests and the progress calls. */
async function fingerprint(policy: "osv" | "ucat", workload: YcsbWorkloadName, opts: YcsbRunOptions, inCore: boolean): Promise<string> {
  const { sim, vm } = await vmOf(policy);
  return ycsbFingerprint(sim, vm, workload, { ...opts, inCore, progressEvery: 1000 });
}

const SMALL = { recordCount: 1000, operationCount: 4000, seed: 5 };

describe("YCSB's load and run phases in the core", () => {
  it.each([
    ["a", {}],
    ["b", {}],
    ["c", {}],
    ["f", {}],
    ["d", {}],
    ["e", {}],
    // inserts past the index's load factor and the tree's reserve; latest over a uniform mix
    ["d", { store: { initialBuckets: 256 }, spec: { insertProportion: 0.3, readProportion: 0.7 } }],
    ["e", { spec: { requestDistribution: "uniform", maxScanLength: 7, readAllFields: false } }],
    ["e", { spec: { insertOrder: "ordered", zeroPadding: 10 } }],
    ["c", { spec: { requestDistribution: "latest" } }],
    ["a", { spec: { requestDistribution: "uniform" } }],
    ["f", { spec: { readAllFields: false, writeAllFields: true } }],
    ["b", { spec: { insertOrder: "ordered", zeroPadding: 12 } }],
    ["a", { spec: { fieldCount: 1, fieldLength: 3000 } }],
    ["a", { store: { network: false } }],
    // a tree of 3-slot nodes: the core's node arrays fill, the host grows them mid-load
    ["a", { store: { nodeBytes: 112 } }],
    // names longer than a value's 19 digits: padding zeros before the hash
    ["c", { spec: { zeroPadding: 25 } }],
    ["a", { spec: { insertStart: 300, insertCount: 500 } }],
    // a count of keys from 2^12 up: the scrambled draw's remainder from a double division
    ["a", { recordCount: 6000, operationCount: 3000 }],
    ["c", { recordCount: 70_000, operationCount: 3000, load: false }],
    // long chains (8 records a bucket) and keys drawn beyond the records (misses)
    ["a", { store: { initialBuckets: 64, maxLoadFactor: 8 }, spec: { insertCount: 600 } }],
  ] as [YcsbWorkloadName, YcsbRunOptions][])("workload %s %j: the same as on the host, on both policies", async (w, o) => {
    for (const policy of ["osv", "ucat"] as const) {
      const host = await fingerprint(policy, w, { ...SMALL, ...o }, false);
      const core = await fingerprint(policy, w, { ...SMALL, ...o }, true);
      expect(core).toBe(host);
    }
  });

  it("a load whose tree outgrows the nodes reserved for it: the host grows the arrays between copies, the same results", async () => {
    const reserve = CoreYcsbLoad.nodeReserve;
    try {
      CoreYcsbLoad.nodeReserve = 0;
      for (const nodeBytes of [112, 512]) {
        const o = { ...SMALL, recordCount: 3000, store: { nodeBytes } };
        expect(await fingerprint("ucat", "e", o, true)).toBe(await fingerprint("ucat", "e", o, false));
      }
    } finally {
      CoreYcsbLoad.nodeReserve = reserve;
    }
  });

  it("a run phase that misses: keys beyond the loaded records count as misses the same way", async () => {
    const o = { ...SMALL, spec: { insertCount: 500 } };
    const host = await fingerprint("ucat", "c", o, false);
    expect(JSON.parse(host).r.misses).toBeGreaterThan(0);
    expect(await fingerprint("ucat", "c", o, true)).toBe(host);
  });

  it("property: random mixes, fields, distributions and seeds give the host's results", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          read: fc.integer({ min: 0, max: 4 }),
          update: fc.integer({ min: 0, max: 4 }),
          rmw: fc.integer({ min: 0, max: 4 }),
          insert: fc.integer({ min: 0, max: 2 }),
          scan: fc.integer({ min: 0, max: 2 }),
          latest: fc.boolean(),
          fieldCount: fc.integer({ min: 1, max: 12 }),
          fieldLength: fc.integer({ min: 1, max: 400 }),
          uniform: fc.boolean(),
          readAll: fc.boolean(),
          writeAll: fc.boolean(),
          records: fc.integer({ min: 1, max: 1500 }),
          seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          buckets: fc.constantFrom(1, 16, 65536),
        }),
        async (p) => {
          const total = p.read + p.update + p.rmw + p.insert + p.scan;
          const opts: YcsbRunOptions = {
            seed: p.seed,
            recordCount: p.records,
            operationCount: 1500,
            store: { initialBuckets: p.buckets, maxLoadFactor: 4 },
            spec: {
              readProportion: total === 0 ? 1 : p.read / Math.max(1, total),
              updateProportion: p.update / Math.max(1, total),
              readModifyWriteProportion: p.rmw / Math.max(1, total),
              insertProportion: p.insert / Math.max(1, total),
              scanProportion: p.scan / Math.max(1, total),
              maxScanLength: 20,
              fieldCount: p.fieldCount,
              fieldLength: p.fieldLength,
              requestDistribution: p.latest ? "latest" : p.uniform ? "uniform" : "zipfian",
              readAllFields: p.readAll,
              writeAllFields: p.writeAll,
            },
          };
          expect(await fingerprint("ucat", "a", opts, true)).toBe(await fingerprint("ucat", "a", opts, false));
        },
      ),
      { numRuns: 16, seed: 20261129 },
    );
  });

  it("a store passed in: its statistics after the run are the host path's, and a second run phase reuses the core's region", async () => {
    const stats = [];
    for (const inCore of [false, true]) {
      const { sim, vm } = await vmOf("ucat");
      const store = new KvStore(vm.process);
      runYcsb(vm.process, "a", { ...SMALL, store, inCore });
      // a larger second phase: more records than the first region holds
      const r = runYcsb(vm.process, "b", { ...SMALL, recordCount: 3000, store, inCore, load: false, seed: 6 });
      runYcsb(vm.process, "a", { ...SMALL, recordCount: 3000, store, inCore, load: false, seed: 7 });
      stats.push(JSON.stringify({ s: store.stats(), r, c: sim.counters(vm.vcpu) }, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
      sim.close();
    }
    expect(stats[1]).toBe(stats[0]);
  });

  /**
   * A run in a VM too small for it, on both paths: the error (out of guest memory), the
   * store's statistics and the counters afterwards, and the store still answering.
   */
  async function outOfMemory(workload: YcsbWorkloadName, o: YcsbRunOptions): Promise<{ error: string; inserts: number; out: string }[]> {
    const outs = [];
    for (const inCore of [false, true]) {
      const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 1 * GiB }], maxVms: 1 });
      const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 24 * MiB }] });
      const store = new KvStore(vm.process);
      let error = "";
      try {
        runYcsb(vm.process, workload, { ...o, store, inCore });
      } catch (e) {
        error = String(e);
      }
      sim.flush();
      const out = JSON.stringify({ error, s: store.stats(), c: sim.counters(vm.vcpu) }, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      // the store still works afterwards (its index came back from the core): a loaded key is found
      expect(store.read(7, ycsbKeyNaming(ycsbWorkload(workload)).length(7))).toBe(true);
      outs.push({ error, inserts: store.stats().inserts, out });
      sim.close();
    }
    return outs;
  }

  it("a load that runs out of guest memory: the same error, and the store and counters as the host path leaves them", async () => {
    const [host, core] = await outOfMemory("a", { recordCount: 40_000, operationCount: 10 });
    expect(host!.error).toMatch(/memory/i);
    expect(core!.out).toBe(host!.out);
  });

  it("a run phase whose inserts run out of guest memory: the same error, and the store and counters as the host path leaves them", async () => {
    const [host, core] = await outOfMemory("d", { recordCount: 5000, operationCount: 400_000, spec: { insertProportion: 0.5, readProportion: 0.5 } });
    expect(host!.error).toMatch(/memory/i);
    expect(host!.inserts).toBeGreaterThan(5000); // the load finished: the run's inserts ran out
    expect(core!.out).toBe(host!.out);
  });

  it("a store holding keys of other names loads on the host (the core orders YCSB's names only)", async () => {
    const outs = [];
    for (const inCore of [false, true]) {
      const { sim, vm } = await vmOf("ucat");
      const store = new KvStore(vm.process);
      store.insert(123_456_789, "zebra");
      const r = runYcsb(vm.process, "e", { ...SMALL, operationCount: 500, store, inCore });
      outs.push(JSON.stringify({ r, s: store.stats(), c: sim.counters(vm.vcpu) }, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
      sim.close();
    }
    expect(outs[1]).toBe(outs[0]);
  });

  it("the core orders and packs YCSB's key names as the host's strings do (differential, property)", async () => {
    const { sim } = await vmOf("ucat");
    const g = sim.core.ycsbGenerator();
    const head = new Float64Array(2);
    const name = (v: bigint, len: number): string => "user" + v.toString().padStart(len, "0");
    // values near powers of ten and with shared prefixes, lengths from their digits up to 25
    const value = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
      fc.tuple(fc.bigInt({ min: 1n, max: 99_999_999n }), fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 9 })).map(([p, e, d]) => {
        const v = p * 10n ** BigInt(e) + BigInt(d);
        return v < 2n ** 63n ? v : p;
      }),
    );
    const named = value.chain((v) => fc.tuple(fc.constant(v), fc.integer({ min: v.toString().length, max: 25 })));
    const split = (v: bigint): [number, number] => [Number(v >> 32n), Number(v & 0xffffffffn)];
    fc.assert(
      fc.property(named, named, ([v1, l1], [v2, l2]) => {
        const a = name(v1, l1);
        const b = name(v2, l2);
        const want = a < b ? -1 : a > b ? 1 : 0;
        expect(Math.sign(g.keysCompare(...split(v1), l1, ...split(v2), l2))).toBe(want);
        packKey(a, head);
        expect([g.keysPack(...split(v1), l1, 0), g.keysPack(...split(v1), l1, 1)]).toEqual([head[0], head[1]]);
      }),
      { numRuns: 3000, seed: 29 },
    );
    // a name that is a prefix of another comes first
    expect(g.keysCompare(0, 12345678, 8, 0, 123456789, 9)).toBeLessThan(0);
    expect(g.keysCompare(0, 123456789, 9, 0, 12345678, 8)).toBeGreaterThan(0);
    sim.close();
  });

  it("the stream goes on from where the core left it", async () => {
    const { sim, vm } = await vmOf("ucat");
    const spec = ycsbWorkload("f", { recordCount: 500, operationCount: 0 });
    const store = new KvStore(vm.process);
    runYcsb(vm.process, "f", { recordCount: 500, operationCount: 0, store });
    const stream = new YcsbRunStream(spec, 11);
    const run = CoreYcsbRun.open(vm.process, store, stream, ycsbKeyNaming(spec), 777)!;
    expect(run).not.toBeNull();
    run.run(777);
    const c = run.finish();
    expect(c.read + c.update + c.readmodifywrite).toBe(777);
    const reference = new YcsbRunStream(spec, 11);
    for (let i = 0; i < 777; i++) reference.next();
    for (let i = 0; i < 50; i++) expect(stream.next()).toEqual(reference.next());
    expect(() => run.finish()).toThrow(/finished already/);
    expect(() => run.run(1)).toThrow(/finished/);
    sim.close();
  });

  it("CoreYcsbLoad: not for layout fields, other processes or stores with other names; finish gives the index back once", async () => {
    const { sim, vm } = await vmOf("ucat");
    const spec = ycsbWorkload("a", { recordCount: 100 });
    const naming = ycsbKeyNaming(spec);
    expect(CoreYcsbLoad.open(vm.process, new KvStore(vm.process, { layout: "fields" }), spec, naming, 0, 100)).toBeNull();
    const fake = new FakeProcess();
    expect(CoreYcsbLoad.open(fake, new KvStore(fake), spec, naming, 0, 100)).toBeNull();
    const other = new KvStore(vm.process);
    other.insert(5, "user5");
    expect(CoreYcsbLoad.open(vm.process, other, spec, naming, 0, 100)).toBeNull();
    const store = new KvStore(vm.process);
    const load = CoreYcsbLoad.open(vm.process, store, spec, naming, 0, 100)!;
    load.run(60);
    load.run(1000); // only the 40 left
    load.finish();
    load.finish();
    expect(store.size).toBe(100);
    expect(() => load.run(1)).toThrow(/finished/);
    // the store works on the host afterwards: every key is found, in order
    expect(store.read(7, naming.length(7))).toBe(true);
    expect(store.scan("user", 100)).toBe(100);
    sim.close();
  });

  it("what the core does not take stays on the host: zipfian scan lengths, layout fields, other processes, stores of other names", async () => {
    const { sim, vm } = await vmOf("ucat");
    const store = new KvStore(vm.process);
    const open = (st: KvStore, spec: ReturnType<typeof ycsbWorkload>, p: Parameters<typeof CoreYcsbRun.open>[0] = vm.process) =>
      CoreYcsbRun.open(p, st, new YcsbRunStream(spec, 1), ycsbKeyNaming(spec), 1000);
    for (const w of ["a", "b", "c", "d", "e", "f"] as const) expect(open(store, ycsbWorkload(w))).not.toBeNull();
    expect(open(store, ycsbWorkload("c", { requestDistribution: "latest" }))).not.toBeNull();
    expect(open(store, ycsbWorkload("e", { scanLengthDistribution: "zipfian" }))).toBeNull();
    expect(open(new KvStore(vm.process, { layout: "fields" }), ycsbWorkload("a"))).toBeNull();
    expect(open(new KvStore(vm.process, { orderedIndex: false }), ycsbWorkload("e"))).toBeNull();
    const fake = new FakeProcess();
    expect(open(new KvStore(fake), ycsbWorkload("a"), fake)).toBeNull();
    const other = new KvStore(vm.process);
    other.insert(5, "zebra");
    expect(open(other, ycsbWorkload("a"))).not.toBeNull(); // reads and updates need no names
    expect(open(other, ycsbWorkload("d"))).toBeNull();
    sim.close();
  });

  it("layout fields and zipfian scan lengths give the same results with inCore on or off (the host runs them both times)", async () => {
    for (const [w, o] of [["e", { spec: { scanLengthDistribution: "zipfian" } }], ["a", { store: { layout: "fields" } }]] as [YcsbWorkloadName, YcsbRunOptions][]) {
      expect(await fingerprint("ucat", w, { ...SMALL, operationCount: 1500, ...o }, true)).toBe(await fingerprint("ucat", w, { ...SMALL, operationCount: 1500, ...o }, false));
    }
  });
});
