/**
 * Differential property test: random configurations, random mappings and random
 * sequences of requests, state changes and flushes, run on every implementation; they
 * must agree on every event, every counter and every page-table entry.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { AccessKind, CoreConfig, CoreEvent, Geometry, MmuCore, PageSizeCode, Request } from "../../src/core/types.js";
import { PAGE_BYTES } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { TestVm, TIERS, GiB, expectSameConformanceCounters } from "./setup.js";

const geometry = (maxSets: number, ways: number[]): fc.Arbitrary<Geometry> =>
  fc.record({ sets: fc.constantFrom(...[1, 2, 4, 8, 16].filter((s) => s <= maxSets)), ways: fc.constantFrom(...ways) }).map(({ sets, ways }) => ({ entries: sets * ways, ways }));

const configArb: fc.Arbitrary<CoreConfig> = fc.record({
  itlb4k: geometry(4, [1, 2, 4]),
  itlb2m: geometry(2, [1, 2]),
  dtlb4k: geometry(4, [1, 2, 4]),
  dtlb2m: geometry(2, [2, 4]),
  dtlb1g: geometry(1, [1, 2]),
  stlb: geometry(8, [2, 3, 4, 6]),
  stlb1g: geometry(2, [1, 2]),
  replacement: fc.constantFrom("lru" as const, "fifo" as const, "random" as const),
  seed: fc.nat(),
  psc: fc.option(fc.record({ pml4: geometry(2, [1, 2]), pdpt: geometry(2, [1, 2]), pd: geometry(2, [2]) }), { nil: null }),
  ntlb: fc.option(geometry(2, [2]), { nil: null }),
  lineCache: fc.option(geometry(16, [2, 4]), { nil: null }),
  lineCacheData: fc.boolean(),
  pcpus: fc.constantFrom(1, 2),
}).map((r) => ({
  model: "full" as const,
  policy: "4k" as const,
  tlb: { itlb4k: r.itlb4k, itlb2m: r.itlb2m, dtlb4k: r.dtlb4k, dtlb2m: r.dtlb2m, dtlb1g: r.dtlb1g, stlb: r.stlb, stlb1g: r.stlb1g },
  replacement: r.replacement,
  seed: r.seed,
  psc: r.psc,
  ntlb: r.ntlb,
  lineCache: r.lineCache,
  lineCacheData: r.lineCacheData,
  pcpus: r.pcpus,
  vcpus: 3,
  vms: 2,
  tiers: structuredClone(TIERS),
}));

// Virtual regions (1 GiB aligned so every page size fits) the pages and requests use.
const REGIONS = [1 * GiB, 3 * GiB, 0x7f80_0000_0000];
const sizeArb = fc.constantFrom<PageSizeCode>(0, 0, 0, 1, 1, 2);

const pageArb = fc.record({
  vm: fc.constantFrom(0, 1),
  region: fc.nat(REGIONS.length - 1),
  slot: fc.nat(7),
  size: sizeArb,
  w: fc.boolean(),
  u: fc.boolean(),
  xd: fc.boolean(),
  g: fc.boolean(),
  key: fc.nat(15),
  er: fc.boolean(),
  ew: fc.boolean(),
  ex: fc.boolean(),
});

const requestArb = fc.record({
  vcpu: fc.nat(2),
  region: fc.nat(REGIONS.length - 1),
  slot: fc.nat(7),
  size: sizeArb,
  offset: fc.nat(8191),
  kind: fc.constantFrom<AccessKind>(0, 1, 1, 2, 2),
  bytes: fc.constantFrom(1, 4, 8, 64, 4096),
});

const opArb = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant("batch" as const), requests: fc.array(requestArb, { minLength: 1, maxLength: 40, size: "max" }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("pkru" as const), vcpu: fc.nat(2), value: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("pkrs" as const), vcpu: fc.nat(2), value: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("control" as const),
      vcpu: fc.nat(2),
      cpl: fc.constantFrom(0 as const, 3 as const),
      wp: fc.boolean(),
      pke: fc.boolean(),
      pks: fc.boolean(),
      smep: fc.boolean(),
      smap: fc.boolean(),
      ac: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("cr3" as const), vcpu: fc.nat(2), pcid: fc.nat(3), noflush: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("invlpg" as const), vcpu: fc.nat(2), region: fc.nat(2), slot: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("invpcid" as const), vcpu: fc.nat(2), type: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const), pcid: fc.nat(3), region: fc.nat(2), slot: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("invvpid" as const), vm: fc.nat(1), type: fc.constantFrom(0 as const, 1 as const, 3 as const), region: fc.nat(2), slot: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("invept" as const), vm: fc.nat(1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("protect" as const), page: fc.nat(40), w: fc.boolean(), u: fc.boolean(), key: fc.nat(15), ew: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("unmap" as const), page: fc.nat(40) }) },
);

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;
type Page = typeof pageArb extends fc.Arbitrary<infer T> ? T : never;

function pageVa(region: number, slot: number, size: PageSizeCode): number {
  return REGIONS[region] + slot * PAGE_BYTES[size];
}

interface World {
  core: MmuCore;
  vms: TestVm[];
  mapped: { vm: number; va: number; size: PageSizeCode; gpa: number }[];
  log: unknown[];
}

function build(create: (c: CoreConfig) => MmuCore, config: CoreConfig, pages: Page[], dataEpt: PageSizeCode, eptAD: boolean): World {
  const core = create(config);
  // vCPUs 0 and 1 run VM 0 (on pCPUs 0 and the last), vCPU 2 runs VM 1.
  const vm0 = new TestVm(core, { vm: 0, vcpu: 0, dataEpt, eptAD, tableFrames: 128 });
  vm0.addVcpu(1, config.pcpus - 1, 1);
  const vm1 = new TestVm(core, { vm: 1, vcpu: 2, dataEpt: 0, eptAD: !eptAD, tableFrames: 128 });
  const vms = [vm0, vm1];
  const mapped: World["mapped"] = [];
  const log: unknown[] = [];
  for (const p of pages) {
    const va = pageVa(p.region, p.slot, p.size);
    const vm = vms[p.vm];
    try {
      const gpa = vm.map(va, p.size, { w: p.w, u: p.u, xd: p.xd, g: p.g, key: p.key }, { r: p.er || p.ew, w: p.ew, x: p.ex });
      mapped.push({ vm: p.vm, va, size: p.size, gpa });
      log.push(["map", va, "ok"]);
    } catch (e) {
      log.push(["map", va, String((e as Error).message)]);
    }
  }
  return { core, vms, mapped, log };
}

function apply(w: World, op: Op): void {
  const { core, log } = w;
  switch (op.op) {
    case "batch": {
      const reqs: Request[] = op.requests.map((r) => ({
        vcpu: r.vcpu,
        va: pageVa(r.region, r.slot, r.size) + r.offset,
        kind: r.kind,
        size: r.bytes,
      }));
      core.submit(reqs);
      const events: CoreEvent[] = [];
      for (let ev = core.run(); ev; ev = core.run()) {
        events.push(ev);
        core.skip();
      }
      log.push(events);
      break;
    }
    case "pkru":
      core.setPkru(op.vcpu, op.value);
      break;
    case "pkrs":
      core.setPkrs(op.vcpu, op.value);
      break;
    case "control":
      core.setControl(op.vcpu, { cpl: op.cpl, wp: op.wp, pke: op.pke, pks: op.pks, smep: op.smep, smap: op.smap, ac: op.ac });
      break;
    case "cr3":
      core.setCr3(op.vcpu, w.vms[op.vcpu === 2 ? 1 : 0].root, op.pcid, op.noflush);
      break;
    case "invlpg":
      core.invlpg(op.vcpu, pageVa(op.region, op.slot, 0));
      break;
    case "invpcid":
      core.invpcid(op.vcpu, op.type, op.pcid, pageVa(op.region, op.slot, 0));
      break;
    case "invvpid":
      core.invvpid(op.vm, op.type, pageVa(op.region, op.slot, 0));
      break;
    case "invept":
      core.invept(op.vm);
      break;
    case "protect": {
      const m = w.mapped[op.page % Math.max(1, w.mapped.length)];
      if (!m) break;
      log.push(core.gptProtect(m.vm, w.vms[m.vm].root, m.va, m.size, { w: op.w, u: op.u, xd: false, g: false, key: op.key }));
      const epage = PAGE_BYTES[w.vms[m.vm].dataEpt];
      const gpa = Math.floor(m.gpa / epage) * epage;
      log.push(core.eptProtect(m.vm, gpa, w.vms[m.vm].dataEpt, { r: true, w: op.ew, x: true, memType: 6 }));
      break;
    }
    case "unmap": {
      const m = w.mapped[op.page % Math.max(1, w.mapped.length)];
      if (m) log.push(core.gptUnmap(m.vm, w.vms[m.vm].root, m.va, m.size));
      break;
    }
  }
  for (const v of [0, 1, 2]) log.push(core.counters(v));
}

describe("differential: every implementation agrees with the reference", () => {
  const [ref, ...others] = implementations;
  it.each(others.map((o) => [o.name, o] as const))("%s", (_name, impl) => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(pageArb, { maxLength: 24, size: "max" }),
        fc.constantFrom<PageSizeCode>(0, 1),
        fc.boolean(),
        fc.array(opArb, { minLength: 1, maxLength: 30, size: "max" }),
        (config, pages, dataEpt, eptAD, ops) => {
          const a = build(ref.create, config, pages, dataEpt, eptAD);
          const b = build(impl.create, config, pages, dataEpt, eptAD);
          for (const op of ops) {
            apply(a, op);
            apply(b, op);
          }
          for (const m of a.mapped) {
            a.log.push(a.core.gptEntry(m.vm, a.vms[m.vm].root, m.va));
            b.log.push(b.core.gptEntry(m.vm, b.vms[m.vm].root, m.va));
            a.log.push(a.core.eptEntry(m.vm, m.gpa));
            b.log.push(b.core.eptEntry(m.vm, m.gpa));
          }
          expect(b.log).toEqual(a.log);
        },
      ),
      { numRuns: Number(process.env.UNIMMU_DIFF_RUNS ?? 150) },
    );
  });
});

describe("differential: the conformance model", () => {
  const [ref, ...others] = implementations;
  it.each(others.map((o) => [o.name, o] as const))("%s", (_name, impl) => {
    fc.assert(
      fc.property(
        fc.constantFrom("4k" as const, "2m" as const),
        fc.array(
          fc.record({ page: fc.nat(3000), offset: fc.nat(4095), kind: fc.constantFrom<AccessKind>(0, 1, 2), bytes: fc.constantFrom(1, 8, 16, 200) }),
          { minLength: 1, maxLength: 3000 },
        ),
        (policy, rs) => {
          const config = { model: "conformance" as const, policy, tlb: { itlb4k: { entries: 16, ways: 4 }, itlb2m: { entries: 4, ways: 2 }, dtlb4k: { entries: 8, ways: 2 }, dtlb2m: { entries: 4, ways: 4 }, dtlb1g: { entries: 2, ways: 2 }, stlb: { entries: 48, ways: 6 }, stlb1g: { entries: 4, ways: 2 } }, replacement: "lru" as const, seed: 1, psc: null, ntlb: null, pcpus: 1, vcpus: 1, vms: 1, tiers: [] };
          const reqs: Request[] = rs.map((r) => ({ vcpu: 0, va: 0x40_0000_0000 + r.page * (policy === "4k" ? 4096 : 64 * 1024) + r.offset, kind: r.kind, size: r.bytes }));
          expectSameConformanceCounters(ref.create, impl.create, config, reqs);
        },
      ),
      { numRuns: Math.ceil(Number(process.env.UNIMMU_DIFF_RUNS ?? 150) / 2.5) },
    );
  });
});


