// A seeded random stream over a mixed VM (4K/2M/1G pages, supervisor, read-only, XD and
// keyed pages, holes; two vCPUs on two pCPUs), checking the identities that follow from
// docs/core.md sections 4, 5 and 8 rather than exact counts.
import { describe, expect, it } from "vitest";
import { FETCH, READ, WRITE, type AccessKind, type Counters, type Replacement, type Request } from "../../src/core/types.js";
import { Rng } from "../../src/util/rng.js";
import { implementations } from "./impls.js";
import { GiB, MiB, TestVm, runAll, skylakeConfig } from "./setup.js";

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function identities(c: Counters, events: number): void {
  expect(c.l1Hits).toBe(c.itlb4kHits + c.itlb2mHits + c.dtlb4kHits + c.dtlb2mHits + c.dtlb1gHits);
  expect(c.l1Hits + c.l1Misses).toBe(c.requests + c.retries);
  expect(sum(c.requestsByKind)).toBe(c.requests);
  expect(c.stlbHits).toBe(c.stlbHits4k + c.stlbHits2m + c.stlbHits1g);
  // Every L1 miss hits the STLB or walks; a dirty assist walks once more.
  expect(c.walks).toBe(c.l1Misses - c.stlbHits + c.dirtyAssists);
  expect(c.walkRefs).toBe(c.walkRefsGuest + c.walkRefsEpt);
  expect(sum(c.refsByTier)).toBe(c.walkRefs);
  // With PSCs on, every walk counts one PSC hit or one miss.
  expect(sum(c.pwcHits) + c.pwcMisses).toBe(c.walks);
  // No guest table is ever unreachable here: one nested-TLB lookup per guest entry read.
  expect(c.ntlbHits + c.ntlbMisses).toBe(c.walkRefsGuest);
  expect(c.faults).toBe(c.pageFaults + c.protFaults + c.rsvdFaults + c.keyFaults + c.eptViolations + c.eptMisconfigs);
  expect(c.faults).toBe(events);
  // Each attempt ends in one success or one fault.
  expect(sum(c.data.flat()) + c.faults).toBe(c.requests + c.retries);
}

describe.each(implementations)("$name: random streams", ({ create }) => {
  it.each(["lru", "fifo", "random"] as Replacement[])("counter identities hold (%s)", (replacement) => {
    const core = create(skylakeConfig({ replacement, seed: 42, pcpus: 2, vcpus: 2 }));
    const vm = new TestVm(core, { dataEpt: 0, tableFrames: 128 });
    vm.addVcpu(1, 1, 3);
    const rng = new Rng(7);
    const regions: { base: number; size: number }[] = [];
    // 4 KiB pages, every fifth a hole, with assorted rights and keys.
    for (let i = 0; i < 400; i++) {
      if (i % 5 === 4) continue;
      vm.map(0x1000_0000 + i * 4096, 0, { w: i % 7 !== 0, u: i % 11 !== 0, xd: i % 13 === 0, g: i % 3 === 0, key: i % 4 });
    }
    regions.push({ base: 0x1000_0000, size: 400 * 4096 });
    for (let i = 0; i < 8; i++) vm.map(0x4000_0000 + i * 2 * MiB, 1, { key: i % 2 });
    regions.push({ base: 0x4000_0000, size: 8 * 2 * MiB });
    vm.map(256 * GiB, 2); // only its first 2 MiB are EPT-backed: the rest gives EPT violations
    regions.push({ base: 256 * GiB, size: 4 * MiB });
    core.setPkru(0, 0b00_10_01_00); // key 1 AD, key 2 WD
    core.setPkru(1, 0b01_00_00_00); // key 3 AD

    const reqs: Request[] = [];
    for (let i = 0; i < 20_000; i++) {
      const r = regions[rng.int(regions.length)]!;
      reqs.push({ vcpu: rng.int(2), va: r.base + rng.int(r.size - 64), kind: rng.int(3) as AccessKind, size: 1 + rng.int(64) });
    }
    let events = [0, 0];
    for (let start = 0; start < reqs.length; start += 2000) {
      if (start === 10_000) {
        core.invlpg(0, 0x1000_0000);
        core.setCr3(1, vm.root, 3, false);
        core.setControl(0, { cpl: 0, smap: true, smep: true });
      }
      for (const ev of runAll(core, reqs.slice(start, start + 2000))) {
        events[ev.vcpu]!++;
      }
    }
    for (const v of [0, 1]) identities(core.counters(v), events[v]!);
    const c0 = core.counters(0);
    const c1 = core.counters(1);
    // The stream exercised every path.
    for (const c of [c0, c1]) {
      expect(c.l1Hits).toBeGreaterThan(0);
      expect(c.stlbHits).toBeGreaterThan(0);
      expect(c.dirtyAssists).toBeGreaterThan(0);
      expect(c.pageFaults).toBeGreaterThan(0);
      expect(c.protFaults).toBeGreaterThan(0);
      expect(c.keyFaults).toBeGreaterThan(0);
      expect(c.eptViolations).toBeGreaterThan(0);
      expect(sum(c.pwcHits)).toBeGreaterThan(0);
      expect(c.requestsByKind[FETCH] * c.requestsByKind[READ] * c.requestsByKind[WRITE]).toBeGreaterThan(0);
    }
    events = [0, 0];
    core.resetCounters();
    expect(core.counters(0).requests).toBe(0);
  });
});
