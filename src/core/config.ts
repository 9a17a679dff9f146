/**
 * Validation of the core's configuration: every error names the field, the value and
 * what is allowed.
 */
import type { CoreConfig, Geometry, PscGeometry, TlbGeometry } from "./types.js";
import { TLB_NAMES } from "./types.js";
import { isLineSampling } from "./sampling.js";

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${field}: ${JSON.stringify(value)} is not allowed; expected ${allowed}`);
    this.name = "ConfigError";
  }
}

/** The largest VM count: VPIDs are 12 bits in the core's TLB tags (hardware has 16). */
export const MAX_VMS = 4095;
export const MAX_PCPUS = 4096;
export const MAX_VCPUS = 65535;
export const MAX_WAYS = 64;

function int(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, v, `an integer in ${min}..${max}`);
  }
  return v;
}

export function checkGeometry(field: string, g: Geometry | undefined): Geometry {
  if (!g || typeof g !== "object") throw new ConfigError(field, g, "{ entries, ways }");
  const entries = int(`${field}.entries`, g.entries, 0, 1 << 20);
  if (entries === 0) return { entries: 0, ways: g.ways ?? 0 };
  const ways = int(`${field}.ways`, g.ways, 1, MAX_WAYS);
  if (entries % ways !== 0) throw new ConfigError(`${field}.entries`, entries, `a multiple of ways (${ways})`);
  const sets = entries / ways;
  if ((sets & (sets - 1)) !== 0) {
    throw new ConfigError(field, g, `entries / ways to be a power of two (sets = ${sets}); real TLBs index sets by address bits`);
  }
  return { entries, ways };
}

/** Checks a whole configuration; returns it unchanged when valid. */
export function checkConfig(config: CoreConfig): CoreConfig {
  if (config.model !== "full" && config.model !== "conformance") {
    throw new ConfigError("model", config.model, `"full" or "conformance"`);
  }
  if (config.policy !== "4k" && config.policy !== "2m") throw new ConfigError("policy", config.policy, `"4k" or "2m"`);
  if (!["lru", "fifo", "random"].includes(config.replacement)) {
    throw new ConfigError("replacement", config.replacement, `"lru", "fifo" or "random"`);
  }
  int("seed", config.seed, 0, 0xffffffff);
  const tlb = config.tlb as TlbGeometry;
  if (!tlb || typeof tlb !== "object") throw new ConfigError("tlb", tlb, "an object with " + TLB_NAMES.join(", "));
  for (const name of TLB_NAMES) checkGeometry(`tlb.${name}`, tlb[name]);
  if (config.psc !== null) {
    const psc = config.psc as PscGeometry;
    if (!psc || typeof psc !== "object") throw new ConfigError("psc", psc, "null or { pml4, pdpt, pd }");
    for (const k of ["pml4", "pdpt", "pd"] as const) checkGeometry(`psc.${k}`, psc[k]);
  }
  if (config.ntlb !== null) checkGeometry("ntlb", config.ntlb);
  if (config.lineCache) checkGeometry("lineCache", config.lineCache);
  if (config.lineSampling !== undefined) {
    const sets = config.lineCache ? config.lineCache.entries / config.lineCache.ways : 0;
    if (!isLineSampling(config.lineSampling, sets)) {
      throw new ConfigError("lineSampling", config.lineSampling, `a power of two from 1 to the line cache's sets (${sets})`);
    }
  }
  if (config.lineThread !== undefined && config.lineThread !== false) {
    if (config.lineThread !== true) throw new ConfigError("lineThread", config.lineThread, "true or false");
    if (!config.lineCache || config.model !== "full") throw new ConfigError("lineThread", true, "only with a line cache (lineCache) in the full model");
    // random replacement draws the TLBs' and the line cache's victims from one stream: split over two threads, both would change
    if (config.replacement === "random") throw new ConfigError("lineThread", true, `only with "lru" or "fifo" replacement (random draws one stream for the TLBs and the line cache)`);
  }
  int("pcpus", config.pcpus, 1, MAX_PCPUS);
  int("vcpus", config.vcpus, 1, MAX_VCPUS);
  int("vms", config.vms, 1, MAX_VMS);
  if (config.requestBuffer !== undefined) int("requestBuffer", config.requestBuffer, 1024, 1 << 20);
  if (config.slabHeaps !== undefined) int("slabHeaps", config.slabHeaps, 1, MAX_VCPUS);
  if (!Array.isArray(config.tiers) || config.tiers.length > 8) {
    throw new ConfigError("tiers", config.tiers, "an array of at most 8 { base, size } ranges");
  }
  config.tiers.forEach((t, i) => {
    int(`tiers[${i}].base`, t.base, 0, 2 ** 46);
    int(`tiers[${i}].size`, t.size, 0, 2 ** 46);
    if (t.base + t.size > 2 ** 46) throw new ConfigError(`tiers[${i}]`, t, "a range below 2^46");
  });
  return config;
}
