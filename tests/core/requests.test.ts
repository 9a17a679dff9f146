// Requests: one page access per 4 KiB page touched, the event protocol (run returns an
// event, run again retries the page access, skip drops the rest of the request), and
// the counter identity L1 hits + l1Misses = requests + retries.
import { describe, expect, it } from "vitest";
import { FETCH, READ, WRITE, type Counters } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { TestVm, plainConfig, runAll } from "./setup.js";

const V = 0x1000_0000;

function l1Identity(c: Counters): void {
  const l1 = c.itlb4kHits + c.itlb2mHits + c.dtlb4kHits + c.dtlb2mHits + c.dtlb1gHits;
  expect(c.l1Hits).toBe(l1);
  expect(c.l1Hits + c.l1Misses).toBe(c.requests + c.retries);
}

describe.each(implementations)("$name: requests and events", ({ create }) => {
  function setup(pages: number[]): TestVm {
    const vm = new TestVm(create(plainConfig()));
    for (const p of pages) vm.map(V + p * 4096);
    return vm;
  }

  it("a request across a 4 KiB boundary is one page access per page", () => {
    const vm = setup([0, 1, 2]);
    expect(runAll(vm.core, [{ vcpu: 0, va: V + 4096 - 8, kind: READ, size: 16 }])).toEqual([]);
    let c = vm.counters();
    expect([c.requests, c.walks, c.walkRefs, c.data[0]![READ]]).toEqual([2, 2, 48, 2]);
    // [V+4000, V+8999]: three pages.
    expect(runAll(vm.core, [{ vcpu: 0, va: V + 4000, kind: WRITE, size: 5000 }])).toEqual([]);
    c = vm.counters();
    // Pages 0 and 1 hit clean entries (dirty assists, each a walk); page 2 walks.
    expect([c.requests, c.requestsByKind[WRITE], c.walks, c.l1Hits, c.dirtyAssists]).toEqual([5, 3, 5, 2, 2]);
    // Exactly up to a boundary stays in one page.
    expect(runAll(vm.core, [{ vcpu: 0, va: V + 4096 - 16, kind: READ, size: 16 }])).toEqual([]);
    expect(vm.counters().requests).toBe(6);
    l1Identity(vm.counters());
  });

  it("the event of the second page; run() retries that page access only", () => {
    const vm = setup([0]);
    vm.core.submit([{ vcpu: 0, va: V + 4088, kind: READ, size: 16 }]);
    expect(vm.core.run()).toEqual({ type: "page-fault", index: 0, vcpu: 0, va: V + 4096, error: 4 });
    expect(vm.core.run()).toEqual({ type: "page-fault", index: 0, vcpu: 0, va: V + 4096, error: 4 });
    vm.map(V + 4096);
    expect(vm.core.run()).toBeNull();
    expect(vm.core.run()).toBeNull();
    const c = vm.counters();
    expect([c.requests, c.retries, c.pageFaults, c.walks, c.data[0]![READ]]).toEqual([2, 2, 2, 4, 2]);
    l1Identity(c);
  });

  it("skip() drops the rest of the request; the next request runs", () => {
    const vm = setup([0, 2]);
    vm.core.submit([
      { vcpu: 0, va: V + 4090, kind: READ, size: 8000 }, // pages 0, 1 (unmapped), 2
      { vcpu: 0, va: V + 2 * 4096, kind: WRITE, size: 4 },
    ]);
    expect(vm.core.run()).toMatchObject({ type: "page-fault", index: 0, va: V + 4096 });
    vm.core.skip();
    expect(vm.core.run()).toBeNull();
    const c = vm.counters();
    // Page 2 was never read: the write walks (no dirty assist) and is counted once.
    expect([c.requests, c.requestsByKind[READ], c.requestsByKind[WRITE], c.walks, c.dirtyAssists]).toEqual([3, 2, 1, 3, 0]);
    l1Identity(c);
  });

  it("events carry the index of their request in the batch", () => {
    const vm = setup([0, 1]);
    const events = runAll(vm.core, [
      { vcpu: 0, va: V, kind: READ, size: 1 },
      { vcpu: 0, va: V + 5 * 4096, kind: READ, size: 1 },
      { vcpu: 0, va: V + 4096, kind: FETCH, size: 1 },
      { vcpu: 0, va: V + 7 * 4096, kind: WRITE, size: 1 },
    ]);
    expect(events.map((e) => [e.index, "va" in e ? e.va : -1])).toEqual([
      [1, V + 5 * 4096],
      [3, V + 7 * 4096],
    ]);
  });

  it("a retried access counts in retries, not requests, and probes the L1 again", () => {
    const vm = setup([0]);
    vm.map(V + 4096, 0, { key: 1 });
    vm.core.setPkru(0, 1 << 2);
    vm.core.submit([{ vcpu: 0, va: V + 4096, kind: READ, size: 1 }]);
    expect(vm.core.run()).toMatchObject({ error: 0x25 });
    vm.core.setPkru(0, 0);
    expect(vm.core.run()).toBeNull();
    const c = vm.counters();
    expect([c.requests, c.retries, c.keyFaults, c.walks, c.l1Misses]).toEqual([1, 1, 1, 2, 2]);
    l1Identity(c);
  });

  it("submit() refuses a new batch while one is unfinished; skip() needs an event", () => {
    const vm = setup([]);
    vm.core.submit([{ vcpu: 0, va: V, kind: READ, size: 1 }]);
    expect(vm.core.run()).not.toBeNull();
    expect(() => vm.core.submit([{ vcpu: 0, va: V, kind: READ, size: 1 }])).toThrow();
    vm.core.skip();
    expect(vm.core.run()).toBeNull();
    vm.core.submit([]);
    expect(vm.core.run()).toBeNull();
  });

  it("bad requests are refused before anything runs", () => {
    const vm = setup([0]);
    expect(() => vm.core.submit([{ vcpu: 0, va: V, kind: READ, size: 0 }])).toThrow(/size/);
    expect(() => vm.core.submit([{ vcpu: 5, va: V, kind: READ, size: 1 }])).toThrow(/vcpu/);
    expect(() => vm.core.submit([{ vcpu: 0, va: 2 ** 48 - 2, kind: READ, size: 4 }])).toThrow(/va/);
    expect(vm.counters().requests).toBe(0);
  });

  it("a 2 MiB page: a request across a 4 KiB boundary inside it hits the L1 for its second page", () => {
    const vm = new TestVm(create(plainConfig()), { dataEpt: 1 }); // 2 MiB in both dimensions
    vm.map(0x4000_0000, 1);
    expect(runAll(vm.core, [{ vcpu: 0, va: 0x4000_0000 + 4096 - 4, kind: READ, size: 8 }])).toEqual([]);
    const c = vm.counters();
    expect([c.requests, c.walks, c.dtlb2mHits]).toEqual([2, 1, 1]);
  });
});
