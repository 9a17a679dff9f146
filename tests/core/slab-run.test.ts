/**
 * The slab fast path through the request buffer (kinds 3 and 4, which the engine runs
 * in call-free runs) against the same operations one at a time through the exported
 * slabAlloc/slabFree: the same addresses, the same failures, the same heap counters.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { WasmCore } from "../../src/core/wasm.js";
import { loadCoreModule } from "../../src/core/load.js";
import { KIND_ALLOC, KIND_FREE } from "../../src/core/layout.js";
import { skylakeConfig } from "./setup.js";

const modules = [
  { name: "wasm-debug", module: await loadCoreModule({ variant: "debug" }) },
  { name: "wasm", module: await loadCoreModule({ variant: "release" }) },
];

const BASE = 2 ** 36;
// size classes: [object size, header, from the end]
const CLASSES: [number, number, boolean][] = [
  [64, 0, false],
  [96, 40, true],
  [1184, 0, false],
  [1, 0, false],
];

type Op =
  | { op: "alloc"; heap: number; cls: number }
  | { op: "free"; heap: number; pick: number; how: "live" | "double" | "misaligned" | "foreign" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("alloc" as const), heap: fc.nat(1), cls: fc.nat(CLASSES.length - 1) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("free" as const),
      heap: fc.nat(1),
      pick: fc.nat(),
      how: fc.constantFrom("live" as const, "live" as const, "live" as const, "double" as const, "misaligned" as const, "foreign" as const),
    }),
  },
);

interface World {
  core: WasmCore;
  nextPage: number[];
  live: number[][];
  freed: number[][];
  log: unknown[];
}

function world(module: WebAssembly.Module, shift: number): World {
  const core = WasmCore.fromModule({ ...skylakeConfig(), slabHeaps: 2 }, module);
  for (const heap of [0, 1]) {
    core.slabHeapCreate(heap, shift);
    CLASSES.forEach(([size, header, fromEnd], c) => core.slabClassCreate(heap, c, size, header, fromEnd));
  }
  return { core, nextPage: [0, 0], live: [[], []], freed: [[], []], log: [] };
}

function addPage(w: World, heap: number, cls: number, shift: number): void {
  w.core.slabAddPage(heap, cls, BASE + heap * 2 ** 40 + w.nextPage[heap]! * 2 ** shift);
  w.nextPage[heap]!++;
}

/** The address a free op names (the same in both worlds, as their states agree). */
function freeAddress(w: World, o: Extract<Op, { op: "free" }>): number {
  const live = w.live[o.heap]!;
  const freed = w.freed[o.heap]!;
  if (o.how === "double" && freed.length) return freed[o.pick % freed.length]!;
  if (o.how === "foreign") return BASE + 2 ** 44 + (o.pick % 1000) * 64;
  if (!live.length) return BASE + 2 ** 45;
  const a = live[o.pick % live.length]!;
  return o.how === "misaligned" ? a + 1 + (o.pick % 7) : a;
}

function noteFree(w: World, heap: number, addr: number, ok: boolean): void {
  if (!ok) return;
  const live = w.live[heap]!;
  const k = live.indexOf(addr);
  if (k >= 0) live.splice(k, 1);
  w.freed[heap]!.push(addr);
}

function noteAlloc(w: World, heap: number, addr: number): void {
  w.live[heap]!.push(addr);
  const f = w.freed[heap]!;
  const k = f.indexOf(addr);
  if (k >= 0) f.splice(k, 1);
}

/** One op at a time through the exports (free addresses named at the start of each batch, as `runBatched` must). */
function runSingly(w: World, ops: Op[], shift: number, batch: number): void {
  let addrs: number[] = [];
  ops.forEach((o, i) => {
    if (i % batch === 0) addrs = ops.slice(i, i + batch).map((p) => (p.op === "free" ? freeAddress(w, p) : 0));
    if (o.op === "alloc") {
      let a = w.core.slabAlloc(o.heap, o.cls);
      if (a === null) {
        w.log.push(["empty", o.heap, o.cls]);
        addPage(w, o.heap, o.cls, shift);
        a = w.core.slabAlloc(o.heap, o.cls)!;
      }
      w.log.push(a);
      noteAlloc(w, o.heap, a);
    } else {
      const addr = addrs[i % batch]!;
      const st = w.core.slabFree(o.heap, addr);
      // ground truth: a live object frees; one byte past an object's start (of 64 B or more) does not
      if (o.how === "live" && w.live[o.heap]!.includes(addr)) expect(st).toBe("ok");
      if (o.how === "misaligned" && w.live[o.heap]!.length && w.live[o.heap]!.includes(addr - 1 - (o.pick % 7)) && w.core.slabStats(o.heap).classes.every((c) => !c || c.objSize >= 64 || c.pages === 0)) expect(st).toBe("misaligned");
      w.log.push(st === "ok" ? "freed" : ["bad", o.heap, addr, st]);
      noteFree(w, o.heap, addr, st === "ok");
    }
  });
}

/** The same ops through the request buffer, in batches, handling events as a host does. */
function runBatched(w: World, ops: Op[], shift: number, batch: number): void {
  for (let s = 0; s < ops.length; s += batch) {
    const part = ops.slice(s, s + batch);
    const writer = w.core.writer();
    // free addresses depend on the state before the batch's allocations: like a host,
    // write them from what is known; an address allocated within the batch is named
    // only by later batches
    const addrs: number[] = [];
    part.forEach((o, i) => {
      if (o.op === "alloc") writer.put(i, 0, KIND_ALLOC, o.cls, o.heap);
      else {
        addrs[i] = freeAddress(w, o);
        writer.put(i, addrs[i]!, KIND_FREE, 0, o.heap);
      }
    });
    let done = 0;
    for (let ev = w.core.runBufferAll(part.length); ; ev = w.core.runAll()) {
      const upto = ev ? ev.index : part.length;
      for (; done < upto; done++) {
        const o = part[done]!;
        if (o.op === "alloc") {
          const a = w.core.writer().address(done);
          w.log.push(a);
          noteAlloc(w, o.heap, a);
        } else {
          w.log.push("freed");
          noteFree(w, o.heap, addrs[done]!, true);
        }
      }
      if (!ev) break;
      if (ev.type === "slab-empty") {
        w.log.push(["empty", ev.heap, ev.sizeClass]);
        addPage(w, ev.heap, ev.sizeClass, shift);
      } else if (ev.type === "bad-free") {
        w.log.push(["bad", ev.heap, ev.va, ev.reason]);
        w.core.skip();
        done++;
      } else throw new Error(`unexpected ${ev.type}`);
    }
  }
}

describe.each(modules)("$name: slab runs in the request buffer", ({ module }) => {
  it("agree with single operations", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(12, 21),
        fc.constantFrom(1, 7, 64),
        fc.array(opArb, { minLength: 50, maxLength: 600, size: "max" }),
        (shift, batch, ops) => {
          const a = world(module, shift);
          const b = world(module, shift);
          runSingly(a, ops, shift, batch);
          runBatched(b, ops, shift, batch);
          expect(b.log).toEqual(a.log);
          for (const heap of [0, 1]) expect(b.core.slabStats(heap)).toEqual(a.core.slabStats(heap));
        },
      ),
      { numRuns: Math.ceil(Number(process.env.UNIMMU_DIFF_RUNS ?? 150) / 3), endOnFailure: true },
    );
  });
});

describe.each(modules)("$name: object index without division", ({ module }) => {
  it.each([1, 2, 3, 5, 7, 24, 40, 96, 100, 152, 1000, 1184, 2047, 4088])("object size %i: every object frees once, no other offset does", (size) => {
    const core = WasmCore.fromModule({ ...skylakeConfig(), slabHeaps: 1 }, module);
    core.slabHeapCreate(0, 12);
    core.slabClassCreate(0, 0, size, 8, true);
    core.slabAddPage(0, 0, BASE);
    const per = Math.floor((4096 - 8) / size);
    const first = 4096 - per * size;
    const addrs: number[] = [];
    for (let a = core.slabAlloc(0, 0); a !== null; a = core.slabAlloc(0, 0)) addrs.push(a);
    expect(addrs.length).toBe(per);
    for (let off = 0; off < 4096; off += Math.max(1, Math.floor(size / 3))) {
      const aligned = off >= first && (off - first) % size === 0;
      const st = core.slabFree(0, BASE + off);
      expect([off, st]).toEqual([off, aligned ? "ok" : "misaligned"]);
    }
  });
});
