// The memcached model in the core against the host's (the reference): the same results,
// `stats` and `stats slabs`, slab pages, simulator counters and requests, in the same
// order, for request streams that fill slab classes, evict, double the hash table,
// rescue active items and run out of guest memory.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MemcachedServer, type MemcachedOptions } from "../../src/workloads/memcached/server.js";
import { Memaslap, type MemaslapOptions } from "../../src/workloads/memcached/memaslap.js";
import { CoreMemcached, type CoreRequest } from "../../src/workloads/memcached/core-run.js";
import { Simulator } from "../../src/sim/simulator.js";
import { runMemaslap, runYcsb, type MemaslapRunOptions, type ProgressCallback, type YcsbRunOptions } from "../../src/workloads/drivers.js";
import { GiB, MiB, hashRequests, vmOf } from "./core-helpers.js";

const OPS = ["get", "set", "add", "replace"] as const;

/** memaslap's requests as commands. */
function memaslapRequests(seed: number, opts: MemaslapOptions): CoreRequest[] {
  const out: CoreRequest[] = [];
  for (const r of new Memaslap(seed, opts)) out.push({ op: r.op === "get" ? 0 : 1, keyId: r.keyId, keyLen: r.keySize, valueBytes: r.valueSize, conn: r.conn });
  return out;
}

/** Serves the requests on the host's model or the core's, then everything the server and simulator say. */
async function fingerprint(policy: "osv" | "ucat", server: MemcachedOptions, requests: readonly CoreRequest[], inCore: boolean, split = 0): Promise<string> {
  const { sim, vm } = await vmOf(policy);
  const hash = hashRequests(sim);
  const s = new MemcachedServer(vm.process, server);
  let results: unknown;
  if (inCore) {
    // in two runs when asked: the state goes back to the host and in again between them
    const parts = split > 0 ? [requests.slice(0, split), requests.slice(split)] : [requests];
    const counts = [];
    for (const part of parts) {
      const mc = CoreMemcached.open(vm.process, s)!;
      try {
        counts.push(mc.serve(part));
      } finally {
        mc.finish();
      }
    }
    results = counts.reduce((a, c) => ({ gets: a.gets + c.gets, sets: a.sets + c.sets, hits: a.hits + c.hits, misses: a.misses + c.misses, bytes: a.bytes + c.bytes }));
  } else {
    const c = { gets: 0, sets: 0, hits: 0, misses: 0, bytes: 0 };
    for (const r of requests) {
      if (r.op === 0) {
        c.gets++;
        const v = s.get(r.keyId, r.keyLen, r.conn);
        if (v >= 0) {
          c.hits++;
          c.bytes += v;
        } else c.misses++;
      } else {
        c.sets++;
        s.store(OPS[r.op] as "set", r.keyId, r.keyLen, r.valueBytes, r.conn);
        c.bytes += r.valueBytes;
      }
    }
    results = c;
  }
  sim.flush();
  const probe = requests.slice(0, 50).map((r) => [s.addressOf(r.keyId, r.keyLen), s.classIdOf(r.keyId, r.keyLen)]);
  const out = JSON.stringify(
    { results, stats: s.stats(), slabs: s.statsSlabs(), pages: s.pageAddresses, table: s.hashTableAddress, probe, counters: sim.counters(vm.vcpu), requests: hash(), faults: sim.faultCount },
    (_k, v) => (typeof v === "bigint" ? v.toString() : v),
  );
  sim.close();
  return out;
}

/** Random commands over a small key space (hits, misses, adds of present keys, replaces of absent ones), values of minValue + 0..spread-1 bytes. */
function randomRequests(seed: number, n: number, keys: number, conns: number, minValue: number, spread: number): CoreRequest[] {
  let x = seed >>> 0 || 1;
  const next = (m: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % m;
  };
  const out: CoreRequest[] = [];
  for (let i = 0; i < n; i++) {
    const k = next(keys);
    out.push({ op: next(4) as 0 | 1 | 2 | 3, keyId: k * 7919, keyLen: 10 + (k % 50), valueBytes: minValue + next(spread), conn: next(conns) });
  }
  return out;
}

describe("the memcached model in the core", () => {
  it.each([
    ["memaslap's defaults, no limit", { memoryLimit: 0 }, { concurrency: 4, windowSize: 1024, operations: 20_000 }],
    ["a small limit: evictions, rescues and direct reclaims", { memoryLimit: 1 * MiB }, { concurrency: 4, windowSize: 1024, operations: 40_000 }],
    ["a small table that doubles twice", { hashPower: 8, memoryLimit: 0 }, { concurrency: 2, windowSize: 2048, operations: 12_000 }],
    ["no network, inline maintainer, no CAS", { network: false, lruMaintainer: "inline", slabs: { useCas: false }, memoryLimit: 3 * MiB }, { concurrency: 2, windowSize: 1024, operations: 15_000 }],
    ["code fetches, sizes over many classes", { code: { fetchesPerRequest: 8 }, memoryLimit: 6 * MiB }, { concurrency: 3, windowSize: 1024, operations: 10_000, valueSize: { min: 1, max: 20_000 }, keySize: { min: 16, max: 250 } }],
    ["no HOT share: its tail is held to WARM's share", { hotLruPct: 0, memoryLimit: 1 * MiB }, { concurrency: 2, windowSize: 1024, operations: 12_000 }],
    ["hot and warm shares changed, tiered pages", { hotLruPct: 5, warmLruPct: 70, memoryLimit: 2 * MiB, tier: "nvm", metadataTier: "dram" }, { concurrency: 2, windowSize: 1024, operations: 12_000, ratio: { get: 1, set: 1 } }],
  ] as [string, MemcachedOptions, MemaslapOptions][])("%s: the same as on the host, on both policies", async (name, server, ms) => {
    const requests = memaslapRequests(3, ms);
    for (const policy of ["osv", "ucat"] as const) {
      const host = await fingerprint(policy, server, requests, false);
      expect(await fingerprint(policy, server, requests, true)).toBe(host);
      // the case does what its name says
      const { stats, slabs } = JSON.parse(host) as { stats: Record<string, number>; slabs: Record<string, number>[] };
      const sum = (k: string): number => slabs.reduce((a, c) => a + c[k]!, 0);
      if (name.includes("evictions")) expect([stats.evictions, sum("movesToWarm"), sum("movesWithinLru"), sum("directReclaims")].every((v) => v! > 0)).toBe(true);
      if (name.includes("doubles")) expect(stats.hashExpansions).toBe(2);
      if (name.includes("many classes")) expect(slabs.length).toBeGreaterThan(10);
    }
  });

  it("gets, sets, adds and replaces over few keys, on many connections: the same, also when handed back mid-way", async () => {
    const requests = randomRequests(11, 6000, 3000, 40, 1000, 200);
    const server = { memoryLimit: 2 * MiB, hashPower: 6 };
    const host = await fingerprint("ucat", server, requests, false);
    const parsed = JSON.parse(host);
    expect(parsed.stats.notStored).toBeGreaterThan(0);
    expect(parsed.stats.evictions).toBeGreaterThan(0);
    expect(parsed.stats.hashExpansions).toBeGreaterThan(0);
    expect(await fingerprint("ucat", server, requests, true)).toBe(host);
    expect(await fingerprint("ucat", server, requests, true, 2500)).toBe(host);
  });

  it("out of guest memory: slab pages refused the same way (SERVER_ERROR), the same state after", async () => {
    async function run(inCore: boolean): Promise<string> {
      const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 1 * GiB }], maxVms: 1 });
      const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 24 * MiB }] });
      const s = new MemcachedServer(vm.process, { memoryLimit: 0 });
      // values over many classes: the memory goes to the first ones, a later class gets no page
      const requests = randomRequests(5, 8000, 1e6, 2, 100, 20_000);
      if (inCore) {
        const mc = CoreMemcached.open(vm.process, s)!;
        try {
          mc.serve(requests);
        } finally {
          mc.finish();
        }
      } else for (const r of requests) r.op === 0 ? s.get(r.keyId, r.keyLen, r.conn) : s.store(OPS[r.op] as "set", r.keyId, r.keyLen, r.valueBytes, r.conn);
      sim.flush();
      const out = JSON.stringify({ stats: s.stats(), slabs: s.statsSlabs(), counters: sim.counters(vm.vcpu) }, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      sim.close();
      return out;
    }
    const host = await run(false);
    expect(JSON.parse(host).stats.outOfMemory).toBeGreaterThan(0);
    expect(JSON.parse(host).stats.evictions).toBeGreaterThan(0);
    expect(await run(true)).toBe(host);
  });

  it("bad requests are refused before anything runs, naming the request and the field", async () => {
    const { sim, vm } = await vmOf("ucat");
    const s = new MemcachedServer(vm.process);
    const mc = CoreMemcached.open(vm.process, s)!;
    const ok: CoreRequest = { op: 1, keyId: 1, keyLen: 64, valueBytes: 100, conn: 0 };
    expect(() => mc.serve([ok, { ...ok, keyLen: 251 }])).toThrow(/requests\[1\]\.keyLen: 251/);
    expect(() => mc.serve([{ ...ok, valueBytes: 600_000 }])).toThrow(/requests\[0\]\.valueBytes: 600000.*slab_chunk_max/);
    expect(() => mc.serve([{ ...ok, op: 4 as 0 }])).toThrow(/requests\[0\]\.op: 4/);
    expect(() => mc.serve([{ ...ok, conn: 70_000 }])).toThrow(/requests\[0\]\.conn: 70000/);
    mc.finish();
    expect(s.stats().cmdSet).toBe(0);
    sim.close();
  });

  it("property: random commands, limits, table sizes and split points give the host's results", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 1e6 }),
          keys: fc.integer({ min: 1, max: 3000 }),
          conns: fc.integer({ min: 1, max: 20 }),
          minValue: fc.integer({ min: 0, max: 5000 }),
          spread: fc.integer({ min: 1, max: 9000 }),
          limit: fc.constantFrom(0, 1, 2, 3),
          hashPower: fc.integer({ min: 1, max: 12 }),
          split: fc.integer({ min: 0, max: 1500 }),
          network: fc.boolean(),
        }),
        async (p) => {
          const requests = randomRequests(p.seed, 1500, p.keys, p.conns, p.minValue, p.spread);
          const server: MemcachedOptions = { memoryLimit: p.limit * MiB, hashPower: p.hashPower, network: p.network };
          const host = await fingerprint("ucat", server, requests, false);
          expect(await fingerprint("ucat", server, requests, true, p.split)).toBe(host);
        },
      ),
      { numRuns: 12, seed: 42 },
    );
  });
});

describe("memslap with the memcached model in the core", () => {
  /** A whole run: the result, the counters, the requests and the progress calls. */
  async function run(policy: "osv" | "ucat", opts: MemaslapRunOptions, inCore: boolean): Promise<string> {
    const { sim, vm } = await vmOf(policy);
    const hash = hashRequests(sim);
    const progress: Parameters<ProgressCallback>[] = [];
    const r = runMemaslap(vm.process, { ...opts, inCore, onProgress: (...a) => progress.push(a) });
    const out = JSON.stringify({ r, counters: sim.counters(vm.vcpu), requests: hash(), progress, faults: sim.faultCount }, (_k, v) =>
      typeof v === "bigint" ? v.toString() : v,
    );
    sim.close();
    return out;
  }

  it.each([
    ["defaults, a 256 MiB limit", { operations: 40_000, server: { memoryLimit: 256 * MiB } }],
    ["progress every 4096 (a multiple of the operations)", { operations: 16_384, progressEvery: 4096, concurrency: 4, windowSize: 1024 }],
    ["a small limit and table, random schedule, overwrites", { operations: 30_000, concurrency: 3, windowSize: 1024, schedule: "random", overwrite: 0.4, server: { memoryLimit: 2 * MiB, hashPower: 9 } }],
    ["no sets (warmup first)", { operations: 8000, concurrency: 2, windowSize: 1024, ratio: { get: 1, set: 0 } }],
  ] as [string, MemaslapRunOptions][])("%s: the same as on the host, on both policies", async (name, o) => {
    for (const policy of ["osv", "ucat"] as const) {
      const host = await run(policy, { seed: 9, progressEvery: 5000, ...o }, false);
      expect(await run(policy, { seed: 9, progressEvery: 5000, ...o }, true)).toBe(host);
      // the table doubles twice: the second time the core asks the host for room
      if (name.includes("table")) expect(JSON.parse(host).r.memcached.stats.hashExpansions).toBeGreaterThanOrEqual(2);
    }
  });

  it("a server given to two runs, and a slab class's pages outgrowing the chunks' room: the same as on the host", async () => {
    async function twice(inCore: boolean): Promise<string> {
      const { sim, vm } = await vmOf("ucat");
      const hash = hashRequests(sim);
      const server = new MemcachedServer(vm.process, { memoryLimit: 0, slabs: { chunkSize: 16, factor: 2 } });
      // 40-byte values in 128-byte chunks: 8192 a page, pages beyond the room the core is given at first
      const a = runMemaslap(vm.process, { seed: 1, operations: 200_000, concurrency: 4, windowSize: 1024, valueSize: 40, keySize: 16, ratio: { get: 1, set: 1 }, server, inCore });
      const b = runMemaslap(vm.process, { seed: 2, operations: 20_000, concurrency: 2, windowSize: 1024, server, inCore });
      const out = JSON.stringify({ a, b, counters: sim.counters(vm.vcpu), requests: hash() }, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      sim.close();
      return out;
    }
    const host = await twice(false);
    expect(JSON.parse(host).a.memcached.slabs[0].totalPages).toBeGreaterThan(8);
    expect(await twice(true)).toBe(host);
  });

  it("items larger than a slab chunk: refused before either model runs, with the largest value that fits", async () => {
    const { vm, sim } = await vmOf("ucat");
    for (const inCore of [true, false]) {
      expect(() => runMemaslap(vm.process, { operations: 100, valueSize: 600_000, inCore })).toThrow(
        /^valueSize: 600000 is not allowed; expected an integer in 1\.\.524165 \(the largest value whose item, with keys of 64 B, fits memcached's slab_chunk_max of 524288 B/,
      );
    }
    expect(sim.counters(vm.vcpu).requests).toBe(0); // nothing ran
    sim.close();
  });
});

describe("YCSB over the memcached model in the core", () => {
  /** A whole run on the memcached backend: the result, the counters, the requests and the progress calls. */
  async function run(policy: "osv" | "ucat", w: "a" | "b" | "c" | "d" | "e" | "f", opts: YcsbRunOptions, inCore: boolean): Promise<string> {
    const { sim, vm } = await vmOf(policy);
    const hash = hashRequests(sim);
    const progress: Parameters<ProgressCallback>[] = [];
    const r = runYcsb(vm.process, w, { recordCount: 2000, operationCount: 6000, seed: 3, progressEvery: 1000, ...opts, backend: "memcached", inCore, onProgress: (...a) => progress.push(a) });
    const out = JSON.stringify({ r, counters: sim.counters(vm.vcpu), requests: hash(), progress, faults: sim.faultCount }, (_k, v) =>
      typeof v === "bigint" ? v.toString() : v,
    );
    sim.close();
    return out;
  }

  it.each(["a", "b", "c", "d", "e", "f"] as const)("workload %s: the same as on the host, on both policies", async (w) => {
    for (const policy of ["osv", "ucat"] as const) {
      const host = await run(policy, w, {}, false);
      expect(await run(policy, w, {}, true)).toBe(host);
    }
  });

  it("a small server (evictions and misses), no load phase on a given server, and batches across progress points: the same", async () => {
    const small: YcsbRunOptions = { memcached: { memoryLimit: 2 * MiB }, progressEvery: 777 };
    const host = await run("ucat", "a", small, false);
    expect(JSON.parse(host).r.memcached.stats.evictions).toBeGreaterThan(0);
    expect(JSON.parse(host).r.misses).toBeGreaterThan(0);
    expect(await run("ucat", "a", small, true)).toBe(host);
    async function twoRuns(inCore: boolean): Promise<string> {
      const { sim, vm } = await vmOf("ucat");
      const server = new MemcachedServer(vm.process, { memoryLimit: 0 });
      const a = runYcsb(vm.process, "a", { recordCount: 1000, operationCount: 3000, backend: "memcached", memcached: server, inCore });
      const b = runYcsb(vm.process, "c", { recordCount: 1000, operationCount: 3000, backend: "memcached", memcached: server, load: false, inCore });
      const out = JSON.stringify({ a, b, counters: sim.counters(vm.vcpu) }, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      sim.close();
      return out;
    }
    expect(await twoRuns(true)).toBe(await twoRuns(false));
  });

  it("keys too long for memcached: the core's batch ends and the host's model refuses the key the same way", async () => {
    for (const inCore of [false, true]) {
      const { sim, vm } = await vmOf("ucat");
      const server = new MemcachedServer(vm.process, { memoryLimit: 0 });
      // names of "user" and 260 digits: keys of 270 bytes with the table's prefix
      expect(() => runYcsb(vm.process, "a", { recordCount: 100, operationCount: 100, backend: "memcached", memcached: server, inCore, spec: { zeroPadding: 260 } })).toThrow(/keyLen: 274 is not allowed/);
      sim.close();
    }
  });
});
