/**
 * Scenario files: a host with tiers, named VM configurations, named workloads, a seed;
 * every configuration runs every workload (each pair on its own simulator, in worker
 * threads when there are several). Validated with a schema: an error names the path,
 * the value and what is allowed, and nothing is run or written.
 *
 * @example
 * const s = parseScenario(JSON.parse(readFileSync("scenario.json", "utf8")));
 * const report = await runScenario(s, { threads: 2 });
 * report.results["ycsb-a"].ucat.throughputOpsPerSecond;
 */
import { z } from "zod";
import { CPU_NAMES, type CpuPreset } from "../cost/cpus.js";
import { formatIssue, formatValue, presetAllowed, PresetError, resolveCpu, resolveTier, valueAt } from "../cost/schema.js";
import { TIER_NAMES } from "../cost/tiers.js";
import { checkJobs, type Job, type JobResult, type WorkloadSpec, type ConfigSpec } from "./jobs.js";
import { runJobs, type PoolOptions } from "./pool.js";
import { LINE_CACHE_MODES, type LineCacheMode } from "./simulator.js";
import { isLineSampling } from "../core/sampling.js";

export const REPORT_SCHEMA = "unimmu/report@1";
export const SCENARIO_SCHEMA = "unimmu/scenario@1";
/** How errors name the scenario as a whole. */
const ROOT = "(the scenario)";

const UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** A byte count: a non-negative integer, or a string such as "4GiB" or "512 MiB". */
const Size = z.union([
  z.number().int().nonnegative().describe("an integer number of bytes >= 0"),
  z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*(B|KiB|MiB|GiB|TiB)\s*$/)
    .transform((s) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)\s*$/.exec(s)!;
      return Math.round(Number(m[1]) * UNITS[m[2]]);
    })
    .describe(`a string such as "4GiB" (units ${Object.keys(UNITS).join(", ")})`),
]);

/**
 * JavaScript objects reserve this key: zod drops an entry of that name from a record (and
 * an object built by assignment would take it as its prototype), so no name may be it.
 */
const RESERVED_KEY = "__proto__";
const RESERVED_KEY_ALLOWED = `expected a name other than ${JSON.stringify(RESERVED_KEY)}, which JavaScript objects reserve`;

/** The name of a tier, a configuration or a workload: any text but "" and "__proto__". */
const Name = z.string().superRefine((k, ctx) => {
  if (k === "") ctx.addIssue({ code: "custom", message: "expected a non-empty name" });
  else if (k === RESERVED_KEY) ctx.addIssue({ code: "custom", message: RESERVED_KEY_ALLOWED });
});

const Overrides = z.record(z.string(), z.unknown());
/** A preset's name (of `names`), or an object of overrides on a `base` preset (src/cost/schema.ts resolves and checks it). */
const preset = <T extends readonly [string, ...string[]]>(names: T) => z.union([z.enum(names), Overrides]).describe(presetAllowed(names));
const Tier = z.object({ name: Name, preset: preset(TIER_NAMES), capacity: Size }).strict();

const Config = z
  .object({
    description: z.string().optional(),
    policy: z.enum(["osv", "ucat"]),
    allocator: z.enum(["osv", "ucat"]).optional(),
    nodes: z.array(z.object({ tier: z.string().min(1), bytes: Size }).strict()).min(1),
    linearPage: z.union([z.literal(1), z.literal(2)]).optional(),
    metadataTier: z.string().optional(),
    /** The tier the workload asks malloc for (default: the allocator's own choice). */
    tier: z.string().optional(),
    hypervisor: z
      .object({
        onTierFull: z.enum(["next-tier", "fail"]).optional(),
        osvPlacement: z.enum(["tier-order", "interleave"]).optional(),
        maxEptPage: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
        pageTableTier: z.string().optional(),
        prepopulate: z.boolean().optional(),
        backInCore: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const Count = z.number().int().nonnegative();
const Workload = z.discriminatedUnion("type", [
  z.object({ type: z.literal("kv"), options: z.object({ items: Count.optional(), reads: Count.optional(), fillBytes: Count.optional() }).strict().optional() }).strict(),
  z
    .object({
      type: z.literal("memslap"),
      options: z
        .object({
          operations: Count.optional(),
          concurrency: Count.optional(),
          windowSize: Count.optional(),
          keySize: Count.optional(),
          valueSize: Count.optional(),
          server: z.object({ memoryLimit: Count.optional() }).strict().optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal("ycsb"),
      workload: z.enum(["a", "b", "c", "d", "e", "f"]),
      options: z
        .object({
          recordCount: Count.optional(),
          operationCount: Count.optional(),
          backend: z.enum(["kv-store", "memcached"]).optional(),
          memcached: z.object({ memoryLimit: Count.optional() }).strict().optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
]);

export const ScenarioSchema = z
  .object({
    schema: z.literal(SCENARIO_SCHEMA).optional(),
    name: z.string().default("scenario"),
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    cpu: preset(CPU_NAMES).default("skylake"),
    tiers: z.array(Tier).min(1),
    configs: z.record(Name, Config).refine((r) => Object.keys(r).length > 0, "expected at least one configuration"),
    workloads: z.record(Name, Workload).refine((r) => Object.keys(r).length > 0, "expected at least one workload"),
    /** Work per operation outside the memory system, by workload type (cycles). */
    computeCyclesPerOp: z.object({ kv: Count.optional(), memslap: Count.optional(), ycsb: Count.optional() }).strict().optional(),
    /** What the core's line cache models: page-table and data lines, page-table lines only, or nothing. */
    lineCache: z.enum(LINE_CACHE_MODES as [LineCacheMode, ...LineCacheMode[]]).default("all"),
    /** Model 1 line-cache set in this many and estimate the line counts (1: every set, exact). */
    lineSampling: z
      .number()
      .int()
      .min(1)
      .refine((k) => (k & (k - 1)) === 0, "expected a power of two (1, 2, 4, ... up to the line cache's sets)")
      .default(1),
    /**
     * Run each job's line cache on a worker thread of its own (the same results;
     * docs/performance.md says when it pays). Absent: when the machine has a core to
     * spare for each job thread (runJobs).
     */
    lineThread: z.boolean().optional(),
    /**
     * Draw each YCSB job's run phase (workloads without inserts or scans: A, B, C, F) on
     * a worker thread too: the line thread's, or one of its own (the same results;
     * docs/performance.md). Absent: with the line thread's rule (runJobs).
     */
    generatorThread: z.boolean().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    let g: CpuPreset["lineCache"];
    try {
      g = resolveCpu(s.cpu).lineCache;
    } catch {
      return; // parseScenario reports the CPU's own problems
    }
    // no line cache to bound the sampling by: checkJob (in parseScenario) names that cause,
    // cpu.lineCache.entries, rather than "at most the line cache's 0 sets"
    if (s.lineCache !== "off" && g.entries === 0) return;
    const sets = s.lineCache === "off" ? 0 : g.entries / g.ways;
    // (a value below 1 or no power of two has its own message above)
    if (s.lineSampling >= 1 && !isLineSampling(s.lineSampling, sets) && (s.lineSampling & (s.lineSampling - 1)) === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["lineSampling"],
        message: s.lineCache === "off" ? "expected 1: sampling needs a line cache (lineCache is off)" : `expected at most the line cache's ${sets} sets (cpu ${cpuLabel(s.cpu)})`,
      });
    }
    if (s.lineThread && s.lineCache === "off") {
      ctx.addIssue({ code: "custom", path: ["lineThread"], message: "expected false: a line thread needs a line cache (lineCache is off)" });
    }
  });

export type Scenario = z.output<typeof ScenarioSchema>;

/**
 * How reports name a scenario's CPU: its preset's name, or the base of its overrides.
 *
 * @example
 * cpuLabel("zen4");                                  // "zen4"
 * cpuLabel({ base: "skylake", frequencyHz: 2.1e9 }); // "skylake with overrides"
 */
export function cpuLabel(cpu: Scenario["cpu"]): string {
  if (typeof cpu === "string") return cpu;
  return typeof cpu.base === "string" ? `${cpu.base} with overrides` : "a preset of its own";
}

export class ScenarioError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.length === 1 ? issues[0] : `${issues.length} problems:\n  ${issues.map((m, k) => `${k + 1}. ${m}`).join("\n  ")}`);
    this.name = "ScenarioError";
  }
}

function pathText(path: readonly PropertyKey[], root: string): string {
  return path.length ? path.map(String).join(".") : root;
}

const KIND_NAMES: Record<string, string> = {
  array: "an array", object: "an object", record: "an object", string: "a string", number: "a number", int: "an integer", boolean: "true or false",
  nonoptional: "a value",
};

/** The schema inside an optional, nullable, default or pipe (its input side), or null when `s` is none of these. */
function innerOf(s: z.ZodType): z.ZodType | null {
  if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) return s.unwrap() as z.ZodType;
  if (s instanceof z.ZodDefault) return s.def.innerType as z.ZodType;
  if (s instanceof z.ZodPipe) return s.in as z.ZodType;
  return null;
}

function unwrap(s: z.ZodType): z.ZodType {
  for (let i = innerOf(s); i; i = innerOf(s)) s = i;
  return s;
}

/** A discriminated union's option for `value` (by its tag), or `s` itself when it is no such union; null when no option has the tag. */
function variantOf(s: z.ZodType, value: unknown): z.ZodType | null {
  if (!(s instanceof z.ZodDiscriminatedUnion)) return s;
  const by: string = s.def.discriminator;
  const tag = valueAt(value, [by]);
  const o = (s.options as z.ZodType[]).find((o) => o instanceof z.ZodObject && (o.shape[by] as z.ZodLiteral | undefined)?.values.has(tag as never));
  return o ? unwrap(o) : null;
}

/**
 * The schema that checks the value at `path` of `input` (through wrappers, objects,
 * records, arrays and discriminated unions, chosen by the tag in `input`), or null.
 */
function schemaAt(schema: z.ZodType, input: unknown, path: readonly PropertyKey[]): z.ZodType | null {
  let s: z.ZodType | null = schema;
  for (let k = 0; k < path.length && s; k++) {
    s = variantOf(unwrap(s), valueAt(input, path.slice(0, k)));
    const key = path[k]!;
    if (s instanceof z.ZodObject) s = Object.hasOwn(s.shape, key) ? (s.shape[key as string] as z.ZodType) : null;
    else if (s instanceof z.ZodRecord) s = s.def.valueType as z.ZodType;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else s = null;
  }
  return s;
}

/** The keys the object schema at `path` (in `input`) allows, or null when no object schema is there. */
function allowedKeys(schema: z.ZodType, input: unknown, path: readonly PropertyKey[]): string[] | null {
  const at = schemaAt(schema, input, path);
  const s = at && variantOf(unwrap(at), valueAt(input, path));
  return s instanceof z.ZodObject ? Object.keys(s.shape) : null;
}

/** "a", "a or b", "a, b or c". */
function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

function describeNumber(s: z.ZodNumber): string {
  const int = s.isInt;
  // an integer's unset bounds are the safe integers'
  const lo = s.minValue !== null && s.minValue > (int ? Number.MIN_SAFE_INTEGER : -Infinity) ? s.minValue : null;
  const hi = s.maxValue !== null && s.maxValue < (int ? Number.MAX_SAFE_INTEGER : Infinity) ? s.maxValue : null;
  const allows = (v: number): boolean => s.safeParse(v).success; // an exclusive bound (positive()) is not allowed itself
  const what = int ? "an integer" : "a number";
  if (lo !== null && hi !== null && allows(lo) && allows(hi)) return `${what} from ${lo} to ${hi}`;
  const bounds = [lo === null ? "" : `${allows(lo) ? ">=" : ">"} ${lo}`, hi === null ? "" : `${allows(hi) ? "<=" : "<"} ${hi}`].filter(Boolean);
  return [what, bounds.join(" and ")].filter(Boolean).join(" ");
}

/**
 * What a schema allows, in words: its own description (`.describe(...)`) where it has
 * one, else from its kind; a union lists its alternatives ("0, 1 or 2"; "an integer
 * number of bytes >= 0, or a string such as ...").
 */
function describe(s: z.ZodType): string {
  for (let i: z.ZodType | null = s; i; i = innerOf(i)) {
    if (i.description !== undefined) return i.description;
    s = i;
  }
  if (s instanceof z.ZodDiscriminatedUnion) {
    const by: string = s.def.discriminator;
    const tags = (s.options as z.ZodObject[]).flatMap((o) => [...((o.shape[by] as z.ZodLiteral).values as Set<unknown>)]);
    return `an object with ${by} ${orList(tags.map(formatValue))}`;
  }
  if (s instanceof z.ZodUnion) {
    const values: string[] = [];
    const others: string[] = [];
    for (const o of s.options as z.ZodType[]) {
      const u = unwrap(o);
      if (o.description === undefined && u.description === undefined && (u instanceof z.ZodEnum || u instanceof z.ZodLiteral)) {
        values.push(...(u instanceof z.ZodEnum ? (u.options as unknown[]) : [...(u.values as Set<unknown>)]).map(formatValue));
      } else others.push(describe(o));
    }
    const parts = [...(values.length === 0 ? [] : others.length === 0 ? [orList(values)] : [values.length === 1 ? values[0]! : `one of ${values.join(", ")}`]), ...others];
    // ", or" between alternatives that have commas of their own
    return parts.some((p) => p.includes(",")) ? parts.join(", or ") : orList(parts);
  }
  if (s instanceof z.ZodEnum) return (s.options as unknown[]).length === 1 ? formatValue(s.options[0]) : `one of ${(s.options as unknown[]).map(formatValue).join(", ")}`;
  if (s instanceof z.ZodLiteral) return orList([...(s.values as Set<unknown>)].map(formatValue));
  if (s instanceof z.ZodNumber) return describeNumber(s);
  if (s instanceof z.ZodString) return (s.minLength ?? 0) > 0 ? "a non-empty string" : "a string";
  if (s instanceof z.ZodBoolean) return KIND_NAMES.boolean!;
  if (s instanceof z.ZodArray) return KIND_NAMES.array!;
  if (s instanceof z.ZodObject || s instanceof z.ZodRecord) return KIND_NAMES.object!;
  return "a value of the documented kind";
}

/** What is allowed where issue `i` is; `at` is the schema there (when known). */
function allowedText(i: z.core.$ZodIssue, at: z.ZodType | null): string {
  const u = at && unwrap(at);
  // a union is described whole, whichever alternative's issue zod reports (it reports
  // one alternative's own when only that one got past the value's type)
  if (at && u instanceof z.ZodUnion && !(u instanceof z.ZodDiscriminatedUnion)) return `expected ${describe(at)}`;
  switch (i.code) {
    case "invalid_type":
      // told from the schema when known: a number's range too (1e400 parses as Infinity, a number to the user)
      return `expected ${at ? describe(at) : (KIND_NAMES[i.expected] ?? i.expected)}`;
    case "invalid_value":
      return `expected ${i.values.length === 1 ? formatValue(i.values[0]) : `one of ${i.values.map(formatValue).join(", ")}`}`;
    case "invalid_union":
      // a discriminated union names the tags it knows
      if ("options" in i && i.options?.length) return `expected ${i.options.length === 1 ? formatValue(i.options[0]) : `one of ${i.options.map(formatValue).join(", ")}`}`;
      return at ? `expected ${describe(at)}` : i.message;
    case "too_small":
    case "too_big": {
      if (u instanceof z.ZodNumber) return `expected ${describe(at!)}`;
      const bound = `${i.code === "too_small" ? ">" : "<"}${i.inclusive ? "=" : ""} ${i.code === "too_small" ? i.minimum : i.maximum}`;
      if (i.origin === "number" || i.origin === "int") return `expected a number ${bound}`;
      if (i.origin === "array") return `expected a list of ${bound} entries`;
      if (i.origin === "string") return i.code === "too_small" && Number(i.minimum) === 1 ? "expected a non-empty string" : `expected a string of ${bound} characters`;
      return i.message;
    }
    default:
      return i.message;
  }
}

/** One line for a key that is not allowed, as every such error reads. */
function keyLine(path: string, keys: readonly string[], allowed: string): string {
  const list = keys.map((k) => JSON.stringify(k)).join(", ");
  return `${path}: ${keys.length === 1 ? `key ${list} is` : `keys ${list} are`} not allowed; ${allowed}`;
}

/**
 * One line per schema issue of `input`: the path (`root` for the top), the value there
 * (or "missing") and what is allowed. With the `schema` that gave the issues, what is
 * allowed is told from it (the keys of an object, every alternative of a union, a
 * number's range).
 *
 * @example
 * issueLines({ seed: -1 }, issues, "(the scenario)", ScenarioSchema); // ['seed: -1 is not allowed; expected an integer from 0 to 4294967295', ...]
 */
export function issueLines(input: unknown, issues: readonly z.core.$ZodIssue[], root: string, schema?: z.ZodType): string[] {
  const lines = issues.map((i) => {
    if (i.code === "unrecognized_keys") {
      const allowed = schema ? allowedKeys(schema, input, i.path) : null;
      return keyLine(pathText(i.path, root), i.keys, `expected ${allowed ? `only ${allowed.join(", ")}` : "only the keys documented for it"} (a misspelling?)`);
    }
    if (i.code === "invalid_key") {
      // the key's own path is the record's and the key
      const recordPath = i.path.slice(0, -1);
      const key = String(i.path.at(-1));
      return keyLine(pathText(recordPath, root), [key], i.issues.map((k) => allowedText(k, null)).join("; "));
    }
    const value = valueAt(input, i.path);
    return formatIssue({ path: pathText(i.path, root), value, allowed: allowedText(i, schema ? schemaAt(schema, input, i.path) : null) });
  });
  // several checks of one value can fail (2 ** 60 is too big and no safe integer) and read the same: said once
  return [...new Set(lines)];
}

/**
 * How deeply a scenario may nest objects and arrays. Its deepest field is 5 levels down
 * (the scenario, workloads, a workload, options, server); walks of the value that recurse
 * (zod's, JSON.stringify's) run out of stack some thousands of levels down. 32 is far
 * from both.
 */
const MAX_NESTING = 32;

/**
 * Problems of parsed JSON that a schema cannot report, found without recursion: nesting
 * deeper than MAX_NESTING (named by the top-level field that holds it), and own
 * "__proto__" keys (which zod drops from a record without a word). `root` names the
 * whole (a scenario's, a sweep's).
 *
 * @example
 * shapeLines(JSON.parse('{"configs":{"__proto__":{}}}'), "(the scenario)"); // ['configs: key "__proto__" is not allowed; ...']
 */
export function shapeLines(input: unknown, root: string): string[] {
  const out: string[] = [];
  const tooDeep = new Set<string>();
  const stack: { v: unknown; path: string[] }[] = [{ v: input, path: [] }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    const top = path[0] ?? root;
    if (tooDeep.has(top)) continue;
    if (path.length >= MAX_NESTING) {
      tooDeep.add(top);
      out.push(formatIssue({ path: top, value: valueAt(input, [top]), allowed: `expected at most ${MAX_NESTING} levels of nested objects and arrays` }));
      continue;
    }
    if (!Array.isArray(v) && Object.hasOwn(v, RESERVED_KEY)) out.push(keyLine(pathText(path, root), [RESERVED_KEY], RESERVED_KEY_ALLOWED));
    // reversed onto the stack: the problems come in the file's order
    for (const [k, x] of Object.entries(v).reverse()) if (x !== null && typeof x === "object") stack.push({ v: x, path: [...path, k] });
  }
  return out;
}

/** Validates a scenario (parsed JSON); throws ScenarioError naming each bad path, value and what is allowed. */
export function parseScenario(input: unknown): Scenario {
  const shape = shapeLines(input, ROOT);
  if (shape.length) throw new ScenarioError(shape);
  const r = ScenarioSchema.safeParse(input);
  if (!r.success) throw new ScenarioError(issueLines(input, r.error.issues, ROOT, ScenarioSchema));
  const s = r.data;
  // cross-references the schema cannot see
  const tiers = new Set(s.tiers.map((t) => t.name));
  const problems: string[] = [];
  // the presets: a name, or overrides on a base, each field checked (src/cost/schema.ts)
  const presetProblems = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof PresetError)) throw e;
      problems.push(...e.issues.map(formatIssue));
    }
  };
  presetProblems(() => resolveCpu(s.cpu, "cpu"));
  s.tiers.forEach((t, i) => {
    presetProblems(() => resolveTier(t.preset, `tiers.${i}.preset`));
    // a preset's capacityBytes is its part's typical size, for reference: a tier's size is its capacity
    if (typeof t.preset === "object" && Object.hasOwn(t.preset, "capacityBytes")) {
      problems.push(formatIssue({ path: `tiers.${i}.preset.capacityBytes`, value: t.preset.capacityBytes, allowed: `expected the tier's size in tiers.${i}.capacity (the simulator does not read a preset's capacityBytes)` }));
    }
  });
  if (tiers.size !== s.tiers.length) problems.push(`tiers: names must be distinct; got ${s.tiers.map((t) => t.name).join(", ")}`);
  for (const [name, c] of Object.entries(s.configs)) {
    c.nodes.forEach((n, i) => {
      if (!tiers.has(n.tier)) problems.push(`configs.${name}.nodes.${i}.tier: ${JSON.stringify(n.tier)} is not allowed; expected one of ${[...tiers].join(", ")}`);
    });
    for (const key of ["tier", "metadataTier"] as const) {
      const t = c[key];
      if (t !== undefined && t !== "auto" && !c.nodes.some((n) => n.tier === t)) {
        problems.push(`configs.${name}.${key}: ${JSON.stringify(t)} is not allowed; expected a tier of the configuration's nodes (${c.nodes.map((n) => n.tier).join(", ")})`);
      }
    }
  }
  // every job's own checks (src/sim/jobs.ts), so that nothing runs when one job would fail
  if (!problems.length) problems.push(...checkJobs(scenarioJobs(s), input));
  if (problems.length) throw new ScenarioError(problems);
  return s;
}

/** The jobs of a scenario: every workload on every configuration, workload-major. */
export function scenarioJobs(s: Scenario): Job[] {
  // the presets once, whole (the jobs go to worker threads as plain data)
  const cpu = resolveCpu(s.cpu);
  const tiers = s.tiers.map((t) => ({ ...t, preset: resolveTier(t.preset) }));
  const jobs: Job[] = [];
  for (const [wname, w] of Object.entries(s.workloads)) {
    for (const [cname, c] of Object.entries(s.configs)) {
      const config: ConfigSpec = {
        name: cname,
        description: c.description,
        vm: { policy: c.policy, allocator: c.allocator, linearPage: c.linearPage, metadataTier: c.metadataTier },
        nodes: c.nodes,
        hypervisor: c.hypervisor,
        tier: c.tier,
      };
      jobs.push({
        seed: s.seed,
        cpu,
        tiers,
        config,
        workload: { name: wname, ...w } as WorkloadSpec,
        computeCyclesPerOp: s.computeCyclesPerOp?.[w.type],
        lineCache: s.lineCache,
        ...(s.lineSampling > 1 ? { lineSampling: s.lineSampling } : {}),
        ...(s.lineThread !== undefined ? { lineThread: s.lineThread } : {}),
        ...(s.generatorThread !== undefined ? { generatorThread: s.generatorThread } : {}),
      });
    }
  }
  return jobs;
}

export interface ScenarioReport {
  schema: typeof REPORT_SCHEMA;
  scenario: string;
  seed: number;
  /** The CPU as the scenario gives it: a preset's name, or overrides on a base. */
  cpu: Scenario["cpu"];
  tiers: Scenario["tiers"];
  /** What the core's line cache modelled. */
  lineCache: LineCacheMode;
  /** Line-cache sets per modelled set when sampled (absent: every set, exact counts). */
  lineSampling?: number;
  /** results[workload][config] */
  results: Record<string, Record<string, JobResult>>;
}

/**
 * Groups job results by workload, then configuration, in the jobs' order. Any name works,
 * "toString" or "constructor" too: the groups are collected in Maps and become own
 * properties (Object.fromEntries defines them; nothing is looked up on a prototype).
 */
export function groupResults(results: JobResult[]): Record<string, Record<string, JobResult>> {
  const byWorkload = new Map<string, [string, JobResult][]>();
  for (const r of results) {
    let rows = byWorkload.get(r.workload);
    if (!rows) byWorkload.set(r.workload, (rows = []));
    rows.push([r.config, r]);
  }
  return Object.fromEntries([...byWorkload].map(([w, rows]) => [w, Object.fromEntries(rows)]));
}

export async function runScenario(s: Scenario, o: PoolOptions = {}): Promise<ScenarioReport> {
  const results = await runJobs(scenarioJobs(s), o);
  return { schema: REPORT_SCHEMA, scenario: s.name, seed: s.seed, cpu: s.cpu, tiers: s.tiers, lineCache: s.lineCache, ...(s.lineSampling > 1 ? { lineSampling: s.lineSampling } : {}), results: groupResults(results) };
}
