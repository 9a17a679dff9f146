// Chrome trace-event JSON: valid JSON with the fields the viewers need, times in µs,
// per-category sampling, a bounded buffer that keeps an even sample, and file streaming.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ChromeTrace } from "../../src/report/perfetto.js";

interface Ev {
  name: string;
  ph: string;
  ts?: number;
  dur?: number;
  pid: number;
  tid?: number;
  cat?: string;
  s?: string;
  args?: Record<string, unknown>;
}
type Doc = { traceEvents: Ev[]; displayTimeUnit: string; otherData: Record<string, any> };

const dir = mkdtempSync(join(tmpdir(), "unimmu-perfetto-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Checks what the Trace Event Format requires of each phase. */
function checkFormat(doc: Doc): void {
  expect(Array.isArray(doc.traceEvents)).toBe(true);
  for (const e of doc.traceEvents) {
    expect(typeof e.name).toBe("string");
    expect(typeof e.ph).toBe("string");
    expect(Number.isInteger(e.pid)).toBe(true);
    switch (e.ph) {
      case "X":
        expect(typeof e.ts).toBe("number");
        expect(e.dur).toBeGreaterThanOrEqual(0);
        expect(Number.isInteger(e.tid)).toBe(true);
        break;
      case "i":
        expect(typeof e.ts).toBe("number");
        expect(["t", "p", "g"]).toContain(e.s);
        break;
      case "C":
        expect(typeof e.ts).toBe("number");
        expect(Object.values(e.args ?? {}).every((v) => typeof v === "number")).toBe(true);
        break;
      case "M":
        expect(["process_name", "thread_name", "process_sort_index", "thread_sort_index"]).toContain(e.name);
        expect(e.args).toBeDefined();
        break;
      default:
        throw new Error(`unexpected phase ${e.ph}`);
    }
  }
}

function sample(): ChromeTrace {
  const t = new ChromeTrace({ cyclesPerUs: 3000, metadata: { scenario: "paper", seed: 1 } });
  t.processName(1, "vm0 (ucat)", 0);
  t.threadName(1, 0, "vcpu0");
  t.threadName(1, 1, 'proc "httpd" <1>', 1);
  t.complete({ name: "walk 2D", cat: "walk", pid: 1, tid: 0, ts: 3000, dur: 310, args: { va: "0x7f001000", levels: 24 } });
  t.instant({ name: "tlb flush", pid: 1, tid: 1, ts: 6000 });
  t.instant({ name: "vm start", pid: 1, ts: 0, scope: "process" });
  t.counter({ name: "memory", pid: 1, ts: 9000, values: { dram: 1 << 30, nvm: 4 * 2 ** 30 } });
  return t;
}

describe("ChromeTrace", () => {
  it("writes JSON with the fields the viewers need, and times in microseconds", () => {
    const doc = JSON.parse(sample().toString()) as Doc;
    checkFormat(doc);
    expect(doc.displayTimeUnit).toBe("ns");
    expect(doc.otherData.scenario).toBe("paper");
    const byName = Object.fromEntries(doc.traceEvents.map((e) => [e.name + e.ph + (e.tid ?? ""), e]));
    expect(byName["process_nameM0"].args).toEqual({ name: "vm0 (ucat)" });
    expect(byName["process_sort_indexM0"].args).toEqual({ sort_index: 0 });
    expect(byName["thread_nameM1"].args).toEqual({ name: 'proc "httpd" <1>' });
    expect(byName["walk 2DX0"]).toEqual({
      name: "walk 2D",
      cat: "walk",
      ph: "X",
      ts: 1, // 3000 cycles at 3000 cycles/µs
      dur: 0.103, // 310 cycles = 0.10333 µs, rounded to the ns
      pid: 1,
      tid: 0,
      args: { va: "0x7f001000", levels: 24 },
    });
    expect(byName["tlb flushi1"]).toMatchObject({ ph: "i", s: "t", ts: 2, pid: 1, tid: 1 });
    expect(byName["vm starti0"]).toMatchObject({ s: "p" });
    expect(byName["memoryC"]).toEqual({ name: "memory", ph: "C", ts: 3, pid: 1, args: { dram: 2 ** 30, nvm: 2 ** 32 } });
    expect(sample().toJSON()).toEqual(doc);
  });

  it("is deterministic", () => {
    expect(sample().toString()).toBe(sample().toString());
  });

  it("keeps every Nth event of a sampled category", () => {
    const t = new ChromeTrace({ sampleEvery: { walk: 10 } });
    for (let i = 0; i < 1000; i++) {
      t.complete({ name: "walk", cat: "walk", pid: 1, tid: 0, ts: i, dur: 0.5 });
      if (i % 100 === 0) t.instant({ name: "flush", pid: 1, ts: i });
    }
    const doc = t.toJSON() as Doc;
    const walks = doc.traceEvents.filter((e) => e.cat === "walk");
    expect(walks.map((e) => e.ts)).toEqual(Array.from({ length: 100 }, (_, k) => k * 10));
    expect(doc.traceEvents.filter((e) => e.name === "flush")).toHaveLength(10);
    expect(t.stats).toEqual({
      walk: { seen: 1000, kept: 100, every: 10, dropped: 0 },
      flush: { seen: 10, kept: 10, every: 1, dropped: 0 },
    });
    expect(doc.otherData.sampling.walk).toEqual({ seen: 1000, kept: 100, every: 10, dropped: 0 });
  });

  it("bounds the buffer by thinning the biggest category evenly over the whole run", () => {
    const max = 1000;
    const t = new ChromeTrace({ maxEvents: max });
    t.processName(1, "vm0");
    for (let i = 0; i < 200_000; i++) {
      t.complete({ name: "walk", cat: "walk", pid: 1, tid: i % 4, ts: i, dur: 0.3, args: { va: i * 4096 } });
      if (i % 1000 === 0) t.counter({ name: "rss", pid: 1, ts: i, values: { bytes: i * 64 } });
    }
    expect(t.size).toBeLessThanOrEqual(max);
    const text = t.toString();
    const doc = JSON.parse(text) as Doc;
    checkFormat(doc);
    const walks = doc.traceEvents.filter((e) => e.cat === "walk");
    const stats = t.stats;
    expect(walks.length).toBe(stats.walk.kept);
    // an even sample: a power-of-two stride from the start to near the end of the run
    const every = stats.walk.every;
    expect(Math.log2(every) % 1).toBe(0);
    expect(walks.every((e) => (e.ts ?? -1) % every === 0)).toBe(true);
    expect(walks[0].ts).toBe(0);
    expect(walks.at(-1)!.ts).toBeGreaterThan(200_000 - 2 * every);
    // the small category is untouched
    expect(doc.traceEvents.filter((e) => e.ph === "C")).toHaveLength(200);
    expect(stats.rss).toEqual({ seen: 200, kept: 200, every: 1, dropped: 0 });
    // the metadata stays
    expect(doc.traceEvents.filter((e) => e.ph === "M")).toHaveLength(1);
    // and the size is bounded: about max events of ~100 bytes
    expect(text.length).toBeLessThan(max * 130);
  });

  it("streams to a file with fixed strides and a hard cap", () => {
    const file = join(dir, "run.trace.json");
    const t = new ChromeTrace({ file, maxEvents: 500, sampleEvery: { walk: 4 }, cyclesPerUs: 2 });
    t.processName(7, "vm7");
    t.threadName(7, 3, "vcpu3");
    for (let i = 0; i < 4000; i++) t.complete({ name: "walk", cat: "walk", pid: 7, tid: 3, ts: 2 * i, dur: 1 });
    t.instant({ name: "late", pid: 7, ts: 0 });
    expect(() => t.toString()).toThrow(/streamed to a file/);
    t.close();
    t.close();
    expect(() => t.instant({ name: "after", pid: 7, ts: 1 })).toThrow(/after close/);
    const doc = JSON.parse(readFileSync(file, "utf8")) as Doc;
    checkFormat(doc);
    const walks = doc.traceEvents.filter((e) => e.cat === "walk");
    expect(walks).toHaveLength(500);
    expect(walks.slice(0, 3).map((e) => e.ts)).toEqual([0, 4, 8]); // every 4th; 2 cycles per µs
    expect(walks[0].dur).toBe(0.5);
    expect(doc.traceEvents.filter((e) => e.ph === "M")).toHaveLength(2);
    expect(doc.otherData.sampling.walk).toEqual({ seen: 4000, kept: 500, every: 4, dropped: 500 });
    expect(doc.otherData.sampling.late).toEqual({ seen: 1, kept: 0, every: 1, dropped: 1 });
  });

  it("writes a buffered trace to a file in pieces", async () => {
    const file = join(dir, "buffered.json");
    const t = new ChromeTrace();
    t.processName(1, "vm");
    for (let i = 0; i < 25_000; i++) t.instant({ name: "x", pid: 1, ts: i });
    await t.writeFile(file);
    const text = readFileSync(file, "utf8");
    expect(text).toBe(t.toString());
    expect((JSON.parse(text) as Doc).traceEvents).toHaveLength(25_001);
  });

  it("an empty trace is valid JSON", () => {
    expect(new ChromeTrace().toJSON().traceEvents).toEqual([]);
    const file = join(dir, "empty.json");
    const t = new ChromeTrace({ file });
    t.close();
    expect(JSON.parse(readFileSync(file, "utf8")).traceEvents).toEqual([]);
  });

  it("rejects bad numbers with the field named", () => {
    const t = new ChromeTrace();
    expect(() => t.complete({ name: "w", pid: 1, ts: NaN, dur: 1 })).toThrow("ts: NaN is not a finite number");
    expect(() => t.complete({ name: "w", pid: 1, ts: 1, dur: -1 })).toThrow("dur: -1 is negative");
    expect(() => t.counter({ name: "c", pid: 1, ts: 1, values: { a: Infinity } })).toThrow("values.a: Infinity");
    expect(() => new ChromeTrace({ sampleEvery: { walk: 0 } })).toThrow("sampleEvery.walk: 0 is not an integer >= 1");
    expect(() => new ChromeTrace({ cyclesPerUs: 0 })).toThrow("cyclesPerUs: 0 is not a number > 0");
  });
});
