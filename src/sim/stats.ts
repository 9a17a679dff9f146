/**
 * Accounting: what the simulated VMs and host hold, per VM and host-wide, per tier, and
 * what the simulator itself costs. Plain functions over a `Simulator` (they read only
 * public state), so the simulator class stays small. docs/accounting.md defines every
 * figure; the short definitions are on the fields below.
 *
 * Reading the figures runs the queued accesses first (`sim.flush()`), so the counters
 * and the backing include every access made so far.
 *
 * @example
 * const sim = await Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 4 * GiB }] });
 * const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] });
 * const p = vm.process.malloc(1147);
 * vm.process.write(p, 1147);
 * const s = simStats(sim);
 * s.vms[0].app.requestedBytes;        // 1147
 * s.vms[0].memoryBytes;               // host bytes this VM holds (backing + EPT tables)
 * s.host.byTier.dram.bytesUsed;       // = sum over VMs of memoryBytesByTier.dram
 * s.vms[0].translation.tlbMissRate;   // STLB misses per translation request
 */
import { zeroCounters, type Counters } from "../core/types.js";
import type { BackingStats } from "../host/hypervisor.js";
import { LINEAR_BASE } from "../guest/guest.js";
import type { AccessFault, Simulator } from "./simulator.js";
import type { Vm } from "./vm.js";

const PAGE_4K = 4096;
const PAGE_2M = 2 ** 21;
const PAGE_1G = 2 ** 30;

/** Counts by page size. */
export interface BySize {
  "4k": number;
  "2m": number;
  "1g": number;
}

/** The allocator's three figures for one tier (or in total): requested <= allocated <= held. */
export interface AppBytes {
  /** Bytes the application asked for (sum of live malloc sizes). */
  requestedBytes: number;
  /** Bytes its live allocations occupy: size classes, page rounding, headers counted against them. */
  allocatedBytes: number;
  /** Guest memory the allocator holds (slab pages, pages, mappings), in use or free. */
  heldBytes: number;
}

export interface AppStats extends AppBytes {
  /** allocated - requested: the internal fragmentation of the size classes and page rounding. */
  internalFragmentationBytes: number;
  /** held - allocated: free room inside memory the allocator holds (free slots, free pages, spare frames). */
  freeHeldBytes: number;
  /** The allocator's own metadata as it reports it (inside or outside its pages, per allocator; see docs/accounting.md). */
  metadataBytes: number;
  liveObjects: number;
  mallocs: number;
  frees: number;
  byTier: Record<string, AppBytes>;
}

/** Guest pages by size; see docs/accounting.md "Guest pages touched". */
export interface GuestPages {
  /** Pages of anonymous mappings the guest mapped (on a fault or populated at once); cumulative since boot. */
  mapped: BySize;
  /** Pages of the boot-time linear map whose guest leaf entry has its accessed bit set. */
  linearTouched: BySize;
  /** mapped + linearTouched. */
  touched: BySize;
}

/** Page-table pages of one translation layer. */
export interface TablePages {
  /** Pages taken for tables, the queued reserve included (what memory they cost). */
  pages: number;
  /** Pages the core holds as tables now. */
  inUse: number;
  /** Bytes of `pages` by the tier of the host frame behind them. */
  bytesByTier: Record<string, number>;
}

/** The back-end's figures for one VM (BackingStats, with totals). */
export interface Backing {
  /** Host bytes backing guest memory, by tier (guest page tables included: they are guest memory). */
  bytesByTier: Record<string, number>;
  bytes: number;
  /** Host frames backing guest memory, by size. */
  frames: BySize;
  /** bytes / 4096: the 4 KiB pages the host had to provide ("touched 4 KiB-equivalent pages"). */
  pages4kEquivalent: number;
  /** Backings that got a smaller EPT page than the policy wanted (host fragmentation). */
  smallerFallbacks: number;
  /** Backings placed in another tier than the first choice. */
  tierFallbacks: number;
  /** Backings refused for want of host memory (the guest saw out-of-memory). */
  outOfMemory: number;
}

/** Translation figures from the core's counters. */
export interface TranslationStats {
  /** Page accesses (a range crossing pages counts once per page). */
  requests: number;
  /** Page accesses attempted again after an event (page fault, EPT violation). */
  retries: number;
  l1Hits: number;
  l1Misses: number;
  stlbHits: number;
  /** Misses of the last TLB level: walks minus dirty-assist walks. */
  stlbMisses: number;
  walks: number;
  dirtyAssists: number;
  walkRefs: number;
  walkRefsGuest: number;
  walkRefsEpt: number;
  /** Walk references by the tier of the table page read. */
  refsByTier: Record<string, number>;
  /** Successful page accesses by the tier of the data's host frame. */
  accessesByTier: Record<string, number>;
  /** stlbMisses / requests (0 without requests). */
  tlbMissRate: number;
  /** walkRefs / requests (0 without requests). */
  walkRefsPerRequest: number;
  pageFaults: number;
  eptViolations: number;
}

export interface VmStats {
  vm: number;
  policy: string;
  allocator: string;
  app: AppStats;
  guestPages: GuestPages;
  guestTables: TablePages;
  eptTables: TablePages;
  backing: Backing;
  /** Host bytes this VM holds: backing + EPT table pages. */
  memoryBytes: number;
  memoryBytesByTier: Record<string, number>;
  /** Bytes of guest and EPT table pages (guest ones are part of `backing` too). */
  pageTableBytes: number;
  /** held - requested: bytes the heap holds that no live request uses. */
  fragmentationBytes: number;
  translation: TranslationStats;
  /** Faults the guest saw while its accesses ran, by kind (of the first 1000 the VM keeps). */
  faults: Record<AccessFault["kind"], number>;
}

/** One host tier. */
export interface HostTierStats {
  capacity: number;
  bytesUsed: number;
  bytesFree: number;
  /** Host frames in use by size (EPT table pages and guest backing alike). */
  frames: BySize;
  /** Free bytes in blocks smaller than 2 MiB: free, yet useless to a 2 MiB EPT page. */
  unusableFor2M: number;
  unusableFor1G: number;
  /** The largest order with a free block (0 = 4 KiB, 9 = 2 MiB, 18 = 1 GiB), -1 when full. */
  largestFreeOrder: number;
}

export interface HostStats {
  capacity: number;
  bytesUsed: number;
  bytesFree: number;
  byTier: Record<string, HostTierStats>;
  allocs: number;
  frees: number;
  failures: number;
  tierFallbacks: number;
  smallerFallbacks: number;
}

/** What the simulator itself costs (not the modelled memory). */
export interface SimulatorMemory {
  /** The Wasm core's memory in use (its heap top): tables, TLBs, slab records, buffers. */
  coreBytes: number;
  /** The host frame allocators' estimated own memory (HostMemory.bytesOverhead). */
  hostAllocatorBytes: number;
  /** The guests' frame allocators' estimated own memory (each node's BuddyAllocator). */
  guestAllocatorBytes: number;
  /** coreBytes + hostAllocatorBytes + guestAllocatorBytes: deterministic for a scenario. */
  totalBytes: number;
  /**
   * The JS heap in use plus typed-array buffers outside it (the allocators' records;
   * process.memoryUsage() heapUsed + arrayBuffers), or null where unknown (browsers);
   * not deterministic.
   */
  heapUsedBytes: number | null;
}

/** Sums over the VMs (each figure as in VmStats). */
export interface VmTotals {
  app: AppBytes & { byTier: Record<string, AppBytes> };
  guestPages: GuestPages;
  guestTablePages: number;
  eptTablePages: number;
  backingBytesByTier: Record<string, number>;
  eptTableBytesByTier: Record<string, number>;
  memoryBytes: number;
  memoryBytesByTier: Record<string, number>;
  pageTableBytes: number;
  fragmentationBytes: number;
  translation: TranslationStats;
}

export interface SimStats {
  tiers: string[];
  vms: VmStats[];
  totals: VmTotals;
  host: HostStats;
  simulator: SimulatorMemory;
}

// ---- helpers -------------------------------------------------------------------------

function zeroBy(tiers: readonly string[]): Record<string, number> {
  return Object.fromEntries(tiers.map((t) => [t, 0]));
}

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function sizes(): BySize {
  return { "4k": 0, "2m": 0, "1g": 0 };
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

// ---- per VM --------------------------------------------------------------------------

/** The allocator's figures, with every tier of the host present (zero when unused). */
export function appStats(vm: Vm, tiers: readonly string[]): AppStats {
  const s = vm.allocator.stats();
  const byTier: Record<string, AppBytes> = Object.fromEntries(tiers.map((t) => [t, { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 }]));
  for (const [t, b] of Object.entries(s.byTier)) {
    const into = (byTier[t] ??= { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 });
    into.requestedBytes += b.requestedBytes;
    into.allocatedBytes += b.allocatedBytes;
    into.heldBytes += b.heldBytes;
  }
  return {
    requestedBytes: s.requestedBytes,
    allocatedBytes: s.allocatedBytes,
    heldBytes: s.heldBytes,
    internalFragmentationBytes: s.allocatedBytes - s.requestedBytes,
    freeHeldBytes: s.heldBytes - s.allocatedBytes,
    metadataBytes: s.metadataBytes,
    liveObjects: s.liveObjects,
    mallocs: s.mallocs,
    frees: s.frees,
    byTier,
  };
}

/**
 * Linear-map pages whose guest leaf entry has A = 1, by size. The linear map is mapped
 * at boot, so being mapped says nothing; the accessed bit, which the walker sets on the
 * first access that walks through the entry (docs/core.md section 5), is the hardware's
 * own record of a touch. One entry read per linear page: a 64 MiB VM costs 32.
 */
export function linearTouched(vm: Vm): BySize {
  const out = sizes();
  const core = vm.sim.core;
  const root = vm.guest.kernelRoot;
  for (const n of vm.guest.nodes) {
    for (let gpa = n.base; gpa < n.base + n.bytes; ) {
      const e = core.gptEntry(vm.id, root, LINEAR_BASE + gpa);
      const present = (e.raw & 1n) === 1n;
      const leaf = e.level === 1 || (present && (e.raw & 0x80n) !== 0n);
      const bytes = e.level === 3 && leaf ? PAGE_1G : e.level === 1 ? PAGE_4K : PAGE_2M;
      if (present && leaf && (e.raw & 0x20n) !== 0n) out[bytes === PAGE_1G ? "1g" : bytes === PAGE_2M ? "2m" : "4k"]++;
      gpa = gpa - (gpa % bytes) + bytes;
    }
  }
  return out;
}

/** Guest pages by size: anonymous pages mapped, linear-map pages touched, and their sum. */
export function guestPages(vm: Vm): GuestPages {
  const c = vm.guest.counts;
  const mapped: BySize = { "4k": c.pages4k, "2m": c.pages2m, "1g": c.pages1g };
  const linear = linearTouched(vm);
  return {
    mapped,
    linearTouched: linear,
    touched: { "4k": mapped["4k"] + linear["4k"], "2m": mapped["2m"] + linear["2m"], "1g": mapped["1g"] + linear["1g"] },
  };
}

/**
 * The guest's page-table pages: taken (GuestOs.counts.tablePages, the queued reserve
 * included), in use (the core's list), and where they live: the tier of the host frame
 * behind each page in use; the reserve (at most a dozen pages) is charged to the tier
 * behind the metadata node's first table page, where the guest takes them from.
 */
export function guestTables(vm: Vm, tiers: readonly string[]): TablePages {
  const host = vm.sim.host;
  const used = vm.sim.core.tableFrames(vm.id).guest;
  const bytesByTier = zeroBy(tiers);
  for (const f of used) bytesByTier[host.tierOf(f.hpa) ?? tiers[tiers.length - 1]!] += PAGE_4K;
  const pages = vm.guest.counts.tablePages;
  const reserve = pages - used.length;
  if (reserve > 0) {
    const first = used[0];
    const tier = (first && host.tierOf(first.hpa)) ?? vm.guest.nodes[vm.guest.metadataNode]!.tier;
    bytesByTier[tier] += reserve * PAGE_4K;
  }
  return { pages, inUse: used.length, bytesByTier };
}

/** The EPT's table pages: taken by the hypervisor (its pool of 3 included) and in use. */
export function eptTables(vm: Vm, b: BackingStats, tiers: readonly string[]): TablePages {
  const bytesByTier = zeroBy(tiers);
  addInto(bytesByTier, b.eptTableBytesByTier);
  return { pages: b.eptTablePages, inUse: vm.sim.core.tableFrames(vm.id).ept.length, bytesByTier };
}

/** Translation figures from counters, with per-tier arrays keyed by tier name. */
export function translationStats(c: Counters, tiers: readonly string[]): TranslationStats {
  const refsByTier = zeroBy(tiers);
  const accessesByTier = zeroBy(tiers);
  // the core counts by tier index (the host's tier order); an address in no tier counts as the last
  c.refsByTier.forEach((n, i) => {
    if (n) refsByTier[tiers[Math.min(i, tiers.length - 1)]!] += n;
  });
  c.data.forEach((byKind, i) => {
    const n = byKind.reduce((a, x) => a + x, 0);
    if (n) accessesByTier[tiers[Math.min(i, tiers.length - 1)]!] += n;
  });
  const stlbMisses = c.walks - c.dirtyAssists;
  return {
    requests: c.requests,
    retries: c.retries,
    l1Hits: c.l1Hits,
    l1Misses: c.l1Misses,
    stlbHits: c.stlbHits,
    stlbMisses,
    walks: c.walks,
    dirtyAssists: c.dirtyAssists,
    walkRefs: c.walkRefs,
    walkRefsGuest: c.walkRefsGuest,
    walkRefsEpt: c.walkRefsEpt,
    refsByTier,
    accessesByTier,
    tlbMissRate: ratio(stlbMisses, c.requests),
    walkRefsPerRequest: ratio(c.walkRefs, c.requests),
    pageFaults: c.pageFaults,
    eptViolations: c.eptViolations,
  };
}

/** Every figure of one VM. Runs the simulator's queued accesses first. */
export function vmStats(vm: Vm): VmStats {
  const sim = vm.sim;
  sim.flush();
  const tiers = sim.host.tierNames();
  const b = vm.hv.stats(vm.id);
  const backingBytesByTier = zeroBy(tiers);
  addInto(backingBytesByTier, b.bytesByTier);
  const backingBytes = Object.values(backingBytesByTier).reduce((a, x) => a + x, 0);
  const ept = eptTables(vm, b, tiers);
  const memoryBytesByTier = zeroBy(tiers);
  addInto(memoryBytesByTier, backingBytesByTier);
  addInto(memoryBytesByTier, ept.bytesByTier);
  const gt = guestTables(vm, tiers);
  const app = appStats(vm, tiers);
  const faults: Record<AccessFault["kind"], number> = { segfault: 0, protection: 0, key: 0, oom: 0, "ept-misconfig": 0 };
  for (const f of vm.faults) faults[f.kind]++;
  return {
    vm: vm.id,
    policy: vm.policy,
    allocator: vm.allocator.name,
    app,
    guestPages: guestPages(vm),
    guestTables: gt,
    eptTables: ept,
    backing: {
      bytesByTier: backingBytesByTier,
      bytes: backingBytes,
      frames: { ...b.frames },
      pages4kEquivalent: backingBytes / PAGE_4K,
      smallerFallbacks: b.smallerFallbacks,
      tierFallbacks: b.tierFallbacks,
      outOfMemory: b.outOfMemory,
    },
    memoryBytes: backingBytes + ept.pages * PAGE_4K,
    memoryBytesByTier,
    pageTableBytes: (gt.pages + ept.pages) * PAGE_4K,
    fragmentationBytes: app.heldBytes - app.requestedBytes,
    translation: translationStats(vm.counters(), tiers),
    faults,
  };
}

// ---- host-wide -----------------------------------------------------------------------

/** The host's tiers: bytes, frames by size, fragmentation. */
export function hostStats(sim: Simulator): HostStats {
  const h = sim.host.stats();
  const byTier: Record<string, HostTierStats> = {};
  for (const t of h.tiers) {
    byTier[t.name] = {
      capacity: t.capacity,
      bytesUsed: t.bytesUsed,
      bytesFree: t.bytesFree,
      frames: { "4k": t.frames4k, "2m": t.frames2m, "1g": t.frames1g },
      unusableFor2M: t.unusableFor2M,
      unusableFor1G: t.unusableFor1G,
      largestFreeOrder: t.largestFreeOrder,
    };
  }
  return {
    capacity: h.capacity,
    bytesUsed: h.bytesUsed,
    bytesFree: h.bytesFree,
    byTier,
    allocs: h.allocs,
    frees: h.frees,
    failures: h.failures,
    tierFallbacks: h.tierFallbacks,
    smallerFallbacks: h.smallerFallbacks,
  };
}

/**
 * The simulator's own memory: the core, the host's frame allocators and the guests'
 * frame allocators (estimates where JS hides object sizes), and the JS heap in use.
 * The JS objects of the hypervisor and the heap allocators (maps of backed pages and
 * live objects) are only in `heapUsedBytes`.
 */
export function simulatorMemory(sim: Simulator): SimulatorMemory {
  const coreBytes = sim.core.memoryBytes();
  const hostAllocatorBytes = sim.host.bytesOverhead();
  let guestAllocatorBytes = 0;
  for (const vm of sim.allVms()) for (const n of vm.guest.nodes) guestAllocatorBytes += n.frames.bytesOverhead();
  const proc = (globalThis as { process?: { memoryUsage?: () => { heapUsed: number; arrayBuffers: number } } }).process;
  return {
    coreBytes,
    hostAllocatorBytes,
    guestAllocatorBytes,
    totalBytes: coreBytes + hostAllocatorBytes + guestAllocatorBytes,
    heapUsedBytes: typeof proc?.memoryUsage === "function" ? ((m) => m.heapUsed + m.arrayBuffers)(proc.memoryUsage()) : null,
  };
}

function addTranslation(into: TranslationStats, t: TranslationStats): void {
  for (const k of ["requests", "retries", "l1Hits", "l1Misses", "stlbHits", "stlbMisses", "walks", "dirtyAssists", "walkRefs", "walkRefsGuest", "walkRefsEpt", "pageFaults", "eptViolations"] as const) {
    into[k] += t[k];
  }
  addInto(into.refsByTier, t.refsByTier);
  addInto(into.accessesByTier, t.accessesByTier);
}

/** Sums of the VMs' figures (rates recomputed from the sums). */
export function totals(vms: readonly VmStats[], tiers: readonly string[]): VmTotals {
  const byTier: Record<string, AppBytes> = Object.fromEntries(tiers.map((t) => [t, { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 }]));
  const t: VmTotals = {
    app: { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0, byTier },
    guestPages: { mapped: sizes(), linearTouched: sizes(), touched: sizes() },
    guestTablePages: 0,
    eptTablePages: 0,
    backingBytesByTier: zeroBy(tiers),
    eptTableBytesByTier: zeroBy(tiers),
    memoryBytes: 0,
    memoryBytesByTier: zeroBy(tiers),
    pageTableBytes: 0,
    fragmentationBytes: 0,
    translation: translationStats(emptyCounters(), tiers),
  };
  for (const v of vms) {
    t.app.requestedBytes += v.app.requestedBytes;
    t.app.allocatedBytes += v.app.allocatedBytes;
    t.app.heldBytes += v.app.heldBytes;
    for (const [tier, b] of Object.entries(v.app.byTier)) {
      const into = (byTier[tier] ??= { requestedBytes: 0, allocatedBytes: 0, heldBytes: 0 });
      into.requestedBytes += b.requestedBytes;
      into.allocatedBytes += b.allocatedBytes;
      into.heldBytes += b.heldBytes;
    }
    for (const k of ["mapped", "linearTouched", "touched"] as const) {
      for (const s of ["4k", "2m", "1g"] as const) t.guestPages[k][s] += v.guestPages[k][s];
    }
    t.guestTablePages += v.guestTables.pages;
    t.eptTablePages += v.eptTables.pages;
    addInto(t.backingBytesByTier, v.backing.bytesByTier);
    addInto(t.eptTableBytesByTier, v.eptTables.bytesByTier);
    t.memoryBytes += v.memoryBytes;
    addInto(t.memoryBytesByTier, v.memoryBytesByTier);
    t.pageTableBytes += v.pageTableBytes;
    t.fragmentationBytes += v.fragmentationBytes;
    addTranslation(t.translation, v.translation);
  }
  t.translation.tlbMissRate = ratio(t.translation.stlbMisses, t.translation.requests);
  t.translation.walkRefsPerRequest = ratio(t.translation.walkRefs, t.translation.requests);
  return t;
}

function emptyCounters(): Counters {
  return zeroCounters();
}

/**
 * Everything: each live VM, their sums, the host's tiers and the simulator's own memory.
 * Runs the queued accesses first.
 *
 * @example
 * const s = simStats(sim);
 * s.totals.memoryBytesByTier.dram === s.host.byTier.dram.bytesUsed; // when every VM that took memory is live
 */
export function simStats(sim: Simulator): SimStats {
  sim.flush();
  const tiers = sim.host.tierNames();
  const vms = sim.allVms().map(vmStats);
  return { tiers, vms, totals: totals(vms, tiers), host: hostStats(sim), simulator: simulatorMemory(sim) };
}
