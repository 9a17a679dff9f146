// YCSB's run phase made in parts on two threads (src/workloads/ycsb/run-thread.ts)
// against the phase made in the main thread's core alone: the same results, counters,
// requests in the same order and progress calls, with the generator hosted by a line
// thread's worker and on a worker of its own; parts made by either core in any order
// give one stream; run calls off the plan are refused; a phase stopped early leaves the
// store and the stream as the core alone leaves them.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulator, type SimulatorOptions } from "../../src/sim/simulator.js";
import { runYcsb, type YcsbRunOptions } from "../../src/workloads/drivers.js";
import { KvStore } from "../../src/workloads/ycsb/store.js";
import { CoreYcsbRun, generatorSpec } from "../../src/workloads/ycsb/core-run.js";
import { YcsbRunStream, ycsbKeyNaming, ycsbWorkload, type YcsbWorkloadName } from "../../src/workloads/ycsb/workloads.js";
import { GeneratorThread, HEADER_WORDS, callSize, configureGenerator, generatorCores, makePart, nextStart, partOf, type PartMaker } from "../../src/workloads/ycsb/run-thread.js";
import { loadCoreModule } from "../../src/core/load.js";
import { workerThreads } from "../../src/core/threads-browser.js";
import { GiB, vmOf, ycsbFingerprint } from "./core-helpers.js";

type Threads = Pick<SimulatorOptions, "lineThread" | "generatorThread">;

/** A simulator with one osv VM and `threads`. */
const simOf = (threads: Threads) => vmOf("osv", threads);

/** A run's result, counters, requests (hashed in order) and progress calls. */
async function fingerprint(threads: Threads, workload: YcsbWorkloadName, opts: YcsbRunOptions): Promise<string> {
  const { sim, vm } = await simOf(threads);
  return ycsbFingerprint(sim, vm, workload, { progressEvery: 777, ...opts });
}

const SMALL = { recordCount: 2000, operationCount: 12_000, seed: 3 };

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
    /** The parts' requests and headers, core `pattern[k % length]` making part k. */
    const make = (pattern: number[]) => {
      const spec = generatorSpec(store, new YcsbRunStream(spec0, 9).coreParams()!, vm.vcpu, 5000, { queuedRequests: 37, queueCapacity: capacity }, plan);
      for (const c of cores) expect(configureGenerator(c.g, spec)).toBe(true);
      const makers: PartMaker[] = cores.map((c) => ({ g: c.g, made: -1 }));
      const out: { requests: number[]; header: number[] }[] = [];
      let prev: Float64Array | null = null;
      for (let k = 0; k < 1000 && !(prev && partOf(prev).last); k++) {
        const who = pattern[k % pattern.length]!;
        const h = new Float64Array(HEADER_WORDS);
        const at = nextStart(spec, prev);
        makePart(makers[who]!, spec, k, prev, at, h);
        const { start, end } = partOf(h);
        const c = cores[who]!;
        out.push({ requests: [...new Uint32Array(c.g.memory.buffer, c.requests + start * 16, (end - start) * 4)], header: [...h] });
        prev = h;
      }
      return out;
    };
    const one = make([0]);
    // every operation of the plan, in parts that end at its calls
    expect(one.reduce((s, p) => s + partOf(Float64Array.from(p.header)).ops, 0)).toBe(5000);
    expect(callSize({ ...plan, total: 5000 }, 0)).toBe(300);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 12 }), async (pattern) => {
        expect(make(pattern)).toEqual(one);
      }),
      { numRuns: 12, seed: 20261129 },
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
