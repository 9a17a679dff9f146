// Flushes (docs/core.md section 6): MOV CR3 with and without noflush, INVLPG, INVPCID
// types 0-3, INVVPID, INVEPT; global entries kept or dropped; PSC and nested TLB.
import { describe, expect, it } from "vitest";
import type { CoreConfig, MmuCore } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { TestVm, probeVcpu, skylakeConfig, walkStart } from "./setup.js";

// Three pages in one guest page table: N (not global), G (global), Q and Q2 (not
// global, untouched until a test walks them to see which PSC entries survived).
const N = 0x1000_0000;
const G = 0x1000_1000;
const Q = 0x1000_2000;
const Q2 = 0x1000_3000;
const PCID = 1;

interface Scene {
  core: MmuCore;
  vm0: TestVm;
  vm1: TestVm;
}

/**
 * VM 0: vCPU 0 on pCPU 0 and vCPU 1 on pCPU 1, both with PCID 1. VM 1: vCPU 2 on pCPU 0,
 * PCID 1, same virtual addresses. Every vCPU has read N and G.
 */
function scene(create: (c: CoreConfig) => MmuCore): Scene {
  const core = create(skylakeConfig({ pcpus: 2, vcpus: 3, vms: 2 }));
  const vm0 = new TestVm(core, { vm: 0, vcpu: 0, pcpu: 0, pcid: PCID });
  vm0.addVcpu(1, 1, PCID);
  const vm1 = new TestVm(core, { vm: 1, vcpu: 2, pcpu: 0, pcid: PCID });
  for (const vm of [vm0, vm1]) {
    vm.map(N);
    vm.map(G, 0, { g: true });
    vm.map(Q);
    vm.map(Q2);
  }
  for (const vcpu of [0, 1, 2]) {
    for (const va of [N, G]) expect(probeVcpu(core, vcpu, va)).toBe("walk");
  }
  return { core, vm0, vm1 };
}

describe.each(implementations)("$name: flushes", ({ create }) => {
  const where = (s: Scene, vcpu: number, va: number) => probeVcpu(s.core, vcpu, va);

  it("the scene: TLB entries are tagged by VPID (VM 1 walked although VM 0 had the address)", () => {
    const s = scene(create);
    expect(s.core.counters(2).walks).toBe(2);
    expect(where(s, 0, N)).toBe("l1");
    expect(where(s, 2, N)).toBe("l1");
    // Q shares the page table with N: its walk starts at the PDE cache.
    expect(walkStart(s.core, 0, Q)).toBe("pd");
  });

  it("MOV CR3 without noflush: the PCID's non-global TLB entries and its PSC entries go", () => {
    const s = scene(create);
    s.core.setCr3(0, s.vm0.root, PCID, false);
    expect(walkStart(s.core, 0, Q)).toBe("cr3");
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("l1");
    expect(where(s, 2, N)).toBe("l1"); // another VPID on the same pCPU
    expect(where(s, 1, N)).toBe("l1"); // another pCPU
  });

  it("MOV CR3 with noflush keeps everything", () => {
    const s = scene(create);
    s.core.setCr3(0, s.vm0.root, PCID, true);
    expect(walkStart(s.core, 0, Q)).toBe("pd");
    expect(where(s, 0, N)).toBe("l1");
    expect(where(s, 0, G)).toBe("l1");
  });

  it("MOV CR3 to another PCID: only globals match; the old PCID's entries survive", () => {
    const s = scene(create);
    s.core.setCr3(0, s.vm0.root, 2, false);
    expect(walkStart(s.core, 0, Q)).toBe("cr3"); // PSC entries are never global
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("l1");
    s.core.setCr3(0, s.vm0.root, PCID, true);
    expect(where(s, 0, N)).toBe("l1");
    expect(walkStart(s.core, 0, Q2)).toBe("pd");
  });

  it("INVLPG: the address's entries of the current PCID and global ones; all PSC entries of the PCID", () => {
    const s = scene(create);
    s.core.invlpg(0, N);
    expect(walkStart(s.core, 0, Q)).toBe("cr3");
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("l1");
    s.core.invlpg(0, G);
    expect(where(s, 0, G)).toBe("walk");
    expect(where(s, 2, G)).toBe("l1");
    expect(where(s, 1, G)).toBe("l1");
  });

  it("INVPCID type 0: one address of one PCID, globals kept; that PCID's PSC entries", () => {
    const s = scene(create);
    s.core.invpcid(0, 0, 2, N); // another PCID: nothing of PCID 1 changes
    expect(where(s, 0, N)).toBe("l1");
    expect(walkStart(s.core, 0, Q)).toBe("pd");
    s.core.invpcid(0, 0, PCID, G);
    expect(where(s, 0, G)).toBe("l1");
    s.core.invpcid(0, 0, PCID, N);
    expect(walkStart(s.core, 0, Q2)).toBe("cr3");
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("l1");
  });

  it("INVPCID type 1: one PCID, globals kept", () => {
    const s = scene(create);
    s.core.invpcid(0, 1, 2, 0);
    expect(where(s, 0, N)).toBe("l1");
    expect(walkStart(s.core, 0, Q)).toBe("pd");
    s.core.invpcid(0, 1, PCID, 0);
    expect(walkStart(s.core, 0, Q2)).toBe("cr3");
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("l1");
  });

  it("INVPCID type 2: every PCID of the VPID, globals included; only on this pCPU", () => {
    const s = scene(create);
    s.core.invpcid(0, 2, 0, 0);
    expect(walkStart(s.core, 0, Q)).toBe("cr3");
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("walk");
    expect(where(s, 2, N)).toBe("l1");
    expect(where(s, 1, N)).toBe("l1");
    expect(where(s, 1, G)).toBe("l1");
  });

  it("INVPCID type 3: every PCID of the VPID, globals kept", () => {
    const s = scene(create);
    s.core.invpcid(0, 3, 0, 0);
    expect(walkStart(s.core, 0, Q)).toBe("cr3");
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("l1");
    expect(where(s, 2, N)).toBe("l1");
  });

  it("INVVPID type 0: the address in every PCID, globals included, on every pCPU", () => {
    const s = scene(create);
    s.core.invvpid(0, 0, N);
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 1, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("l1");
    expect(where(s, 2, N)).toBe("l1");
    s.core.invvpid(0, 0, G);
    expect(where(s, 0, G)).toBe("walk");
    expect(where(s, 1, G)).toBe("walk");
    expect(where(s, 2, G)).toBe("l1");
  });

  it("(reading) INVVPID type 0 drops the PSC entries whose tag is the address's, in every PCID", () => {
    const s = scene(create);
    // R1, R2: another page table under the same PML4E, 1 GiB away (other PDPTE and PDE tags).
    const R1 = N + 1024 * 1024 * 1024;
    const R2 = R1 + 4096;
    s.vm0.map(R1);
    s.vm0.map(R2);
    expect(where(s, 0, R1)).toBe("walk");
    s.core.invvpid(0, 0, N);
    expect(walkStart(s.core, 0, Q)).toBe("cr3"); // N's PDE, PDPTE and (shared) PML4E entries went
    s.core.invvpid(0, 0, N);
    expect(walkStart(s.core, 0, R2)).toBe("pd"); // R's PDE entry stayed
    expect(walkStart(s.core, 2, Q)).toBe("pd"); // VM 1 keeps its own
  });

  it("INVVPID type 1: the whole VPID, globals included, on every pCPU; the nested TLB stays", () => {
    const s = scene(create);
    s.core.invvpid(0, 1, 0);
    const before = s.core.counters(0);
    expect(where(s, 0, N)).toBe("walk");
    const after = s.core.counters(0);
    // No PSC entry left: 4 guest levels, each table found in the nested TLB, + 4 EPT refs.
    expect(after.pwcMisses - before.pwcMisses).toBe(1);
    expect(after.ntlbHits - before.ntlbHits).toBe(4);
    expect(after.ntlbMisses - before.ntlbMisses).toBe(0);
    expect(after.walkRefs - before.walkRefs).toBe(8);
    expect(where(s, 0, G)).toBe("walk");
    expect(where(s, 1, N)).toBe("walk");
    expect(where(s, 1, G)).toBe("walk");
    expect(where(s, 2, N)).toBe("l1");
  });

  it("INVVPID type 3: the VPID keeping globals", () => {
    const s = scene(create);
    s.core.invvpid(0, 3, 0);
    expect(walkStart(s.core, 0, Q)).toBe("cr3");
    expect(where(s, 0, N)).toBe("walk");
    expect(where(s, 1, N)).toBe("walk");
    expect(where(s, 0, G)).toBe("l1");
    expect(where(s, 1, G)).toBe("l1");
  });

  it("INVEPT: TLBs, PSCs and nested TLB of the VM on every pCPU; other VMs untouched", () => {
    const s = scene(create);
    s.core.invept(0);
    const before = s.core.counters(0);
    expect(where(s, 0, N)).toBe("walk");
    const after = s.core.counters(0);
    expect(after.walkRefs - before.walkRefs).toBe(24);
    expect(after.ntlbMisses - before.ntlbMisses).toBe(4);
    expect(after.pwcMisses - before.pwcMisses).toBe(1);
    expect(where(s, 0, G)).toBe("walk");
    expect(where(s, 1, G)).toBe("walk");
    expect(where(s, 2, N)).toBe("l1");
    // VM 1 keeps its PSC and nested-TLB entries: PDE cache hit, the PT from the nested TLB.
    const b1 = s.core.counters(2);
    expect(walkStart(s.core, 2, Q)).toBe("pd");
    const a1 = s.core.counters(2);
    expect([a1.walkRefs - b1.walkRefs, a1.ntlbHits - b1.ntlbHits]).toEqual([5, 1]);
  });

  it("WRPKRU, PKRS and control writes do not flush", () => {
    const s = scene(create);
    s.core.setPkru(0, 0x5555_5554);
    s.core.setPkrs(0, 0xffff_fff0);
    s.core.setControl(0, { smap: true, wp: false });
    expect(where(s, 0, N)).toBe("l1");
    expect(where(s, 0, G)).toBe("l1");
    expect(walkStart(s.core, 0, Q)).toBe("pd");
  });

  it("map, unmap and protect never flush: a stale entry lives until the host flushes", () => {
    const s = scene(create);
    expect(s.core.gptUnmap(0, s.vm0.root, N, 0)).toBe("ok");
    expect(where(s, 0, N)).toBe("l1");
    s.core.invlpg(0, N);
    s.core.submit([{ vcpu: 0, va: N, kind: 1, size: 1 }]);
    const ev = s.core.run();
    expect(ev).toMatchObject({ type: "page-fault", error: 4, va: N, vcpu: 0, index: 0 });
    s.core.skip();
  });

  it("destroyVm flushes the VM everywhere; a new VM with the same number starts cold", () => {
    const s = scene(create);
    s.core.destroyVm(0);
    expect(where(s, 2, N)).toBe("l1");
    const again = new TestVm(s.core, { vm: 0, vcpu: 0, pcpu: 0, pcid: PCID });
    again.map(N);
    expect(where(s, 0, N)).toBe("walk");
    expect(s.core.counters(0).walkRefs).toBe(24);
  });
});
