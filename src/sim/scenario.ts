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
import { formatIssue, formatValue, PresetError, resolveCpu, resolveTier } from "../cost/schema.js";
import { TIER_NAMES } from "../cost/tiers.js";
import type { Job, JobResult, WorkloadSpec, ConfigSpec } from "./jobs.js";
import { runJobs, type PoolOptions } from "./pool.js";
import { LINE_CACHE_MODES, type LineCacheMode } from "./simulator.js";
import { isLineSampling } from "../core/sampling.js";

export const REPORT_SCHEMA = "unimmu/report@1";
export const SCENARIO_SCHEMA = "unimmu/scenario@1";

const UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** A byte count: a non-negative integer, or a string such as "4GiB" or "512 MiB". */
const Size = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*(B|KiB|MiB|GiB|TiB)\s*$/, 'a size such as "4GiB" (units B, KiB, MiB, GiB, TiB)')
    .transform((s) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)\s*$/.exec(s)!;
      return Math.round(Number(m[1]) * UNITS[m[2]]);
    }),
]);

/** A preset's name, or an object of overrides on a `base` preset (src/cost/schema.ts resolves and checks it). */
const Overrides = z.record(z.string(), z.unknown());
const Tier = z.object({ name: z.string().min(1), preset: z.union([z.enum(TIER_NAMES), Overrides]), capacity: Size }).strict();

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
    cpu: z.union([z.enum(CPU_NAMES), Overrides]).default("skylake"),
    tiers: z.array(Tier).min(1),
    configs: z.record(z.string().min(1), Config).refine((r) => Object.keys(r).length > 0, "at least one configuration"),
    workloads: z.record(z.string().min(1), Workload).refine((r) => Object.keys(r).length > 0, "at least one workload"),
    /** Work per operation outside the memory system, by workload type (cycles). */
    computeCyclesPerOp: z.object({ kv: Count.optional(), memslap: Count.optional(), ycsb: Count.optional() }).strict().optional(),
    /** What the core's line cache models: page-table and data lines, page-table lines only, or nothing. */
    lineCache: z.enum(LINE_CACHE_MODES as [LineCacheMode, ...LineCacheMode[]]).default("all"),
    /** Model 1 line-cache set in this many and estimate the line counts (1: every set, exact). */
    lineSampling: z
      .number()
      .int()
      .min(1)
      .refine((k) => (k & (k - 1)) === 0, "a power of two (1, 2, 4, ... up to the line cache's sets)")
      .default(1),
    /**
     * Run each job's line cache on a worker thread of its own (the same results;
     * docs/performance.md says when it pays). Absent: when the machine has a core to
     * spare for each job thread (runJobs).
     */
    lineThread: z.boolean().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    let g: CpuPreset["lineCache"];
    try {
      g = resolveCpu(s.cpu).lineCache;
    } catch {
      return; // parseScenario reports the CPU's own problems
    }
    const sets = s.lineCache === "off" ? 0 : g.entries / g.ways;
    // (a value that is no power of two has its own message above)
    if (!isLineSampling(s.lineSampling, sets) && (s.lineSampling & (s.lineSampling - 1)) === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["lineSampling"],
        message: s.lineCache === "off" ? "sampling needs a line cache (lineCache is off)" : `at most the line cache's ${sets} sets (cpu ${cpuLabel(s.cpu)})`,
      });
    }
    if (s.lineThread && s.lineCache === "off") {
      ctx.addIssue({ code: "custom", path: ["lineThread"], message: "a line thread needs a line cache (lineCache is off)" });
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

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

const KIND_NAMES: Record<string, string> = {
  array: "an array", object: "an object", record: "an object", string: "a string", number: "a number", int: "an integer", boolean: "true or false",
  nonoptional: "a value",
};

/** The keys the object schema at `path` (in `input`) allows, or null when no object schema is there. */
function allowedKeys(schema: z.ZodType, input: unknown, path: readonly PropertyKey[]): string[] | null {
  let s: z.ZodType | undefined = schema;
  let v = input;
  for (let k = 0; ; k++) {
    // through the wrappers to the schema that checks the value
    for (;;) {
      if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
      else if (s instanceof z.ZodDefault) s = s.def.innerType as z.ZodType;
      else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
      else if (s instanceof z.ZodDiscriminatedUnion) {
        const by: string = s.def.discriminator;
        const tag: unknown = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[by] : undefined;
        s = (s.options as z.ZodType[]).find((o) => o instanceof z.ZodObject && (o.shape[by] as z.ZodLiteral | undefined)?.values.has(tag as never));
        if (!s) return null;
      } else break;
    }
    if (k === path.length) return s instanceof z.ZodObject ? Object.keys(s.shape) : null;
    const key = path[k]!;
    if (s instanceof z.ZodObject) s = s.shape[key as string] as z.ZodType | undefined;
    else if (s instanceof z.ZodRecord) s = s.def.valueType as z.ZodType;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return null;
    if (!s) return null;
    v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  }
}

/**
 * One line per schema issue of `input`: the path (`root` for the top), the value there
 * (or "missing") and what is allowed.
 *
 * @example
 * issueLines({ seed: -1 }, issues, "(the scenario)"); // ['seed: -1 is not allowed; expected a number >= 0', ...]
 */
export function issueLines(input: unknown, issues: readonly z.core.$ZodIssue[], root: string, schema?: z.ZodType): string[] {
  return issues.map((i) => {
    const path = i.path.length ? i.path.map(String).join(".") : root;
    if (i.code === "unrecognized_keys") {
      const keys = i.keys.map((k) => JSON.stringify(k)).join(", ");
      const allowed = schema ? allowedKeys(schema, input, i.path) : null;
      return `${path}: ${i.keys.length === 1 ? `key ${keys} is` : `keys ${keys} are`} not allowed; expected ${allowed ? `only ${allowed.join(", ")}` : "only the keys documented for it"} (a misspelling?)`;
    }
    let allowed = i.message;
    if (i.code === "invalid_type") allowed = `expected ${KIND_NAMES[i.expected] ?? i.expected}`;
    else if (i.code === "invalid_value") allowed = `expected ${i.values.length === 1 ? formatValue(i.values[0]) : `one of ${i.values.map(formatValue).join(", ")}`}`;
    else if (i.code === "too_small" || i.code === "too_big") {
      const bound = `${i.code === "too_small" ? ">" : "<"}${i.inclusive ? "=" : ""} ${i.code === "too_small" ? i.minimum : i.maximum}`;
      if (i.origin === "number" || i.origin === "int") allowed = `expected a number ${bound}`;
      else if (i.origin === "array") allowed = `expected a list of ${bound} entries`;
      else if (i.origin === "string") allowed = `expected a string of ${bound} characters`;
    }
    return formatIssue({ path, value: valueAt(input, i.path), allowed });
  });
}

/** Validates a scenario (parsed JSON); throws ScenarioError naming each bad path, value and what is allowed. */
export function parseScenario(input: unknown): Scenario {
  const r = ScenarioSchema.safeParse(input);
  if (!r.success) throw new ScenarioError(issueLines(input, r.error.issues, "(the scenario)", ScenarioSchema));
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
  s.tiers.forEach((t, i) => presetProblems(() => resolveTier(t.preset, `tiers.${i}.preset`)));
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

/** Groups job results by workload, then configuration, in the jobs' order. */
export function groupResults(results: JobResult[]): Record<string, Record<string, JobResult>> {
  const out: Record<string, Record<string, JobResult>> = {};
  for (const r of results) (out[r.workload] ??= {})[r.config] = r;
  return out;
}

export async function runScenario(s: Scenario, o: PoolOptions = {}): Promise<ScenarioReport> {
  const results = await runJobs(scenarioJobs(s), o);
  return { schema: REPORT_SCHEMA, scenario: s.name, seed: s.seed, cpu: s.cpu, tiers: s.tiers, lineCache: s.lineCache, ...(s.lineSampling > 1 ? { lineSampling: s.lineSampling } : {}), results: groupResults(results) };
}
