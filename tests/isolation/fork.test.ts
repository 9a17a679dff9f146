import { describe, expect, it } from "vitest";
import { Simulator } from "../../src/sim/simulator.js";
import { IsoOs, countTables, USER_KEY } from "../../src/guest/isolation/processes.js";
import { pageCopyCycles } from "../../src/guest/isolation/costs.js";
import { GiB, KiB, MiB, newOs } from "./helpers.js";

const layout = { text: 64 * KiB, data: 16 * KiB, heap: 256 * KiB, stack: 32 * KiB };

describe("copy-on-write fork", () => {
  it("parent and child see their own copies after a write; untouched pages stay shared", async () => {
    const { os } = await newOs("iso-unik");
    const p = os.spawn({ name: "p" }, layout);
    const heap = os.addressOf(p, "heap");
    expect(os.write(p, heap, 8).ok).toBe(true);
    const v1 = os.contentAt(p, heap)!;
    const { child } = os.fork(p);
    expect(os.addressOf(child, "heap")).toBe(heap);
    expect(os.contentAt(child, heap)).toBe(v1);
    expect(os.write(child, heap, 8).ok).toBe(true);
    const v2 = os.contentAt(child, heap)!;
    expect(v2).not.toBe(v1);
    expect(os.contentAt(p, heap)).toBe(v1);
    expect(os.write(p, heap + 4096, 8).ok).toBe(true);
    expect(os.contentAt(child, heap + 4096)).not.toBe(os.contentAt(p, heap + 4096));
    // the child's write copied one page; the parent's write to another page copied another
    expect(os.cowFaults[0]).toBe(2);
    // a third page nobody wrote still has one frame for both
    const r = p.region("heap");
    const c = child.region("heap");
    expect(r.pages.get(heap + 8192)!.frame).toBe(c.pages.get(heap + 8192)!.frame);
    expect(r.pages.get(heap + 8192)!.frame.refs).toBe(2);
  });

  it("the page tables mirror the record: the child's entries point at the parent's frames, write-protected in both", async () => {
    const { os, sim, vm } = await newOs("iso-unik");
    const p = os.spawn({ name: "p" }, layout);
    const { child } = os.fork(p);
    for (const name of ["text", "heap", "stack"]) {
      const r = p.region(name);
      for (const [va, pg] of r.pages) {
        const ep = sim.core.gptEntry(vm.id, p.root, va);
        const ec = sim.core.gptEntry(vm.id, child.root, va);
        expect(ep.level).toBe(1);
        expect(Number(ec.raw & 0x3ffffffff000n)).toBe(pg.frame.gpa);
        expect(Number(ep.raw & 0x3ffffffff000n)).toBe(pg.frame.gpa);
        expect(ep.raw & 2n).toBe(0n); // R/W clear in the parent
        expect(ec.raw & 2n).toBe(0n);
        expect(Number((ec.raw >> 59n) & 15n)).toBe(USER_KEY);
      }
    }
    // and both roots share the kernel's PML4 entry for the linear map
    expect(sim.core.gptEntry(vm.id, child.root, 0x8000_0000_0000)).toEqual(sim.core.gptEntry(vm.id, vm.guest.kernelRoot, 0x8000_0000_0000));
    expect(child.pcid).not.toBe(p.pcid);
  });

  it("charges each step of the fork from counted operations", async () => {
    const { os } = await newOs("iso-unik");
    const p = os.spawn({ name: "p" }, layout);
    const { cost } = os.fork(p);
    const c = os.costs;
    const pages = (64 + 16 + 256 + 32) / 4;
    const writable = (16 + 256 + 32) / 4;
    const s = cost.steps;
    expect(s.entriesCopied).toEqual({ count: pages, unitCycles: c.params.pteCopy, cycles: pages * c.params.pteCopy });
    expect(s.refcountIncrements.count).toBe(pages);
    expect(s.writeProtect.count).toBe(writable);
    expect(s.parentTlbFlush.count).toBe(1);
    // one PDPT, one PD, one PT per 2 MiB region
    expect(s.tablePages.count).toBe(1 + 1 + 4);
    expect(s.tablePages.unitCycles).toBe(c.params.tableAlloc + c.cpu.pageZero4k);
    expect(s.rootTable.count).toBe(1);
    expect(s.kernelEntries.count).toBeGreaterThanOrEqual(1);
    expect(s.pcidAlloc.count).toBe(1);
    expect(s.keySetup.count).toBe(1);
    expect(s.wrpkruOpen.cycles).toBe(c.cpu.wrpkru);
    expect(cost.cycles).toBe(Object.values(s).reduce((a, x) => a + x.cycles, 0));
    expect(cost.microseconds).toBeCloseTo((cost.cycles / c.frequencyHz) * 1e6, 2);
  });

  it("fork cost grows with the parent's size, by entries and table pages", async () => {
    const { os } = await newOs("iso-unik");
    const small = os.fork(os.spawn({ name: "s" }, { heap: 256 * KiB })).cost;
    const big = os.fork(os.spawn({ name: "b" }, { heap: 8 * MiB })).cost;
    expect(big.steps.entriesCopied.count).toBe(2048);
    expect(big.steps.tablePages.count).toBe(1 + 1 + 4);
    expect(big.cycles).toBeGreaterThan(small.cycles);
    const perPage = (big.cycles - small.cycles) / (2048 - 64);
    expect(perPage).toBeGreaterThan(os.costs.params.pteCopy);
  });

  it("countTables counts one table per level and range", () => {
    expect(countTables([{ va: 0, size: 0 }, { va: 4096, size: 0 }, { va: 2 * MiB, size: 1 }, { va: 1 * GiB, size: 0 }])).toEqual({ pages: 5, pdpt: 1, pd: 2, pt: 2 });
  });

  it("shared regions stay shared across fork; text stays read-only", async () => {
    const { os } = await newOs("iso-unik");
    const p = os.spawn({ name: "p", onViolation: "report", isolation: { share: [{ region: "board", with: [] }] } }, layout);
    os.share(p, "board", 16 * KiB);
    const board = os.addressOf(p, "board");
    const { child } = os.fork(p);
    expect(os.addressOf(child, "board")).toBe(board);
    expect(os.write(child, board, 8).ok).toBe(true);
    expect(os.contentAt(p, board)).toBe(os.contentAt(child, board));
    expect(os.cowFaults[0]).toBe(0);
    const w = os.write(child, os.addressOf(child, "text"), 8);
    expect(w.ok).toBe(false);
    expect(w.fault).toMatchObject({ kind: "protection", access: "write", accessor: { name: child.name }, action: "reported" });
  });

  it("reference counts return to zero after both exit; wait reaps; the tree follows", async () => {
    const { os } = await newOs("iso-unik");
    const p = os.spawn({ name: "p", isolation: { share: [{ region: "board", with: [] }] } }, layout);
    os.share(p, "board", 16 * KiB);
    const { child } = os.fork(p);
    const { child: grandchild } = os.fork(child, { name: "g" });
    os.write(child, os.addressOf(child, "heap"), 4 * KiB);
    expect(os.tree()).toEqual([{ pid: p.pid, name: "p", state: "alive", children: [{ pid: child.pid, name: child.name, state: "alive", children: [{ pid: grandchild.pid, name: "g", state: "alive", children: [] }] }] }]);
    expect(os.wait(p)).toBeNull();
    os.exit(child, 7);
    // the grandchild is an orphan now; the child a zombie
    expect(os.tree().map((n) => n.name)).toEqual(["p", "g"]);
    expect(os.tree()[0].children[0]).toMatchObject({ name: child.name, state: "zombie" });
    const w = os.wait(p)!;
    expect(w).toMatchObject({ pid: child.pid, code: 7 });
    expect(w.cost.steps.reap.count).toBe(1);
    os.exit(grandchild, 0);
    expect(os.memory().frames).toBeGreaterThan(0);
    os.exit(p, 0);
    expect(os.memory()).toEqual({ frames: 0, bytes: 0, regions: 0 });
    expect(os.frames.size).toBe(0);
    expect(os.tree()).toEqual([]);
  });

  it("a 2 MiB copy-on-write fault costs 512 times a 4 KiB one; a copy on NVM costs more than on DRAM", async () => {
    const sim = await Simulator.create({
      tiers: [
        { name: "dram", preset: "dram", capacity: 8 * GiB },
        { name: "nvm", preset: "optane", capacity: 8 * GiB },
      ],
      maxVms: 2,
    });
    const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 1 * GiB }, { tier: "nvm", bytes: 1 * GiB }] });
    const os = new IsoOs(vm, { design: "iso-unik" });
    const big = os.spawn({ name: "big" }, { heap: 2 * MiB, pageSize: 1 });
    const small = os.spawn({ name: "small" }, { heap: 64 * KiB, tier: "nvm" });
    for (const p of [big, small]) os.write(p, os.addressOf(p, "heap"), 8);
    const a = os.fork(big).child;
    const b = os.fork(small).child;
    const before = os.ledger.breakdown().steps;
    expect(before["cowFault.copy2m.dram"]).toBeUndefined();
    os.write(a, os.addressOf(a, "heap"), 8);
    os.write(b, os.addressOf(b, "heap"), 8);
    const s = os.ledger.breakdown().steps;
    expect(s["cowFault.copy2m.dram"]).toEqual({ count: 1, unitCycles: 512 * os.costs.cpu.pageCopy4k, cycles: 512 * os.costs.cpu.pageCopy4k });
    expect(s["cowFault.copy4k.nvm"].cycles).toBe(pageCopyCycles(os.costs, 0, "nvm"));
    expect(s["cowFault.copy4k.nvm"].cycles).toBeGreaterThan(os.costs.cpu.pageCopy4k);
    expect(os.cowFaults).toEqual([1, 1, 0]);
  });

  it("an lmbench round trip in Linux costs more than in Iso-UniK, step by step", async () => {
    const iso = (await newOs("iso-unik")).os;
    const lin = (await newOs("linux")).os;
    const ci = iso.fork(iso.spawn({ name: "p" }, layout)).cost;
    const cl = lin.fork(lin.spawn({ name: "p" }, layout)).cost;
    expect(cl.steps.linuxSyscall.cycles).toBe(1200);
    expect(cl.steps.structPageMisses.count).toBe(cl.steps.entriesCopied.count);
    expect(cl.steps.vmaDup.count).toBe(4);
    expect(cl.cycles).toBeGreaterThan(ci.cycles);
  });
});
