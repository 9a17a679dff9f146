/**
 * The contract of the translation core (docs/core.md), shared by the WebAssembly core
 * (`WasmCore`) and the TypeScript reference model used by the differential tests.
 */

/** Page sizes as codes: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB. */
export type PageSizeCode = 0 | 1 | 2;
export const PAGE_SHIFT = [12, 21, 30] as const;
export const PAGE_BYTES = [4096, 2 * 1024 * 1024, 1024 * 1024 * 1024] as const;

/** Access kinds: 0 = instruction fetch, 1 = read, 2 = write. */
export type AccessKind = 0 | 1 | 2;
export const FETCH = 0;
export const READ = 1;
export const WRITE = 2;
export const KIND_NAMES = ["fetch", "read", "write"] as const;

/** One set-associative structure; `entries` 0 means the structure is absent. */
export interface Geometry {
  entries: number;
  ways: number;
}

/** The TLB structures of one physical CPU (docs/core.md section 3). */
export interface TlbGeometry {
  itlb4k: Geometry;
  itlb2m: Geometry;
  dtlb4k: Geometry;
  dtlb2m: Geometry;
  dtlb1g: Geometry;
  stlb: Geometry;
  stlb1g: Geometry;
}

export const TLB_NAMES = ["itlb4k", "itlb2m", "dtlb4k", "dtlb2m", "dtlb1g", "stlb", "stlb1g"] as const;
export type TlbName = (typeof TLB_NAMES)[number];

export type Replacement = "lru" | "fifo" | "random";

/** Guest paging-structure caches: PML4E, PDPTE and PDE caches. */
export interface PscGeometry {
  pml4: Geometry;
  pdpt: Geometry;
  pd: Geometry;
}

/** A range of host-physical memory that belongs to one tier (index in the array). */
export interface TierRange {
  base: number;
  size: number;
}

export const MAX_TIERS = 8;

export interface CoreConfig {
  /** `full`: page tables, walks, rights; `conformance`: REFERENCE.md section 9. */
  model: "full" | "conformance";
  /** Page size of the conformance model (ignored by `full`). */
  policy: "4k" | "2m";
  tlb: TlbGeometry;
  replacement: Replacement;
  /** Seed of the `random` replacement stream. */
  seed: number;
  /** Paging-structure caches; null = off. */
  psc: PscGeometry | null;
  /** Nested TLB (gPA -> hPA of guest page-table pages); null = off. */
  ntlb: Geometry | null;
  pcpus: number;
  vcpus: number;
  vms: number;
  /** Host-physical ranges of the memory tiers, at most MAX_TIERS; an address outside every range counts as the last tier. */
  tiers: TierRange[];
  /** Slab heaps the core can hold (default: one per VM). */
  slabHeaps?: number;
  /** Requests the core's buffer holds, 1024 .. 2^20 (default 2^20: 16 MiB). */
  requestBuffer?: number;
  /** The line cache (docs/core.md 5b): entries are 64-byte lines; null or absent = off. */
  lineCache?: Geometry | null;
  /** Whether data accesses use the line cache too (else only walk references). */
  lineCacheData?: boolean;
  /**
   * Set sampling of the line cache: model 1 set in this many (a power of two, 1 .. its
   * sets; default 1, every set) and estimate the line counters from them
   * (src/core/sampling.ts). Faster; its counts are estimates.
   */
  lineSampling?: number;
  /**
   * Run the line cache on a worker thread (Node only; docs/core.md section 5c): the
   * same counts, computed in parallel with the translation and the host's models.
   * Needs a line cache and LRU or FIFO replacement. Only `WasmCore.create` starts the
   * thread; call `close()` when done with the core.
   */
  lineThread?: boolean;
}

/** Control bits of a vCPU (docs/core.md section 1). */
export interface VcpuControl {
  cpl: 0 | 3;
  wp: boolean;
  pke: boolean;
  pks: boolean;
  nxe: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
}

export const DEFAULT_CONTROL: VcpuControl = {
  cpl: 3,
  wp: true,
  pke: true,
  pks: false,
  nxe: true,
  smep: false,
  smap: false,
  ac: false,
};

export interface GuestAttrs {
  /** R/W */
  w: boolean;
  /** U/S */
  u: boolean;
  xd: boolean;
  g: boolean;
  /** protection key 0..15 */
  key: number;
}

export interface EptAttrs {
  r: boolean;
  w: boolean;
  x: boolean;
  /** memory type, 0..7 (6 = write-back) */
  memType: number;
}

/** Result of a map, unmap or protect operation. */
export type MapStatus = "ok" | "conflict" | "no-frames" | "unbacked" | "not-mapped";

/** An entry read back: level 4 (PML4) .. 1 (PT); `raw` is the 64-bit entry. */
export interface EntryInfo {
  level: number;
  raw: bigint;
}

export interface Request {
  vcpu: number;
  va: number;
  kind: AccessKind;
  size: number;
}

export type CoreEvent =
  | { type: "page-fault"; index: number; vcpu: number; va: number; error: number }
  | { type: "ept-violation"; index: number; vcpu: number; va: number; gpa: number; qualification: number }
  | { type: "ept-misconfig"; index: number; vcpu: number; va: number; gpa: number };

/** Events of slab operations in a batch (the Wasm core's allocation fast path). */
export type SlabEvent =
  /** A slab allocation found its size class empty: add a page, then run again. */
  | { type: "slab-empty"; index: number; heap: number; sizeClass: number }
  /** A slab free of an address that is no live object. */
  | { type: "bad-free"; index: number; heap: number; va: number; reason: BadFreeReason };

export type BadFreeReason = "foreign" | "misaligned" | "double-free";

/** #PF error code bits. */
export const PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_ID = 16, PF_PK = 32;

/** Per-vCPU counters (docs/core.md section 8). */
export interface Counters {
  requests: number;
  requestsByKind: [number, number, number];
  retries: number;
  l1Hits: number;
  l1Misses: number;
  itlb4kHits: number;
  itlb2mHits: number;
  dtlb4kHits: number;
  dtlb2mHits: number;
  dtlb1gHits: number;
  stlbHits: number;
  stlbHits4k: number;
  stlbHits2m: number;
  stlbHits1g: number;
  walks: number;
  walkRefs: number;
  walkRefsGuest: number;
  walkRefsEpt: number;
  refsByTier: number[];
  pwcHits: [number, number, number];
  pwcMisses: number;
  ntlbHits: number;
  ntlbMisses: number;
  faults: number;
  pageFaults: number;
  protFaults: number;
  rsvdFaults: number;
  keyFaults: number;
  eptViolations: number;
  eptMisconfigs: number;
  dirtyAssists: number;
  aUpdates: number;
  dUpdates: number;
  eptAUpdates: number;
  eptDUpdates: number;
  /** data[tier][kind]: successful page accesses by tier of the data page and kind. */
  data: number[][];
  /** Walk references whose line hit the line cache (0 without one). */
  walkRefsCached: number;
  /** Walk references that missed the line cache, by tier of the table page. */
  refMissesByTier: number[];
  /** Data lines that hit the line cache, by kind. */
  dataLineHits: [number, number, number];
  /** dataLineMisses[tier][kind]: data lines that missed the line cache. */
  dataLineMisses: number[][];
  /** Dirty lines written back to memory, by tier. */
  writebacks: number[];
}

/**
 * The translation core. Every address is a number below 2^48 (virtual) or 2^46
 * (physical). Operations on page tables never flush; flush explicitly.
 */
export interface MmuCore {
  readonly config: CoreConfig;

  createVm(vm: number, opts?: { eptAD?: boolean }): void;
  destroyVm(vm: number): void;
  /** Queue frames for new EPT tables (host-physical addresses, 4 KiB aligned). */
  addEptFrames(vm: number, hpas: number[]): void;
  /** Queue frames for new guest tables: guest-physical frames the EPT already maps, 4 KiB aligned. */
  addGuestFrames(vm: number, frames: { gpa: number; hpa: number }[]): void;
  framesAvailable(vm: number): { ept: number; guest: number };

  eptMap(vm: number, gpa: number, hpa: number, size: PageSizeCode, attrs: EptAttrs): MapStatus;
  eptUnmap(vm: number, gpa: number, size: PageSizeCode): MapStatus;
  eptProtect(vm: number, gpa: number, size: PageSizeCode, attrs: EptAttrs): MapStatus;
  eptEntry(vm: number, gpa: number): EntryInfo;
  eptWriteRaw(vm: number, gpa: number, level: number, raw: bigint): MapStatus;

  gptNewRoot(vm: number): number;
  gptMap(vm: number, root: number, va: number, gpa: number, size: PageSizeCode, attrs: GuestAttrs): MapStatus;
  gptUnmap(vm: number, root: number, va: number, size: PageSizeCode): MapStatus;
  gptProtect(vm: number, root: number, va: number, size: PageSizeCode, attrs: GuestAttrs): MapStatus;
  gptEntry(vm: number, root: number, va: number): EntryInfo;
  gptWriteRaw(vm: number, root: number, va: number, level: number, raw: bigint): MapStatus;

  createVcpu(vcpu: number, vm: number, pcpu: number): void;
  setCr3(vcpu: number, root: number, pcid: number, noflush: boolean): void;
  setPkru(vcpu: number, value: number): void;
  setPkrs(vcpu: number, value: number): void;
  setControl(vcpu: number, control: Partial<VcpuControl>): void;

  invlpg(vcpu: number, va: number): void;
  invpcid(vcpu: number, type: 0 | 1 | 2 | 3, pcid: number, va: number): void;
  invvpid(vm: number, type: 0 | 1 | 3, va: number): void;
  invept(vm: number): void;

  /** Queue requests; they run on the next `run()`. The queue must be empty (or finished). */
  submit(requests: Request[]): void;
  /** Runs queued requests until all are done (returns null) or an event needs the host. */
  run(): CoreEvent | null;
  /** Drops the rest of the request that raised the last event. */
  skip(): void;

  counters(vcpu: number): Counters;
  resetCounters(): void;
}

/** Counters at zero: every field, every tier. */
export function zeroCounters(): Counters {
  const tiers = (): number[] => new Array<number>(MAX_TIERS).fill(0);
  const byKind = (): number[][] => Array.from({ length: MAX_TIERS }, () => [0, 0, 0]);
  return {
    requests: 0, requestsByKind: [0, 0, 0], retries: 0, l1Hits: 0, l1Misses: 0,
    itlb4kHits: 0, itlb2mHits: 0, dtlb4kHits: 0, dtlb2mHits: 0, dtlb1gHits: 0,
    stlbHits: 0, stlbHits4k: 0, stlbHits2m: 0, stlbHits1g: 0,
    walks: 0, walkRefs: 0, walkRefsGuest: 0, walkRefsEpt: 0, refsByTier: tiers(),
    pwcHits: [0, 0, 0], pwcMisses: 0, ntlbHits: 0, ntlbMisses: 0,
    faults: 0, pageFaults: 0, protFaults: 0, rsvdFaults: 0, keyFaults: 0, eptViolations: 0, eptMisconfigs: 0,
    dirtyAssists: 0, aUpdates: 0, dUpdates: 0, eptAUpdates: 0, eptDUpdates: 0,
    data: byKind(),
    walkRefsCached: 0, refMissesByTier: tiers(), dataLineHits: [0, 0, 0], dataLineMisses: byKind(), writebacks: tiers(),
  };
}
