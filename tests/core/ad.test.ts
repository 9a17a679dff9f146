// Accessed and dirty flags in guest and EPT entries, read back raw; the dirty assist.
//
// Layout (setup.ts): guest table frames are taken in order — root (frame 0), then for the
// first page mapped its PDPT (1), PD (2) and PT (3), all at gPA 1 GiB + frame * 4 KiB,
// each EPT-mapped by its own 4 KiB EPT page. The first data page is at gPA 4 GiB.
import { describe, expect, it } from "vitest";
import { READ, WRITE } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { RAM_GPA, TABLE_GPA, TestVm, hasBit, plainConfig, probe } from "./setup.js";

const VA = 0x1000_0000;
const PT_GPA = TABLE_GPA + 3 * 4096;
// Guest bits: A 5, D 6, PS 7. EPT bits: A 8, D 9.
const GA = 5, GD = 6, PS = 7, EA = 8, ED = 9;

describe.each(implementations)("$name: accessed and dirty flags", ({ create }) => {
  function setup(eptAD = true): TestVm {
    const vm = new TestVm(create(plainConfig()), { eptAD });
    expect(vm.map(VA)).toBe(RAM_GPA);
    return vm;
  }

  it("a cold read sets A in the four guest entries and in every EPT entry it reads", () => {
    const vm = setup();
    expect(vm.access(VA, READ)).toBeNull();
    const c = vm.counters();
    // EPT A: the tables' path PML4E, PDPTE, PDE (shared) + their 4 PTEs; the data's PDPTE, PDE, PTE.
    // EPT D: the 4 table PTEs (paging-structure accesses count as writes with eptAD).
    expect([c.aUpdates, c.dUpdates, c.eptAUpdates, c.eptDUpdates]).toEqual([4, 0, 10, 4]);
    const leaf = vm.gpte(VA);
    expect(leaf.level).toBe(1);
    expect([hasBit(leaf.raw, GA), hasBit(leaf.raw, GD)]).toEqual([true, false]);
    const data = vm.epte(RAM_GPA);
    expect(data.level).toBe(1);
    expect([hasBit(data.raw, EA), hasBit(data.raw, ED)]).toEqual([true, false]);
    const table = vm.epte(PT_GPA);
    expect([hasBit(table.raw, EA), hasBit(table.raw, ED)]).toEqual([true, true]);
    // The unused guest frames' EPT entries are untouched.
    const unused = vm.epte(TABLE_GPA + 10 * 4096);
    expect([hasBit(unused.raw, EA), hasBit(unused.raw, ED)]).toEqual([false, false]);
  });

  it("a second page under the same tables sets only its own leaf flags", () => {
    const vm = setup();
    vm.map(VA + 0x1000);
    expect(vm.access(VA, READ)).toBeNull();
    vm.core.resetCounters();
    expect(vm.access(VA + 0x1000, READ)).toBeNull();
    const c = vm.counters();
    expect([c.aUpdates, c.dUpdates, c.eptAUpdates, c.eptDUpdates]).toEqual([1, 0, 1, 0]);
  });

  it("a cold write sets D in the guest leaf and the EPT data leaf", () => {
    const vm = setup();
    expect(vm.access(VA, WRITE)).toBeNull();
    const c = vm.counters();
    expect([c.aUpdates, c.dUpdates, c.eptAUpdates, c.eptDUpdates, c.dirtyAssists]).toEqual([4, 1, 10, 5, 0]);
    expect(hasBit(vm.gpte(VA).raw, GD)).toBe(true);
    expect(hasBit(vm.epte(RAM_GPA).raw, ED)).toBe(true);
  });

  it("a write hitting a clean entry takes a dirty assist: a new walk that sets D", () => {
    const vm = setup();
    expect(vm.access(VA, READ)).toBeNull();
    expect(vm.access(VA, WRITE)).toBeNull();
    let c = vm.counters();
    expect([c.l1Hits, c.l1Misses, c.walks, c.walkRefs, c.dirtyAssists]).toEqual([1, 1, 2, 48, 1]);
    expect([c.aUpdates, c.dUpdates, c.eptAUpdates, c.eptDUpdates]).toEqual([4, 1, 10, 5]);
    expect(c.data[0]).toEqual([0, 1, 1]);
    expect(hasBit(vm.gpte(VA).raw, GD)).toBe(true);
    expect(hasBit(vm.epte(RAM_GPA).raw, ED)).toBe(true);
    // The assist's walk filled a dirty entry: no more assists.
    expect(probe(vm, VA, WRITE)).toBe("l1");
    expect(probe(vm, VA, READ)).toBe("l1");
    c = vm.counters();
    expect([c.walks, c.dirtyAssists]).toEqual([2, 1]);
  });

  it("without eptAD: no EPT flags, and an entry is dirty with the guest D alone", () => {
    const vm = setup(false);
    expect(vm.access(VA, READ)).toBeNull();
    expect(vm.access(VA, WRITE)).toBeNull();
    expect(vm.access(VA, WRITE)).toBeNull();
    const c = vm.counters();
    expect([c.eptAUpdates, c.eptDUpdates, c.aUpdates, c.dUpdates, c.dirtyAssists, c.walks]).toEqual([0, 0, 4, 1, 1, 2]);
    expect([hasBit(vm.epte(RAM_GPA).raw, EA), hasBit(vm.epte(RAM_GPA).raw, ED)]).toEqual([false, false]);
    expect(hasBit(vm.epte(PT_GPA).raw, EA)).toBe(false);
    expect(hasBit(vm.gpte(VA).raw, GD)).toBe(true);
  });

  it("the host clears EPT D: a clean entry again, and a write sets it back through an assist", () => {
    const vm = setup();
    expect(vm.access(VA, WRITE)).toBeNull();
    const raw = vm.epte(RAM_GPA).raw;
    expect(vm.core.eptWriteRaw(vm.vm, RAM_GPA, 1, raw & ~(1n << BigInt(ED)))).toBe("ok");
    vm.core.invept(vm.vm);
    vm.core.resetCounters();
    expect(vm.access(VA, READ)).toBeNull();
    expect(vm.access(VA, WRITE)).toBeNull();
    const c = vm.counters();
    expect([c.dirtyAssists, c.walks, c.dUpdates, c.eptDUpdates, c.eptAUpdates]).toEqual([1, 2, 0, 1, 0]);
    expect(hasBit(vm.epte(RAM_GPA).raw, ED)).toBe(true);
  });

  it("the host clears guest D: a write after a read takes an assist that sets it", () => {
    const vm = setup();
    expect(vm.access(VA, WRITE)).toBeNull();
    const raw = vm.gpte(VA).raw;
    expect(vm.core.gptWriteRaw(vm.vm, vm.root, VA, 1, raw & ~(1n << BigInt(GD)))).toBe("ok");
    vm.core.invlpg(vm.vcpu, VA);
    vm.core.resetCounters();
    expect(vm.access(VA, READ)).toBeNull();
    expect(vm.access(VA, WRITE)).toBeNull();
    const c = vm.counters();
    expect([c.dirtyAssists, c.walks, c.dUpdates, c.eptDUpdates]).toEqual([1, 2, 1, 0]);
    expect(hasBit(vm.gpte(VA).raw, GD)).toBe(true);
  });

  it("A is set again in a non-leaf entry whose A the host cleared", () => {
    const vm = setup();
    expect(vm.access(VA, READ)).toBeNull();
    // The PDE links to the PT frame with P, R/W, U/S (as gptMap made it) and A from the walk.
    const pde = BigInt(PT_GPA) | 0x7n | (1n << BigInt(GA));
    expect(vm.core.gptWriteRaw(vm.vm, vm.root, VA, 2, pde & ~(1n << BigInt(GA)))).toBe("ok");
    vm.core.invlpg(vm.vcpu, VA);
    vm.core.resetCounters();
    expect(vm.access(VA, READ)).toBeNull();
    expect(vm.counters().aUpdates).toBe(1);
  });

  it("a 2 MiB guest leaf gets A and D in its PDE", () => {
    const vm = new TestVm(create(plainConfig()));
    vm.map(0x4000_0000, 1);
    expect(vm.access(0x4000_0000 + 0x12345, WRITE)).toBeNull();
    const e = vm.gpte(0x4000_0000);
    expect(e.level).toBe(2);
    expect([hasBit(e.raw, GA), hasBit(e.raw, GD), hasBit(e.raw, PS)]).toEqual([true, true, true]);
    expect(vm.counters().aUpdates).toBe(3);
  });

  it("a leaf that fails the rights check gets no A (non-leaf entries read on the way do)", () => {
    const vm = new TestVm(create(plainConfig()));
    vm.map(VA, 0, { w: false });
    expect(vm.access(VA, WRITE)).toMatchObject({ type: "page-fault", error: 7 });
    expect(vm.counters().aUpdates).toBe(3);
    expect(hasBit(vm.gpte(VA).raw, GA)).toBe(false);
  });

  it("(reading) an EPT leaf that fails the rights check gets no A; the guest leaf got A and D", () => {
    const vm = new TestVm(create(plainConfig()));
    vm.map(VA, 0, {}, { w: false });
    expect(vm.access(VA, WRITE)).toMatchObject({ type: "ept-violation" });
    const c = vm.counters();
    // EPT A: tables' PML4E, PDPTE, PDE, 4 PTEs; the data's PDPTE and PDE, not its PTE.
    expect([c.eptAUpdates, c.eptDUpdates, c.aUpdates, c.dUpdates]).toEqual([9, 4, 4, 1]);
    expect(hasBit(vm.epte(RAM_GPA).raw, EA)).toBe(false);
  });

  it("a dirty assist whose walk meets a write-protected leaf ends in a #PF", () => {
    const vm = setup();
    expect(vm.access(VA, READ)).toBeNull();
    // Write-protect without a flush: the TLB entry still says writable but clean.
    expect(vm.core.gptProtect(vm.vm, vm.root, VA, 0, { w: false, u: true, xd: false, g: false, key: 0 })).toBe("ok");
    expect(vm.access(VA, WRITE)).toMatchObject({ type: "page-fault", error: 7 });
    const c = vm.counters();
    expect([c.dirtyAssists, c.walks, c.protFaults, c.l1Hits]).toEqual([1, 2, 1, 1]);
  });
});
