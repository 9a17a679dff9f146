// Host-side table operations (docs/core.md section 2): raw entry formats, read-back,
// errors that change nothing, the FIFO frame pools.
import { describe, expect, it } from "vitest";
import type { CoreConfig, MmuCore } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { RWX, TABLE_GPA, TestVm, USER_RW, bit, plainConfig, probeVcpu } from "./setup.js";

const H = 0x40_0000_0000; // host frames of these tests: 256 GiB
const MT_WB = 6n << 3n;

describe.each(implementations)("$name: table operations", ({ create }) => {
  /** A VM with `n` EPT frames at H, H+4K, ... */
  function bare(n: number, make: (c: CoreConfig) => MmuCore = create): MmuCore {
    const core = make(plainConfig());
    core.addEptFrames(0, Array.from({ length: n }, (_, i) => H + i * 4096));
    core.createVm(0); // takes the root
    return core;
  }

  it("eptMap writes R, W, X, memory type, bit 7 for large pages, and the address; A and D clear", () => {
    const core = bare(8);
    expect(core.eptMap(0, 0x20_1000, 0x9_8765_4000, 0, RWX)).toBe("ok");
    expect(core.eptEntry(0, 0x20_1abc)).toEqual({ level: 1, raw: 0x9_8765_4000n | 7n | MT_WB });
    expect(core.eptMap(0, 0x4000_0000, 0x1_4000_0000, 2, { r: true, w: false, x: true, memType: 0 })).toBe("ok");
    expect(core.eptEntry(0, 0x4123_4567)).toEqual({ level: 3, raw: 0x1_4000_0000n | 5n | bit(7) });
    expect(core.eptMap(0, 0x60_0000, 0x80_0000, 1, RWX)).toBe("ok");
    expect(core.eptEntry(0, 0x60_0000)).toEqual({ level: 2, raw: 0x80_0000n | 7n | MT_WB | bit(7) });
    // Frames: root, PDPT, PD, PT for the first map; the 1 GiB and 2 MiB leaves need no new table.
    expect(core.framesAvailable(0)).toEqual({ ept: 4, guest: 0 });
    // Not mapped: the first non-present entry, with its level.
    expect(core.eptEntry(0, 0x20_2000)).toEqual({ level: 1, raw: 0n });
    expect(core.eptEntry(0, 0x8000_0000)).toEqual({ level: 3, raw: 0n });
    expect(core.eptEntry(0, 512 * 2 ** 30)).toEqual({ level: 4, raw: 0n });
  });

  it("eptMap errors change nothing: conflict, no-frames", () => {
    const core = bare(5);
    expect(core.eptMap(0, 0x20_1000, 0x1000, 0, RWX)).toBe("ok"); // 4 frames
    expect(core.eptMap(0, 0x20_1000, 0x2000, 0, RWX)).toBe("conflict"); // leaf at the target
    expect(core.eptMap(0, 0x20_0000, 0x20_0000, 1, RWX)).toBe("conflict"); // a table where a 2 MiB leaf is asked
    expect(core.eptMap(0, 0x40_0000, 0x40_0000, 1, RWX)).toBe("ok");
    expect(core.eptMap(0, 0x40_3000, 0x3000, 0, RWX)).toBe("conflict"); // a leaf on the path
    expect(core.eptMap(0, 0x8000_0000, 0x3000, 0, RWX)).toBe("no-frames"); // needs a PD and a PT, 1 left
    expect(core.framesAvailable(0).ept).toBe(1);
    expect(core.eptEntry(0, 0x8000_0000)).toEqual({ level: 3, raw: 0n });
    expect(core.eptMap(0, 0x20_2000, 0x3000, 0, RWX)).toBe("ok"); // needs none
    expect(() => core.eptMap(0, 0x20_0800, 0x3000, 0, RWX)).toThrow(/gpa/);
    expect(() => core.eptMap(0, 0x20_0000, 0x1000, 1, RWX)).toThrow(/hpa/);
  });

  it("eptUnmap and eptProtect need a leaf of exactly that size; protect keeps A, D, type, address", () => {
    const core = bare(8);
    expect(core.eptMap(0, 0x20_0000, 0x40_0000, 1, { r: true, w: false, x: false, memType: 4 })).toBe("ok");
    expect(core.eptUnmap(0, 0x20_0000, 0)).toBe("not-mapped");
    expect(core.eptProtect(0, 0, 2, RWX)).toBe("not-mapped"); // PDPTE 0 is a table
    const raw = core.eptEntry(0, 0x20_0000).raw;
    expect(core.eptWriteRaw(0, 0x20_0000, 2, raw | bit(8) | bit(9))).toBe("ok");
    expect(core.eptProtect(0, 0x20_0000, 1, { r: true, w: true, x: true, memType: 0 })).toBe("ok");
    expect(core.eptEntry(0, 0x20_0000).raw).toBe(0x40_0000n | 7n | (4n << 3n) | bit(7) | bit(8) | bit(9));
    expect(core.eptUnmap(0, 0x20_0000, 1)).toBe("ok");
    expect(core.eptEntry(0, 0x20_0000)).toEqual({ level: 2, raw: 0n });
    expect(core.eptUnmap(0, 0x20_0000, 1)).toBe("not-mapped");
    // Intermediate tables stay: mapping a 4 KiB page below needs only a PT.
    const before = core.framesAvailable(0).ept;
    expect(core.eptMap(0, 0x20_0000, 0x1000, 0, RWX)).toBe("ok");
    expect(core.framesAvailable(0).ept).toBe(before - 1);
  });

  it("eptWriteRaw needs the path; W without R is accepted by eptMap", () => {
    const core = bare(8);
    expect(core.eptWriteRaw(0, 0x1000, 3, 7n)).toBe("not-mapped"); // PML4E 0 not present
    expect(core.eptMap(0, 0x1000, 0x1000, 0, { r: false, w: true, x: false, memType: 6 })).toBe("ok");
    expect(core.eptEntry(0, 0x1000).raw).toBe(0x1000n | 2n | MT_WB);
    expect(core.eptWriteRaw(0, 0x4000_0000, 2, 7n)).toBe("not-mapped"); // PDPTE 1 not present
    expect(core.eptWriteRaw(0, 0x4000_0000, 3, 0x5000n | 7n)).toBe("ok");
  });

  it("gptMap writes P, R/W, U/S, PS, G, key, XD and the address; new links get P, R/W, U/S", () => {
    const core = create(plainConfig());
    const vm = new TestVm(core);
    const va = 0x7f80_0020_0000;
    expect(core.gptMap(0, vm.root, va, 0x1_2340_0000, 1, { w: true, u: true, xd: true, g: true, key: 5 })).toBe("ok");
    const raw = 0x1_2340_0000n | 0x7n | bit(7) | bit(8) | (5n << 59n) | bit(63);
    expect(core.gptEntry(0, vm.root, va + 0x1234)).toEqual({ level: 2, raw });
    expect(core.gptMap(0, vm.root, va + 0x20_0000, 0x5000, 0, { w: false, u: false, xd: false, g: false, key: 15 })).toBe("ok");
    expect(core.gptEntry(0, vm.root, va + 0x20_0000)).toEqual({ level: 1, raw: 0x5000n | 1n | (15n << 59n) });
    // The PDE linking to the new PT: P, R/W, U/S and the PT's gPA (guest frames: root 0, PDPT 1, PD 2, PT 3).
    const pde = BigInt(TABLE_GPA + 3 * 4096) | 7n;
    expect(core.gptWriteRaw(0, vm.root, va + 0x20_0000, 2, pde)).toBe("ok"); // rewriting it changes nothing
    expect(core.gptEntry(0, vm.root, va + 0x20_0000).level).toBe(1);
    expect(core.gptEntry(0, vm.root, va + 0x40_0000)).toEqual({ level: 2, raw: 0n });
    expect(core.gptEntry(0, vm.root, 0x1000)).toEqual({ level: 4, raw: 0n });
  });

  it("gptMap errors change nothing: conflict, no-frames, unbacked", () => {
    const core = create(plainConfig());
    const vm = new TestVm(core, { tableFrames: 4 }); // the root + 3
    expect(core.gptMap(0, vm.root, 0x1000_0000, 0x1000, 0, USER_RW)).toBe("ok");
    expect(core.framesAvailable(0).guest).toBe(0);
    expect(core.gptMap(0, vm.root, 0x1000_0000, 0x2000, 0, USER_RW)).toBe("conflict");
    expect(core.gptMap(0, vm.root, 0x1000_0000, 0x20_0000, 1, USER_RW)).toBe("conflict");
    expect(core.gptMap(0, vm.root, 0x1000_1000, 0x2000, 0, USER_RW)).toBe("ok");
    expect(core.gptMap(0, vm.root, 0x1020_0000, 0x2000, 0, USER_RW)).toBe("no-frames");
    expect(core.gptEntry(0, vm.root, 0x1020_0000)).toEqual({ level: 2, raw: 0n });
    // A root whose gPA the EPT does not map.
    expect(core.gptMap(0, 0x7000_0000, 0x1000_0000, 0x2000, 0, USER_RW)).toBe("unbacked");
    // A link whose table the EPT no longer maps (the PT is guest frame 3).
    expect(core.eptUnmap(0, TABLE_GPA + 3 * 4096, 0)).toBe("ok");
    expect(core.gptMap(0, vm.root, 0x1000_2000, 0x3000, 0, USER_RW)).toBe("unbacked");
    expect(() => core.gptMap(0, vm.root, 0x1000_0800, 0x3000, 0, USER_RW)).toThrow(/va/);
  });

  it("gptProtect keeps P, PS, G, A, D and the address; gptUnmap needs the exact size", () => {
    const core = create(plainConfig());
    const vm = new TestVm(core);
    vm.map(0x4000_0000, 1, { g: true });
    expect(vm.access(0x4000_0000, 2)).toBeNull(); // sets A and D
    const before = vm.gpte(0x4000_0000).raw;
    expect(core.gptProtect(0, vm.root, 0x4000_0000, 1, { w: false, u: false, xd: true, g: false, key: 9 })).toBe("ok");
    const after = vm.gpte(0x4000_0000).raw;
    expect(after).toBe((before & ~(bit(1) | bit(2))) | bit(63) | (9n << 59n));
    expect(core.gptProtect(0, vm.root, 0x4000_0000, 0, USER_RW)).toBe("not-mapped");
    expect(core.gptUnmap(0, vm.root, 0x4000_0000, 2)).toBe("not-mapped");
    expect(core.gptUnmap(0, vm.root, 0x4000_0000, 1)).toBe("ok");
    expect(vm.gpte(0x4000_0000)).toEqual({ level: 2, raw: 0n });
    expect(core.gptWriteRaw(0, vm.root, 0x4000_0000, 1, 1n)).toBe("not-mapped");
  });

  it("(reading) createVm takes the EPT root from frames queued before it", () => {
    const core = create(plainConfig({ vms: 2 }));
    expect(() => core.createVm(1)).toThrow();
    core.addEptFrames(1, [H, H + 4096]);
    expect(core.framesAvailable(1)).toEqual({ ept: 2, guest: 0 });
    core.createVm(1);
    expect(core.framesAvailable(1)).toEqual({ ept: 1, guest: 0 });
    // The root is the first frame: a 1 GiB leaf needs one new table (the PDPT, the second frame).
    expect(core.eptMap(1, 0, 0, 2, RWX)).toBe("ok");
    expect(core.framesAvailable(1).ept).toBe(0);
    expect(core.eptWriteRaw(1, 0, 4, BigInt(H + 4096) | 7n)).toBe("ok"); // rewrites the same link
    expect(core.eptEntry(1, 0x1234)).toEqual({ level: 3, raw: 7n | MT_WB | bit(7) });
  });

  it("frame pools are FIFO; gptNewRoot takes the next guest frame", () => {
    const core = bare(4);
    core.addGuestFrames(0, [
      { gpa: 0x10_0000, hpa: H + 0x10_0000 },
      { gpa: 0x10_1000, hpa: H + 0x10_1000 },
    ]);
    expect(core.framesAvailable(0)).toEqual({ ept: 3, guest: 2 }); // createVm took the root
    expect(core.gptNewRoot(0)).toBe(0x10_0000);
    expect(core.gptNewRoot(0)).toBe(0x10_1000);
    expect(core.framesAvailable(0)).toEqual({ ept: 3, guest: 0 });
    expect(() => core.gptNewRoot(0)).toThrow();
  });

  it("vCPUs of one VM on one pCPU share TLB entries (same VPID and PCID)", () => {
    const core = create(plainConfig({ vcpus: 2 }));
    const vm = new TestVm(core);
    vm.addVcpu(1, 0);
    vm.map(0x1000_0000);
    expect(probeVcpu(core, 0, 0x1000_0000)).toBe("walk");
    expect(probeVcpu(core, 1, 0x1000_0000)).toBe("l1");
  });
});
