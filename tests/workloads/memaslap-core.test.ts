// memaslap's request stream in the core (assembly/memaslap.ts) against the host's
// Memaslap (the reference): the same requests, in the same order, for every option, and
// after a hand-over either way the same state (windows, counters, random stream), so
// that the host goes on as if it had drawn every request itself.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulator } from "../../src/sim/simulator.js";
import type { MemaslapGenerator } from "../../src/core/wasm.js";
import { Memaslap, type MemaslapOptions, type MemaslapRequest } from "../../src/workloads/memcached/memaslap.js";
import { CoreMemaslap } from "../../src/workloads/memcached/core-memaslap.js";

const GiB = 2 ** 30;
const ROOM = 4096;

let sim: Simulator;
let g: MemaslapGenerator;

beforeAll(async () => {
  sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 1 * GiB }], maxVms: 1 });
  g = sim.core.memaslapGenerator();
});
afterAll(() => sim.close());

/** Up to n requests from the host's nextShared, copied as next() copies them. */
function hostTake(ms: Memaslap, n: number): MemaslapRequest[] {
  const out: MemaslapRequest[] = [];
  for (let i = 0; i < n; i++) {
    const r = ms.nextShared();
    if (!r) break;
    const c: MemaslapRequest = { op: r.op, conn: r.conn, keyId: r.keyId, keySize: r.keySize, valueSize: r.valueSize };
    if (r.retiredKeyId !== undefined) c.retiredKeyId = r.retiredKeyId;
    if (r.warmup) c.warmup = true;
    out.push(c);
  }
  return out;
}

/** Up to n requests drawn in the core (msDraw), the stream copied in before and back after. */
function coreTake(ms: Memaslap, n: number): MemaslapRequest[] {
  const cm = new CoreMemaslap(ms, g, { drawRoom: ROOM });
  cm.copyIn();
  const out: MemaslapRequest[] = [];
  while (out.length < n) {
    const want = Math.min(ROOM, n - out.length);
    const got = cm.draw(want);
    for (const r of got) out.push(r);
    if (got.length < want) break;
  }
  cm.copyBack();
  return out;
}

/** Everything a stream's future and counters depend on. */
function stateOf(ms: Memaslap) {
  const { keyIds, stored } = ms.arrays();
  return {
    scalars: ms.scalars(),
    conns: Array.from(ms.connState()),
    keyIds: hashF64(keyIds),
    stored: Array.from(stored).reduce((h, b, i) => (Math.imul(h, 31) + b * (i + 1)) | 0, 0),
    rng: ms.rng().getState(),
    counters: [ms.gets, ms.sets, ms.retiredKeys, ms.liveObjects, ms.windowsFull],
  };
}

function hashF64(a: Float64Array): number {
  let h = 0;
  for (let i = 0; i < a.length; i++) h = (Math.imul(h, 0x01000193) ^ (a[i]! % 0x7fffffff) ^ i) | 0;
  return h;
}

/** Draws in segments alternating host and core ([host, core, host, ...] lengths) against a pure host stream. */
function splitMatches(seed: number, opts: MemaslapOptions, segments: number[], tail = 1000): void {
  const ref = new Memaslap(seed, opts);
  const ms = new Memaslap(seed, opts);
  let at = 0;
  segments.forEach((len, i) => {
    const want = hostTake(ref, len);
    const got = i % 2 === 0 ? hostTake(ms, len) : coreTake(ms, len);
    expect(got.length, `segment ${i} at ${at}`).toBe(want.length);
    expect(got, `segment ${i} at ${at}`).toEqual(want);
    expect(stateOf(ms), `state after segment ${i}`).toEqual(stateOf(ref));
    at += len;
  });
  // the host goes on as if it had drawn everything
  expect(hostTake(ms, tail)).toEqual(hostTake(ref, tail));
  expect(stateOf(ms)).toEqual(stateOf(ref));
}

const W = 1024;

describe("memaslap's stream in the core", () => {
  it("draws the host's requests with the defaults (16 x 10240, 9:1)", () => {
    const ref = new Memaslap(1);
    const ms = new Memaslap(1);
    const want = hostTake(ref, 60_000);
    const got = coreTake(ms, 60_000);
    expect(got).toEqual(want);
    expect(stateOf(ms)).toEqual(stateOf(ref));
  });

  it.each([1, 2, 3, 4])("concurrency %i, windows of 1024: through the fill and the kick-outs", (concurrency) => {
    // 10 x 1024 operations fill a window: go well past it
    splitMatches(7 + concurrency, { concurrency, windowSize: W }, [0, 25_000 * concurrency]);
  });

  it.each([
    ["9:1", { get: 9, set: 1 }],
    ["1:1", { get: 1, set: 1 }],
    ["1:9", { get: 1, set: 9 }],
    ["0:1 (no gets)", { get: 0, set: 1 }],
    ["1:0 (no sets: the warmup)", { get: 1, set: 0 }],
    ["1:999 (set share at PROP_ERROR)", { get: 999, set: 1 }],
    ["3:7", { get: 3, set: 7 }],
  ])("ratio %s", (_name, ratio) => {
    splitMatches(3, { concurrency: 2, windowSize: W, ratio }, [0, 40_000]);
    splitMatches(4, { concurrency: 3, windowSize: W, ratio }, [1234, 30_000, 5_000, 7_000]);
  });

  it.each([0, 0.3, 1])("overwrite %f", (overwrite) => {
    splitMatches(11, { concurrency: 2, windowSize: W, overwrite }, [0, 50_000]);
    splitMatches(12, { concurrency: 1, windowSize: 2 * W, overwrite, ratio: { get: 1, set: 3 } }, [100, 30_000, 10]);
  });

  it("a random schedule", () => {
    splitMatches(5, { concurrency: 5, windowSize: W, schedule: "random" }, [0, 60_000]);
    splitMatches(6, { concurrency: 3, windowSize: W, schedule: "random", ratio: { get: 1, set: 0 }, operations: 9_000 }, [500, 20_000]);
  });

  it("key and value size ranges", () => {
    splitMatches(9, { concurrency: 2, windowSize: 2 * W, keySize: { min: 16, max: 250 }, valueSize: { min: 1, max: 5000 } }, [0, 30_000]);
    splitMatches(10, { concurrency: 1, windowSize: W, keySize: 40, valueSize: { min: 100, max: 101 } }, [10, 12_000]);
  });

  it("bounded operations: the core stops where the host does, and both stay stopped", () => {
    // 10_001 / 3 = 3333 per connection
    const opts: MemaslapOptions = { concurrency: 3, windowSize: W, operations: 10_001 };
    const ref = new Memaslap(2, opts);
    const ms = new Memaslap(2, opts);
    const want = hostTake(ref, 20_000);
    expect(want).toHaveLength(9999);
    expect(coreTake(ms, 20_000)).toEqual(want);
    expect(stateOf(ms)).toEqual(stateOf(ref));
    expect(ms.next()).toBeUndefined();
    expect(coreTake(ms, 10)).toEqual([]);
    // the warmup comes on top of the operations
    splitMatches(3, { concurrency: 2, windowSize: W, operations: 3001, ratio: { get: 1, set: 0 } }, [100, 10_000, 0], 10);
    // exhausted in the core mid-segment, after a random schedule dropped connections
    splitMatches(4, { concurrency: 4, windowSize: W, operations: 4_003, schedule: "random" }, [2_000, 2_500], 10);
  });

  it("hands over back and forth mid-stream", () => {
    splitMatches(21, { concurrency: 4, windowSize: W }, [1, 1, 2, 3, 5, 8, 13, 4096, 4097, 10_000, 1, 20_000]);
    splitMatches(22, { concurrency: 2, windowSize: W, ratio: { get: 1, set: 0 } }, [1000, 1047, 1, 5000]); // warmup ends in the core
    splitMatches(23, { concurrency: 2, windowSize: W, ratio: { get: 1, set: 0 } }, [2047, 1, 1]); // ends on the host
  });

  it("property: any options and split points", () => {
    const options = fc.record({
      concurrency: fc.integer({ min: 1, max: 5 }),
      windowSize: fc.constantFrom(1024, 2048),
      ratio: fc.record({ get: fc.integer({ min: 0, max: 10 }), set: fc.integer({ min: 0, max: 10 }) }).filter((r) => r.get + r.set > 0),
      overwrite: fc.constantFrom(0, 0.1, 0.5, 1),
      schedule: fc.constantFrom("round-robin" as const, "random" as const),
      keySize: fc.constantFrom<MemaslapOptions["keySize"]>(64, { min: 16, max: 250 }),
      valueSize: fc.constantFrom<MemaslapOptions["valueSize"]>(1024, { min: 1, max: 3000 }),
      operations: fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), options, fc.array(fc.integer({ min: 0, max: 12_000 }), { minLength: 1, maxLength: 5 }), (seed, opts, segments) => {
        splitMatches(seed, opts, segments, 300);
      }),
      { numRuns: 40 },
    );
  });

  it("the region is reused, and another stream's hand-over does not disturb a copied-back one", () => {
    const a = new Memaslap(1, { concurrency: 2, windowSize: W });
    const b = new Memaslap(2, { concurrency: 1, windowSize: W, ratio: { get: 1, set: 1 } });
    const refA = new Memaslap(1, { concurrency: 2, windowSize: W });
    const refB = new Memaslap(2, { concurrency: 1, windowSize: W, ratio: { get: 1, set: 1 } });
    expect(coreTake(a, 5000)).toEqual(hostTake(refA, 5000));
    expect(coreTake(b, 5000)).toEqual(hostTake(refB, 5000));
    expect(coreTake(a, 5000)).toEqual(hostTake(refA, 5000));
    expect(hostTake(b, 100)).toEqual(hostTake(refB, 100));
    expect(new CoreMemaslap(a, g).bytes).toBe(2 * W * 9 + 2 * 64 + W * 8 + 8);
  });

  it("refuses draws before copyIn and beyond its room", () => {
    const cm = new CoreMemaslap(new Memaslap(1, { concurrency: 1, windowSize: W }), g, { drawRoom: 10 });
    expect(() => cm.draw(1)).toThrow(/before copyIn/);
    expect(() => cm.copyBack()).toThrow(/before copyIn/);
    cm.copyIn();
    expect(() => cm.draw(11)).toThrow(RangeError);
    expect(cm.draw(10)).toHaveLength(10);
  });
});
