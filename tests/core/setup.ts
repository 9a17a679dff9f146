/**
 * Helpers for the core tests: a Skylake configuration, a VM builder with a fixed
 * memory layout, page mapping, and a tiny event loop.
 *
 * Layout of VM v (every region 1 GiB aligned, so that any EPT page size can map it):
 *   host   H = (v + 1) * 64 GiB
 *   EPT table frames   host H + i * 4 KiB, the root first          (pool of `eptFrames`)
 *   guest table frames gPA 1 GiB + i * 4 KiB -> host `tableHpa` + i * 4 KiB (default H + 1 GiB)
 *   guest RAM          gPA 4 GiB onward      -> host `ramHpa` + offset    (default H + 4 GiB)
 * Guest RAM is EPT-mapped on demand, in pages of `dataEpt`; guest tables in pages of `tableEpt`.
 */
import { expect } from "vitest";
import type {
  AccessKind,
  CoreConfig,
  CoreEvent,
  Counters,
  EntryInfo,
  EptAttrs,
  Geometry,
  GuestAttrs,
  MmuCore,
  PageSizeCode,
  PscGeometry,
  Request,
  TlbGeometry,
} from "../../src/core/types.js";
import { PAGE_BYTES, READ } from "../../src/core/types.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const PAGE_4K: PageSizeCode = 0;
export const PAGE_2M: PageSizeCode = 1;
export const PAGE_1G: PageSizeCode = 2;

/** Skylake TLBs (REFERENCE.md section 6, Intel optimization manual). */
export const SKYLAKE_TLB: TlbGeometry = {
  itlb4k: { entries: 128, ways: 8 },
  itlb2m: { entries: 8, ways: 8 },
  dtlb4k: { entries: 64, ways: 4 },
  dtlb2m: { entries: 32, ways: 4 },
  dtlb1g: { entries: 4, ways: 4 },
  stlb: { entries: 1536, ways: 12 },
  stlb1g: { entries: 16, ways: 4 },
};
/** Paging-structure caches: 3 levels x 32 entries, 4-way (Virtuoso; sizes unpublished). */
export const SKYLAKE_PSC: PscGeometry = {
  pml4: { entries: 32, ways: 4 },
  pdpt: { entries: 32, ways: 4 },
  pd: { entries: 32, ways: 4 },
};
/** Nested TLB: 32 entries, 4-way (a guess). */
export const SKYLAKE_NTLB: Geometry = { entries: 32, ways: 4 };

/** Tier 0 (DRAM) below 16 TiB, tier 1 (NVM) from 16 TiB to 32 TiB. */
export const NVM_BASE = 2 ** 44;
export const TIERS = [
  { base: 0, size: 2 ** 44 },
  { base: NVM_BASE, size: 2 ** 44 },
];

export function skylakeConfig(over: Partial<CoreConfig> = {}): CoreConfig {
  return {
    model: "full",
    policy: "4k",
    tlb: structuredClone(SKYLAKE_TLB),
    replacement: "lru",
    seed: 1,
    psc: structuredClone(SKYLAKE_PSC),
    ntlb: { ...SKYLAKE_NTLB },
    pcpus: 1,
    vcpus: 1,
    vms: 1,
    tiers: structuredClone(TIERS),
    ...over,
  };
}

/** Skylake TLBs with no paging-structure caches and no nested TLB. */
export function plainConfig(over: Partial<CoreConfig> = {}): CoreConfig {
  return skylakeConfig({ psc: null, ntlb: null, ...over });
}

export function conformanceConfig(policy: "4k" | "2m"): CoreConfig {
  return skylakeConfig({ model: "conformance", policy, psc: null, ntlb: null });
}

export const TABLE_GPA = 1 * GiB;
export const RAM_GPA = 4 * GiB;
export const RWX: EptAttrs = { r: true, w: true, x: true, memType: 6 };
export const USER_RW: GuestAttrs = { w: true, u: true, xd: false, g: false, key: 0 };

export function hostBase(vm: number): number {
  return (vm + 1) * 64 * GiB;
}

export interface VmOptions {
  vm?: number;
  /** vCPU running the VM's root (default: the VM's number). */
  vcpu?: number;
  pcpu?: number;
  pcid?: number;
  /** EPT page size of guest RAM (default 4 KiB). */
  dataEpt?: PageSizeCode;
  /** EPT page size of the guest page-table pages (default 4 KiB). */
  tableEpt?: PageSizeCode;
  eptAD?: boolean;
  /** Host address of guest RAM and of guest tables (1 GiB aligned). */
  ramHpa?: number;
  tableHpa?: number;
  tableFrames?: number;
  eptFrames?: number;
}

function expectOk(what: string, status: string): void {
  if (status !== "ok") throw new Error(`${what}: ${status}`);
}

/** A VM with one vCPU whose CR3 points at a fresh guest root. */
export class TestVm {
  readonly vm: number;
  readonly vcpu: number;
  readonly root: number;
  readonly dataEpt: PageSizeCode;
  readonly tableEpt: PageSizeCode;
  readonly ramHpa: number;
  readonly tableHpa: number;
  private nextGpa = RAM_GPA;
  private readonly backed = new Set<number>();

  constructor(
    readonly core: MmuCore,
    opts: VmOptions = {},
  ) {
    this.vm = opts.vm ?? 0;
    this.vcpu = opts.vcpu ?? this.vm;
    this.dataEpt = opts.dataEpt ?? PAGE_4K;
    this.tableEpt = opts.tableEpt ?? PAGE_4K;
    const H = hostBase(this.vm);
    this.ramHpa = opts.ramHpa ?? H + 4 * GiB;
    this.tableHpa = opts.tableHpa ?? H + 1 * GiB;
    // The EPT root is the first EPT frame, taken by createVm.
    const eptFrames = opts.eptFrames ?? 512;
    core.addEptFrames(this.vm, Array.from({ length: eptFrames }, (_, i) => H + i * 4096));
    core.createVm(this.vm, opts.eptAD === undefined ? undefined : { eptAD: opts.eptAD });
    const n = opts.tableFrames ?? 64;
    const tableBytes = PAGE_BYTES[this.tableEpt];
    for (let off = 0; off < n * 4096; off += tableBytes) {
      expectOk("eptMap(tables)", core.eptMap(this.vm, TABLE_GPA + off, this.tableHpa + off, this.tableEpt, RWX));
    }
    core.addGuestFrames(this.vm, Array.from({ length: n }, (_, i) => ({ gpa: TABLE_GPA + i * 4096, hpa: this.tableHpa + i * 4096 })));
    this.root = core.gptNewRoot(this.vm);
    this.addVcpu(this.vcpu, opts.pcpu ?? 0, opts.pcid ?? 0);
  }

  /** Another vCPU of this VM, on `pcpu`, with CR3 at this VM's root. */
  addVcpu(vcpu: number, pcpu: number, pcid = 0): void {
    this.core.createVcpu(vcpu, this.vm, pcpu);
    this.core.setCr3(vcpu, this.root, pcid, false);
  }

  /** The host address of a gPA of guest RAM. */
  hpaOf(gpa: number): number {
    return this.ramHpa + (gpa - RAM_GPA);
  }

  /**
   * EPT-maps the data pages (of size `dataEpt`) covering [gpa, gpa+bytes) that are not
   * mapped yet, with `ept` rights; pages already mapped get those rights when given.
   */
  back(gpa: number, bytes: number, ept?: Partial<EptAttrs>): void {
    const size = PAGE_BYTES[this.dataEpt];
    const attrs = { ...RWX, ...ept };
    for (let p = Math.floor(gpa / size) * size; p < gpa + bytes; p += size) {
      if (!this.backed.has(p)) {
        expectOk("eptMap(ram)", this.core.eptMap(this.vm, p, this.hpaOf(p), this.dataEpt, attrs));
        this.backed.add(p);
      } else if (ept) {
        expectOk("eptProtect(ram)", this.core.eptProtect(this.vm, p, this.dataEpt, attrs));
      }
    }
  }

  /** A fresh gPA of guest RAM aligned to a page of `size`. */
  allocGpa(size: PageSizeCode): number {
    const bytes = PAGE_BYTES[size];
    const gpa = Math.ceil(this.nextGpa / bytes) * bytes;
    this.nextGpa = gpa + bytes;
    return gpa;
  }

  /**
   * Maps a guest page of `size` at `va` to fresh guest RAM and EPT-backs its first
   * min(page, 2 MiB) bytes. Returns the page's gPA.
   */
  map(va: number, size: PageSizeCode = PAGE_4K, attrs: Partial<GuestAttrs> = {}, ept?: Partial<EptAttrs>): number {
    const gpa = this.allocGpa(size);
    expectOk(`gptMap(0x${va.toString(16)})`, this.core.gptMap(this.vm, this.root, va, gpa, size, { ...USER_RW, ...attrs }));
    this.back(gpa, Math.min(PAGE_BYTES[size], 2 * MiB), ept);
    return gpa;
  }

  /** One request; after an event the rest of the request is skipped. */
  access(va: number, kind: AccessKind = READ, size = 1): CoreEvent | null {
    this.core.submit([{ vcpu: this.vcpu, va, kind, size }]);
    const ev = this.core.run();
    if (ev) this.core.skip();
    return ev;
  }

  counters(): Counters {
    return this.core.counters(this.vcpu);
  }

  gpte(va: number): EntryInfo {
    return this.core.gptEntry(this.vm, this.root, va);
  }

  epte(gpa: number): EntryInfo {
    return this.core.eptEntry(this.vm, gpa);
  }
}

/**
 * Runs requests to the end; on each event `onEvent` says whether to retry the page
 * access (after the handler fixed something) or skip the rest of the request.
 */
export function runAll(core: MmuCore, requests: Request[], onEvent: (ev: CoreEvent) => "retry" | "skip" = () => "skip"): CoreEvent[] {
  core.submit(requests);
  const events: CoreEvent[] = [];
  for (let ev = core.run(); ev !== null; ev = core.run()) {
    events.push(ev);
    if (events.length > 100_000) throw new Error("runAll: too many events");
    if (onEvent(ev) === "skip") core.skip();
  }
  return events;
}

/**
 * Runs `requests` of vCPU 0 (none may raise an event) on a core of `reference` and
 * one of `impl` made with `config`, and expects the same counters.
 */
export function expectSameConformanceCounters(
  reference: (c: CoreConfig) => MmuCore,
  impl: (c: CoreConfig) => MmuCore,
  config: CoreConfig,
  requests: Request[],
): void {
  const [a, b] = [reference(config), impl(config)];
  for (const core of [a, b]) {
    core.submit(requests);
    expect(core.run()).toBeNull();
  }
  expect(b.counters(0)).toEqual(a.counters(0));
}

/** Where one access of a vCPU was translated: L1 hit, STLB hit, or a walk. */
export function probeVcpu(core: MmuCore, vcpu: number, va: number, kind: AccessKind = READ): "l1" | "stlb" | "walk" {
  const before = core.counters(vcpu);
  core.submit([{ vcpu, va, kind, size: 1 }]);
  const ev = core.run();
  if (ev) {
    core.skip();
    throw new Error(`probe(0x${va.toString(16)}): unexpected ${ev.type}`);
  }
  const after = core.counters(vcpu);
  if (after.l1Hits > before.l1Hits) return "l1";
  if (after.stlbHits > before.stlbHits) return "stlb";
  return "walk";
}

/** Where one access of vm's vCPU was translated. */
export function probe(vm: TestVm, va: number, kind: AccessKind = READ): "l1" | "stlb" | "walk" {
  return probeVcpu(vm.core, vm.vcpu, va, kind);
}

/** Where the walk of one access (it must walk) started: a PSC level, or CR3. */
export function walkStart(core: MmuCore, vcpu: number, va: number): "pd" | "pdpt" | "pml4" | "cr3" {
  const before = core.counters(vcpu);
  if (probeVcpu(core, vcpu, va) !== "walk") throw new Error(`walkStart(0x${va.toString(16)}): the access did not walk`);
  const after = core.counters(vcpu);
  if (after.pwcHits[2] > before.pwcHits[2]) return "pd";
  if (after.pwcHits[1] > before.pwcHits[1]) return "pdpt";
  if (after.pwcHits[0] > before.pwcHits[0]) return "pml4";
  return "cr3";
}

/** The counters that change in a test, as differences. */
export function delta(before: Counters, after: Counters, keys: (keyof Counters)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (after[k] as number) - (before[k] as number);
  return out;
}

/** Raw entry bit helpers for tests. */
export const bit = (n: number): bigint => 1n << BigInt(n);
export const hasBit = (raw: bigint, n: number): boolean => (raw & bit(n)) !== 0n;
