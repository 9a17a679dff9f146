/**
 * CPU presets of the cost model: TLB and walk-cache geometry, latencies and the costs of
 * the operations the Iso-UniK and UCat models charge. Every number carries its source or
 * is marked as a guess with its reason (see sourced.ts and docs/parameters.md).
 *
 * Units: cycles of the core clock, entries and ways, Hz. Memory tiers (ns, bytes/s) are
 * in tiers.ts; `nsToCycles` converts with a preset's frequency.
 */

import type { Geometry, PscGeometry, TlbGeometry } from "../core/types.js";
import { REFS } from "./refs.js";
import { guess, src, unwrap, type Sourced } from "./sourced.js";

/** Latencies, in core cycles, of the translation path. */
export interface CpuLatencies {
  /** Extra cycles an L1 TLB hit adds to a load (0: the lookup overlaps the L1D access). */
  l1TlbHit: number;
  /** Extra cycles when the L1 TLB misses and the STLB hits. */
  stlbHit: number;
  /** Extra cycles for probing the paging-structure caches at the start of a walk. */
  pscLookup: number;
  /** Cycles of one page-walk reference whose line hits in the L1 data cache. */
  walkRefL1d: number;
  /** ... whose line hits in the L2 cache. */
  walkRefL2: number;
  /** ... whose line hits in the last-level cache. A miss costs the tier's latency. */
  walkRefLlc: number;
}

/** Costs, in core cycles, of the operations the guest and host models charge. */
export interface CpuCosts {
  /** WRPKRU (write the protection-key rights register). */
  wrpkru: number;
  /** RDPKRU. */
  rdpkru: number;
  /** A near call and its return, both predicted. */
  callRet: number;
  /** SYSCALL into a minimal kernel handler and SYSRET back, no mitigations (a unikernel). */
  syscallSysret: number;
  /** A null Linux system call with the default speculative-execution mitigations. */
  linuxSyscall: number;
  /** A null Linux system call with mitigations off. */
  linuxSyscallNoMitigations: number;
  /** A light VM exit handled in the hypervisor's kernel part and the VM entry back. */
  vmExitRoundTrip: number;
  /** #PF delivery, handler entry and exit (IRET) in a unikernel, without the handler's work. */
  pageFaultUnikernel: number;
  /** #PF delivery, handler entry and exit in Linux with mitigations, without the handler's work. */
  pageFaultLinux: number;
  /** INVLPG of one page. */
  invlpg: number;
  /** MOV to CR3 without PCID (the instruction; the TLB refills are modelled separately). */
  movCr3: number;
  /** MOV to CR3 with PCID and the no-flush bit. */
  movCr3Pcid: number;
  /** Copying a 4 KiB page whose source and destination are in DRAM, not cached. */
  pageCopy4k: number;
  /** Zeroing a 4 KiB page that is not cached. */
  pageZero4k: number;
}

export interface CpuPreset {
  name: string;
  /** The microarchitecture and the part the numbers describe. */
  label: string;
  frequencyHz: number;
  tlb: TlbGeometry;
  psc: PscGeometry;
  /** Nested TLB (gPA -> hPA of guest page-table pages), Bhargava et al. */
  ntlb: Geometry;
  /**
   * The line cache of the core's model (docs/core.md 5b): the cache capacity one core's
   * page-table and data lines compete for (its L2 and a share of the LLC), in 64-byte
   * lines. A model of capacity, not a cache hierarchy.
   */
  lineCache: Geometry;
  /** Page walks that can be in flight at once. */
  pageWalkers: number;
  latency: CpuLatencies;
  costs: CpuCosts;
}

export const CPU_NAMES = ["skylake", "icelake", "goldencove", "zen4"] as const;
export type CpuName = (typeof CPU_NAMES)[number];

const g = (entries: number, ways: number, source: string, note?: string): Sourced<Geometry> => ({
  entries: src(entries, source, note),
  ways: src(ways, source, note),
});
const gGuess = (entries: number, ways: number, reason: string, note?: string): Sourced<Geometry> => ({
  entries: guess(entries, reason, note),
  ways: guess(ways, reason, note),
});

const REF6 = `${REFS.reference} sec. 6, from ${REFS.intelOpt}`;
const ICX = `${REFS.instlat}, GenuineIntel/GenuineIntel00606A6_ICX_04_CPUID.txt (Xeon Gold 6336Y), decoded per ${REFS.intelSdmLeaf18}`;
const SPR = `${REFS.instlat}, GenuineIntel/GenuineIntel00806F8_SapphireRapids_05_CPUID.txt (Xeon w7-2475X; identical in the Core i5-12400 dump GenuineIntel0090672_AlderLake_02_CPUID.txt), decoded per ${REFS.intelSdmLeaf18}`;
const GENOA = `${REFS.instlat}, AuthenticAMD/AuthenticAMD0A10F11_K19_Genoa_01_CPUID.txt (EPYC 9654) and AuthenticAMD0A60F12_K19_Raphael_04_NewMemLat.txt (Ryzen 9 7950X, same core, decoded TLB list), per ${REFS.amdApmCpuid}`;
const MEM_SKX = `${REFS.instlat}, GenuineIntel/GenuineIntel0050654_SkylakeX_NewMemLat.txt (Skylake-SP core, 1 MiB L2, mesh L3), Page_Random table`;
const MEM_RKL = `${REFS.instlat}, GenuineIntel/GenuineIntel00A0671_RocketLake_01_NewMemLat.txt (Cypress Cove, the 14 nm port of Sunny Cove), Page_Random table`;
const MEM_ADL = `${REFS.instlat}, GenuineIntel/GenuineIntel0090672_AlderLake_01_BC_NewMemLat.txt (Core i9-12900K P-core = Golden Cove), Page_Random table`;
const MEM_ZEN4 = `${REFS.instlat}, AuthenticAMD/AuthenticAMD0A60F12_K19_Raphael_04_NewMemLat.txt (Ryzen 9 7950X; the Zen 4 CCD of EPYC 9004), Page_Random table`;

const L1TLB_OVERLAP = `${REFS.caqa}: the L1 TLB is read in parallel with the virtually indexed, physically tagged L1D, so the load-to-use latency already includes it`;
const PSC_OVERLAP = "no published latency; the PSC probe overlaps the start of the walk, and a hit only removes references";
const NTLB_GUESS = `no vendor publishes a nested TLB (${REFS.bhargava}); sized like one PSC level`;
const ZEN4_PSC_NOTE = "Zen 4 caches page-directory entries in its L2 TLB instead of separate PSCs; approximated by the same PSC model";

/** Page copy and zeroing from an assumed single-core DRAM bandwidth: 3 x 4 KiB of traffic for a copy (read the source, read-for-ownership and write back the destination), 2 x 4 KiB for zeroing. */
function pageCosts(bandwidthGBs: number, frequencyHz: number, why: string): { pageCopy4k: ReturnType<typeof guess>; pageZero4k: ReturnType<typeof guess> } {
  const cycles = (bytes: number): number => Math.round((bytes / (bandwidthGBs * 1e9)) * frequencyHz);
  const ghz = frequencyHz / 1e9;
  return {
    pageCopy4k: guess(
      cycles(3 * 4096),
      `derived: 3 x 4 KiB of DRAM traffic (read source, RFO + write-back of destination) at an assumed single-core bandwidth of ${bandwidthGBs} GB/s, at ${ghz} GHz; ${why}`,
    ),
    pageZero4k: guess(
      cycles(2 * 4096),
      `derived: 2 x 4 KiB of DRAM traffic (RFO + write-back) at an assumed single-core bandwidth of ${bandwidthGBs} GB/s, at ${ghz} GHz; ${why}`,
    ),
  };
}

const SAME_AS_SKYLAKE = (what: string): string => `no measurement for this core found; Skylake's ${what} assumed`;

// ---------------------------------------------------------------------------------------

const skylake: Sourced<CpuPreset> = {
  name: "skylake",
  label: "Intel Skylake-SP (Xeon Gold 6154, 3.0 GHz); TLB geometry exactly REFERENCE.md sec. 6",
  frequencyHz: src(
    3_000_000_000,
    `${REFS.instlat}, GenuineIntel/GenuineIntel0050654_SkylakeXeon_CPUID.txt: Xeon Gold 6154, CPUID leaf 16H base frequency 3000 MHz`,
  ),
  tlb: {
    itlb4k: g(128, 8, REF6),
    itlb2m: g(8, 8, REF6, "8 entries per thread, fully associative"),
    dtlb4k: g(64, 4, REF6),
    dtlb2m: g(32, 4, REF6),
    dtlb1g: g(4, 4, REF6, "fully associative"),
    stlb: g(1536, 12, REF6, "holds 4 KiB and 2 MiB entries; CPUID leaf 2 descriptor C3h reports 6-way, the manual 12-way"),
    stlb1g: g(16, 4, REF6),
  },
  psc: {
    pml4: g(32, 4, REFS.virtuoso),
    pdpt: g(32, 4, REFS.virtuoso),
    pd: g(32, 4, REFS.virtuoso),
  },
  ntlb: gGuess(32, 4, NTLB_GUESS),
  lineCache: gGuess(32768, 16, "L2 (1 MiB, 16-way, Intel opt. manual) plus part of the core's 1.375 MiB LLC share, rounded to 2 MiB of 64 B lines (power-of-two sets)"),
  pageWalkers: src(2, REF6, "two page walks in parallel"),
  latency: {
    l1TlbHit: src(0, L1TLB_OVERLAP),
    stlbHit: src(9, `${REFS.reference} sec. 6 (STLB hit ~9-12 cycles)`, "low end of the range"),
    pscLookup: guess(0, PSC_OVERLAP),
    walkRefL1d: src(4, `${MEM_SKX}, rows up to 32 KiB; also ${REFS.intelOpt} (L1D 4 cycles)`),
    walkRefL2: src(14, `${MEM_SKX}, rows 192-256 KiB, stride >= 64 B`, "AnandTech quotes 11-13 cycles for the 1 MiB L2"),
    walkRefLlc: src(75, `${MEM_SKX}, rows 3-6 MiB, stride >= 64 B`, `${REFS.anandSkx} gives 77 cycles`),
  },
  costs: {
    wrpkru: src(25, `${REFS.reference} sec. 4 (WRPKRU ~20-30 cycles per libmpk / CryptoMPK; ERIM quotes 11-260)`, "middle of the 20-30 range"),
    rdpkru: guess(2, "no published figure; RDPKRU only reads a register and does not serialize, so a few cycles at most"),
    callRet: src(6, `${REFS.unikraft}, row fcall (median 6 cycles)`),
    syscallSysret: src(85, `${REFS.unikraft}, row unikraft scall (median 85 cycles: SYSCALL into the unikernel's handler and back)`),
    linuxSyscall: src(
      1200,
      `${REFS.reference} sec. 4 (null Linux syscall with mitigations ~1200 cycles on Skylake)`,
      "Skylake needs KPTI against Meltdown; Unikraft measured 605 cycles on a Meltdown-immune Coffee Lake-R",
    ),
    linuxSyscallNoMitigations: src(142, `${REFS.unikraft}, row linux-nomitig scall (median 142 cycles)`),
    vmExitRoundTrip: guess(
      1500,
      "hardware VM exit + entry take several hundred cycles on Sandy Bridge and later; KVM's exit handling and Spectre/L1TF mitigations roughly double it",
    ),
    pageFaultUnikernel: guess(300, "exception delivery and IRETQ are microcoded (~100-150 cycles each) plus register save/restore; no mitigations in a unikernel"),
    pageFaultLinux: guess(1500, "a #PF entry/exit pays the KPTI CR3 switches like a system call (1200, REFERENCE sec. 4) plus exception delivery and IRET (~300)"),
    invlpg: guess(200, "no authoritative figure found; commonly quoted as 100-250 cycles on Skylake-era cores"),
    movCr3: guess(250, "serializing control-register write, commonly quoted as ~200-300 cycles; the TLB refills it causes are simulated, not included"),
    movCr3Pcid: guess(200, "still serializing, but keeps the TLB (no-flush bit); assumed a little cheaper than a flushing write"),
    ...pageCosts(12, 3_000_000_000, "Skylake-SP single-core bandwidth is bounded by ~10-12 L1D fill buffers x 64 B per ~80 ns DRAM latency, plus L2 prefetch"),
  },
};

const icelake: Sourced<CpuPreset> = {
  name: "icelake",
  label: "Intel Ice Lake-SP / Sunny Cove (Xeon Gold 6336Y, 2.4 GHz)",
  frequencyHz: src(2_400_000_000, `${ICX}: CPUID leaf 16H base frequency 0x960 = 2400 MHz`),
  tlb: {
    itlb4k: gGuess(128, 8, "CPUID leaf 18H on Ice Lake does not enumerate a 4 KiB-only ITLB; Skylake's 128 entries, 8-way (REFERENCE sec. 6) assumed"),
    itlb2m: g(8, 8, `${ICX}, subleaf 1: instruction TLB, 8 ways x 1 set, fully associative, 4K/2M/4M`, "WikiChip (https://en.wikichip.org/wiki/intel/microarchitectures/sunny_cove) gives 16 entries, probably 8 per thread"),
    dtlb4k: g(64, 4, `${ICX}, subleaf 3: load-only TLB, 4 KiB, 4 ways x 16 sets`, "the 16-entry fully associative store DTLB (subleaf 2) is not modelled"),
    dtlb2m: g(32, 4, `${ICX}, subleaf 4: load-only TLB, 2M/4M, 4 ways x 8 sets`),
    dtlb1g: g(8, 8, `${ICX}, subleaf 5: load-only TLB, 1 GiB, 8 ways x 1 set, fully associative`),
    stlb: g(
      2048,
      16,
      `${ICX}, subleaves 6 and 7: two unified L2 TLBs of 8 ways x 128 sets, one for 4K/2M/4M and one for 4K/1G`,
      "approximation: one 2048-entry 16-way STLB for 4 KiB and 2 MiB; exact for 4 KiB (both arrays hold 4 KiB entries in 128 sets), twice the real 2 MiB capacity (1024)",
    ),
    stlb1g: g(1024, 8, `${ICX}, subleaf 7: 4K/1G unified L2 TLB, 8 ways x 128 sets`, "its sharing with 4 KiB entries is not modelled"),
  },
  psc: {
    pml4: g(32, 4, REFS.virtuoso),
    pdpt: g(32, 4, REFS.virtuoso),
    pd: g(32, 4, REFS.virtuoso),
  },
  ntlb: gGuess(32, 4, NTLB_GUESS),
  lineCache: gGuess(32768, 16, "L2 (1.25 MiB) plus part of the core's 1.5 MiB LLC share, rounded to 2 MiB"),
  pageWalkers: src(2, REFS.cpunewsGlc, "Golden Cove went from 2 to 4, so Sunny Cove / Willow Cove have 2"),
  latency: {
    l1TlbHit: src(0, L1TLB_OVERLAP),
    stlbHit: guess(9, "not published for Sunny Cove; Skylake (9, REFERENCE sec. 6) and Golden Cove (9, CAQA) agree"),
    pscLookup: guess(0, PSC_OVERLAP),
    walkRefL1d: src(5, `${MEM_RKL}, rows up to 48 KiB`, "same 48 KiB 12-way L1D as Sunny Cove"),
    walkRefL2: guess(14, "Cypress Cove's 512 KiB L2 measures 13 cycles (InstLatx64); Ice Lake-SP's 1.25 MiB L2 assumed one cycle slower"),
    walkRefLlc: guess(80, "no Ice Lake-SP measurement at hand; Skylake-SP's mesh L3 measures 75 cycles (InstLatx64) and Ice Lake-SP's mesh is larger"),
  },
  costs: {
    wrpkru: guess(25, SAME_AS_SKYLAKE("WRPKRU cost (REFERENCE sec. 4)")),
    rdpkru: guess(2, "no published figure; RDPKRU only reads a register"),
    callRet: guess(6, SAME_AS_SKYLAKE("call+ret (Unikraft Table 1)")),
    syscallSysret: guess(85, SAME_AS_SKYLAKE("SYSCALL/SYSRET round trip (Unikraft Table 1)")),
    linuxSyscall: guess(605, `Ice Lake is Meltdown-immune (no KPTI); ${REFS.unikraft} measured 605 cycles with mitigations on a Meltdown-immune core`),
    linuxSyscallNoMitigations: guess(142, SAME_AS_SKYLAKE("null syscall without mitigations (Unikraft Table 1)")),
    vmExitRoundTrip: guess(1500, SAME_AS_SKYLAKE("VM exit round trip (itself a guess)")),
    pageFaultUnikernel: guess(300, SAME_AS_SKYLAKE("#PF entry/exit in a unikernel (itself a guess)")),
    pageFaultLinux: guess(900, "no KPTI: the mitigated syscall cost (605) plus exception delivery and IRET (~300)"),
    invlpg: guess(200, SAME_AS_SKYLAKE("INVLPG cost (itself a guess)")),
    movCr3: guess(250, SAME_AS_SKYLAKE("MOV CR3 cost (itself a guess)")),
    movCr3Pcid: guess(200, SAME_AS_SKYLAKE("MOV CR3 no-flush cost (itself a guess)")),
    ...pageCosts(15, 2_400_000_000, "12 L1D fill buffers on Sunny Cove (16 on Golden Cove, cpunews) allow a little more than Skylake-SP"),
  },
};

const goldencove: Sourced<CpuPreset> = {
  name: "goldencove",
  label: "Intel Golden Cove as in Sapphire Rapids (Xeon w7-2475X, 2.6 GHz)",
  frequencyHz: src(2_600_000_000, `${SPR}: CPUID leaf 16H base frequency 0xA28 = 2600 MHz`),
  tlb: {
    itlb4k: g(256, 8, `${SPR}, subleaf 1: instruction TLB, 4 KiB, 8 ways x 32 sets; also ${REFS.caqa}`),
    itlb2m: g(32, 8, `${SPR}, subleaf 2: instruction TLB, 2M/4M, 8 ways x 4 sets; also ${REFS.caqa}`),
    dtlb4k: g(
      96,
      6,
      `${REFS.reference} sec. 6 (Golden Cove L1 DTLB 96) and ${REFS.caqa} (96 entries, 6-way); ${REFS.cpunewsGlc}`,
      "CPUID leaf 18H subleaf 4 still enumerates a 64-entry 4-way load DTLB; the store DTLB (16 entries, subleaf 3) is not modelled",
    ),
    dtlb2m: g(32, 4, `${SPR}, subleaf 5: load-only TLB, 2M/4M, 4 ways x 8 sets; also ${REFS.caqa}`),
    dtlb1g: g(8, 8, `${SPR}, subleaf 6: load-only TLB, 1 GiB, 8 ways x 1 set; also ${REFS.caqa}`),
    stlb: g(
      2048,
      16,
      `${REFS.reference} sec. 6 (STLB 2048) and ${REFS.caqa} (2048 entries, 16-way); ${SPR}, subleaves 7 and 8 (two 8-way x 128-set arrays, 4K/2M/4M and 4K/1G)`,
      "approximation: exact for 4 KiB, twice the real 2 MiB capacity (1024)",
    ),
    stlb1g: g(1024, 8, `${SPR}, subleaf 8: 4K/1G unified L2 TLB, 8 ways x 128 sets`, "its sharing with 4 KiB entries is not modelled"),
  },
  psc: {
    pml4: g(32, 4, REFS.virtuoso),
    pdpt: g(32, 4, REFS.virtuoso),
    pd: g(32, 4, REFS.virtuoso),
  },
  ntlb: gGuess(32, 4, NTLB_GUESS),
  lineCache: gGuess(65536, 16, "L2 (2 MiB on Sapphire Rapids) plus part of the core's 1.875 MiB LLC share, rounded to 4 MiB"),
  pageWalkers: src(4, `${REFS.reference} sec. 6 (Golden Cove 4 walkers); ${REFS.caqa}; ${REFS.cpunewsGlc}`),
  latency: {
    l1TlbHit: src(0, L1TLB_OVERLAP),
    stlbHit: src(9, `${REFS.caqa} (STLB access 8 cycles, 9-cycle total penalty after an L1 TLB miss)`),
    pscLookup: guess(0, PSC_OVERLAP),
    walkRefL1d: src(5, `${MEM_ADL}, rows up to 48 KiB`),
    walkRefL2: src(15, `${MEM_ADL}, rows 64-384 KiB, stride >= 64 B`, "Alder Lake's 1.25 MiB L2; Sapphire Rapids' 2 MiB L2 may be a cycle slower"),
    walkRefLlc: guess(100, "Sapphire Rapids' mesh L3 is not in the sources at hand; Alder Lake's ring L3 measures 63 cycles and Skylake-SP's mesh 75 (InstLatx64), larger meshes are slower"),
  },
  costs: {
    wrpkru: guess(25, SAME_AS_SKYLAKE("WRPKRU cost (REFERENCE sec. 4)")),
    rdpkru: guess(2, "no published figure; RDPKRU only reads a register"),
    callRet: guess(6, SAME_AS_SKYLAKE("call+ret (Unikraft Table 1)")),
    syscallSysret: guess(85, SAME_AS_SKYLAKE("SYSCALL/SYSRET round trip (Unikraft Table 1)")),
    linuxSyscall: guess(605, `Golden Cove is Meltdown-immune (no KPTI); ${REFS.unikraft} measured 605 cycles with mitigations on a Meltdown-immune core`),
    linuxSyscallNoMitigations: guess(142, SAME_AS_SKYLAKE("null syscall without mitigations (Unikraft Table 1)")),
    vmExitRoundTrip: guess(1500, SAME_AS_SKYLAKE("VM exit round trip (itself a guess)")),
    pageFaultUnikernel: guess(300, SAME_AS_SKYLAKE("#PF entry/exit in a unikernel (itself a guess)")),
    pageFaultLinux: guess(900, "no KPTI: the mitigated syscall cost (605) plus exception delivery and IRET (~300)"),
    invlpg: guess(200, SAME_AS_SKYLAKE("INVLPG cost (itself a guess)")),
    movCr3: guess(250, SAME_AS_SKYLAKE("MOV CR3 cost (itself a guess)")),
    movCr3Pcid: guess(200, SAME_AS_SKYLAKE("MOV CR3 no-flush cost (itself a guess)")),
    ...pageCosts(20, 2_600_000_000, "Golden Cove has 16 L1D fill buffers (cpunews), more misses in flight than Sunny Cove"),
  },
};

const zen4: Sourced<CpuPreset> = {
  name: "zen4",
  label: "AMD Zen 4 (EPYC 9654, 2.4 GHz); one 72-entry L1 DTLB approximated per page size",
  frequencyHz: src(
    2_400_000_000,
    `AMD EPYC 9654 product specifications (base clock 2.4 GHz, boost 3.7 GHz), https://www.amd.com/en/products/processors/server/epyc/4th-generation-9004-and-8004-series/amd-epyc-9654.html; part identified in ${REFS.instlat}, AuthenticAMD0A10F11_K19_Genoa_01_CPUID.txt`,
  ),
  tlb: {
    itlb4k: g(64, 64, `${GENOA}: Fn8000_0005 EBX = FF48FF40, L1 ITLB 4K 64 entries, fully associative`, "one 64-entry structure for all page sizes, modelled as one copy per size"),
    itlb2m: g(64, 64, `${GENOA}: Fn8000_0005 EAX = FF48FF40, L1 ITLB 2M 64 entries, fully associative`, "same structure as itlb4k; the 512-entry L2 ITLB is not modelled (fetch misses go to stlb)"),
    dtlb4k: g(
      72,
      72,
      `${GENOA}: Fn8000_0005 EBX = FF48FF40, L1 DTLB 4K 72 entries, fully associative; ${REFS.reference} sec. 6 (Zen 4 L1 DTLB 72, fully assoc.)`,
      "Zen 4 has ONE 72-entry fully associative L1 DTLB for all sizes; modelled as a full copy per size, exact when one page size is used, up to 3x the real reach when sizes mix",
    ),
    dtlb2m: g(72, 72, `${GENOA}: Fn8000_0005 EAX = FF48FF40, L1 DTLB 2M 72 entries, fully associative`, "same structure as dtlb4k"),
    dtlb1g: g(72, 72, `${GENOA}: Fn8000_0019 EAX = F048F040, L1 DTLB 1G 72 entries, fully associative`, "same structure as dtlb4k"),
    stlb: g(
      3072,
      8,
      `${GENOA}: Fn8000_0006 EBX = 6C004200 (L2 DTLB 4K: 3072 entries, 8-way) and EAX = 5C002200 (2M: 3072 entries, 6-way); ${REFS.reference} sec. 6 (Zen 4 L2 3072)`,
      "one 8-way array for 4 KiB and 2 MiB (the real ways for 2 MiB are 6)",
    ),
    stlb1g: g(64, 64, `${GENOA}: Fn8000_0019 EBX = F0400000, L2 DTLB 1G 64 entries, fully associative`),
  },
  psc: {
    pml4: g(32, 4, REFS.virtuoso, ZEN4_PSC_NOTE),
    pdpt: g(32, 4, REFS.virtuoso, ZEN4_PSC_NOTE),
    pd: g(32, 4, REFS.virtuoso, ZEN4_PSC_NOTE),
  },
  ntlb: gGuess(32, 4, NTLB_GUESS),
  lineCache: gGuess(65536, 16, "L2 (1 MiB) plus part of the core's 4 MiB share of a CCD's 32 MiB L3, rounded to 4 MiB"),
  pageWalkers: guess(6, "Zen 2 had 2 walkers (WikiChip); AMD raised it to 6 in Zen 3 and is assumed unchanged in Zen 4 (not verified here)"),
  latency: {
    l1TlbHit: src(0, L1TLB_OVERLAP),
    stlbHit: guess(7, "AMD does not publish it; public microbenchmarks of Zen cores put an L2 DTLB hit at about 7-8 extra cycles"),
    pscLookup: guess(0, PSC_OVERLAP),
    walkRefL1d: src(4, `${MEM_ZEN4}, rows up to 32 KiB`),
    walkRefL2: src(14, `${MEM_ZEN4}, rows 64-512 KiB, stride >= 64 B`),
    walkRefLlc: src(52, `${MEM_ZEN4}, rows 4-8 MiB, stride 64 B`, "CCX-local L3; same CCD in EPYC 9004"),
  },
  costs: {
    wrpkru: guess(25, "Zen 3 and later implement PKU; no measurement found, Intel's Skylake cost (REFERENCE sec. 4) assumed"),
    rdpkru: guess(2, "no published figure; RDPKRU only reads a register"),
    callRet: guess(6, SAME_AS_SKYLAKE("call+ret (Unikraft Table 1)")),
    syscallSysret: guess(85, SAME_AS_SKYLAKE("SYSCALL/SYSRET round trip (Unikraft Table 1)")),
    linuxSyscall: guess(605, `AMD is Meltdown-immune (no KPTI); ${REFS.unikraft} measured 605 cycles with mitigations on a Meltdown-immune Intel core`),
    linuxSyscallNoMitigations: guess(142, SAME_AS_SKYLAKE("null syscall without mitigations (Unikraft Table 1)")),
    vmExitRoundTrip: guess(1500, "SVM #VMEXIT/VMRUN is of the same order as VMX; Skylake's guess assumed"),
    pageFaultUnikernel: guess(300, SAME_AS_SKYLAKE("#PF entry/exit in a unikernel (itself a guess)")),
    pageFaultLinux: guess(900, "no KPTI: the mitigated syscall cost (605) plus exception delivery and IRET (~300)"),
    invlpg: guess(200, SAME_AS_SKYLAKE("INVLPG cost (itself a guess)")),
    movCr3: guess(250, SAME_AS_SKYLAKE("MOV CR3 cost (itself a guess)")),
    movCr3Pcid: guess(200, SAME_AS_SKYLAKE("MOV CR3 no-flush cost (itself a guess)")),
    ...pageCosts(40, 2_400_000_000, "a Zen 4 core sustains far more misses in flight than Skylake-SP; below the CCD's Infinity Fabric read limit of 64 B per fabric clock"),
  },
};

/** The CPU presets with the source of every number. */
export const CPU_PRESETS_SOURCED: Readonly<Record<CpuName, Sourced<CpuPreset>>> = { skylake, icelake, goldencove, zen4 };

/** A fresh plain copy of a CPU preset. */
export function cpuPreset(name: CpuName): CpuPreset {
  return unwrap<CpuPreset>(CPU_PRESETS_SOURCED[name]);
}

export function isCpuName(x: unknown): x is CpuName {
  return typeof x === "string" && (CPU_NAMES as readonly string[]).includes(x);
}

/** Cycles of `ns` nanoseconds at `frequencyHz`, rounded to the nearest cycle. */
export function nsToCycles(ns: number, frequencyHz: number): number {
  return Math.round((ns * frequencyHz) / 1e9);
}
