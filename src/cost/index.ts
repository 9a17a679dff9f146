/** The cost model's named presets, their schemas and the resolution of scenario input. */

export { REFERENCE_POINTS, REFERENCE_POINTS_SOURCED, type ReferencePoints } from "./calibration.js";
export {
  CPU_NAMES,
  CPU_PRESETS_SOURCED,
  cpuPreset,
  isCpuName,
  nsToCycles,
  type CpuCosts,
  type CpuLatencies,
  type CpuName,
  type CpuPreset,
} from "./cpus.js";
export { parametersMarkdown } from "./doc.js";
export { REFS } from "./refs.js";
export {
  CpuOverrideSchema,
  CpuPresetSchema,
  PresetError,
  TierOverrideSchema,
  TierPresetSchema,
  formatIssue,
  PRESET_LIMITS,
  resolveCpu,
  resolveTier,
  type CpuOverride,
  type PresetIssue,
  type TierOverride,
} from "./schema.js";
export { guess, leaves, src, unwrap, type Leaf, type Sourced, type Src } from "./sourced.js";
export {
  TIER_KINDS,
  TIER_NAMES,
  TIER_PRESETS_SOURCED,
  isTierName,
  tierPreset,
  type TierKind,
  type TierName,
  type TierPreset,
} from "./tiers.js";
