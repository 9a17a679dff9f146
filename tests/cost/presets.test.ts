import { describe, expect, it } from "vitest";
import {
  CPU_NAMES,
  CPU_PRESETS_SOURCED,
  CpuPresetSchema,
  REFERENCE_POINTS_SOURCED,
  REFS,
  TIER_NAMES,
  TIER_PRESETS_SOURCED,
  TierPresetSchema,
  cpuPreset,
  leaves,
  nsToCycles,
  tierPreset,
  unwrap,
  type Leaf,
} from "../../src/cost/index.js";
import { TLB_NAMES } from "../../src/core/types.js";

const ALL_SOURCED: [string, unknown][] = [
  ...CPU_NAMES.map((n): [string, unknown] => [`cpu ${n}`, CPU_PRESETS_SOURCED[n]]),
  ...TIER_NAMES.map((n): [string, unknown] => [`tier ${n}`, TIER_PRESETS_SOURCED[n]]),
  ["reference points", REFERENCE_POINTS_SOURCED],
];

/** Numeric leaves of a plain object, by dotted path. */
function numericPaths(x: unknown, prefix = ""): string[] {
  if (typeof x === "number") return [prefix];
  if (typeof x !== "object" || x === null) return [];
  return Object.entries(x).flatMap(([k, v]) => numericPaths(v, prefix === "" ? k : `${prefix}.${k}`));
}

describe("presets validate against their schemas", () => {
  it.each(CPU_NAMES)("cpu %s", (name) => {
    const r = CpuPresetSchema.safeParse(cpuPreset(name));
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
  });
  it.each(TIER_NAMES)("tier %s", (name) => {
    const r = TierPresetSchema.safeParse(tierPreset(name));
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
  });
  it("every CPU preset has every TLB structure of the core's contract", () => {
    for (const name of CPU_NAMES) expect(Object.keys(cpuPreset(name).tlb).sort()).toEqual([...TLB_NAMES].sort());
  });
});

describe("skylake is exactly REFERENCE.md section 6", () => {
  const p = cpuPreset("skylake");
  it("TLB geometry", () => {
    expect(p.tlb).toEqual({
      itlb4k: { entries: 128, ways: 8 }, // L1 ITLB 4K: 128 entries, 8-way
      itlb2m: { entries: 8, ways: 8 }, // L1 ITLB 2M: 8 entries, fully associative
      dtlb4k: { entries: 64, ways: 4 }, // L1 DTLB 4K: 64 entries, 4-way
      dtlb2m: { entries: 32, ways: 4 }, // L1 DTLB 2M: 32 entries, 4-way
      dtlb1g: { entries: 4, ways: 4 }, // L1 DTLB 1G: 4 entries, fully associative
      stlb: { entries: 1536, ways: 12 }, // L2 STLB 4K+2M: 1536 entries, 12-way
      stlb1g: { entries: 16, ways: 4 }, // L2 STLB 1G: 16 entries, 4-way
    });
  });
  it("walkers, STLB hit latency, paging-structure caches", () => {
    expect(p.pageWalkers).toBe(2); // walkers: 2
    expect(p.latency.stlbHit).toBe(9); // hit ~9-12 cycles
    // Virtuoso: 3 levels x 32 entries, 4-way
    expect(p.psc).toEqual({ pml4: { entries: 32, ways: 4 }, pdpt: { entries: 32, ways: 4 }, pd: { entries: 32, ways: 4 } });
  });
  it("section 4 costs", () => {
    expect(p.costs.linuxSyscall).toBe(1200); // null Linux syscall with mitigations ~1200 cycles on Skylake
    expect(p.costs.wrpkru).toBeGreaterThanOrEqual(20); // WRPKRU ~20-30 cycles
    expect(p.costs.wrpkru).toBeLessThanOrEqual(30);
  });
  it("REFERENCE.md's Golden Cove and Zen 4 figures", () => {
    const gc = cpuPreset("goldencove");
    expect(gc.tlb.dtlb4k.entries).toBe(96); // Golden Cove: L1 DTLB 96
    expect(gc.tlb.stlb.entries).toBe(2048); // STLB 2048
    expect(gc.pageWalkers).toBe(4); // 4 walkers
    const z4 = cpuPreset("zen4");
    expect(z4.tlb.dtlb4k).toEqual({ entries: 72, ways: 72 }); // Zen 4: L1 DTLB 72 (fully assoc.)
    expect(z4.tlb.stlb.entries).toBe(3072); // L2 3072
  });
});

/**
 * The raw CPUID words the presets were read from (InstLatx64 dumps), decoded here
 * independently so that a slip in the hand decoding shows up.
 */
describe("CPUID-derived geometry", () => {
  interface Leaf18 {
    type: number; // 1 data, 2 instruction, 3 unified, 4 load-only, 5 store-only
    level: number;
    full: boolean;
    sizes: { k4: boolean; m2: boolean; g1: boolean };
    ways: number;
    sets: number;
  }
  /** CPUID leaf 18H subleaf: "EAX-EBX-ECX-EDX" as AIDA64 prints it (Intel SDM vol. 2A). */
  function leaf18(words: string): Leaf18 {
    const [, ebx, ecx, edx] = words.split("-").map((w) => parseInt(w, 16));
    return {
      type: edx! & 0x1f,
      level: (edx! >>> 5) & 7,
      full: ((edx! >>> 8) & 1) === 1,
      sizes: { k4: (ebx! & 1) === 1, m2: (ebx! & 2) === 2, g1: (ebx! & 8) === 8 },
      ways: ebx! >>> 16,
      sets: ecx!,
    };
  }
  const entries = (l: Leaf18): number => l.ways * l.sets;

  it("icelake: Xeon Gold 6336Y (GenuineIntel00606A6_ICX_04_CPUID.txt)", () => {
    const p = cpuPreset("icelake");
    const itlb = leaf18("00000000-00080007-00000001-00004122");
    const ld4k = leaf18("00000000-00040001-00000010-00004024");
    const ld2m = leaf18("00000000-00040006-00000008-00004024");
    const ld1g = leaf18("00000000-00080008-00000001-00004124");
    const l2a = leaf18("00000000-00080007-00000080-00004043");
    const l2b = leaf18("00000000-00080009-00000080-00004043");
    expect([itlb.type, itlb.full, itlb.sizes.m2]).toEqual([2, true, true]);
    expect(p.tlb.itlb2m).toEqual({ entries: entries(itlb), ways: itlb.ways });
    expect([ld4k.type, ld4k.sizes.k4]).toEqual([4, true]);
    expect(p.tlb.dtlb4k).toEqual({ entries: entries(ld4k), ways: ld4k.ways });
    expect(p.tlb.dtlb2m).toEqual({ entries: entries(ld2m), ways: ld2m.ways });
    expect([ld1g.full, ld1g.sizes.g1]).toEqual([true, true]);
    expect(p.tlb.dtlb1g).toEqual({ entries: entries(ld1g), ways: ld1g.ways });
    expect([l2a.type, l2a.level, l2a.sizes.k4, l2a.sizes.m2]).toEqual([3, 2, true, true]);
    expect([l2b.type, l2b.level, l2b.sizes.k4, l2b.sizes.g1]).toEqual([3, 2, true, true]);
    // the documented approximation: one STLB with the two arrays' 4 KiB capacity
    expect(p.tlb.stlb).toEqual({ entries: entries(l2a) + entries(l2b), ways: l2a.ways + l2b.ways });
    expect(p.tlb.stlb1g).toEqual({ entries: entries(l2b), ways: l2b.ways });
  });

  it("goldencove: Xeon w7-2475X (GenuineIntel00806F8_SapphireRapids_05_CPUID.txt)", () => {
    const p = cpuPreset("goldencove");
    const i4k = leaf18("00000000-00080001-00000020-00004022");
    const i2m = leaf18("00000000-00080006-00000004-00004022");
    const ld2m = leaf18("00000000-00040006-00000008-00004024");
    const ld1g = leaf18("00000000-00080008-00000001-00004124");
    const l2a = leaf18("00000000-00080007-00000080-00004043");
    const l2b = leaf18("00000000-00080009-00000080-00004043");
    expect(p.tlb.itlb4k).toEqual({ entries: entries(i4k), ways: i4k.ways });
    expect(p.tlb.itlb2m).toEqual({ entries: entries(i2m), ways: i2m.ways });
    expect(p.tlb.dtlb2m).toEqual({ entries: entries(ld2m), ways: ld2m.ways });
    expect(p.tlb.dtlb1g).toEqual({ entries: entries(ld1g), ways: ld1g.ways });
    expect(p.tlb.stlb).toEqual({ entries: entries(l2a) + entries(l2b), ways: l2a.ways + l2b.ways });
    expect(p.tlb.stlb1g).toEqual({ entries: entries(l2b), ways: l2b.ways });
  });

  it("zen4: EPYC 9654 (AuthenticAMD0A10F11_K19_Genoa_01_CPUID.txt)", () => {
    const p = cpuPreset("zen4");
    // Fn8000_0005: EAX = 2M/4M, EBX = 4K; [31:24] DTLB assoc (FF = full), [23:16] DTLB entries,
    // [15:8] ITLB assoc, [7:0] ITLB entries.
    const l1 = (w: number) => ({ dAssoc: w >>> 24, d: (w >>> 16) & 0xff, iAssoc: (w >>> 8) & 0xff, i: w & 0xff });
    const l1_2m = l1(0xff48ff40);
    const l1_4k = l1(0xff48ff40);
    expect([l1_4k.dAssoc, l1_4k.iAssoc]).toEqual([0xff, 0xff]);
    expect(p.tlb.dtlb4k).toEqual({ entries: l1_4k.d, ways: l1_4k.d });
    expect(p.tlb.dtlb2m).toEqual({ entries: l1_2m.d, ways: l1_2m.d });
    expect(p.tlb.itlb4k).toEqual({ entries: l1_4k.i, ways: l1_4k.i });
    expect(p.tlb.itlb2m).toEqual({ entries: l1_2m.i, ways: l1_2m.i });
    // Fn8000_0006 EBX (4K L2): [31:28] DTLB assoc code (6 = 8-way), [27:16] entries.
    const l2dtlb4k = 0x6c004200;
    expect((l2dtlb4k >>> 28) & 0xf).toBe(6);
    expect(p.tlb.stlb).toEqual({ entries: (l2dtlb4k >>> 16) & 0xfff, ways: 8 });
    // Fn8000_0019: EAX L1 1G ([31:28] assoc F = full, [27:16] entries), EBX L2 1G.
    expect(p.tlb.dtlb1g.entries).toBe((0xf048f040 >>> 16) & 0xfff);
    expect(p.tlb.stlb1g).toEqual({ entries: (0xf0400000 >>> 16) & 0xfff, ways: (0xf0400000 >>> 16) & 0xfff });
  });
});

describe("every number has a source or is marked as a guess", () => {
  const citations = Object.values(REFS);
  it.each(ALL_SOURCED)("%s", (_label, sourced) => {
    const ls: Leaf[] = leaves(sourced);
    // no raw number slipped in: every numeric field of the plain preset is a sourced leaf
    expect(ls.map((l) => l.path).sort()).toEqual(numericPaths(unwrap(sourced as never)).sort());
    for (const l of ls) {
      expect(Number.isFinite(l.value), l.path).toBe(true);
      expect(l.source.trim().length, `${l.path} has no source`).toBeGreaterThan(15);
      if (!l.guess) {
        // a cited number names one of the references, a URL or the vendor document it is from
        const cites = citations.some((c) => l.source.includes(c)) || /https?:\/\//.test(l.source);
        expect(cites, `${l.path}: "${l.source}" cites nothing known`).toBe(true);
      }
    }
  });
  it("guesses exist and are marked (the model is honest about them)", () => {
    const guesses = ALL_SOURCED.flatMap(([, s]) => leaves(s)).filter((l) => l.guess);
    expect(guesses.length).toBeGreaterThan(0);
    for (const gl of guesses) expect(gl.source).not.toMatch(/^\s*$/);
  });
  it("skylake's TLB geometry is fully sourced, not guessed", () => {
    for (const l of leaves(CPU_PRESETS_SOURCED.skylake.tlb)) expect(l.guess, l.path).toBe(false);
  });
});

describe("tiers", () => {
  it("the REFERENCE.md section 7 figures", () => {
    const o = tierPreset("optane");
    expect(o.loadRandomNs).toBe(305);
    expect(o.loadSequentialNs).toBe(170);
    expect(o.readBytesPerSec).toBe(6.6e9);
    expect(o.writeBytesPerSec).toBe(2.3e9);
    expect(o.accessBytes).toBe(256);
    expect([128, 256, 512].map((g) => g * 2 ** 30)).toContain(o.capacityBytes);
    const d = tierPreset("dram");
    expect(d.loadRandomNs).toBeGreaterThanOrEqual(80);
    expect(d.loadRandomNs).toBeLessThanOrEqual(100);
    expect(d.accessBytes).toBe(64);
    const c = tierPreset("cxl");
    expect(c.loadRandomNs - d.loadRandomNs).toBeGreaterThanOrEqual(70); // DRAM + 70-90 ns (Pond)
    expect(c.loadRandomNs - d.loadRandomNs).toBeLessThanOrEqual(90);
  });
  it("nsToCycles", () => {
    const sky = cpuPreset("skylake");
    expect(nsToCycles(305, sky.frequencyHz)).toBe(915);
    expect(nsToCycles(80, 2_400_000_000)).toBe(192);
  });
});

describe("presets are values, not shared state", () => {
  it("cpuPreset and tierPreset return fresh copies", () => {
    const a = cpuPreset("skylake");
    a.tlb.stlb.entries = 1;
    expect(cpuPreset("skylake").tlb.stlb.entries).toBe(1536);
    const t = tierPreset("dram");
    t.loadRandomNs = 1;
    expect(tierPreset("dram").loadRandomNs).toBe(80);
  });
  it("derived page costs follow from their stated bandwidth", () => {
    for (const name of CPU_NAMES) {
      const s = CPU_PRESETS_SOURCED[name].costs;
      const gbs = Number(/bandwidth of ([\d.]+) GB\/s/.exec(s.pageCopy4k.source)?.[1]);
      const f = cpuPreset(name).frequencyHz;
      expect(s.pageCopy4k.value).toBe(Math.round(((3 * 4096) / (gbs * 1e9)) * f));
      expect(s.pageZero4k.value).toBe(Math.round(((2 * 4096) / (gbs * 1e9)) * f));
    }
  });
});
