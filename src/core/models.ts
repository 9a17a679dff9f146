/**
 * Named translation models: the exact conformance model of REFERENCE.md section 9 and
 * the full default model, each built from a CPU preset.
 *
 * @example
 * const cfg = modelConfig("skylake-lru", { policy: "4k" });
 * const core = await WasmCore.create(cfg);
 */
import type { CoreConfig, TierRange } from "./types.js";
import { cpuPreset, isCpuName, CPU_NAMES, type CpuName, type CpuPreset } from "../cost/cpus.js";

export const MODEL_NAMES = ["skylake-lru", "default"] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface ModelOptions {
  /** Page size of the conformance model (and of the flat VM of traces). */
  policy?: "4k" | "2m";
  /** CPU of the default model: a preset's name or a whole preset (`resolveCpu`); the conformance model is always Skylake. */
  cpu?: CpuName | CpuPreset;
  pcpus?: number;
  vcpus?: number;
  vms?: number;
  tiers?: TierRange[];
  seed?: number;
  /** The line cache (docs/core.md 5b) of the CPU preset: off (default), for walk references, or for walks and data. */
  lineCache?: "off" | "walks" | "all";
  /** Model 1 line-cache set in this many (a power of two; default 1: all; `CoreConfig.lineSampling`). */
  lineSampling?: number;
}

export function isModelName(x: unknown): x is ModelName {
  return typeof x === "string" && (MODEL_NAMES as readonly string[]).includes(x);
}

export function modelConfig(model: ModelName, o: ModelOptions = {}): CoreConfig {
  if (!isModelName(model)) throw new RangeError(`model: ${JSON.stringify(model)} is not allowed; expected one of ${MODEL_NAMES.join(", ")}`);
  const given = o.cpu ?? "skylake";
  if (typeof given !== "object" && !isCpuName(given)) throw new RangeError(`cpu: ${JSON.stringify(given)} is not allowed; expected one of ${CPU_NAMES.join(", ")}, or a preset`);
  const conformance = model === "skylake-lru";
  // REFERENCE.md section 9: the Skylake geometry with page-walk caches and nested TLB off.
  const cpu = conformance ? cpuPreset("skylake") : typeof given === "object" ? given : cpuPreset(given);
  return {
    model: conformance ? "conformance" : "full",
    policy: o.policy ?? "4k",
    tlb: cpu.tlb,
    replacement: "lru",
    seed: o.seed ?? 1,
    psc: conformance ? null : cpu.psc,
    ntlb: conformance ? null : cpu.ntlb,
    pcpus: o.pcpus ?? 1,
    vcpus: o.vcpus ?? 1,
    vms: o.vms ?? 1,
    tiers: o.tiers ?? [],
    lineCache: conformance || (o.lineCache ?? "off") === "off" ? null : cpu.lineCache,
    lineCacheData: o.lineCache === "all",
    ...(o.lineSampling !== undefined ? { lineSampling: o.lineSampling } : {}),
  };
}
