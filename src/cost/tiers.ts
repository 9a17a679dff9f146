/**
 * Memory-tier presets: DRAM, Optane DC persistent memory (NVM) and CXL-attached DRAM.
 * Every number carries its source or is marked as a guess with its reason.
 *
 * Units: latencies in nanoseconds (a property of the memory, not of the CPU; convert with
 * `nsToCycles` and the CPU's frequency), bandwidths in bytes per second per DIMM or
 * device, sizes in bytes.
 */

import { REFS } from "./refs.js";
import { guess, src, unwrap, type Sourced } from "./sourced.js";

export const TIER_KINDS = ["dram", "nvm", "cxl"] as const;
export type TierKind = (typeof TIER_KINDS)[number];

export interface TierPreset {
  name: string;
  label: string;
  kind: TierKind;
  /** Idle load-to-use latency of a dependent load to a random line, ns. */
  loadRandomNs: number;
  /** Idle load latency when the accesses walk the memory sequentially, ns. */
  loadSequentialNs: number;
  /** Latency of a store (write-back or non-temporal) until the memory system accepts it, ns. */
  storeNs: number;
  /** Peak read bandwidth of one DIMM (or CXL device), bytes/s. */
  readBytesPerSec: number;
  /** Peak write bandwidth of one DIMM (or CXL device), bytes/s. */
  writeBytesPerSec: number;
  /** Media access granularity: smaller writes pay a read-modify-write, bytes. */
  accessBytes: number;
  /** Capacity of one DIMM (or CXL device), bytes: for reference (a tier's size is the scenario's `capacity`; the simulator does not read this). */
  capacityBytes: number;
}

export const TIER_NAMES = ["dram", "optane", "cxl"] as const;
export type TierName = (typeof TIER_NAMES)[number];

const GIB = 1024 ** 3;
const REF7 = `${REFS.reference} sec. 7`;

const DRAM_LOAD = 80;
/** Pond's 70-90 ns extra latency of a CXL pool access, taken at its middle. */
const CXL_EXTRA = 80;

const dram: Sourced<TierPreset> = {
  name: "dram",
  label: "DDR4 DRAM, one RDIMM per channel",
  kind: "dram",
  loadRandomNs: src(
    DRAM_LOAD,
    `${REF7} (DRAM load latency ~80-100 ns)`,
    "low end of the range; InstLatx64 measures 75 ns on a Skylake-SP core and 71 ns on Zen 4 (AIDA64 page-random, MemLat dumps)",
  ),
  loadSequentialNs: guess(
    DRAM_LOAD,
    "Izraelevitz et al. find the sequential/random gap to be an Optane effect (its 256 B buffer); DRAM taken as equal",
  ),
  storeNs: guess(DRAM_LOAD, "a write-back reaches the memory controller's write queue in about the time a read takes; equal to the load latency"),
  readBytesPerSec: src(20e9, `${REF7} (~20 GB/s per DIMM)`, "one DDR4-2666 channel peaks at 21.3 GB/s"),
  writeBytesPerSec: guess(20e9, "DRAM bandwidth is symmetric apart from bus turnarounds; equal to the read bandwidth"),
  accessBytes: src(64, `${REF7} (64 B)`, "one cache line"),
  capacityBytes: src(32 * GIB, `${REF7} (16-64 GiB per DIMM)`, "a choice inside the range"),
};

const optane: Sourced<TierPreset> = {
  name: "optane",
  label: "Intel Optane DC Persistent Memory Module (100 series), App Direct / flat mode",
  kind: "nvm",
  loadRandomNs: src(305, `${REFS.izraelevitz}: random loads 305 ns, about 3x local DRAM; also ${REF7}`),
  loadSequentialNs: src(170, `${REF7} (~170 ns sequential, ${REFS.izraelevitz})`, "sequential loads are ~2x faster: the DIMM merges adjacent requests into one 256 B access"),
  storeNs: guess(
    90,
    "stores complete when they reach the ADR-protected write queue of the memory controller, so Izraelevitz et al. measure store latencies close to DRAM's; ~90 ns from memory of their latency figure, not re-verified",
    `the media write itself takes ~1,050 ns (${REFS.handy}); it is hidden unless the write bandwidth saturates`,
  ),
  readBytesPerSec: src(6.6e9, `${REF7}; ${REFS.izraelevitz}: 39.4 GB/s for six interleaved DIMMs`),
  writeBytesPerSec: src(2.3e9, `${REF7}; ${REFS.izraelevitz}: 13.9 GB/s for six interleaved DIMMs`),
  accessBytes: src(256, `${REF7} (256 B XPLine); ${REFS.izraelevitz}`, "smaller writes pay a read-modify-write"),
  capacityBytes: src(256 * GIB, `${REF7} (128/256/512 GiB per DIMM)`, "the middle size"),
};

const cxl: Sourced<TierPreset> = {
  name: "cxl",
  label: "CXL-attached DDR5 pool behind an external memory controller (Pond)",
  kind: "cxl",
  loadRandomNs: src(DRAM_LOAD + CXL_EXTRA, `${REFS.pond}`, "the DRAM preset's 80 ns plus 80 ns, the middle of Pond's 70-90 ns"),
  loadSequentialNs: src(DRAM_LOAD + CXL_EXTRA, `${REFS.pond}`, "the DRAM preset's sequential latency plus the same 80 ns"),
  storeNs: guess(DRAM_LOAD + CXL_EXTRA, "a CXL.mem write crosses the same link and controller as a read; DRAM's store latency plus Pond's 80 ns"),
  readBytesPerSec: guess(
    25e9,
    "one x8 CXL link at PCIe 5.0 rate carries 32 GB/s per direction raw (32 GT/s x 8 lanes); ~25 GB/s after flit and protocol overhead assumed",
  ),
  writeBytesPerSec: guess(25e9, "the link is full duplex; same as the read bandwidth"),
  accessBytes: src(64, `${REF7} (64 B)`, "CXL.mem transfers cache lines"),
  capacityBytes: guess(64 * GIB, "capacity depends on the DIMMs behind the controller; one 64 GiB DDR5 RDIMM per device assumed"),
};

/** The tier presets with the source of every number. */
export const TIER_PRESETS_SOURCED: Readonly<Record<TierName, Sourced<TierPreset>>> = { dram, optane, cxl };

/** A fresh plain copy of a tier preset. */
export function tierPreset(name: TierName): TierPreset {
  return unwrap<TierPreset>(TIER_PRESETS_SOURCED[name]);
}

export function isTierName(x: unknown): x is TierName {
  return typeof x === "string" && (TIER_NAMES as readonly string[]).includes(x);
}
