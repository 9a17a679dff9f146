/**
 * ReferenceCore: the plain TypeScript model of the translation core (docs/core.md),
 * written for obvious correctness; the differential tests hold the Wasm core to it.
 *
 * Readings of points docs/core.md leaves open are marked "Reading:" below.
 */
import { dataLines, newLineSample, type Line, type LineSample } from "./lines.js";
import { estimateLines } from "../../src/core/sampling.js";
import type {
  AccessKind,
  CoreConfig,
  CoreEvent,
  Counters,
  EntryInfo,
  EptAttrs,
  GuestAttrs,
  MapStatus,
  MmuCore,
  PageSizeCode,
  Request,
  TlbName,
  VcpuControl,
} from "../../src/core/types.js";
import { DEFAULT_CONTROL, FETCH, MAX_TIERS, PAGE_SHIFT, PF_P, PF_PK, PF_RSVD, TLB_NAMES, WRITE } from "../../src/core/types.js";
import { conformanceAccess } from "./conformance.js";
import { copyCounters, newCounters } from "./counters.js";
import { PhysicalMemory } from "./memory.js";
import { eptAccessBits, rightsFault, type Fault, type PcpuState, type VcpuState } from "./state.js";
import { PHYS_LIMIT, VIRT_LIMIT, VmTables } from "./tables.js";
import { Tlb, Xorshift32, makeSetAssoc, type NtlbEntry, type PscEntry, type Translation } from "./tlb.js";
import { pscTag, walk } from "./walk.js";

function checkIndex(field: string, value: number, count: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= count) {
    throw new RangeError(`${field}: ${value} is not in 0..${count - 1}`);
  }
}

function checkGeometry(name: string, g: { entries: number; ways: number }): void {
  if (!Number.isInteger(g.entries) || g.entries < 0) throw new RangeError(`${name}.entries: ${g.entries} is not a count`);
  if (g.entries === 0) return;
  if (!Number.isInteger(g.ways) || g.ways < 1 || g.entries % g.ways !== 0) {
    throw new RangeError(`${name}.ways: ${g.ways} does not divide ${name}.entries ${g.entries}`);
  }
}

export class ReferenceCore implements MmuCore {
  readonly config: CoreConfig;
  private readonly mem = new PhysicalMemory();
  private readonly rng: Xorshift32;
  private readonly pcpus: PcpuState[] = [];
  private readonly vms: (VmTables | null)[];
  private readonly vcpus: (VcpuState | null)[];
  /** EPT frames queued for VMs that do not exist yet (createVm takes its root from them). */
  private readonly earlyEptFrames = new Map<number, number[]>();
  /** Conformance mode: pages (VPNs at the policy's size) mapped so far. */
  private readonly touched = new Set<number>();

  // The request queue: the next page access is page `page` of request `reqIndex`
  // (page null: the request has not started); `pending`: it raised an event.
  private queue: Request[] = [];
  private reqIndex = 0;
  private page: number | null = null;
  private pending = false;

  constructor(config: CoreConfig) {
    this.config = structuredClone(config);
    const cfg = this.config;
    if (cfg.model !== "full" && cfg.model !== "conformance") throw new RangeError(`model: ${String(cfg.model)} is not full or conformance`);
    if (cfg.policy !== "4k" && cfg.policy !== "2m") throw new RangeError(`policy: ${String(cfg.policy)} is not 4k or 2m`);
    if (!["lru", "fifo", "random"].includes(cfg.replacement)) throw new RangeError(`replacement: ${cfg.replacement} is not lru, fifo or random`);
    for (const name of TLB_NAMES) checkGeometry(`tlb.${name}`, cfg.tlb[name]);
    if (cfg.psc) for (const k of ["pml4", "pdpt", "pd"] as const) checkGeometry(`psc.${k}`, cfg.psc[k]);
    if (cfg.ntlb) checkGeometry("ntlb", cfg.ntlb);
    for (const k of ["pcpus", "vcpus", "vms"] as const) {
      if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new RangeError(`${k}: ${cfg[k]} is not a positive integer`);
    }
    if (cfg.tiers.length > MAX_TIERS) throw new RangeError(`tiers: ${cfg.tiers.length} tiers, at most ${MAX_TIERS} allowed`);

    this.rng = new Xorshift32(cfg.seed);
    const conformance = cfg.model === "conformance";
    // Conformance: true LRU, no PSC, no nested TLB (section 7), whatever the config says.
    const policy = conformance ? "lru" : cfg.replacement;
    for (let p = 0; p < cfg.pcpus; p++) {
      const tlb = (name: TlbName) => (cfg.tlb[name].entries > 0 ? new Tlb(cfg.tlb[name], policy, this.rng) : null);
      const psc = conformance ? null : cfg.psc;
      this.pcpus.push({
        itlb4k: tlb("itlb4k"),
        itlb2m: tlb("itlb2m"),
        dtlb4k: tlb("dtlb4k"),
        dtlb2m: tlb("dtlb2m"),
        dtlb1g: tlb("dtlb1g"),
        stlb: tlb("stlb"),
        stlb1g: tlb("stlb1g"),
        pscOn: psc !== null,
        pml4: makeSetAssoc<PscEntry>(psc?.pml4, policy, this.rng),
        pdpt: makeSetAssoc<PscEntry>(psc?.pdpt, policy, this.rng),
        pd: makeSetAssoc<PscEntry>(psc?.pd, policy, this.rng),
        ntlb: conformance ? null : makeSetAssoc<NtlbEntry>(cfg.ntlb, policy, this.rng),
        lines: conformance || !cfg.lineCache ? null : makeSetAssoc<Line>(cfg.lineCache, policy, this.rng),
        linesData: !conformance && !!cfg.lineCache && cfg.lineCache.entries > 0 && cfg.lineCacheData === true,
      });
    }
    this.vms = new Array<VmTables | null>(cfg.vms).fill(null);
    this.vcpus = new Array<VcpuState | null>(cfg.vcpus).fill(null);
    if (conformance) {
      // Reading: conformance mode has one implicit vCPU 0 on pCPU 0 and no page tables.
      this.vcpus[0] = this.newVcpu(0, 0);
    }
  }

  // ------------------------------------------------------------------ objects

  private newVcpu(vm: number, pcpu: number): VcpuState {
    return { vm, pcpu, cr3: 0, pcid: 0, pkru: 0, pkrs: 0, ctl: { ...DEFAULT_CONTROL }, counters: newCounters(), sample: this.newSample() };
  }

  /** Sampling counters for a vCPU when the line cache samples its sets, else null. */
  private newSample(): LineSample | null {
    const k = this.config.lineSampling ?? 1;
    return k > 1 && this.config.model !== "conformance" && this.config.lineCache ? newLineSample(k) : null;
  }

  private vmOf(vm: number): VmTables {
    checkIndex("vm", vm, this.config.vms);
    const t = this.vms[vm];
    if (!t) throw new RangeError(`vm: ${vm} does not exist`);
    return t;
  }

  private vcpuOf(vcpu: number): VcpuState {
    checkIndex("vcpu", vcpu, this.config.vcpus);
    const v = this.vcpus[vcpu];
    if (!v) throw new RangeError(`vcpu: ${vcpu} does not exist`);
    return v;
  }

  private fullOnly(op: string): void {
    if (this.config.model !== "full") throw new Error(`${op}: not available in conformance mode`);
  }

  private tierOf = (hpa: number): number => {
    const tiers = this.config.tiers;
    for (let i = 0; i < tiers.length; i++) {
      if (hpa >= tiers[i]!.base && hpa < tiers[i]!.base + tiers[i]!.size) return i;
    }
    return Math.max(0, tiers.length - 1);
  };

  createVm(vm: number, opts?: { eptAD?: boolean }): void {
    checkIndex("vm", vm, this.config.vms);
    if (this.config.model === "conformance") return; // the implicit VM 0
    if (this.vms[vm]) throw new RangeError(`vm: ${vm} already exists`);
    // Reading: the EPT root is the first frame queued for the VM, taken here.
    const frames = this.earlyEptFrames.get(vm) ?? [];
    if (frames.length === 0) throw new RangeError(`createVm: vm ${vm} has no EPT frame queued for its root; call addEptFrames first`);
    this.earlyEptFrames.delete(vm);
    this.vms[vm] = new VmTables(this.mem, opts?.eptAD ?? true, frames);
  }

  destroyVm(vm: number): void {
    this.fullOnly("destroyVm");
    const t = this.vmOf(vm);
    t.releaseAll();
    for (let i = 0; i < this.vcpus.length; i++) if (this.vcpus[i]?.vm === vm) this.vcpus[i] = null;
    this.invept(vm);
    this.vms[vm] = null;
  }

  addEptFrames(vm: number, hpas: number[]): void {
    this.fullOnly("addEptFrames");
    checkIndex("vm", vm, this.config.vms);
    for (const h of hpas) checkFrame("hpa", h);
    const t = this.vms[vm];
    if (t) t.eptPool.push(...hpas);
    else this.earlyEptFrames.set(vm, [...(this.earlyEptFrames.get(vm) ?? []), ...hpas]);
  }

  addGuestFrames(vm: number, frames: { gpa: number; hpa: number }[]): void {
    this.fullOnly("addGuestFrames");
    const t = this.vmOf(vm);
    for (const f of frames) {
      checkFrame("gpa", f.gpa);
      checkFrame("hpa", f.hpa);
    }
    t.guestPool.push(...frames.map((f) => ({ gpa: f.gpa, hpa: f.hpa })));
  }

  framesAvailable(vm: number): { ept: number; guest: number } {
    checkIndex("vm", vm, this.config.vms);
    const t = this.vms[vm];
    if (!t) return { ept: this.earlyEptFrames.get(vm)?.length ?? 0, guest: 0 };
    return { ept: t.eptPool.length, guest: t.guestPool.length };
  }

  eptMap(vm: number, gpa: number, hpa: number, size: PageSizeCode, attrs: EptAttrs): MapStatus {
    this.fullOnly("eptMap");
    return this.vmOf(vm).eptMap(gpa, hpa, size, attrs);
  }
  eptUnmap(vm: number, gpa: number, size: PageSizeCode): MapStatus {
    this.fullOnly("eptUnmap");
    return this.vmOf(vm).eptUnmap(gpa, size);
  }
  eptProtect(vm: number, gpa: number, size: PageSizeCode, attrs: EptAttrs): MapStatus {
    this.fullOnly("eptProtect");
    return this.vmOf(vm).eptProtect(gpa, size, attrs);
  }
  eptEntry(vm: number, gpa: number): EntryInfo {
    this.fullOnly("eptEntry");
    return this.vmOf(vm).eptEntry(gpa);
  }
  eptWriteRaw(vm: number, gpa: number, level: number, raw: bigint): MapStatus {
    this.fullOnly("eptWriteRaw");
    return this.vmOf(vm).eptWriteRaw(gpa, level, raw);
  }
  gptNewRoot(vm: number): number {
    this.fullOnly("gptNewRoot");
    return this.vmOf(vm).gptNewRoot();
  }
  gptMap(vm: number, root: number, va: number, gpa: number, size: PageSizeCode, attrs: GuestAttrs): MapStatus {
    this.fullOnly("gptMap");
    return this.vmOf(vm).gptMap(root, va, gpa, size, attrs);
  }
  gptUnmap(vm: number, root: number, va: number, size: PageSizeCode): MapStatus {
    this.fullOnly("gptUnmap");
    return this.vmOf(vm).gptUnmap(root, va, size);
  }
  gptProtect(vm: number, root: number, va: number, size: PageSizeCode, attrs: GuestAttrs): MapStatus {
    this.fullOnly("gptProtect");
    return this.vmOf(vm).gptProtect(root, va, size, attrs);
  }
  gptEntry(vm: number, root: number, va: number): EntryInfo {
    this.fullOnly("gptEntry");
    return this.vmOf(vm).gptEntry(root, va);
  }
  gptWriteRaw(vm: number, root: number, va: number, level: number, raw: bigint): MapStatus {
    this.fullOnly("gptWriteRaw");
    return this.vmOf(vm).gptWriteRaw(root, va, level, raw);
  }

  createVcpu(vcpu: number, vm: number, pcpu: number): void {
    checkIndex("vcpu", vcpu, this.config.vcpus);
    checkIndex("pcpu", pcpu, this.config.pcpus);
    if (this.config.model === "conformance") return; // the implicit vCPU 0
    this.vmOf(vm);
    if (this.vcpus[vcpu]) throw new RangeError(`vcpu: ${vcpu} already exists`);
    this.vcpus[vcpu] = this.newVcpu(vm, pcpu);
  }

  setCr3(vcpu: number, root: number, pcid: number, noflush: boolean): void {
    this.fullOnly("setCr3");
    const v = this.vcpuOf(vcpu);
    checkFrame("root", root);
    checkIndex("pcid", pcid, 4096);
    v.cr3 = root;
    v.pcid = pcid;
    if (!noflush) {
      const vpid = v.vm + 1;
      const cpu = this.pcpus[v.pcpu]!;
      this.flushTlbs(cpu, (t) => t.vpid === vpid && t.pcid === pcid && !t.global);
      this.flushPscs(cpu, (p) => p.vpid === vpid && p.pcid === pcid);
    }
  }

  setPkru(vcpu: number, value: number): void {
    this.vcpuOf(vcpu).pkru = value >>> 0;
  }
  setPkrs(vcpu: number, value: number): void {
    this.vcpuOf(vcpu).pkrs = value >>> 0;
  }
  setControl(vcpu: number, control: Partial<VcpuControl>): void {
    const v = this.vcpuOf(vcpu);
    if (control.cpl !== undefined && control.cpl !== 0 && control.cpl !== 3) throw new RangeError(`cpl: ${control.cpl} is not 0 or 3`);
    v.ctl = { ...v.ctl, ...control };
  }

  // ------------------------------------------------------------------ flushes (section 6)

  private tlbsOf(cpu: PcpuState): Tlb[] {
    return [cpu.itlb4k, cpu.itlb2m, cpu.dtlb4k, cpu.dtlb2m, cpu.dtlb1g, cpu.stlb, cpu.stlb1g].filter((t): t is Tlb => t !== null);
  }

  /** Invalidates matching TLB entries of a pCPU; only those translating `va` when given. */
  private flushTlbs(cpu: PcpuState, match: (t: Translation) => boolean, va?: number): void {
    for (const tlb of this.tlbsOf(cpu)) {
      if (va === undefined) tlb.removeAll(match);
      else tlb.removeAddress(va, match);
    }
  }

  /** Invalidates matching PSC entries of a pCPU; only those whose tag is `va`'s when given. */
  private flushPscs(cpu: PcpuState, match: (p: PscEntry) => boolean, va?: number): void {
    for (const [level, psc] of [[4, cpu.pml4], [3, cpu.pdpt], [2, cpu.pd]] as const) {
      if (!psc) continue;
      if (va === undefined) {
        psc.remove(match);
      } else {
        const tag = pscTag(va, level);
        psc.remove((p) => p.tag === tag && match(p), tag % psc.sets);
      }
    }
  }

  invlpg(vcpu: number, va: number): void {
    this.fullOnly("invlpg");
    const v = this.vcpuOf(vcpu);
    checkVa(va);
    const vpid = v.vm + 1;
    const cpu = this.pcpus[v.pcpu]!;
    this.flushTlbs(cpu, (t) => t.vpid === vpid && (t.pcid === v.pcid || t.global), va);
    this.flushPscs(cpu, (p) => p.vpid === vpid && p.pcid === v.pcid);
  }

  invpcid(vcpu: number, type: 0 | 1 | 2 | 3, pcid: number, va: number): void {
    this.fullOnly("invpcid");
    const v = this.vcpuOf(vcpu);
    checkIndex("type", type, 4);
    checkIndex("pcid", pcid, 4096);
    const vpid = v.vm + 1;
    const cpu = this.pcpus[v.pcpu]!;
    switch (type) {
      case 0:
        checkVa(va);
        this.flushTlbs(cpu, (t) => t.vpid === vpid && t.pcid === pcid && !t.global, va);
        this.flushPscs(cpu, (p) => p.vpid === vpid && p.pcid === pcid);
        break;
      case 1:
        this.flushTlbs(cpu, (t) => t.vpid === vpid && t.pcid === pcid && !t.global);
        this.flushPscs(cpu, (p) => p.vpid === vpid && p.pcid === pcid);
        break;
      case 2:
        this.flushTlbs(cpu, (t) => t.vpid === vpid);
        this.flushPscs(cpu, (p) => p.vpid === vpid);
        break;
      case 3:
        this.flushTlbs(cpu, (t) => t.vpid === vpid && !t.global);
        this.flushPscs(cpu, (p) => p.vpid === vpid);
        break;
    }
  }

  invvpid(vm: number, type: 0 | 1 | 3, va: number): void {
    this.fullOnly("invvpid");
    checkIndex("vm", vm, this.config.vms);
    if (type !== 0 && type !== 1 && type !== 3) throw new RangeError(`type: ${String(type)} is not 0, 1 or 3`);
    const vpid = vm + 1;
    for (const cpu of this.pcpus) {
      if (type === 0) {
        checkVa(va);
        this.flushTlbs(cpu, (t) => t.vpid === vpid, va);
        // Reading: type 0 drops the PSC entries "that would be used to translate the
        // address" (SDM, INVVPID), i.e. those whose tag is va's, in every PCID.
        this.flushPscs(cpu, (p) => p.vpid === vpid, va);
      } else {
        if (type === 1) this.flushTlbs(cpu, (t) => t.vpid === vpid);
        else this.flushTlbs(cpu, (t) => t.vpid === vpid && !t.global);
        this.flushPscs(cpu, (p) => p.vpid === vpid);
      }
      // The nested TLB holds guest-physical mappings: INVVPID leaves it alone.
    }
  }

  invept(vm: number): void {
    this.fullOnly("invept");
    checkIndex("vm", vm, this.config.vms);
    const vpid = vm + 1;
    for (const cpu of this.pcpus) {
      this.flushTlbs(cpu, (t) => t.vpid === vpid);
      this.flushPscs(cpu, (p) => p.vpid === vpid);
      cpu.ntlb?.remove((n) => n.vpid === vpid);
    }
  }

  // ------------------------------------------------------------------ requests

  /** Reading: a batch with an event pending or requests left is an error, not replaced. */
  submit(requests: Request[]): void {
    if (this.reqIndex < this.queue.length) throw new Error("submit: the previous requests are not finished (run or skip them first)");
    requests.forEach((r, i) => {
      const where = `requests[${i}]`;
      if (this.config.model === "conformance") {
        if (r.vcpu !== 0) throw new RangeError(`${where}.vcpu: ${r.vcpu} is not 0 (conformance mode has one vCPU)`);
      } else {
        checkIndex(`${where}.vcpu`, r.vcpu, this.config.vcpus);
        if (!this.vcpus[r.vcpu]) throw new RangeError(`${where}.vcpu: ${r.vcpu} does not exist`);
      }
      if (r.kind !== 0 && r.kind !== 1 && r.kind !== 2) throw new RangeError(`${where}.kind: ${String(r.kind)} is not 0, 1 or 2`);
      if (!Number.isInteger(r.size) || r.size < 1) throw new RangeError(`${where}.size: ${r.size} is not a positive integer`);
      if (!Number.isInteger(r.va) || r.va < 0 || r.va + r.size > VIRT_LIMIT) {
        throw new RangeError(`${where}.va: ${r.va} (size ${r.size}) is not inside 0..2^48-1`);
      }
    });
    this.queue = requests.map((r) => ({ ...r }));
    this.reqIndex = 0;
    this.page = null;
    this.pending = false;
  }

  /** The last byte of the request being run (a page access's length ends there or at its page's end). */
  private reqEnd = 0;

  run(): CoreEvent | null {
    while (this.reqIndex < this.queue.length) {
      const r = this.queue[this.reqIndex]!;
      if (this.page === null) this.page = Math.floor(r.va / 4096);
      const lastPage = Math.floor((r.va + r.size - 1) / 4096);
      while (this.page <= lastPage) {
        const va = Math.max(r.va, this.page * 4096);
        const retry = this.pending;
        this.pending = false;
        this.reqEnd = r.va + r.size - 1;
        const fault = this.accessPage(r.vcpu, va, r.kind, retry);
        if (fault) {
          this.pending = true;
          return { ...fault, index: this.reqIndex, vcpu: r.vcpu, va };
        }
        this.page++;
      }
      this.reqIndex++;
      this.page = null;
    }
    return null;
  }

  skip(): void {
    if (!this.pending) throw new Error("skip: no event is pending");
    this.pending = false;
    this.reqIndex++;
    this.page = null;
  }

  /** One page access (docs/core.md section 4); a fault is returned after its counting and invalidations. */
  private accessPage(vcpu: number, va: number, kind: AccessKind, retry: boolean): Fault | null {
    const v = this.vcpuOf(vcpu);
    const c = v.counters;
    if (retry) {
      c.retries++;
    } else {
      c.requests++;
      c.requestsByKind[kind]++;
    }
    const cpu = this.pcpus[v.pcpu]!;
    if (this.config.model === "conformance") {
      conformanceAccess(cpu, c, this.touched, this.config.policy, va, kind);
      return null;
    }
    const vpid = v.vm + 1;
    const pcid = v.pcid;

    // 1. L1, 2. STLB, 3. walk.
    let t = this.probeL1(cpu, c, vpid, pcid, va, kind);
    if (!t) {
      c.l1Misses++;
      t = this.probeStlb(cpu, c, vpid, pcid, va, kind);
      if (t) {
        this.fillL1(cpu, t, kind);
      } else {
        c.walks++;
        const r = this.walk(v, va, kind);
        if (!r.ok) return this.raise(v, va, r.fault);
        t = r.t;
        this.fillAfterWalk(cpu, t, kind);
      }
    }

    // 4. Checks; a write to a clean entry takes a dirty assist (a new walk) and is checked again.
    for (;;) {
      const fault = this.check(v, t, va, kind);
      if (fault) return this.raise(v, va, fault);
      if (kind !== WRITE || t.dirty) break;
      // Dirty assist: drop the address's entries in this context (globals too), walk again.
      c.dirtyAssists++;
      this.flushTlbs(cpu, (e) => e.vpid === vpid && (e.pcid === pcid || e.global), va);
      c.walks++;
      const r = this.walk(v, va, WRITE);
      if (!r.ok) return this.raise(v, va, r.fault);
      t = r.t;
      this.fillAfterWalk(cpu, t, kind);
    }

    // 5.
    c.data[t.tier]![kind]++;
    if (cpu.lines && cpu.linesData) {
      const len = Math.min(this.reqEnd, Math.floor(va / 4096) * 4096 + 4095) - va + 1;
      dataLines(cpu.lines, c, t.hpa + (va - t.vpn * 2 ** PAGE_SHIFT[t.size]), len, kind, t.tier, this.tierOf, v.sample);
    }
    return null;
  }

  /** Reading: an entry's tier is that of the host address of its first byte. */
  private walk(v: VcpuState, va: number, kind: AccessKind) {
    return walk({ mem: this.mem, vm: this.vmOf(v.vm), vpid: v.vm + 1, v, cpu: this.pcpus[v.pcpu]!, tierOf: this.tierOf }, va, kind);
  }

  private probeL1(cpu: PcpuState, c: Counters, vpid: number, pcid: number, va: number, kind: AccessKind): Translation | null {
    let t: Translation | null;
    if (kind === FETCH) {
      if ((t = cpu.itlb4k?.lookup(vpid, pcid, va, 0) ?? null)) c.itlb4kHits++;
      else if ((t = cpu.itlb2m?.lookup(vpid, pcid, va, 1) ?? null)) c.itlb2mHits++;
    } else {
      if ((t = cpu.dtlb4k?.lookup(vpid, pcid, va, 0) ?? null)) c.dtlb4kHits++;
      else if ((t = cpu.dtlb2m?.lookup(vpid, pcid, va, 1) ?? null)) c.dtlb2mHits++;
      else if ((t = cpu.dtlb1g?.lookup(vpid, pcid, va, 2) ?? null)) c.dtlb1gHits++;
    }
    if (t) c.l1Hits++;
    return t;
  }

  private probeStlb(cpu: PcpuState, c: Counters, vpid: number, pcid: number, va: number, kind: AccessKind): Translation | null {
    let t: Translation | null;
    if ((t = cpu.stlb?.lookup(vpid, pcid, va, 0) ?? null)) c.stlbHits4k++;
    else if ((t = cpu.stlb?.lookup(vpid, pcid, va, 1) ?? null)) c.stlbHits2m++;
    else if (kind !== FETCH && (t = cpu.stlb1g?.lookup(vpid, pcid, va, 2) ?? null)) c.stlbHits1g++;
    if (t) c.stlbHits++;
    return t;
  }

  /** The L1 of the entry's size for this kind (a fetch never has a 1 GiB entry). */
  private fillL1(cpu: PcpuState, t: Translation, kind: AccessKind): void {
    const l1 = kind === FETCH ? [cpu.itlb4k, cpu.itlb2m, null][t.size] : [cpu.dtlb4k, cpu.dtlb2m, cpu.dtlb1g][t.size];
    l1?.fill(t);
  }

  private fillAfterWalk(cpu: PcpuState, t: Translation, kind: AccessKind): void {
    (t.size === 2 ? cpu.stlb1g : cpu.stlb)?.fill(t);
    this.fillL1(cpu, t, kind);
  }

  /** Step 4 on a translation: legacy rights, keys, EPT rights. */
  private check(v: VcpuState, t: Translation, va: number, kind: AccessKind): Fault | null {
    const error = rightsFault(v, kind, t.w, t.u, t.xd, t.key);
    if (error) return { type: "page-fault", error };
    const allowed = kind === FETCH ? t.eptX : kind === WRITE ? t.eptW : t.eptR;
    if (!allowed) {
      const rights = (t.eptR ? 1 : 0) | (t.eptW ? 2 : 0) | (t.eptX ? 4 : 0);
      return {
        type: "ept-violation",
        gpa: t.gpa + (va % 2 ** PAGE_SHIFT[t.size]),
        qualification: eptAccessBits(kind) | (rights << 3) | (1 << 7) | (1 << 8),
      };
    }
    return null;
  }

  /** Counts a fault and makes the invalidations it implies (section 4 step 4). */
  private raise(v: VcpuState, va: number, fault: Fault): Fault {
    const c = v.counters;
    const vpid = v.vm + 1;
    const cpu = this.pcpus[v.pcpu]!;
    const inCtx = (e: { vpid: number; pcid: number; global?: boolean }) => e.vpid === vpid && (e.pcid === v.pcid || e.global === true);
    // Reading: `faults` counts every event (and first touches in conformance mode).
    c.faults++;
    switch (fault.type) {
      case "page-fault":
        if (fault.error & PF_RSVD) c.rsvdFaults++;
        else if (fault.error & PF_PK) c.keyFaults++;
        else if (fault.error & PF_P) c.protFaults++;
        else c.pageFaults++;
        this.flushTlbs(cpu, inCtx, va);
        this.flushPscs(cpu, (p) => p.vpid === vpid && p.pcid === v.pcid, va);
        break;
      case "ept-violation": {
        c.eptViolations++;
        this.flushTlbs(cpu, inCtx, va);
        const gpfn = Math.floor(fault.gpa / 4096);
        const ntlb = cpu.ntlb;
        if (ntlb) ntlb.remove((n) => n.vpid === vpid && n.gpfn === gpfn, gpfn % ntlb.sets);
        break;
      }
      case "ept-misconfig":
        c.eptMisconfigs++;
        break;
    }
    return fault;
  }

  // ------------------------------------------------------------------ counters

  counters(vcpu: number): Counters {
    const v = this.vcpuOf(vcpu);
    const c = copyCounters(v.counters);
    if (v.sample) estimateLines(c, v.sample.dataLines, v.sample.k);
    return c;
  }

  resetCounters(): void {
    for (const v of this.vcpus) {
      if (!v) continue;
      v.counters = newCounters();
      v.sample = this.newSample();
    }
  }
}

function checkFrame(field: string, addr: number): void {
  if (!Number.isInteger(addr) || addr < 0 || addr >= PHYS_LIMIT || addr % 4096 !== 0) {
    throw new RangeError(`${field}: ${addr} is not a 4 KiB-aligned physical address below 2^46`);
  }
}

function checkVa(va: number): void {
  if (!Number.isInteger(va) || va < 0 || va >= VIRT_LIMIT) throw new RangeError(`va: ${va} is not an address below 2^48`);
}

export function createReferenceCore(config: CoreConfig): MmuCore {
  return new ReferenceCore(config);
}
