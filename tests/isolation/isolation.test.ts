import { describe, expect, it } from "vitest";
import { KiB, MiB, newOs, newKylinx } from "./helpers.js";
import { KeyExhaustedError, UnknownPeerError, IsolationConfigError } from "../../src/guest/isolation/config.js";
import { UnsafeImageError } from "../../src/guest/isolation/inspect.js";
import { gateCode } from "../../src/guest/isolation/gate.js";
import { KILLED_STATUS } from "../../src/guest/isolation/processes.js";
import { READ } from "../../src/core/types.js";

describe("isolation holds", () => {
  it("a process touching another's memory gets a page fault (iso-unik) naming both processes; it is killed by default", async () => {
    const { os, sim } = await newOs("iso-unik");
    const a = os.spawn({ name: "a" }, { heap: 64 * KiB });
    const b = os.spawn({ name: "b" }, { heap: 64 * KiB });
    const r = os.write(b, os.addressOf(a, "heap") + 100, 8);
    expect(r.ok).toBe(false);
    expect(r.fault).toEqual({
      design: "iso-unik",
      kind: "page",
      access: "write",
      va: os.addressOf(a, "heap") + 100,
      accessor: { pid: b.pid, name: "b" },
      owners: [{ pid: a.pid, name: "a" }],
      region: "heap",
      action: "killed",
    });
    expect(b.state).toBe("reaped"); // no parent to wait for it
    expect(b.exitCode).toBe(KILLED_STATUS);
    expect(a.alive).toBe(true);
    // the Simulator saw it too
    expect(sim.faults.at(-1)).toMatchObject({ kind: "segfault", va: os.addressOf(a, "heap") + 100 });
  });

  it("in the shared address space the same access is a key fault; 'report' keeps the process", async () => {
    const { os, sim } = await newOs("shared-as");
    const a = os.spawn({ name: "a" }, { heap: 64 * KiB });
    const b = os.spawn({ name: "b", onViolation: "report" }, { heap: 64 * KiB });
    const r = os.read(b, os.addressOf(a, "heap"), 8);
    expect(r.fault).toMatchObject({ kind: "key", access: "read", accessor: { name: "b" }, owners: [{ name: "a" }], action: "reported" });
    expect(b.alive).toBe(true);
    expect(sim.faults.at(-1)).toMatchObject({ kind: "key" });
    expect(os.read(b, os.addressOf(b, "heap"), 8).ok).toBe(true);
  });

  it("the kernel is out of reach outside a gate and reachable inside one", async () => {
    for (const design of ["iso-unik", "shared-as", "linux"] as const) {
      const { os } = await newOs(design);
      const p = os.spawn({ name: "p", onViolation: "report" }, { heap: 64 * KiB });
      const k = os.kernelAddress(4096);
      expect(os.read(p, k, 8).fault).toMatchObject({ kind: "key", owners: "kernel" });
      const faults = os.faults.length;
      os.syscall(p, "read", { handlerCycles: 100, kernelAccesses: [{ offset: 4096, bytes: 64, kind: READ }] });
      os.settle();
      expect(os.faults.length).toBe(faults);
      // the gate closed again
      expect(os.read(p, k, 8).ok).toBe(false);
    }
  });

  it("a kernel mapping made after a process exists reaches its address space on first use (PML4 sync)", async () => {
    const { os, vm, sim } = await newOs("iso-unik");
    const t = os.spawn({ name: "t", isolation: "trusted" }, { heap: 16 * KiB });
    const i = os.spawn({ name: "i", onViolation: "report" }, { heap: 16 * KiB });
    // the kernel maps memory in a PML4 slot no process root has yet (OSv's mmap area)
    const vma = vm.guest.mmap(64 * KiB, { populate: true });
    expect(sim.core.gptEntry(vm.id, t.root, vma.start).level).toBe(4);
    expect(os.read(t, vma.start, 8).ok).toBe(true);
    expect(sim.core.gptEntry(vm.id, t.root, vma.start)).toEqual(sim.core.gptEntry(vm.id, vm.guest.kernelRoot, vma.start));
    // shared with every root, and still the kernel's key
    expect(os.read(i, vma.start, 8).fault).toMatchObject({ kind: "key", owners: "kernel" });
  });

  it("trusted processes and the 'none' design reach the kernel directly", async () => {
    const { os } = await newOs("iso-unik");
    const t = os.spawn({ name: "t", isolation: "trusted" }, { heap: 64 * KiB });
    expect(t.pkru).toBe(0);
    expect(os.read(t, os.kernelAddress(0), 8).ok).toBe(true);
    const none = (await newOs("none")).os;
    const p = none.spawn({ name: "p" }, { heap: 64 * KiB });
    expect(none.read(p, none.kernelAddress(0), 8).ok).toBe(true);
  });

  it("sharing: named peers map the region with their rights, others cannot reach it", async () => {
    const { os } = await newOs("shared-as");
    const w = os.spawn({ name: "w", onViolation: "report" }, { heap: 16 * KiB });
    const r = os.spawn({ name: "r", onViolation: "report" }, { heap: 16 * KiB });
    const x = os.spawn({ name: "x", onViolation: "report" }, { heap: 16 * KiB });
    const o = os.spawn({ name: "o", isolation: { share: [{ region: "buf", with: ["w"] }, { region: "log", with: ["r"], access: "ro" }] } }, { heap: 16 * KiB });
    const buf = os.share(o, "buf", 8 * KiB);
    const log = os.share(o, "log", 8 * KiB);
    expect(os.write(w, buf.start, 8).ok).toBe(true);
    expect(os.contentAt(o, buf.start)).toBe(os.contentAt(w, buf.start));
    expect(os.read(r, log.start, 8).ok).toBe(true);
    expect(os.write(r, log.start, 8).fault).toMatchObject({ kind: "key", access: "write", owners: [{ name: "o" }], region: "log" });
    expect(os.read(x, buf.start, 8).fault).toMatchObject({ kind: "key", accessor: { name: "x" } });
    expect(os.write(o, log.start, 8).ok).toBe(true);
  });

  it("configuration errors are clear: unknown peer, undeclared region, duplicate name", async () => {
    const { os } = await newOs("iso-unik");
    const o = os.spawn({ name: "o", isolation: { share: [{ region: "buf", with: ["ghost"] }] } }, { heap: 16 * KiB });
    expect(() => os.share(o, "buf", 4096)).toThrow(UnknownPeerError);
    expect(() => os.share(o, "buf", 4096)).toThrow(/region "buf" names peer "ghost", which is no live process; live processes: "o"/);
    expect(() => os.share(o, "other", 4096)).toThrow(/does not share a region "other"/);
    expect(() => os.spawn({ name: "o" })).toThrow(IsolationConfigError);
    expect(os.memory().regions).toBe(1);
  });

  it("an image with a WRPKRU outside the sanctioned gates is refused at load; one with only the gate loads", async () => {
    const { os } = await newOs("iso-unik");
    const g = gateCode();
    const code = new Uint8Array(8192);
    code.set(g.bytes, 4096);
    const ok = os.spawn({ name: "good" }, { image: { name: "good", code, gates: [{ start: 4096, end: 4096 + g.bytes.length }] } });
    expect(ok.region("text").end - ok.region("text").start).toBe(8192);
    const evil = code.slice();
    evil.set([0x0f, 0x01, 0xef], 100);
    const before = os.live().length;
    expect(() => os.spawn({ name: "evil" }, { image: { name: "evil", code: evil, gates: [{ start: 4096, end: 4096 + g.bytes.length }] } })).toThrow(UnsafeImageError);
    expect(os.live().length).toBe(before);
  });
});

describe("keys in the shared address space", () => {
  it("the 16th key user is a KeyExhaustedError without virtualisation, and nothing is left behind", async () => {
    const { os } = await newOs("shared-as");
    const ps = Array.from({ length: 15 }, (_, i) => os.spawn({ name: `p${i}` }, { heap: 16 * KiB }));
    expect(ps.map((p) => p.vkey!.hw)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(() => os.spawn({ name: "p15" }, { heap: 16 * KiB })).toThrow(KeyExhaustedError);
    expect(() => os.fork(ps[0])).toThrow(/no protection key left/);
    expect(os.live()).toHaveLength(15);
    // trusted processes need no key
    expect(os.spawn({ name: "t", isolation: "trusted" }, { heap: 16 * KiB }).vkey).toBeNull();
  });

  it("with virtualisation, 20 processes share 15 keys: switching re-tags pages, charged, and isolation still holds", async () => {
    const { os } = await newOs("shared-as", { keyVirtualisation: true });
    const ps = Array.from({ length: 20 }, (_, i) => os.spawn({ name: `p${i}`, onViolation: "report" }, { heap: 16 * KiB }));
    for (const p of ps) expect(os.write(p, os.addressOf(p, "heap"), 8).ok).toBe(true);
    const s = os.ledger.breakdown().steps;
    expect(os.keys!.stats.evictions).toBeGreaterThan(0);
    expect(s["switch.retagEntries"].count).toBe(os.keys!.stats.pagesRetagged);
    expect(s["switch.retagInvlpg"].unitCycles).toBe(os.costs.cpu.invlpg);
    // every process still reaches its own memory and no other's, parked or not
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i];
      const q = ps[(i + 7) % ps.length];
      expect(os.read(p, os.addressOf(p, "heap"), 8).ok).toBe(true);
      expect(os.read(p, os.addressOf(q, "heap"), 8).ok).toBe(false);
    }
  });

  it("shared-as fork copies the parent's memory to new addresses with the child's key", async () => {
    const { os } = await newOs("shared-as");
    const p = os.spawn({ name: "p" }, { heap: 64 * KiB, text: 16 * KiB });
    os.write(p, os.addressOf(p, "heap"), 8);
    const { child, cost } = os.fork(p);
    expect(os.addressOf(child, "heap")).not.toBe(os.addressOf(p, "heap"));
    expect(os.contentAt(child, os.addressOf(child, "heap"))).toBe(os.contentAt(p, os.addressOf(p, "heap")));
    expect(cost.steps["copy4k.dram"].count).toBe(20);
    expect(child.vkey!.hw).not.toBe(p.vkey!.hw);
    expect(os.read(child, os.addressOf(p, "heap"), 8).ok).toBe(false);
  });
});

describe("vm-per-process (KylinX)", () => {
  it("fork clones the VM and duplicates its memory; processes cannot name each other's memory; exit destroys the VM", async () => {
    const { ky, sim } = await newKylinx();
    const p = ky.spawn({ name: "p" }, { heap: 1 * MiB });
    ky.write(p, ky.addressOf(p, "heap"), 4096);
    const { child, cost } = ky.fork(p);
    expect(child.vm.id).not.toBe(p.vm.id);
    const pages = (ky.costs.params.libosImageBytes + 1 * MiB) / 4096;
    expect(cost.steps["copy4k.dram"].count).toBe(pages);
    expect(cost.steps.vmCreate.count).toBe(1);
    expect(cost.steps.hypercall.cycles).toBe(ky.costs.cpu.vmExitRoundTrip);
    expect(cost.steps.eptEntries.count).toBeGreaterThanOrEqual(pages);
    expect(ky.memory().vms).toBe(2);
    // the library OS shares the process's VM: no gate, no fault
    expect(ky.read(p, ky.kernelAddress(0, p), 8).ok).toBe(true);
    expect(ky.syscall(p, "getpid").cycles).toBe(ky.costs.cpu.callRet);
    ky.exit(child, 0);
    expect(ky.wait(p)).toMatchObject({ pid: child.pid, code: 0 });
    expect(sim.allVms().map((v) => v.id)).toEqual([p.vm.id]);
    expect(() => ky.share(p, "x")).toThrow(/not modelled/);
  });
});
