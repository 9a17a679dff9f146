// EPT violations (qualification bits, gPA, final vs paging-structure access) and EPT
// misconfigurations. Qualification: bits 0..2 read/write/fetch, 3..5 the AND of R, W, X
// over the EPT entries read, 7 linear address valid, 8 final translation.
import { describe, expect, it } from "vitest";
import { FETCH, READ, WRITE, type AccessKind, type EptAttrs } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { GiB, PAGE_1G, PAGE_2M, RAM_GPA, RWX, SKYLAKE_TLB, TABLE_GPA, TestVm, bit, hostBase, plainConfig, probe, skylakeConfig } from "./setup.js";

const VA = 0x1000_5000; // PT index 5
const OFF = 0x123;
const PT_GPA = TABLE_GPA + 3 * 4096; // guest frames: root 0, PDPT 1, PD 2, PT 3
const LIN = 0x80, FINAL = 0x100;
const R = 1, W = 2, X = 4;
const q = (access: number, rights: number, final: boolean) => access | (rights << 3) | LIN | (final ? FINAL : 0);

describe.each(implementations)("$name: EPT violations and misconfigurations", ({ create }) => {
  const vmWith = (eptAD = true) => new TestVm(create(plainConfig()), { eptAD });

  it("a data page the EPT does not map: read, rights 0, final, after 20 + 2 references", () => {
    const vm = vmWith();
    const gpa = vm.allocGpa(0);
    expect(gpa).toBe(RAM_GPA);
    expect(vm.core.gptMap(vm.vm, vm.root, VA, gpa, 0, { w: true, u: true, xd: false, g: false, key: 0 })).toBe("ok");
    expect(vm.access(VA + OFF, READ)).toEqual({ type: "ept-violation", index: 0, vcpu: 0, va: VA + OFF, gpa: RAM_GPA + OFF, qualification: q(R, 0, true) });
    const c = vm.counters();
    // EPT PML4E 0 is present (the tables' region), PDPTE 4 is not.
    expect([c.walkRefs, c.walkRefsGuest, c.eptViolations, c.faults, c.pageFaults]).toEqual([22, 4, 1, 1, 0]);
  });

  it.each<[string, Partial<EptAttrs>, AccessKind, number]>([
    ["write to an R page", { r: true, w: false, x: false }, WRITE, q(W, R, true)],
    ["write to an RX page", { r: true, w: false, x: true }, WRITE, q(W, R | X, true)],
    ["fetch from an RW page", { r: true, w: true, x: false }, FETCH, q(X, R | W, true)],
    ["read of an execute-only page", { r: false, w: false, x: true }, READ, q(R, X, true)],
    ["write to an execute-only page", { r: false, w: false, x: true }, WRITE, q(W, X, true)],
  ])("%s", (_what, ept, kind, qualification) => {
    const vm = vmWith();
    vm.map(VA, 0, {}, ept);
    expect(vm.access(VA + OFF, kind)).toEqual({ type: "ept-violation", index: 0, vcpu: 0, va: VA + OFF, gpa: RAM_GPA + OFF, qualification });
    expect(vm.counters().walkRefs).toBe(24);
  });

  it("rights are the AND over the EPT entries read: an R-only PDE above an RWX leaf", () => {
    const vm = vmWith();
    // Mapping the first data page creates the EPT PD and PT of its region (the next two pool frames).
    const taken = 512 - vm.core.framesAvailable(vm.vm).ept;
    vm.map(VA);
    expect(vm.core.framesAvailable(vm.vm).ept).toBe(512 - taken - 2);
    const eptPt = hostBase(0) + (taken + 1) * 4096;
    expect(vm.core.eptWriteRaw(vm.vm, RAM_GPA, 2, BigInt(eptPt) | BigInt(R))).toBe("ok");
    expect(vm.access(VA, READ)).toBeNull();
    vm.core.invept(vm.vm);
    expect(vm.access(VA + OFF, WRITE)).toMatchObject({ gpa: RAM_GPA + OFF, qualification: q(W, R, true) });
    expect(vm.access(VA + OFF, FETCH)).toMatchObject({ qualification: q(X, R, true) });
  });

  it("a guest table the EPT does not map: a paging-structure access (bits 0 and 1 with eptAD, bit 8 clear)", () => {
    const vm = vmWith();
    vm.map(VA);
    expect(vm.core.eptUnmap(vm.vm, PT_GPA, 0)).toBe("ok");
    expect(vm.access(VA + OFF, FETCH)).toEqual({ type: "ept-violation", index: 0, vcpu: 0, va: VA + OFF, gpa: PT_GPA + 5 * 8, qualification: q(R | W, 0, false) });
    expect(vm.counters().walkRefs).toBe(15 + 4);
  });

  it("without eptAD a paging-structure access reports a read only", () => {
    const vm = vmWith(false);
    vm.map(VA);
    expect(vm.core.eptUnmap(vm.vm, PT_GPA, 0)).toBe("ok");
    expect(vm.access(VA, WRITE)).toMatchObject({ gpa: PT_GPA + 5 * 8, qualification: q(R, 0, false) });
  });

  it("a read-only guest table: a violation with eptAD (the walk may write A/D), none without", () => {
    const ad = vmWith(true);
    ad.map(VA);
    expect(ad.core.eptProtect(ad.vm, PT_GPA, 0, { ...RWX, w: false, x: false })).toBe("ok");
    expect(ad.access(VA, READ)).toMatchObject({ gpa: PT_GPA + 5 * 8, qualification: q(R | W, R, false) });
    const plain = vmWith(false);
    plain.map(VA);
    expect(plain.core.eptProtect(plain.vm, PT_GPA, 0, { ...RWX, w: false, x: false })).toBe("ok");
    expect(plain.access(VA, READ)).toBeNull();
  });

  it("the guest root the EPT does not map: a violation at the first reference", () => {
    const vm = vmWith();
    vm.map(VA);
    expect(vm.core.eptUnmap(vm.vm, TABLE_GPA, 0)).toBe("ok");
    expect(vm.access(VA, READ)).toMatchObject({ gpa: TABLE_GPA, qualification: q(R | W, 0, false) });
    expect(vm.counters().walkRefs).toBe(4);
  });

  it("a violation from a TLB hit: EPT rights are checked on every access", () => {
    const vm = vmWith();
    vm.map(VA, 0, {}, { w: false });
    expect(vm.access(VA, READ)).toBeNull();
    const before = vm.counters();
    expect(vm.access(VA + OFF, WRITE)).toMatchObject({ gpa: RAM_GPA + OFF, qualification: q(W, R | X, true) });
    const after = vm.counters();
    expect([after.l1Hits - before.l1Hits, after.walks - before.walks, after.eptViolations]).toEqual([1, 0, 1]);
    expect(probe(vm, VA)).toBe("walk"); // the violation dropped the entry
  });

  it.each<[string, AccessKind, AccessKind, Partial<EptAttrs>]>([
    ["a read's walk drops the ITLB entry of its page", READ, FETCH, { r: false, w: false, x: true }],
    ["a fetch's walk drops the DTLB entry of its page", FETCH, READ, { r: true, w: false, x: false }],
  ])("a violation in %s (the TLBs its own probes missed hold nothing)", (_what, walker, other, ept) => {
    // no STLB: the other kind's L1 entry is then the only one the walker cannot probe
    const vm = new TestVm(create(plainConfig({ tlb: { ...structuredClone(SKYLAKE_TLB), stlb: { entries: 0, ways: 1 }, stlb1g: { entries: 0, ways: 1 } } })));
    vm.map(VA);
    expect(vm.access(VA, other)).toBeNull();
    expect(vm.core.eptProtect(vm.vm, RAM_GPA, 0, { ...RWX, ...ept })).toBe("ok");
    expect(vm.access(VA, walker)).toMatchObject({ type: "ept-violation", qualification: q(walker === READ ? R : X, (ept.r ? R : 0) | (ept.x ? X : 0), true) });
    expect(vm.core.eptProtect(vm.vm, RAM_GPA, 0, RWX)).toBe("ok");
    expect(vm.access(VA, other)).toBeNull();
    expect(vm.counters().walks).toBe(3); // the other kind walks again: its entry went with the violation
  });

  it("page-fault checks come before EPT rights, in a walk and on a hit", () => {
    const vm = vmWith();
    vm.map(VA, 0, { key: 3 }, { r: false, w: false, x: true });
    vm.core.setPkru(vm.vcpu, 1 << 6);
    expect(vm.access(VA, READ)).toMatchObject({ type: "page-fault", error: 0x25 });
    vm.core.setPkru(vm.vcpu, 0);
    expect(vm.access(VA, READ)).toMatchObject({ type: "ept-violation", qualification: q(R, X, true) });
    expect(vm.access(VA, FETCH)).toBeNull();
    vm.core.setControl(vm.vcpu, { cpl: 0, smep: true });
    expect(vm.access(VA, FETCH)).toMatchObject({ type: "page-fault", error: 0x11 }); // from the ITLB hit
  });

  it("the nested TLB caches a table's EPT rights until INVEPT", () => {
    const vm = new TestVm(create(skylakeConfig()));
    vm.map(VA);
    expect(vm.access(VA, READ)).toBeNull();
    expect(vm.core.eptProtect(vm.vm, PT_GPA, 0, { ...RWX, w: false })).toBe("ok");
    vm.core.invlpg(vm.vcpu, VA); // TLB and PSC, not the nested TLB
    expect(vm.access(VA, READ)).toBeNull();
    vm.core.invept(vm.vm);
    expect(vm.access(VA, READ)).toMatchObject({ gpa: PT_GPA + 5 * 8, qualification: q(R | W, R | X, false) });
  });

  describe("misconfigurations", () => {
    const misconfig = (vm: TestVm, gpa: number, va = VA + OFF) =>
      expect(vm.access(va, READ)).toEqual({ type: "ept-misconfig", index: 0, vcpu: 0, va, gpa });

    it("W without R in the data leaf (eptMap and eptProtect allow it)", () => {
      const vm = vmWith();
      vm.map(VA, 0, {}, { r: false, w: true, x: false });
      misconfig(vm, RAM_GPA + OFF);
      const c = vm.counters();
      expect([c.eptMisconfigs, c.faults, c.eptViolations, c.walkRefs]).toEqual([1, 1, 0, 24]);
    });

    it.each([2, 3, 7])("memory type %i in the data leaf", (type) => {
      const vm = vmWith();
      vm.map(VA);
      const raw = vm.epte(RAM_GPA).raw;
      expect(vm.core.eptWriteRaw(vm.vm, RAM_GPA, 1, (raw & ~0x38n) | BigInt(type << 3))).toBe("ok");
      misconfig(vm, RAM_GPA + OFF);
    });

    it.each([0, 1, 4, 5, 6])("memory type %i is fine", (type) => {
      const vm = vmWith();
      vm.map(VA, 0, {}, { memType: type });
      expect(vm.access(VA, READ)).toBeNull();
    });

    // An EPT PML4E of its own: gPA 512 GiB (PML4 index 1), written raw.
    const far = (raw: bigint) => {
      const vm = vmWith();
      const gpa = 512 * GiB;
      expect(vm.core.gptMap(vm.vm, vm.root, VA, gpa, 0, { w: true, u: true, xd: false, g: false, key: 0 })).toBe("ok");
      expect(vm.core.eptWriteRaw(vm.vm, gpa, 4, raw)).toBe("ok");
      return vm;
    };

    it("bit 7 in a PML4E", () => {
      const vm = far(BigInt(hostBase(0) + 400 * 4096) | 7n | bit(7));
      misconfig(vm, 512 * GiB + OFF);
      expect(vm.counters().walkRefs).toBe(20 + 1);
    });

    it("address bit 46 in a PML4E", () => {
      const vm = far(BigInt(hostBase(0) + 400 * 4096) | 7n | bit(46));
      misconfig(vm, 512 * GiB + OFF);
    });

    it("not present (bits 2:0 = 0) wins over misconfiguration bits", () => {
      const vm = far(BigInt(hostBase(0) + 400 * 4096) | bit(7) | 0x38n);
      expect(vm.access(VA, READ)).toMatchObject({ type: "ept-violation", qualification: q(R, 0, true) });
      expect(vm.counters().walkRefs).toBe(21);
    });

    it("bits 12..20 of a 2 MiB EPT leaf", () => {
      const vm = new TestVm(create(plainConfig()), { dataEpt: PAGE_2M });
      vm.map(VA);
      const e = vm.epte(RAM_GPA);
      expect(e.level).toBe(2);
      expect(vm.core.eptWriteRaw(vm.vm, RAM_GPA, 2, e.raw | bit(12))).toBe("ok");
      misconfig(vm, RAM_GPA + OFF);
      expect(vm.counters().walkRefs).toBe(20 + 3);
    });

    it("bits 12..29 of a 1 GiB EPT leaf", () => {
      const vm = new TestVm(create(plainConfig()), { dataEpt: PAGE_1G });
      vm.map(VA);
      const e = vm.epte(RAM_GPA);
      expect(e.level).toBe(3);
      expect(vm.core.eptWriteRaw(vm.vm, RAM_GPA, 3, e.raw | bit(29))).toBe("ok");
      misconfig(vm, RAM_GPA + OFF);
    });

    it("in the EPT path of a guest table: the entry's gPA is reported", () => {
      const vm = vmWith();
      vm.map(VA);
      expect(vm.core.eptProtect(vm.vm, PT_GPA, 0, { r: false, w: true, x: false, memType: 6 })).toBe("ok");
      misconfig(vm, PT_GPA + 5 * 8);
      expect(vm.counters().walkRefs).toBe(15 + 4);
    });
  });
});
