// The allocators' compact records (typed arrays instead of per-allocation objects): the
// cases where they change shape — osv's pool page records compacted after a pool
// shrinks, its freed-address history past its bound, ucat's per-page requested sizes
// growing with the objects in use, its page runs — checked against a plain model.
import { describe, expect, test } from "vitest";
import { InvalidFree } from "../../src/guest/malloc/types.js";
import { newSim, newVm } from "./osv-helpers.js";
import { ucat, ucatSim, ucatVm, MiB } from "./ucat-helpers.js";
import type { Allocator } from "../../src/guest/malloc/types.js";

function reason(f: () => void): string {
  try {
    f();
  } catch (e) {
    if (e instanceof InvalidFree) return e.reason;
    throw e;
  }
  return "ok";
}

/** requestedBytes and liveObjects agree with the model, and every live address has its usable size. */
function agrees(heap: Allocator, live: Map<number, number>, usable: (size: number) => number): void {
  const s = heap.stats();
  expect(s.liveObjects).toBe(live.size);
  expect(s.requestedBytes).toBe([...live.values()].reduce((a, b) => a + b, 0));
  for (const [va, size] of live) expect(heap.usableSize(va)).toBe(usable(size));
}

describe("osv records", () => {
  test("a pool that shrinks from 1000 pages to none and grows again keeps every object and every answer", async () => {
    const sim = await newSim();
    const { heap } = newVm(sim);
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (const size of [64, 1024]) {
      const per = size === 64 ? 63 : 3;
      const pool = Math.log2(size);
      const live = new Map<number, number>();
      const all: number[] = [];
      for (let i = 0; i < per * 1000; i++) {
        const s = size / 2 + 1 + rnd(size / 2);
        const va = heap.malloc(s);
        live.set(va, s);
        all.push(va);
      }
      expect(heap.detail().poolPages[size]).toBe(1000);
      // free the pages by thirds, in and against allocation order: pages go back as OSv's list allows
      for (const third of [0, 1, 2]) {
        const sel = all.filter((_, i) => Math.floor(i / per) % 3 === third);
        for (const va of third === 1 ? sel.reverse() : sel) {
          heap.free(va);
          live.delete(va);
        }
        agrees(heap, live, () => size);
        expect(sim.core.slabStats(heap.heap).classes[pool]!.pages).toBe(heap.detail().poolPages[size]);
        for (let i = 0; i < 50; i++) {
          const va = all[rnd(all.length)]!;
          // inside a live object: misaligned; inside a page that went back: no allocation's at all
          if (live.has(va)) expect(reason(() => heap.free(va + 1))).toBe("misaligned");
          else {
            expect(["misaligned", "foreign"]).toContain(reason(() => heap.free(va + 1)));
            expect(reason(() => heap.free(va))).toBe("double-free");
          }
        }
      }
      expect(heap.detail().poolPages[size]).toBeLessThan(10);
      // and grows again: new pages, new objects, nothing overlaps
      const again = new Map<number, number>();
      for (let i = 0; i < per * 300; i++) again.set(heap.malloc(size), size);
      expect(again.size).toBe(per * 300);
      agrees(heap, again, () => size);
      expect(sim.core.slabStats(heap.heap).classes[pool]!.pages).toBe(heap.detail().poolPages[size]);
      for (const va of again.keys()) heap.free(va);
      expect(heap.stats().allocatedBytes).toBe(0);
    }
  });

  test("past 65,536 freed pages the oldest free is forgotten: a second free of it is foreign", async () => {
    const sim = await newSim();
    const { heap } = newVm(sim, 2 * 1024 * MiB);
    // 70,000 distinct whole pages, all live, then all freed in allocation order
    const pages = Array.from({ length: 70_000 }, () => heap.malloc(2000));
    for (const va of pages) heap.free(va);
    // the newest 65,536 are remembered; the 4,464 before them are not (their frames are free, in no buffer)
    expect(reason(() => heap.free(pages[pages.length - 1]!))).toBe("double-free");
    expect(reason(() => heap.free(pages[70_000 - 65_536]!))).toBe("double-free");
    expect(reason(() => heap.free(pages[70_000 - 65_537]!))).toBe("foreign");
    expect(reason(() => heap.free(pages[0]!))).toBe("foreign");
  });
});

describe("ucat records", () => {
  test("requested sizes per slab page follow the objects in use, past several doublings", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const heap = ucat(vm);
    let seed = 3;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const live = new Map<number, number>();
    const freed: number[] = [];
    // 8 B class: 262,144 objects per 2 MiB page; 20,000 objects, a third freed and reused
    for (let i = 0; i < 20_000; i++) {
      const s = rnd(9);
      live.set(heap.malloc(s, { tier: "dram" }), s);
      if (rnd(3) === 0) {
        const va = [...live.keys()][rnd(live.size)]!;
        heap.free(va);
        live.delete(va);
        freed.push(va);
      }
    }
    agrees(heap, live, () => 8);
    for (const va of freed.slice(0, 200)) if (!live.has(va)) expect(reason(() => heap.free(va))).toBe("double-free");
    // a slot beyond any used so far, in the same page: never handed out, so a double free
    const top = Math.max(...live.keys());
    expect(reason(() => heap.free(top + 8 * 100_000))).toBe("double-free");
    expect(reason(() => heap.free(top + 4))).toBe("misaligned");
    for (const va of live.keys()) heap.free(va);
    expect(heap.stats().requestedBytes).toBe(0);
  });

  test("page runs: requested sizes and lengths per run start; frees and bad frees", async () => {
    const sim = await ucatSim();
    const vm = ucatVm(sim);
    const heap = ucat(vm);
    const live = new Map<number, number>();
    for (const s of [8193, 12_000, 100_000, 2 * MiB - 1, 40_960, 8193]) live.set(heap.malloc(s, { tier: "nvm" }), s);
    agrees(heap, live, (s) => Math.ceil(s / 4096) * 4096);
    const [a, b] = [...live.keys()];
    expect(reason(() => heap.free(a! + 4096))).toBe("misaligned"); // inside a run
    expect(reason(() => heap.free(a! + 8))).toBe("misaligned");
    heap.free(a!);
    live.delete(a!);
    expect(reason(() => heap.free(a!))).toBe("double-free");
    agrees(heap, live, (s) => Math.ceil(s / 4096) * 4096);
    expect(heap.malloc(8193, { tier: "nvm" })).toBe(a); // first fit: the same pages again
    live.set(a!, 8193);
    for (const va of [b!, ...[...live.keys()].filter((v) => v !== b)]) heap.free(va);
    expect(heap.stats().liveObjects).toBe(0);
  });
});
