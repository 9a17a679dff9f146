import { describe, expect, it } from "vitest";
import { CPU_NAMES, cpuPreset } from "../../src/cost/cpus.js";
import { ISOLATION_PARAMS, ISOLATION_PARAMS_SOURCED, isolationCosts, Ledger, pageCopyCycles } from "../../src/guest/isolation/costs.js";
import { DESIGNS, gateCode, gateOpen, keyBits, syscallPath, usesGate } from "../../src/guest/isolation/gate.js";
import { leaves } from "../../src/cost/sourced.js";
import { tierPreset } from "../../src/cost/tiers.js";

describe("system-call paths", () => {
  it("the MPK gate is two WRPKRUs, the call and return, the checks, the stack switch and the handler entry", () => {
    const costs = isolationCosts(cpuPreset("skylake"));
    const b = syscallPath("iso-unik", costs);
    expect(Object.keys(b.steps)).toEqual(["callRet", "wrpkruOpen", "gateCheck", "stackSwitch", "handlerEntry", "wrpkruClose"]);
    expect(b.steps.wrpkruOpen).toEqual({ count: 1, unitCycles: 25, cycles: 25 });
    expect(b.steps.wrpkruClose.cycles).toBe(25);
    expect(b.steps.callRet.cycles).toBe(6);
    expect(b.steps.gateCheck).toEqual({ count: 2, unitCycles: ISOLATION_PARAMS.gateCheck, cycles: 2 * ISOLATION_PARAMS.gateCheck });
    // 2 x 25 + 6 + 2 x 1 + 2 + 2 with the skylake defaults
    expect(b.cycles).toBe(62);
    expect(b.microseconds).toBeCloseTo(62 / 3e9 * 1e6, 3);
  });

  it("the sum is the steps' sum on every CPU preset, and the baselines are the presets' own numbers", () => {
    for (const cpu of CPU_NAMES) {
      const costs = isolationCosts(cpuPreset(cpu));
      for (const d of DESIGNS) {
        const b = syscallPath(d, costs);
        expect(b.cycles).toBe(Object.values(b.steps).reduce((a, s) => a + s.cycles, 0));
      }
      const p = cpuPreset(cpu).costs;
      expect(syscallPath("none", costs).cycles).toBe(p.callRet);
      expect(syscallPath("vm-per-process", costs).cycles).toBe(p.callRet);
      expect(syscallPath("linux", costs).cycles).toBe(p.linuxSyscall);
      expect(syscallPath("shared-as", costs).cycles).toBe(syscallPath("iso-unik", costs).cycles);
      expect(syscallPath("iso-unik", costs).cycles).toBe(2 * p.wrpkru + p.callRet + 2 * ISOLATION_PARAMS.gateCheck + ISOLATION_PARAMS.gateStackSwitch + ISOLATION_PARAMS.gateDispatch);
    }
  });

  it("a cheaper WRPKRU (ERIM's low end) moves the gate by twice the difference", () => {
    const base = isolationCosts(cpuPreset("skylake"));
    const cheap = { ...base, cpu: { ...base.cpu, wrpkru: 11 } };
    expect(syscallPath("iso-unik", base).cycles - syscallPath("iso-unik", cheap).cycles).toBe(28);
  });

  it("only the key designs use the gate; the gate opens exactly key 0", () => {
    expect(DESIGNS.filter(usesGate)).toEqual(["iso-unik", "shared-as"]);
    expect(keyBits(0)).toBe(3);
    expect(keyBits(15)).toBe(0xc0000000);
    expect(gateOpen(0xffffffff)).toBe(0xfffffffc);
    expect(gateOpen(0x55555554)).toBe(0x55555554);
  });

  it("the gate's code holds its two WRPKRUs where it says", () => {
    const g = gateCode();
    expect(g.wrpkru).toHaveLength(2);
    for (const o of g.wrpkru) expect([...g.bytes.slice(o, o + 3)]).toEqual([0x0f, 0x01, 0xef]);
  });
});

describe("cost parameters", () => {
  it("every isolation parameter has a source or a guess's reason", () => {
    for (const l of leaves(ISOLATION_PARAMS_SOURCED)) {
      expect(l.source.length, l.path).toBeGreaterThan(10);
    }
  });

  it("copies are charged by page size and tier: 2 MiB is 512 x 4 KiB; Optane writes slower than DRAM", () => {
    const costs = isolationCosts(cpuPreset("skylake"), { dram: tierPreset("dram"), nvm: tierPreset("optane") });
    const d4 = pageCopyCycles(costs, 0, "dram");
    expect(d4).toBe(cpuPreset("skylake").costs.pageCopy4k);
    expect(pageCopyCycles(costs, 1, "dram")).toBe(512 * d4);
    const n4 = pageCopyCycles(costs, 0, "nvm");
    // 4 KiB read at 6.6 GB/s + 8 KiB at 2.3 GB/s, at 3 GHz
    expect(n4).toBe(Math.round((4096 / 6.6e9 + 8192 / 2.3e9) * 3e9));
    expect(n4).toBeGreaterThan(3 * d4);
  });

  it("a ledger sums counted steps and keeps the mean unit", () => {
    const l = new Ledger(3e9);
    l.charge("a", 2, 10);
    l.charge("a", 2, 20);
    l.charge("b", 0, 99);
    const b = l.breakdown();
    expect(b.cycles).toBe(60);
    expect(b.steps).toEqual({ a: { count: 4, unitCycles: 15, cycles: 60 } });
    expect(() => l.charge("c", -1, 1)).toThrow(RangeError);
  });
});
