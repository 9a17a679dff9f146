/**
 * Schemas of the presets and the resolution of scenario input onto them.
 *
 * A scenario names a preset (`"skylake"`) or gives an object of overrides with an optional
 * `base` preset: `{ base: "skylake", tlb: { stlb: { entries: 2048, ways: 16 } } }`. The
 * overrides are merged field by field onto the base and the result is checked as a whole.
 * Without `base` the object must be complete. Errors name the field path, the value and
 * what is allowed, for every problem at once:
 *
 *   cpu.tlb.stlb.ways: 7 is not allowed; expected a divisor of entries (1536)
 *   cpu.costs.wrpkru: -1 is not allowed; expected an integer from 0 to 1e10 cycles (a second at 10 GHz)
 *   cpu.tlb.stlb2: {...} is not allowed; expected a known field: one of itlb4k, itlb2m, ...
 */

import { z } from "zod";
import { CPU_NAMES, cpuPreset, isCpuName, type CpuName, type CpuPreset } from "./cpus.js";
import { TIER_KINDS, TIER_NAMES, isTierName, tierPreset, type TierName, type TierPreset } from "./tiers.js";

// ---------------------------------------------------------------------------------------
// Errors

export interface PresetIssue {
  /** Dotted path from the root, e.g. `cpu.tlb.stlb.ways`. */
  path: string;
  /** The offending value (undefined when the field is missing). */
  value: unknown;
  /** What is allowed there. */
  allowed: string;
}

/** Bad preset input: a RangeError (a bad argument, as the CLI and the worker pool treat it) with every issue. */
export class PresetError extends RangeError {
  readonly issues: readonly PresetIssue[];
  constructor(issues: PresetIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "PresetError";
    this.issues = issues;
  }
}

/** One line of an issue, as every error of the project reads: the path, the value, what is allowed. */
export function formatIssue(i: PresetIssue): string {
  return `${i.path}: ${i.value === undefined ? "missing" : `${formatValue(i.value)} is not allowed`}; ${i.allowed}`;
}

/** How many characters of a value an error shows (a whole section would drown the message). */
const SHOWN = 80;

/**
 * A value as an error shows it: its JSON (a non-finite number as JavaScript writes it),
 * cut short when long. Never throws: the value is written only as far as it is shown, so
 * deep nesting cannot exhaust the stack.
 */
export function formatValue(v: unknown): string {
  if (v === undefined) return "(missing)";
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  const s = jsonPrefix(v, SHOWN);
  return s.length > SHOWN ? `${s.slice(0, SHOWN - 3)}...` : s;
}

/** The JSON of `v` up to a little past `max` characters (each level it enters adds one, so it recurses at most `max` deep). */
function jsonPrefix(v: unknown, max: number): string {
  let out = "";
  const put = (s: string): boolean => (out += s).length <= max;
  const write = (x: unknown): boolean => {
    if (typeof x === "string") return put(JSON.stringify(x.slice(0, max)));
    if (typeof x !== "object" || x === null) return put(typeof x === "bigint" || typeof x === "number" ? String(x) : (JSON.stringify(x) ?? "null"));
    if (Array.isArray(x)) {
      if (!put("[")) return false;
      for (let i = 0; i < x.length; i++) if (!(i === 0 || put(",")) || !write(x[i] === undefined || typeof x[i] === "function" ? null : x[i])) return false;
      return put("]");
    }
    if (!put("{")) return false;
    let first = true;
    for (const [k, y] of Object.entries(x)) {
      if (y === undefined || typeof y === "function" || typeof y === "symbol") continue;
      if (!(first || put(",")) || !put(`${JSON.stringify(k)}:`) || !write(y)) return false;
      first = false;
    }
    return put("}");
  };
  write(v);
  return out;
}

// ---------------------------------------------------------------------------------------
// Schema building blocks

/** An upper bound of a preset field: its value, unit, and what it amounts to. */
export interface PresetLimit {
  max: number;
  unit: string;
  why: string;
}

/**
 * Upper bounds of the preset fields that the cycle model multiplies: not defaults but
 * sanity limits, far beyond any real part, so that costs stay finite (1e300 ns would make
 * Infinity cycles and a throughput of 0). One event costs at most a second: 1e9 ns for a
 * tier, 1e10 cycles for the CPU (a second at the highest clock); clocks up to 10 GHz
 * (twice the fastest shipped boost clocks); bandwidths up to 1e15 bytes/s (1 PB/s, about
 * a thousand times a DDR5 channel's or an HBM3 stack's).
 */
export const PRESET_LIMITS = {
  ns: { max: 1e9, unit: "ns", why: "a second" },
  cycles: { max: 1e10, unit: "cycles", why: "a second at 10 GHz" },
  hz: { max: 1e10, unit: "Hz", why: "10 GHz" },
  bytesPerSec: { max: 1e15, unit: "bytes/s", why: "1 PB/s" },
} as const satisfies Record<string, PresetLimit>;

/**
 * A bound as errors and docs/parameters.md say it, e.g. "1e9 ns (a second)": 1e9 rather
 * than 1000000000, readable and what a scenario file may write.
 */
export function limitText(l: PresetLimit): string {
  return `${l.max.toExponential().replace("e+", "e")} ${l.unit} (${l.why})`;
}

/** An integer >= `min` (in `unit`), or from `min` to a limit. */
const int = (min: number, unit: string | PresetLimit = ""): z.ZodNumber => {
  const what =
    typeof unit === "string" ? `an integer >= ${min}${unit ? ` (${unit})` : ""}` : `an integer from ${min} to ${limitText(unit)}`;
  const n = z.number({ error: what }).int({ error: what }).min(min, { error: what });
  return typeof unit === "string" ? n : n.max(unit.max, { error: what });
};
/** A number > 0 and up to a limit (a finite one, then). */
const positive = (limit: PresetLimit): z.ZodNumber => {
  const what = `a number > 0 and <= ${limitText(limit)}`;
  return z.number({ error: what }).positive({ error: what }).max(limit.max, { error: what });
};
const cycles = (): z.ZodNumber => int(0, PRESET_LIMITS.cycles);
const latencyNs = (): z.ZodNumber => positive(PRESET_LIMITS.ns);
const bandwidth = (): z.ZodNumber => int(1, PRESET_LIMITS.bytesPerSec);
const text = (): z.ZodString => z.string({ error: "a string" });
const nonEmpty = (): z.ZodString => z.string({ error: "a non-empty string" }).min(1, { error: "a non-empty string" });

type Shape = Record<string, z.ZodType>;

/** A strict object: unknown fields are errors that list the allowed ones. */
function obj(shape: Shape, partial: boolean): z.ZodObject {
  const allowed = Object.keys(shape).join(", ");
  const fields: Shape = {};
  for (const [k, v] of Object.entries(shape)) fields[k] = partial ? v.optional() : v;
  return z.strictObject(fields, {
    error: (iss) =>
      iss.code === "unrecognized_keys"
        ? `a known field: one of ${allowed}`
        : iss.code === "invalid_type"
          ? `an object with fields ${allowed}`
          : undefined,
  });
}

function geometry(partial: boolean): z.ZodType {
  const o = obj({ entries: int(0, "entries; 0 = absent"), ways: int(1, "ways") }, partial);
  if (partial) return o;
  return o.superRefine((value, ctx) => {
    const g = value as { entries: number; ways: number };
    if (g.entries > 0 && g.entries % g.ways !== 0) {
      ctx.addIssue({ code: "custom", path: ["ways"], message: `a divisor of entries (${g.entries}): sets = entries / ways` });
    }
  });
}

const TLB_FIELDS = ["itlb4k", "itlb2m", "dtlb4k", "dtlb2m", "dtlb1g", "stlb", "stlb1g"] as const;
const PSC_FIELDS = ["pml4", "pdpt", "pd"] as const;
const LATENCY_FIELDS = ["l1TlbHit", "stlbHit", "pscLookup", "walkRefL1d", "walkRefL2", "walkRefLlc"] as const;
const COST_FIELDS = [
  "wrpkru",
  "rdpkru",
  "callRet",
  "syscallSysret",
  "linuxSyscall",
  "linuxSyscallNoMitigations",
  "vmExitRoundTrip",
  "pageFaultUnikernel",
  "pageFaultLinux",
  "invlpg",
  "movCr3",
  "movCr3Pcid",
  "pageCopy4k",
  "pageZero4k",
] as const;

function fieldsOf(names: readonly string[], make: () => z.ZodType): Shape {
  const s: Shape = {};
  for (const n of names) s[n] = make();
  return s;
}

function cpuSchema(partial: boolean): z.ZodObject {
  const shape: Shape = {
    name: nonEmpty(),
    label: text(),
    frequencyHz: int(1, PRESET_LIMITS.hz),
    tlb: obj(fieldsOf(TLB_FIELDS, () => geometry(partial)), partial),
    psc: obj(fieldsOf(PSC_FIELDS, () => geometry(partial)), partial),
    ntlb: geometry(partial),
    lineCache: geometry(partial),
    pageWalkers: int(1, "walkers"),
    latency: obj(fieldsOf(LATENCY_FIELDS, cycles), partial),
    costs: obj(fieldsOf(COST_FIELDS, cycles), partial),
  };
  if (partial) shape.base = z.enum(CPU_NAMES, { error: `one of ${CPU_NAMES.join(", ")}` });
  return obj(shape, partial);
}

function tierSchema(partial: boolean): z.ZodType {
  const shape: Shape = {
    name: nonEmpty(),
    label: text(),
    kind: z.enum(TIER_KINDS, { error: `one of ${TIER_KINDS.join(", ")}` }),
    loadRandomNs: latencyNs(),
    loadSequentialNs: latencyNs(),
    storeNs: latencyNs(),
    readBytesPerSec: bandwidth(),
    writeBytesPerSec: bandwidth(),
    accessBytes: int(1, "bytes; a power of two"),
    capacityBytes: int(1, "bytes"),
  };
  if (partial) {
    shape.base = z.enum(TIER_NAMES, { error: `one of ${TIER_NAMES.join(", ")}` });
    return obj(shape, true);
  }
  return obj(shape, false).superRefine((value, ctx) => {
    const a = (value as { accessBytes: number }).accessBytes;
    if (!Number.isInteger(Math.log2(a))) ctx.addIssue({ code: "custom", path: ["accessBytes"], message: "a power of two (bytes)" });
  });
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Overrides of a CPU preset as a scenario file gives them. */
export type CpuOverride = DeepPartial<CpuPreset> & { base?: CpuName };
/** Overrides of a tier preset as a scenario file gives them. */
export type TierOverride = DeepPartial<TierPreset> & { base?: TierName };

/** A complete CPU preset. */
export const CpuPresetSchema = cpuSchema(false) as unknown as z.ZodType<CpuPreset>;
/** Overrides of any CPU field, with an optional `base` preset name; unknown fields are errors. */
export const CpuOverrideSchema = cpuSchema(true) as unknown as z.ZodType<CpuOverride>;
/** A complete tier preset. */
export const TierPresetSchema = tierSchema(false) as unknown as z.ZodType<TierPreset>;
/** Overrides of any tier field, with an optional `base` preset name; unknown fields are errors. */
export const TierOverrideSchema = tierSchema(true) as unknown as z.ZodType<TierOverride>;

// ---------------------------------------------------------------------------------------
// Resolution

/**
 * What a preset input may be, as errors say it: a preset's name (of `names`) or an
 * object of overrides (with a base preset, or complete).
 *
 * @example
 * presetAllowed(["dram", "optane"]); // 'a preset name ("dram", "optane") or an object of overrides with an optional base'
 */
export function presetAllowed(names: readonly string[]): string {
  return `a preset name (${names.map(formatValue).join(", ")}) or an object of overrides with an optional base`;
}

/**
 * The CPU a scenario asks for: a preset name, or overrides merged onto `base` (without a
 * base the object must be complete). Throws `PresetError` naming every bad field.
 *
 * @example
 * resolveCpu("skylake");
 * resolveCpu({ base: "skylake", frequencyHz: 2_100_000_000, tlb: { stlb: { entries: 2048, ways: 16 } } });
 */
export function resolveCpu(input: unknown, root = "cpu"): CpuPreset {
  return resolve(input, root, {
    names: CPU_NAMES,
    isName: isCpuName,
    preset: (n) => cpuPreset(n as CpuName),
    full: CpuPresetSchema,
    partial: CpuOverrideSchema,
  });
}

/**
 * The memory tier a scenario asks for: a preset name, or overrides merged onto `base`
 * (without a base the object must be complete). Throws `PresetError` naming every bad field.
 *
 * @example
 * resolveTier("optane");
 * resolveTier({ base: "dram", capacityBytes: 64 * 2 ** 30 });
 */
export function resolveTier(input: unknown, root = "tier"): TierPreset {
  return resolve(input, root, {
    names: TIER_NAMES,
    isName: isTierName,
    preset: (n) => tierPreset(n as TierName),
    full: TierPresetSchema,
    partial: TierOverrideSchema,
  });
}

interface Kind<T> {
  names: readonly string[];
  isName: (x: unknown) => boolean;
  preset: (name: string) => T;
  full: z.ZodType<T>;
  partial: z.ZodType;
}

function resolve<T>(input: unknown, root: string, kind: Kind<T>): T {
  if (typeof input === "string" && kind.isName(input)) return kind.preset(input);
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new PresetError([{ path: root, value: input, allowed: expected(presetAllowed(kind.names)) }]);
  }
  const checked = kind.partial.safeParse(input);
  if (!checked.success) throw new PresetError(toIssues(checked.error, input, root));

  const { base, ...overrides } = input as Record<string, unknown>;
  const start = base === undefined ? {} : (kind.preset(base as string) as Record<string, unknown>);
  const merged = merge(start, overrides);
  const result = kind.full.safeParse(merged);
  if (!result.success) throw new PresetError(toIssues(result.error, merged, root));
  return result.data;
}

/** Deep merge of plain objects: `over` wins; neither argument is changed. */
function merge(into: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...into };
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k];
    out[k] = isPlainObject(v) && isPlainObject(cur) ? merge(cur, v) : v;
  }
  return out;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** `allowed` in the project's form, "expected ..." (the schemas' messages are noun phrases). */
const expected = (allowed: string): string => (allowed.startsWith("expected") ? allowed : `expected ${allowed}`);

function toIssues(error: z.ZodError, input: unknown, root: string): PresetIssue[] {
  const out: PresetIssue[] = [];
  // a field's checks share one message (1e300 frequencyHz is no safe integer and too big): it is said once
  const said = new Set<string>();
  const push = (issue: PresetIssue): void => {
    const i = { ...issue, allowed: expected(issue.allowed) };
    const line = formatIssue(i);
    if (!said.has(line)) out.push(i);
    said.add(line);
  };
  for (const iss of error.issues) {
    const path = iss.path.map(String);
    if (iss.code === "unrecognized_keys") {
      const parent = valueAt(input, path);
      for (const key of iss.keys) {
        push({ path: joinPath(root, [...path, key]), value: (parent as Record<string, unknown>)?.[key], allowed: iss.message });
      }
      continue;
    }
    // a missing field reads "<path>: missing; expected ..." (formatIssue)
    push({ path: joinPath(root, path), value: valueAt(input, path), allowed: iss.message });
  }
  return out;
}

/**
 * The value at `path` in parsed JSON `x` (keys of objects, indices of arrays), or
 * undefined when there is none: own properties only, so that a field named like an
 * Object.prototype member ("constructor") finds nothing it inherits.
 *
 * @example
 * valueAt({ tiers: [{ capacity: "8GiB" }] }, ["tiers", "0", "capacity"]); // "8GiB"
 */
export function valueAt(x: unknown, path: readonly PropertyKey[]): unknown {
  let cur = x;
  for (const p of path) {
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, p)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function joinPath(root: string, path: readonly string[]): string {
  return [root, ...path].filter((p) => p !== "").join(".");
}
