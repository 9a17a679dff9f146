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

/** Checks a whole configuration; returns it unchanged when valid, else throws its first problem. */
export function checkConfig(config: CoreConfig): CoreConfig {
  const first = configIssues(config)[0];
  if (first) throw first;
  return config;
}

/**
 * Every problem of a configuration, in the order `checkConfig` meets them (none when it
 * is valid): for callers that report all of them at once, e.g. a scenario's checks
 * before anything runs.
 *
 * @example
 * configIssues({ ...modelConfig("default"), pcpus: 0 })[0].message; // "pcpus: 0 is not allowed; expected an integer in 1..4096"
 */
export function configIssues(config: CoreConfig): ConfigError[] {
  const issues: ConfigError[] = [];
  // each check on its own: one problem does not hide the next
  const check = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      issues.push(e);
    }
  };
  check(() => {
    if (config.model !== "full" && config.model !== "conformance") throw new ConfigError("model", config.model, `"full" or "conformance"`);
  });
  check(() => {
    if (config.policy !== "4k" && config.policy !== "2m") throw new ConfigError("policy", config.policy, `"4k" or "2m"`);
  });
  check(() => {
    if (!["lru", "fifo", "random"].includes(config.replacement)) throw new ConfigError("replacement", config.replacement, `"lru", "fifo" or "random"`);
  });
  check(() => int("seed", config.seed, 0, 0xffffffff));
  const tlb = config.tlb as TlbGeometry;
  if (!tlb || typeof tlb !== "object") check(() => { throw new ConfigError("tlb", tlb, "an object with " + TLB_NAMES.join(", ")); });
  else for (const name of TLB_NAMES) check(() => checkGeometry(`tlb.${name}`, tlb[name]));
  if (config.psc !== null) {
    const psc = config.psc as PscGeometry;
    if (!psc || typeof psc !== "object") check(() => { throw new ConfigError("psc", psc, "null or { pml4, pdpt, pd }"); });
    else for (const k of ["pml4", "pdpt", "pd"] as const) check(() => checkGeometry(`psc.${k}`, psc[k]));
  }
  if (config.ntlb !== null) check(() => checkGeometry("ntlb", config.ntlb ?? undefined));
  check(() => {
    if (!config.lineCache) return;
    // 0 entries is an absent structure elsewhere; a line cache asked for must have lines (the core cannot lay out 0 sets)
    if (checkGeometry("lineCache", config.lineCache).entries === 0) throw new ConfigError("lineCache.entries", 0, "an integer >= 1 (null for no line cache)");
  });
  check(() => {
    if (config.lineSampling === undefined) return;
    const sets = config.lineCache ? config.lineCache.entries / config.lineCache.ways : 0;
    if (!isLineSampling(config.lineSampling, sets)) {
      throw new ConfigError("lineSampling", config.lineSampling, `a power of two from 1 to the line cache's sets (${sets})`);
    }
  });
  check(() => {
    if (config.lineThread === undefined || config.lineThread === false) return;
    if (config.lineThread !== true) throw new ConfigError("lineThread", config.lineThread, "true or false");
    if (!config.lineCache || config.model !== "full") throw new ConfigError("lineThread", true, "only with a line cache (lineCache) in the full model");
    // random replacement draws the TLBs' and the line cache's victims from one stream: split over two threads, both would change
    if (config.replacement === "random") throw new ConfigError("lineThread", true, `only with "lru" or "fifo" replacement (random draws one stream for the TLBs and the line cache)`);
  });
  check(() => int("pcpus", config.pcpus, 1, MAX_PCPUS));
  check(() => int("vcpus", config.vcpus, 1, MAX_VCPUS));
  check(() => int("vms", config.vms, 1, MAX_VMS));
  if (config.requestBuffer !== undefined) check(() => int("requestBuffer", config.requestBuffer, 1024, 1 << 20));
  if (config.slabHeaps !== undefined) check(() => int("slabHeaps", config.slabHeaps, 1, MAX_VCPUS));
  if (!Array.isArray(config.tiers) || config.tiers.length > 8) {
    check(() => { throw new ConfigError("tiers", config.tiers, "an array of at most 8 { base, size } ranges"); });
  } else {
    config.tiers.forEach((t, i) =>
      check(() => {
        int(`tiers[${i}].base`, t.base, 0, 2 ** 46);
        int(`tiers[${i}].size`, t.size, 0, 2 ** 46);
        if (t.base + t.size > 2 ** 46) throw new ConfigError(`tiers[${i}]`, t, "a range below 2^46");
      }),
    );
  }
  return issues;
}
