import { describe, expect, it } from "vitest";
import {
  CpuOverrideSchema,
  formatIssue,
  PRESET_LIMITS,
  PresetError,
  TierOverrideSchema,
  cpuPreset,
  resolveCpu,
  resolveTier,
  tierPreset,
  type PresetIssue,
} from "../../src/cost/index.js";

const GIB = 2 ** 30;

/** The issues a call throws (fails the test when it does not throw a PresetError). */
function issuesOf(f: () => unknown): readonly PresetIssue[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PresetError);
    return (e as PresetError).issues;
  }
  throw new Error("expected a PresetError");
}

describe("resolveCpu", () => {
  it("a name gives the preset, as a fresh copy", () => {
    const a = resolveCpu("skylake");
    expect(a).toEqual(cpuPreset("skylake"));
    a.costs.wrpkru = 999;
    expect(resolveCpu("skylake").costs.wrpkru).toBe(cpuPreset("skylake").costs.wrpkru);
  });

  it("merges overrides field by field onto the base", () => {
    const r = resolveCpu({ base: "skylake", frequencyHz: 2_100_000_000, tlb: { stlb: { entries: 2048, ways: 16 } }, costs: { wrpkru: 30 } });
    const sky = cpuPreset("skylake");
    expect(r.frequencyHz).toBe(2_100_000_000);
    expect(r.tlb.stlb).toEqual({ entries: 2048, ways: 16 });
    expect(r.costs.wrpkru).toBe(30);
    expect(r.tlb.stlb1g).toEqual(sky.tlb.stlb1g);
    expect(r.costs.rdpkru).toBe(sky.costs.rdpkru);
    expect(r.latency).toEqual(sky.latency);
    expect(r.name).toBe("skylake");
  });

  it("overrides one field of a nested structure and keeps its sibling", () => {
    const r = resolveCpu({ base: "icelake", tlb: { dtlb4k: { entries: 128 } } });
    expect(r.tlb.dtlb4k).toEqual({ entries: 128, ways: 4 });
  });

  it("accepts an absent structure (entries 0)", () => {
    expect(resolveCpu({ base: "zen4", tlb: { stlb1g: { entries: 0 } } }).tlb.stlb1g.entries).toBe(0);
  });

  it("does not change its input", () => {
    const input = { base: "skylake", tlb: { stlb: { entries: 3072 } } };
    const copy = structuredClone(input);
    resolveCpu(input);
    expect(input).toEqual(copy);
  });

  it("a complete object needs no base", () => {
    const full = cpuPreset("zen4");
    expect(resolveCpu({ ...full, name: "my-zen4" })).toEqual({ ...full, name: "my-zen4" });
  });

  it("an unknown name lists the presets", () => {
    const [i, ...rest] = issuesOf(() => resolveCpu("skylak"));
    expect(rest).toEqual([]);
    expect(i!.path).toBe("cpu");
    expect(i!.value).toBe("skylak");
    expect(i!.allowed).toBe('expected a preset name ("skylake", "icelake", "goldencove", "zen4") or an object of overrides with an optional base');
  });

  it("a value of the wrong type names the path, the value and what is allowed", () => {
    const is = issuesOf(() => resolveCpu({ base: "skylake", tlb: { stlb: { ways: 2.5 } } }));
    expect(is).toEqual([{ path: "cpu.tlb.stlb.ways", value: 2.5, allowed: "expected an integer >= 1 (ways)" }]);
  });

  it("ways must divide entries, checked after the merge", () => {
    const is = issuesOf(() => resolveCpu({ base: "skylake", tlb: { stlb: { ways: 7 } } }));
    expect(is).toEqual([{ path: "cpu.tlb.stlb.ways", value: 7, allowed: "expected a divisor of entries (1536): sets = entries / ways" }]);
  });

  it("an unknown field lists the allowed ones", () => {
    const is = issuesOf(() => resolveCpu({ base: "skylake", tlb: { stlb2: { entries: 1 } } }));
    expect(is).toHaveLength(1);
    expect(is[0]!.path).toBe("cpu.tlb.stlb2");
    expect(is[0]!.value).toEqual({ entries: 1 });
    expect(is[0]!.allowed).toBe("expected a known field: one of itlb4k, itlb2m, dtlb4k, dtlb2m, dtlb1g, stlb, stlb1g");
  });

  it("a bad base lists the presets", () => {
    const is = issuesOf(() => resolveCpu({ base: "pentium" }));
    expect(is).toEqual([{ path: "cpu.base", value: "pentium", allowed: "expected one of skylake, icelake, goldencove, zen4" }]);
  });

  it("reports every problem at once, and the message has one line per problem", () => {
    let err: PresetError | undefined;
    try {
      resolveCpu({ base: "skylake", frequencyHz: 0, costs: { wrpkru: -1, bogus: 1 }, latency: { stlbHit: "9" } });
    } catch (e) {
      err = e as PresetError;
    }
    expect(err).toBeInstanceOf(PresetError);
    const paths = err!.issues.map((i) => i.path).sort();
    expect(paths).toEqual(["cpu.costs.bogus", "cpu.costs.wrpkru", "cpu.frequencyHz", "cpu.latency.stlbHit"]);
    expect(err!.message.split("\n")).toHaveLength(4);
    expect(err!.message).toContain('cpu.latency.stlbHit: "9" is not allowed; expected an integer from 0 to 1e10 cycles (a second at 10 GHz)');
    expect(err!.message).toContain("cpu.costs.wrpkru: -1 is not allowed; expected an integer from 0 to 1e10 cycles (a second at 10 GHz)");
    expect(err!.message).toContain("cpu.frequencyHz: 0 is not allowed; expected an integer from 1 to 1e10 Hz (10 GHz)");
  });

  it("an incomplete object without base names the missing fields", () => {
    const is = issuesOf(() => resolveCpu({ name: "x", label: "", frequencyHz: 1e9 }));
    const missing = is.filter((i) => i.value === undefined).map((i) => i.path);
    expect(missing).toEqual(expect.arrayContaining(["cpu.tlb", "cpu.psc", "cpu.ntlb", "cpu.pageWalkers", "cpu.latency", "cpu.costs"]));
    expect(is.find((i) => i.path === "cpu.tlb")!.allowed).toMatch(/^expected an object with fields itlb4k/);
  });

  it.each([42, null, [], true])("rejects %j at the root", (input) => {
    const is = issuesOf(() => resolveCpu(input));
    expect(is).toHaveLength(1);
    expect(is[0]!.path).toBe("cpu");
    expect(is[0]!.allowed).toContain('a preset name ("skylake", "icelake", "goldencove", "zen4")');
  });

  it("uses the caller's root path", () => {
    const is = issuesOf(() => resolveCpu({ base: "skylake", pageWalkers: 0 }, "scenario.cpu"));
    expect(is[0]!.path).toBe("scenario.cpu.pageWalkers");
  });
});

describe("resolveTier", () => {
  it("names and overrides", () => {
    expect(resolveTier("optane")).toEqual(tierPreset("optane"));
    const r = resolveTier({ base: "optane", capacityBytes: 512 * GIB });
    expect(r.capacityBytes).toBe(512 * GIB);
    expect(r.loadRandomNs).toBe(305);
  });

  it("errors name the field, the value and what is allowed", () => {
    expect(issuesOf(() => resolveTier({ base: "dram", accessBytes: 100 }, "tiers.fast"))).toEqual([
      { path: "tiers.fast.accessBytes", value: 100, allowed: "expected a power of two (bytes)" },
    ]);
    expect(issuesOf(() => resolveTier({ base: "dram", loadRandomNs: -1 }))).toEqual([
      { path: "tier.loadRandomNs", value: -1, allowed: "expected a number > 0 and <= 1e9 ns (a second)" },
    ]);
    expect(issuesOf(() => resolveTier({ base: "cxl", kind: "ssd" }))).toEqual([
      { path: "tier.kind", value: "ssd", allowed: "expected one of dram, nvm, cxl" },
    ]);
    expect(issuesOf(() => resolveTier("nvm"))[0]!.allowed).toContain('"dram", "optane", "cxl"');
  });

  it("a tier needs either a base or every field", () => {
    const is = issuesOf(() => resolveTier({ loadRandomNs: 100 }));
    expect(is.map((i) => i.path)).toEqual(expect.arrayContaining(["tier.name", "tier.storeNs", "tier.capacityBytes"]));
  });
});

describe("the override schemas can be used directly by scenario parsers", () => {
  it("accept partial input and reject unknown fields", () => {
    expect(CpuOverrideSchema.safeParse({ base: "zen4", costs: { invlpg: 300 } }).success).toBe(true);
    expect(CpuOverrideSchema.safeParse({ tlb: { l3tlb: {} } }).success).toBe(false);
    expect(TierOverrideSchema.safeParse({ base: "cxl", storeNs: 150 }).success).toBe(true);
    expect(TierOverrideSchema.safeParse({ base: "cxl", latency: 150 }).success).toBe(false);
  });
});

describe("bounds of the fields the cycle model multiplies (PRESET_LIMITS)", () => {
  const lines = (f: () => unknown): string[] => issuesOf(f).map(formatIssue);

  it.each([
    [() => resolveTier({ base: "dram", loadRandomNs: 1e300 }), "tier.loadRandomNs: 1e+300 is not allowed; expected a number > 0 and <= 1e9 ns (a second)"],
    [() => resolveTier({ base: "dram", loadSequentialNs: Infinity }), "tier.loadSequentialNs: Infinity is not allowed; expected a number > 0 and <= 1e9 ns (a second)"],
    [() => resolveTier({ base: "dram", storeNs: NaN }), "tier.storeNs: NaN is not allowed; expected a number > 0 and <= 1e9 ns (a second)"],
    [() => resolveTier({ base: "dram", readBytesPerSec: 1e16 }), "tier.readBytesPerSec: 10000000000000000 is not allowed; expected an integer from 1 to 1e15 bytes/s (1 PB/s)"],
    [() => resolveCpu({ base: "skylake", frequencyHz: 1e11 }), "cpu.frequencyHz: 100000000000 is not allowed; expected an integer from 1 to 1e10 Hz (10 GHz)"],
    [() => resolveCpu({ base: "skylake", frequencyHz: 1e300 }), "cpu.frequencyHz: 1e+300 is not allowed; expected an integer from 1 to 1e10 Hz (10 GHz)"],
    [() => resolveCpu({ base: "skylake", costs: { movCr3: 1e11 } }), "cpu.costs.movCr3: 100000000000 is not allowed; expected an integer from 0 to 1e10 cycles (a second at 10 GHz)"],
    [() => resolveCpu({ base: "skylake", latency: { stlbHit: Infinity } }), "cpu.latency.stlbHit: Infinity is not allowed; expected an integer from 0 to 1e10 cycles (a second at 10 GHz)"],
  ])("refuse absurd and non-finite values, once each (%#)", (f, line) => {
    expect(lines(f)).toEqual([line]);
  });

  it("allow the bounds themselves; every preset is far inside them", () => {
    const t = resolveTier({ base: "dram", loadRandomNs: PRESET_LIMITS.ns.max, readBytesPerSec: PRESET_LIMITS.bytesPerSec.max });
    expect(t.loadRandomNs).toBe(1e9);
    const c = resolveCpu({ base: "zen4", frequencyHz: PRESET_LIMITS.hz.max, costs: { vmExitRoundTrip: PRESET_LIMITS.cycles.max } });
    expect(c.costs.vmExitRoundTrip).toBe(1e10);
    for (const n of ["skylake", "icelake", "goldencove", "zen4"] as const) {
      const p = cpuPreset(n);
      expect(p.frequencyHz).toBeLessThan(PRESET_LIMITS.hz.max / 2);
      for (const v of [...Object.values(p.latency), ...Object.values(p.costs)]) expect(v).toBeLessThan(PRESET_LIMITS.cycles.max / 1000);
    }
    for (const n of ["dram", "optane", "cxl"] as const) {
      const p = tierPreset(n);
      for (const v of [p.loadRandomNs, p.loadSequentialNs, p.storeNs]) expect(v).toBeLessThan(PRESET_LIMITS.ns.max / 1000);
      for (const v of [p.readBytesPerSec, p.writeBytesPerSec]) expect(v).toBeLessThan(PRESET_LIMITS.bytesPerSec.max / 1000);
    }
  });
});
