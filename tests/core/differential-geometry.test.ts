/**
 * Differential tests at the real Skylake geometry (8-way ITLB, 4-way DTLB, 12-way STLB,
 * 4-way PSCs and nested TLB): the Wasm core specialises its inline loops for these way
 * counts, which the small random geometries of differential.test.ts never reach. The
 * streams crowd a few sets so that fills evict, and mix hits, STLB hits and walks.
 * (Arrays use `size: "max"`: fast-check's default size keeps them to a few elements;
 * shrinking streams this long takes too long, so a failure reports its seed unshrunk.)
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { AccessKind, CoreEvent, PageSizeCode, Request } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { TestVm, conformanceConfig, skylakeConfig, runAll, expectSameConformanceCounters, GiB, NVM_BASE } from "./setup.js";

const RUNS = Math.ceil(Number(process.env.UNIMMU_DIFF_RUNS ?? 150) / 5);

/** A page number: a hot one, one crowding a few sets, or a random one. */
const pageArb = fc.oneof(
  { weight: 4, arbitrary: fc.nat(40) },
  // pages 128 apart share an STLB set (and, as 16 and 8 divide 128, an L1 set): sets
  // 0..3, where the full model's test keeps 2 MiB entries too
  { weight: 4, arbitrary: fc.record({ set: fc.nat(3), k: fc.nat(30) }).map(({ set, k }) => 1024 + set + k * 128) },
  { weight: 1, arbitrary: fc.nat(1 << 16) },
);

const requestArb = fc.record({
  page: pageArb,
  offset: fc.nat(4095),
  kind: fc.constantFrom<AccessKind>(0, 1, 1, 2),
  bytes: fc.constantFrom(1, 8, 8, 8, 64, 4096),
});

describe("differential at the Skylake geometry: conformance model", () => {
  const [ref, ...others] = implementations;
  it.each(others.map((o) => [o.name, o] as const))("%s", (_name, impl) => {
    fc.assert(
      fc.property(
        fc.constantFrom("4k" as const, "2m" as const),
        fc.array(requestArb, { minLength: 200, maxLength: 4000, size: "max" }),
        (policy, rs) => {
          const config = conformanceConfig(policy);
          const unit = policy === "4k" ? 4096 : 2 * 1024 * 1024;
          const reqs: Request[] = rs.map((r) => ({ vcpu: 0, va: 0x40_0000_0000 + r.page * unit + r.offset, kind: r.kind, size: r.bytes }));
          expectSameConformanceCounters(ref.create, impl.create, config, reqs);
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});

describe("differential at the Skylake geometry: full model", () => {
  const [ref, ...others] = implementations;
  // 4 KiB pages at 1 GiB + page * 4 KiB; 2 MiB pages at 64 GiB (16 of them, 8 of them
  // global in some runs: a VM with global entries leaves the inline miss path); a 1 GiB
  // page at 128 GiB.
  const BIG_2M = 64 * GiB;
  const BIG_1G = 128 * GiB;
  const fullRequestArb = fc.record({
    req: requestArb,
    vcpu: fc.nat(1),
    region: fc.constantFrom(0, 0, 0, 0, 0, 0, 1, 2),
  });
  it.each(others.map((o) => [o.name, o] as const))("%s", (_name, impl) => {
    fc.assert(
      fc.property(
        fc.constantFrom("lru" as const, "fifo" as const, "random" as const),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom<PageSizeCode>(0, 1, 2),
        fc.boolean(),
        // the line cache: off, on walks, or on walks and data (16 ways, the presets' and
        // the inline run's straight-line case, or 4); few sets, so that lines evict
        // (and with set sampling: 1 set in 4 of 16, or 1 in 2 of 8, the counters then
        // estimates); 512 sets of 16 ways take the core's compact layout under LRU (the
        // presets' case: 32-bit tags), and the crowded pages below share their sets too
        fc.constantFrom(
          null,
          { entries: 64, ways: 16, data: false },
          { entries: 64, ways: 16, data: true },
          { entries: 32, ways: 4, data: true },
          { entries: 256, ways: 16, data: true, sampling: 4 },
          { entries: 32, ways: 4, data: false, sampling: 2 },
          { entries: 8192, ways: 16, data: true },
          { entries: 8192, ways: 16, data: true, sampling: 2 },
        ),
        fc.array(fullRequestArb, { minLength: 100, maxLength: 1500, size: "max" }),
        (replacement, psc, nvm, dataEpt, globals, lines, rs) => {
          const config = skylakeConfig({
            replacement,
            vcpus: 2,
            pcpus: 1,
            ...(psc ? {} : { psc: null, ntlb: null }),
            ...(lines ? { lineCache: { entries: lines.entries, ways: lines.ways }, lineCacheData: lines.data, lineSampling: "sampling" in lines ? lines.sampling : 1 } : {}),
          });
          const run = (create: (typeof implementations)[number]["create"]) => {
            const core = create(config);
            // guest RAM in tier 1 (NVM) or tier 0; the tables stay in tier 0
            // guest RAM in EPT pages of `dataEpt`: an entry's size is the smaller of the two
            const vm = new TestVm(core, { tableFrames: 256, dataEpt, ...(nvm ? { ramHpa: NVM_BASE } : {}) });
            vm.addVcpu(1, 0, 1);
            // every page the stream can touch in the low ranges, with some read-only, supervisor and keyed ones
            const pages = new Set(rs.filter((r) => r.region === 0).map((r) => r.req.page % 8192));
            for (const p of [...pages].sort((x, y) => x - y)) {
              if (p % 17 === 16) continue; // a hole
              vm.map(1 * GiB + p * 4096, 0, { w: p % 5 !== 0, u: p % 23 !== 0, key: p % 3 === 0 ? 1 : 0 });
            }
            // large pages (whose L1s and STLB entries the 4 KiB inline path must not miss)
            for (let k = 0; k < 16; k++) vm.map(BIG_2M + k * 2 * 1024 * 1024, 1, { g: globals && k % 2 === 0 });
            vm.map(BIG_1G, 2);
            core.setPkru(1, 0b1000); // key 1: write-disabled for vCPU 1
            const reqs: Request[] = rs.map((r) => ({
              vcpu: r.vcpu,
              va:
                r.region === 0
                  ? 1 * GiB + (r.req.page % 8192) * 4096 + r.req.offset
                  : r.region === 1
                    ? BIG_2M + (r.req.page % 16) * 2 * 1024 * 1024 + (r.req.page % 512) * 4096 + r.req.offset
                    : BIG_1G + (r.req.page % 512) * 4096 + r.req.offset,
              kind: r.req.kind,
              size: r.req.bytes,
            }));
            const events: CoreEvent[] = runAll(core, reqs);
            return { events, c0: core.counters(0), c1: core.counters(1) };
          };
          expect(run(impl.create)).toEqual(run(ref.create));
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});

describe("table pages at host frames 2^32 apart", () => {
  const [ref, ...others] = implementations;
  it.each(others.map((o) => [o.name, o] as const))("%s: are told apart", (_name, impl) => {
    // VM 1's guest tables sit exactly 2^44 bytes (2^32 frames) above VM 0's
    const run = (create: (typeof implementations)[number]["create"]) => {
      const core = create(skylakeConfig({ vms: 2, vcpus: 2 }));
      const vm0 = new TestVm(core, { vm: 0, vcpu: 0 });
      const vm1 = new TestVm(core, { vm: 1, vcpu: 1, tableHpa: vm0.tableHpa + 2 ** 44 });
      vm0.map(0x10_0000, 0, { w: true });
      vm1.map(0x20_0000, 0, { w: false });
      const reqs: Request[] = [
        { vcpu: 0, va: 0x10_0000, kind: 2, size: 8 },
        { vcpu: 1, va: 0x20_0000, kind: 1, size: 8 },
        { vcpu: 0, va: 0x20_0000, kind: 1, size: 8 },
        { vcpu: 1, va: 0x10_0000, kind: 1, size: 8 },
      ];
      return { events: runAll(core, reqs), c0: core.counters(0), c1: core.counters(1) };
    };
    expect(run(impl.create)).toEqual(run(ref.create));
  });
});

describe("a request of almost 4 GiB", () => {
  // (va & 0xfff) + size overflowed 32 bits in the inline loops' page-crossing test:
  // such a request ran as one page access instead of 2^20
  it("is split into its pages by every implementation and loop", () => {
    const small = { itlb4k: { entries: 16, ways: 4 }, itlb2m: { entries: 4, ways: 2 }, dtlb4k: { entries: 8, ways: 2 }, dtlb2m: { entries: 4, ways: 4 }, dtlb1g: { entries: 2, ways: 2 }, stlb: { entries: 48, ways: 6 }, stlb1g: { entries: 4, ways: 2 } };
    for (const tlb of [small, undefined]) {
      const counts = implementations.map((impl) => {
        const config = conformanceConfig("4k");
        if (tlb) config.tlb = tlb;
        const core = impl.create(config);
        core.submit([
          { vcpu: 0, va: 0x10_0000_0fff, kind: 1, size: 0x100 },
          { vcpu: 0, va: 0x10_0000_0fff, kind: 1, size: 0xffff_f002 },
        ]);
        expect(core.run()).toBeNull();
        return core.counters(0).requests;
      });
      expect(counts).toEqual(counts.map(() => 2 + 0x10_0001));
    }
  }, 60_000);
});
