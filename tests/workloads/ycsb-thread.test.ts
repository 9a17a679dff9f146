// YCSB's run phase made in parts on two threads (src/workloads/ycsb/run-thread.ts)
// against the phase made in the main thread's core alone: the same results, counters,
// requests in the same order and progress calls, with the generator hosted by a line
// thread's worker and on a worker of its own; parts made by either core in any order
// give one stream; run calls off the plan are refused; a phase stopped early leaves the
// store and the stream as the core alone leaves them. Operations drawn ahead during the
// load phase: taken by either core, whole or in part, they give the same stream.
import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { Simulator, type SimulatorOptions } from "../../src/sim/simulator.js";
import { runYcsb, type YcsbRunOptions } from "../../src/workloads/drivers.js";
import { KvStore } from "../../src/workloads/ycsb/store.js";
import { CoreYcsbLoad, CoreYcsbRun, generatorSpec } from "../../src/workloads/ycsb/core-run.js";
import { YcsbRunStream, ycsbKeyNaming, ycsbWorkload, type YcsbWorkloadName } from "../../src/workloads/ycsb/workloads.js";
import { GeneratorThread, HEADER_WORDS, callSize, configureGenerator, drawRegion, generatorCores, makePart, nextStart, partOf, type PartMaker } from "../../src/workloads/ycsb/run-thread.js";
import { loadCoreModule } from "../../src/core/load.js";
import { workerThreads } from "../../src/core/threads-browser.js";
import { GiB, hashRequests, vmOf, ycsbFingerprint } from "./core-helpers.js";

type Threads = Pick<SimulatorOptions, "lineThread" | "generatorThread">;

/** A simulator with one osv VM and `threads`. */
const simOf = (threads: Threads) => vmOf("osv", threads);

/** A run's result, counters, requests (hashed in order) and progress calls. */
async function fingerprint(threads: Threads, workload: YcsbWorkloadName, opts: YcsbRunOptions): Promise<string> {
  const { sim, vm } = await simOf(threads);
  return ycsbFingerprint(sim, vm, workload, { progressEvery: 777, ...opts });
}

const SMALL = { recordCount: 2000, operationCount: 12_000, seed: 3 };

type WorkerCores = ReturnType<ReturnType<typeof generatorCores>>[];

/** A phase's parts as `cores` make them, core `pattern[k % length]` making part k: each part's requests, then its header. */
function makeParts(cores: WorkerCores, makers: PartMaker[], spec: Parameters<typeof makePart>[1], pattern: number[]): number[][] {
  const out: number[][] = [];
  let prev: Float64Array | null = null;
  for (let k = 0; k < 1000 && !(prev && partOf(prev).last); k++) {
    const who = pattern[k % pattern.length]!;
    const h = new Float64Array(HEADER_WORDS);
    makePart(makers[who]!, spec, k, prev, nextStart(spec, prev), h);
    const { start, end } = partOf(h);
    const c = cores[who]!;
    out.push([...new Uint32Array(c.g.memory.buffer, c.requests + start * 16, (end - start) * 4)], [...h]);
    prev = h;
  }
  return out;
}

describe("YCSB's run phase on a generator thread", () => {
  it.each([
    ["a", {}],
    ["b", {}],
    ["c", { spec: { requestDistribution: "latest" } }],
    ["f", { spec: { readAllFields: false, writeAllFields: true } }],
    ["a", { spec: { requestDistribution: "uniform" } }],
    ["a", { store: { network: false } }],
    // long chains and keys beyond the records (misses)
    ["c", { store: { initialBuckets: 64, maxLoadFactor: 8 }, spec: { insertCount: 1200 } }],
    // progress points that are not the buffer's: calls end mid-buffer
    ["b", { progressEvery: 100 }],
    // inserts and scans stay in the main thread's core, with the option on
    ["d", {}],
    ["e", { operationCount: 2000 }],
  ] as [YcsbWorkloadName, YcsbRunOptions][])("workload %s %j: the same as the core alone, hosted by a line thread and on its own", async (w, o) => {
    const alone = await fingerprint({}, w, { ...SMALL, ...o });
    expect(await fingerprint({ lineThread: true, generatorThread: true }, w, { ...SMALL, ...o })).toBe(alone);
    expect(await fingerprint({ generatorThread: true }, w, { ...SMALL, ...o })).toBe(alone);
  });

  it("parts made by either of two cores, in any pattern, give the stream one core makes (property)", async () => {
    const { sim, vm } = await simOf({});
    const spec0 = ycsbWorkload("a", { recordCount: 1500, operationCount: 0 });
    const store = new KvStore(vm.process, { initialBuckets: 256, maxLoadFactor: 4 });
    runYcsb(vm.process, "a", { recordCount: 1500, operationCount: 0, store });
    const module = await loadCoreModule();
    const capacity = 2048;
    const plan = { first: 300, every: 700 };
    const cores = [generatorCores(module)(capacity), generatorCores(module)(capacity)];
    const make = (pattern: number[]) => {
      const spec = generatorSpec(store, new YcsbRunStream(spec0, 9).coreParams()!, vm.vcpu, 5000, { queuedRequests: 37, queueCapacity: capacity }, plan);
      for (const c of cores) expect(configureGenerator(c.g, spec)).toBe(true);
      return makeParts(cores, cores.map((c) => ({ g: c.g, made: -1 })), spec, pattern);
    };
    const one = make([0]);
    // every operation of the plan, in parts that end at its calls
    expect(one.filter((_, i) => i % 2 === 1).reduce((s, h) => s + partOf(Float64Array.from(h)).ops, 0)).toBe(5000);
    expect(callSize({ ...plan, total: 5000 }, 0)).toBe(300);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 12 }), async (pattern) => {
        expect(make(pattern)).toEqual(one);
      }),
      { numRuns: 12, seed: 20261129 },
    );
    sim.close();
  });

  it("parts made by two cores, either taking operations drawn ahead or drawing them, give the stream one core makes (property)", async () => {
    const { sim, vm } = await simOf({});
    const spec0 = ycsbWorkload("b", { recordCount: 1200, operationCount: 0, requestDistribution: "latest" });
    const store = new KvStore(vm.process, { initialBuckets: 256, maxLoadFactor: 4 });
    runYcsb(vm.process, "b", { recordCount: 1200, operationCount: 0, store, spec: { requestDistribution: "latest" } });
    const module = await loadCoreModule();
    const capacity = 1024;
    const plan = { first: 250, every: 900 };
    const total = 4000;
    const cores = [generatorCores(module)(capacity), generatorCores(module)(capacity)];
    const specOf = () => generatorSpec(store, new YcsbRunStream(spec0, 5).coreParams()!, vm.vcpu, total, { queuedRequests: 11, queueCapacity: capacity }, plan);
    /** Core `c` configured for the phase, holding its first `drawn` operations drawn ahead (0: none). */
    const configure = (c: (typeof cores)[number], drawn: number): boolean => {
      const spec = specOf();
      expect(configureGenerator(c.g, spec)).toBe(true);
      if (drawn === 0) return false;
      const region = drawRegion(c.g, drawn)!;
      expect(c.g.ycsbDraw(region.entries, region.states, drawn)).toBe(drawn);
      configureGenerator(c.g, spec); // the stream from its start again
      c.g.ycsbReplay(region.entries, region.states, drawn);
      return true;
    };
    const make = (pattern: number[], drawn: [number, number]) =>
      makeParts(cores, cores.map((c, i) => ({ g: c.g, made: -1, replay: configure(c, drawn[i]!) })), specOf(), pattern);
    const one = make([0], [0, 0]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 10 }),
        fc.tuple(fc.integer({ min: 0, max: total + 500 }), fc.integer({ min: 0, max: total + 500 })),
        async (pattern, drawn) => {
          expect(make(pattern, drawn)).toEqual(one);
        },
      ),
      { numRuns: 16, seed: 20261130 },
    );
    sim.close();
  });

  it("run calls off the plan it was opened with are refused", async () => {
    const { sim, vm } = await simOf({ generatorThread: true });
    const spec = ycsbWorkload("b", { recordCount: 500, operationCount: 0 });
    const store = new KvStore(vm.process);
    runYcsb(vm.process, "b", { recordCount: 500, operationCount: 0, store });
    const run = CoreYcsbRun.open(vm.process, store, new YcsbRunStream(spec, 2), ycsbKeyNaming(spec), 1000, { first: 400, every: 400 })!;
    run.run(400);
    expect(() => run.run(300)).toThrow(/run\(300\) does not follow the plan it was opened with; expected run\(400\)/);
    run.finish();
    sim.close();
  });

  it("a phase stopped early leaves the store's counts and the stream where the core alone leaves them, and the thread serves the next phase", async () => {
    const spec = ycsbWorkload("f", { recordCount: 800, operationCount: 0 });
    const results = [];
    for (const threads of [{}, { generatorThread: true }, { lineThread: true, generatorThread: true }] as Threads[]) {
      const { sim, vm } = await simOf(threads);
      const store = new KvStore(vm.process);
      runYcsb(vm.process, "f", { recordCount: 800, operationCount: 0, store });
      const stream = new YcsbRunStream(spec, 4);
      const seen = [];
      for (let phase = 0; phase < 3; phase++) {
        // 2 calls of 600 of a plan of 20 000: the worker has made parts ahead that are dropped
        const run = CoreYcsbRun.open(vm.process, store, stream, ycsbKeyNaming(spec), 20_000, { first: 600, every: 600 })!;
        run.run(600);
        run.run(600);
        seen.push(run.finish(), store.stats(), stream.next());
      }
      seen.push(sim.counters(vm.vcpu).walks);
      results.push(JSON.stringify(seen));
      sim.close();
    }
    expect(results[1]).toBe(results[0]);
    expect(results[2]).toBe(results[0]);
  });

  describe("operations drawn ahead during the load phase", () => {
    const maxBefore = CoreYcsbLoad.drawAheadMax;
    const start = GeneratorThread.prototype.start;
    afterEach(() => {
      CoreYcsbLoad.drawAheadMax = maxBefore;
      vi.restoreAllMocks();
    });

    /**
     * A load of 1500 records (the next phase's `ahead` operations drawn meanwhile; with a
     * generator thread, waited for), then run phases of `calls` of `plan`, of the stream
     * of seed `runSeed`: what they leave (counts, store, the stream's next operation,
     * counters, requests) and the operations each phase took drawn ahead.
     */
    async function drawnAhead(threads: Threads, ahead: number, runSeed: number, plan: { first: number; every: number }, calls: number[][]) {
      const { sim, vm } = await simOf(threads);
      const requests = hashRequests(sim);
      const taken: number[] = [];
      vi.spyOn(GeneratorThread.prototype, "start").mockImplementation(function (this: GeneratorThread, spec) {
        const d = start.call(this, spec);
        taken.push(d?.ops ?? 0);
        return d;
      });
      const spec = ycsbWorkload("a", { recordCount: 1500, operationCount: 0 });
      const store = new KvStore(vm.process);
      const naming = ycsbKeyNaming(spec);
      const stream = new YcsbRunStream(spec, 8);
      const load = CoreYcsbLoad.open(vm.process, store, spec, naming, 0, 1500, { stream, operations: ahead })!;
      load.run(1500);
      load.finish();
      const thread = sim.generatorThread;
      const want = Math.min(ahead, CoreYcsbLoad.drawAheadMax);
      for (let i = 0; thread && thread.drawnAhead < want && i < 2000; i++) await new Promise((r) => setTimeout(r, 5));
      const seen: unknown[] = [];
      const runStream = runSeed === 8 ? stream : new YcsbRunStream(spec, runSeed);
      for (const phase of calls) {
        const run = CoreYcsbRun.open(vm.process, store, runStream, naming, 20_000, plan)!;
        for (const n of phase) run.run(n);
        seen.push(run.finish(), store.stats(), runStream.next());
      }
      seen.push(sim.counters(vm.vcpu), requests());
      sim.close();
      return { out: JSON.stringify(seen, (_k, v) => (typeof v === "bigint" ? v.toString() : v)), taken };
    }

    const threads: Threads = { lineThread: true, generatorThread: true };

    it("taken whole, by a phase stopped early within them and by the next: the same as the core alone", async () => {
      const calls = [[600, 600], [600]];
      const plan = { first: 600, every: 600 };
      const alone = await drawnAhead({}, 20_000, 8, plan, calls);
      const thread = await drawnAhead(threads, 20_000, 8, plan, calls);
      expect(thread.taken).toEqual([20_000, 0]);
      expect(thread.out).toBe(alone.out);
    });

    it("taken in part (fewer drawn than the phase has), the rest drawn as it goes: the same", async () => {
      CoreYcsbLoad.drawAheadMax = 1777;
      const calls = [[700, 1300, 1300]];
      const plan = { first: 700, every: 1300 };
      const alone = await drawnAhead({}, 20_000, 8, plan, calls);
      const thread = await drawnAhead(threads, 20_000, 8, plan, calls);
      expect(thread.taken).toEqual([1777]);
      expect(thread.out).toBe(alone.out);
    });

    it("not taken by a phase that draws otherwise (another random state)", async () => {
      const calls = [[900]];
      const plan = { first: 900, every: 900 };
      const alone = await drawnAhead({}, 5000, 9, plan, calls);
      const thread = await drawnAhead(threads, 5000, 9, plan, calls);
      expect(thread.taken).toEqual([0]);
      expect(thread.out).toBe(alone.out);
    });
  });

  it("a worker that fails says so by name, and its phase is not left waiting", async () => {
    const { sim, vm } = await simOf({});
    const spec0 = ycsbWorkload("a", { recordCount: 300, operationCount: 0 });
    const store = new KvStore(vm.process);
    runYcsb(vm.process, "a", { recordCount: 300, operationCount: 0, store });
    const spec = generatorSpec(store, new YcsbRunStream(spec0, 1).coreParams()!, vm.vcpu, 1000, sim, { first: 1000, every: 1000 });
    const thread = await GeneratorThread.acquire(await loadCoreModule());
    // a spec the worker cannot take (no shares to choose from): it fails taking the phase
    thread.start({ ...spec, shares: null as unknown as typeof spec.shares });
    expect(() => thread.stop()).toThrow(/generatorThread: YCSB's generator thread failed: .*forEach/);
    expect(() => thread.start(spec)).toThrow(/generatorThread: the thread was closed/);
    thread.release(); // (closed: nothing to give back)
    sim.close();
  });

  it("is refused in a browser by name, and a bad value by the simulator", async () => {
    await expect(workerThreads("generatorThread")).rejects.toThrow(/generatorThread: YCSB's generator thread needs Node's worker_threads; use generatorThread: false in a browser/);
    await expect(Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: GiB }], generatorThread: "yes" as unknown as boolean })).rejects.toThrow(
      /generatorThread: "yes" is not allowed; expected true or false/,
    );
  });
});
