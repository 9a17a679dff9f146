// Guest page faults: error codes (P, W, U, RSVD, I/D, PK) for each cause, the level a
// walk stops at, counters, faults from TLB hits, and the invalidations a #PF makes.
import { describe, expect, it } from "vitest";
import { FETCH, READ, WRITE, type AccessKind, type CoreEvent, type VcpuControl } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { GiB, TABLE_GPA, TestVm, bit, plainConfig, probe, skylakeConfig, walkStart } from "./setup.js";

// Pages in one page table (PML4 0, PDPT 0, PD 128).
const UP = 0x1000_0000; // user, writable
const KP = 0x1000_1000; // supervisor, writable
const RO = 0x1000_2000; // user, read-only
const XP = 0x1000_3000; // user, execute-disable
const UNM = 0x1000_4000; // not mapped (its PT exists)
const KEY = 0x1000_5000; // user, key 3
const SKEY = 0x1000_6000; // supervisor, key 3
const NEAR = 0x1000_7000; // user, another page under the same tables

function pageVm(vm: TestVm): TestVm {
  vm.map(UP);
  vm.map(KP, 0, { u: false });
  vm.map(RO, 0, { w: false });
  vm.map(XP, 0, { xd: true });
  vm.map(KEY, 0, { key: 3 });
  vm.map(SKEY, 0, { u: false, key: 3 });
  vm.map(NEAR);
  return vm;
}

const P = 1, W = 2, U = 4, RSVD = 8, ID = 16, PK = 32;

// [what, control, pkru, va, kind, expected error or null]
type Case = [string, Partial<VcpuControl>, number, number, AccessKind, number | null];
const CASES: Case[] = [
  ["user read, not present", {}, 0, UNM, READ, U],
  ["user write, not present", {}, 0, UNM, WRITE, W | U],
  ["user fetch, not present", {}, 0, UNM, FETCH, U | ID],
  ["supervisor read, not present", { cpl: 0 }, 0, UNM, READ, 0],
  ["supervisor write, not present", { cpl: 0 }, 0, UNM, WRITE, W],
  ["supervisor fetch, not present", { cpl: 0 }, 0, UNM, FETCH, ID],
  ["fetch, not present, NXE=0 SMEP=0: no I/D", { nxe: false }, 0, UNM, FETCH, U],
  ["supervisor fetch, not present, NXE=0 SMEP=1: I/D", { cpl: 0, nxe: false, smep: true }, 0, UNM, FETCH, ID],
  ["user read of a supervisor page", {}, 0, KP, READ, P | U],
  ["user write of a supervisor page", {}, 0, KP, WRITE, P | W | U],
  ["user fetch of a supervisor page", {}, 0, KP, FETCH, P | U | ID],
  ["user read of a read-only page", {}, 0, RO, READ, null],
  ["user write of a read-only page", {}, 0, RO, WRITE, P | W | U],
  ["supervisor write of a read-only page, WP=1", { cpl: 0 }, 0, RO, WRITE, P | W],
  ["supervisor write of a read-only page, WP=0", { cpl: 0, wp: false }, 0, RO, WRITE, null],
  ["user fetch of an XD page", {}, 0, XP, FETCH, P | U | ID],
  ["supervisor fetch of an XD page", { cpl: 0 }, 0, XP, FETCH, P | ID],
  ["user read of an XD page", {}, 0, XP, READ, null],
  ["supervisor fetch of a user page, SMEP", { cpl: 0, smep: true }, 0, UP, FETCH, P | ID],
  ["supervisor fetch of a user page, no SMEP", { cpl: 0 }, 0, UP, FETCH, null],
  ["supervisor fetch of a supervisor page, SMEP", { cpl: 0, smep: true }, 0, KP, FETCH, null],
  ["supervisor read of a user page, SMAP, AC=0", { cpl: 0, smap: true }, 0, UP, READ, P],
  ["supervisor write of a user page, SMAP, AC=0", { cpl: 0, smap: true }, 0, UP, WRITE, P | W],
  ["supervisor read of a user page, SMAP, AC=1", { cpl: 0, smap: true, ac: true }, 0, UP, READ, null],
  ["supervisor fetch of a user page, SMAP only", { cpl: 0, smap: true }, 0, UP, FETCH, null],
  ["user read of an XD page with NXE=0: XD is reserved", { nxe: false }, 0, XP, READ, P | U | RSVD],
  ["user fetch of an XD page with NXE=0: RSVD, no I/D", { nxe: false }, 0, XP, FETCH, P | U | RSVD],
  ["user read, key 3 AD", {}, 1 << 6, KEY, READ, P | U | PK],
  ["user write, key 3 AD", {}, 1 << 6, KEY, WRITE, P | W | U | PK],
  ["user fetch, key 3 AD: keys never apply to fetches", {}, 1 << 6, KEY, FETCH, null],
  ["user read, key 3 WD", {}, 1 << 7, KEY, READ, null],
  ["user write, key 3 WD", {}, 1 << 7, KEY, WRITE, P | W | U | PK],
  ["user write, key 3 WD, PKE=0", { pke: false }, 1 << 7, KEY, WRITE, null],
  ["user read, key 2 AD, page key 3", {}, 1 << 4, KEY, READ, null],
  ["supervisor write of a user page, key 3 WD, WP=1", { cpl: 0 }, 1 << 7, KEY, WRITE, P | W | PK],
  ["supervisor write of a user page, key 3 WD, WP=0", { cpl: 0, wp: false }, 1 << 7, KEY, WRITE, null],
  ["supervisor read of a supervisor page, key 3 AD in PKRU, PKS=0", { cpl: 0 }, 1 << 6, SKEY, READ, null],
  // Legacy checks come before keys.
  ["user write of a read-only page, key 3 AD", {}, 1 << 6, RO, WRITE, P | W | U],
];

/** Which counter a #PF error code belongs to. */
function category(error: number): "pageFaults" | "protFaults" | "rsvdFaults" | "keyFaults" {
  if (error & RSVD) return "rsvdFaults";
  if (error & PK) return "keyFaults";
  if (error & P) return "protFaults";
  return "pageFaults";
}

describe.each(implementations)("$name: page faults", ({ create }) => {
  const fresh = () => pageVm(new TestVm(create(plainConfig())));

  it.each(CASES.map(([what, ctl, pkru, va, kind, error]) => ({ what, ctl, pkru, va, kind, error })))(
    "$what",
    ({ ctl, pkru, va, kind, error }) => {
      const vm = fresh();
      vm.core.setControl(vm.vcpu, ctl);
      vm.core.setPkru(vm.vcpu, pkru);
      const ev = vm.access(va + 0x10, kind);
      const c = vm.counters();
      if (error === null) {
        expect(ev).toBeNull();
        expect(c.faults).toBe(0);
        return;
      }
      expect(ev).toEqual({ type: "page-fault", index: 0, vcpu: vm.vcpu, va: va + 0x10, error } satisfies CoreEvent);
      expect(c.faults).toBe(1);
      const counts = { pageFaults: 0, protFaults: 0, rsvdFaults: 0, keyFaults: 0 };
      counts[category(error)] = 1;
      expect({ pageFaults: c.pageFaults, protFaults: c.protFaults, rsvdFaults: c.rsvdFaults, keyFaults: c.keyFaults }).toEqual(counts);
      expect(c.data.flat().reduce((a, b) => a + b, 0)).toBe(0);
    },
  );

  it.each([
    ["PML4E", 512 * GiB, 5],
    ["PDPTE", 0x4000_0000, 10],
    ["PDE", 0x1020_0000, 15],
    ["PTE", UNM, 20],
  ])("not present at the %s: the walk read %i entries", (_level, va, refs) => {
    const vm = fresh();
    expect(vm.access(va, READ)).toMatchObject({ type: "page-fault", error: U });
    const c = vm.counters();
    expect([c.walks, c.walkRefs, c.pageFaults]).toEqual([1, refs, 1]);
  });

  describe("reserved bits", () => {
    const rsvd = (vm: TestVm, va: number, level: number, raw: bigint, kind: AccessKind = READ) => {
      expect(vm.core.gptWriteRaw(vm.vm, vm.root, va, level, raw)).toBe("ok");
      vm.core.invlpg(vm.vcpu, va); // the entry may be cached from an earlier access
      return vm.access(va, kind);
    };

    it("address bit 51 in a PTE", () => {
      const vm = fresh();
      expect(rsvd(vm, UP, 1, vm.gpte(UP).raw | bit(51))).toMatchObject({ error: P | U | RSVD });
      expect(vm.access(UP, WRITE)).toMatchObject({ error: P | W | U | RSVD });
      expect(vm.counters().walkRefs).toBe(40);
      expect(vm.counters().rsvdFaults).toBe(2);
    });

    it("address bit 46 in a non-leaf PDE", () => {
      const vm = fresh();
      // The PDE of UP links to the PT, guest frame 3 (root 0, PDPT 1, PD 2).
      const pde = BigInt(TABLE_GPA + 3 * 4096) | 0x7n;
      expect(rsvd(vm, UP, 2, pde | bit(46))).toMatchObject({ error: P | U | RSVD });
      expect(vm.counters().walkRefs).toBe(15);
      expect(rsvd(vm, UP, 2, pde)).toBeNull();
    });

    it("PS in a PML4E", () => {
      const vm = fresh();
      const pml4e = BigInt(TABLE_GPA + 1 * 4096) | 0x7n;
      expect(rsvd(vm, UP, 4, pml4e | bit(7), FETCH)).toMatchObject({ error: P | U | RSVD | ID });
      expect(vm.counters().walkRefs).toBe(5);
    });

    it("bits 13..20 of a 2 MiB leaf (bit 12 is PAT)", () => {
      const vm = new TestVm(create(plainConfig()));
      vm.map(0x4000_0000, 1);
      const raw = vm.gpte(0x4000_0000).raw;
      expect(rsvd(vm, 0x4000_0000, 2, raw | bit(12))).toBeNull();
      expect(rsvd(vm, 0x4000_0000, 2, raw | bit(13))).toMatchObject({ error: P | U | RSVD });
      expect(rsvd(vm, 0x4000_0000, 2, raw | bit(20))).toMatchObject({ error: P | U | RSVD });
    });

    it("bits 13..29 of a 1 GiB leaf", () => {
      const vm = new TestVm(create(plainConfig()));
      vm.map(256 * GiB, 2);
      const raw = vm.gpte(256 * GiB).raw;
      expect(rsvd(vm, 256 * GiB, 3, raw | bit(12))).toBeNull();
      expect(rsvd(vm, 256 * GiB, 3, raw | bit(29))).toMatchObject({ error: P | U | RSVD });
      expect(vm.counters().walkRefs).toBe(10 + 10 + 4);
    });

    it("P=0 wins over reserved bits", () => {
      const vm = fresh();
      expect(rsvd(vm, UP, 1, (vm.gpte(UP).raw | bit(51)) & ~1n)).toMatchObject({ error: U });
    });
  });

  it("a fault from a TLB hit carries the same error code as from a walk", () => {
    const vm = fresh();
    expect(vm.access(KEY, READ)).toBeNull();
    vm.core.setPkru(vm.vcpu, 1 << 6);
    const before = vm.counters();
    expect(vm.access(KEY, READ)).toMatchObject({ type: "page-fault", error: P | U | PK });
    const after = vm.counters();
    expect([after.l1Hits - before.l1Hits, after.walks - before.walks]).toEqual([1, 0]);
    // The #PF dropped the entry: the next access walks.
    vm.core.setPkru(vm.vcpu, 0);
    expect(probe(vm, KEY)).toBe("walk");
    // Legacy rights from a hit: supervisor read of a user page under SMAP.
    vm.core.setControl(vm.vcpu, { cpl: 0, smap: true });
    expect(vm.access(KEY, READ)).toMatchObject({ error: P });
    expect(vm.counters().l1Hits).toBe(after.l1Hits + 1);
  });

  it("a #PF drops the address's PSC entries in this context", () => {
    const vm = pageVm(new TestVm(create(skylakeConfig())));
    expect(vm.access(UP, READ)).toBeNull();
    expect(walkStart(vm.core, vm.vcpu, NEAR)).toBe("pd");
    vm.core.setPkru(vm.vcpu, 1 << 6);
    expect(vm.access(KEY, READ)).toMatchObject({ error: P | U | PK }); // a walk fault
    vm.core.setPkru(vm.vcpu, 0);
    expect(walkStart(vm.core, vm.vcpu, RO)).toBe("cr3");
    expect(probe(vm, UP)).toBe("l1"); // other addresses' TLB entries stay
  });

  it("a key fault on a supervisor page with PKS uses PKRS, not PKRU", () => {
    const vm = fresh();
    vm.core.setControl(vm.vcpu, { cpl: 0, pks: true });
    vm.core.setPkru(vm.vcpu, 0xffff_ffff);
    expect(vm.access(SKEY, WRITE)).toBeNull();
    vm.core.setPkrs(vm.vcpu, 1 << 7);
    expect(vm.access(SKEY, WRITE)).toMatchObject({ error: P | W | PK });
    expect(vm.access(SKEY, READ)).toBeNull();
  });
});
