/**
 * Sweeps: a base scenario and a grid of values by path (e.g. DRAM size x page policy x
 * STLB size x workload); every cell is a scenario, every scenario's configuration and
 * workload pairs are jobs, and all jobs run on the worker pool. The result is one table,
 * a row per cell, workload and configuration, in grid order whatever the thread count;
 * a run whose configuration is too small for its workload is a row that says why.
 *
 * @example
 * const spec = parseSweep({ base: scenario, grid: { "configs.ucat.nodes.0.bytes": ["256MiB", "1GiB"] } });
 * const r = await runSweep(spec, { threads: 2 });
 * r.rows[0].params;
 */
import { z } from "zod";
import { expandGrid, GridError } from "./grid.js";
import { parseScenario, scenarioJobs, ScenarioError, REPORT_SCHEMA, issueLines, shapeLines, type Scenario } from "./scenario.js";
import { JobError, type JobResult } from "./jobs.js";
import { JobsAborted, runJobsSettled, type PoolOptions } from "./pool.js";

/** Problems of bad cells shown at most (a grid can have 100,000 cells). */
const MAX_CELL_LINES = 20;

/** How errors name the sweep file as a whole. */
const SWEEP_ROOT = "(the sweep)";

const SweepSchema = z
  .object({
    schema: z.literal("unimmu/sweep@1").optional(),
    base: z.unknown(),
    // a sweep without parameters is a run (`unimmu run`)
    grid: z.record(z.string().min(1), z.array(z.unknown()).min(1)).refine((g) => Object.keys(g).length > 0, "expected at least one path and its values"),
  })
  .strict();

export interface SweepSpec {
  base: unknown;
  grid: Record<string, unknown[]>;
  cells: { index: number; params: Record<string, unknown>; scenario: Scenario }[];
}

/** `lines`, each prefixed with the cell they are about. */
function cellLines(c: { index: number; params: Record<string, unknown> }, lines: readonly string[]): string[] {
  return lines.map((m) => `grid cell ${c.index} (${JSON.stringify(c.params)}): ${m}`);
}

/** Validates a sweep file and every cell's scenario (an error names the cell and the path). */
export function parseSweep(input: unknown): SweepSpec {
  // before the grid copies the base (a deep copy) or zod drops a "__proto__" path
  const shape = shapeLines(input, SWEEP_ROOT);
  if (shape.length) throw new ScenarioError(shape);
  const r = SweepSchema.safeParse(input);
  if (!r.success) {
    throw new ScenarioError(issueLines(input, r.error.issues, SWEEP_ROOT, SweepSchema));
  }
  let grid;
  try {
    grid = expandGrid(r.data.base, r.data.grid);
  } catch (e) {
    if (e instanceof GridError) throw new ScenarioError([e.message]);
    throw e;
  }
  // every bad cell's problems at once, as a scenario's (up to MAX_CELL_LINES lines)
  const lines: string[] = [];
  const cells: SweepSpec["cells"] = [];
  for (const c of grid) {
    try {
      cells.push({ index: c.index, params: c.params, scenario: parseScenario(c.value) });
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      lines.push(...cellLines(c, e.issues));
    }
  }
  if (lines.length) {
    const more = lines.length - MAX_CELL_LINES;
    throw new ScenarioError(more > 0 ? [...lines.slice(0, MAX_CELL_LINES), `and ${more} more problems in other cells`] : lines);
  }
  return { base: r.data.base, grid: r.data.grid, cells };
}

/** A run of a cell: its result. */
export interface SweepRow {
  cell: number;
  params: Record<string, unknown>;
  result: JobResult;
}

/** A run of a cell that did not fit (a JobError: its configuration too small for its workload): why. */
export interface SweepFailure {
  cell: number;
  params: Record<string, unknown>;
  workload: string;
  config: string;
  error: string;
}

export interface SweepReport {
  schema: typeof REPORT_SCHEMA;
  /** `failed`: the runs that ended with a JobError (their rows say why). */
  sweep: { grid: Record<string, unknown[]>; cells: number; jobs: number; failed: number };
  rows: (SweepRow | SweepFailure)[];
}

/**
 * Runs every cell's jobs; a run that does not fit its configuration becomes a failure
 * row and the others go on. A bad argument only a job sees (a RangeError) ends the
 * sweep with a ScenarioError naming its cell, as parseSweep names a cell's problems.
 */
export async function runSweep(spec: SweepSpec, o: PoolOptions = {}): Promise<SweepReport> {
  const jobs = spec.cells.flatMap((c) => scenarioJobs(c.scenario).map((job) => ({ cell: c, job })));
  let results;
  try {
    results = await runJobsSettled(jobs.map((j) => j.job), o);
  } catch (e) {
    if (!(e instanceof JobsAborted)) throw e;
    // (a RangeError from a worker thread has its issues, if several, on lines of their own)
    if (e.cause instanceof RangeError) throw new ScenarioError(cellLines(jobs[e.job]!.cell, e.cause.message.split("\n")));
    throw e.cause;
  }
  const rows = results.map((x, i): SweepRow | SweepFailure => {
    const { cell, job } = jobs[i]!;
    if (x instanceof JobError) return { cell: cell.index, params: cell.params, workload: job.workload.name, config: job.config.name, error: x.message };
    return { cell: cell.index, params: cell.params, result: x };
  });
  return {
    schema: REPORT_SCHEMA,
    sweep: { grid: spec.grid, cells: spec.cells.length, jobs: jobs.length, failed: rows.filter((r) => "error" in r).length },
    rows,
  };
}

/** The figures of a sweep's table (and CSV), besides the grid's own parameters. */
export const SWEEP_COLUMNS = ["workload", "config", "memoryBytes", "fragmentationBytes", "pageTableBytes", "requests", "tlbMissRate", "walkRefs", "throughputOpsPerSecond"] as const;

/** The table: a row per run, the grid's parameters then SWEEP_COLUMNS, and an `error` column when a run failed. */
export function sweepTable(r: SweepReport): { header: string[]; rows: (string | number)[][] } {
  const paths = Object.keys(r.sweep.grid);
  const failed = r.rows.some((row) => "error" in row);
  const header = [...paths, ...SWEEP_COLUMNS, ...(failed ? ["error"] : [])];
  const rows = r.rows.map((row) => [
    ...paths.map((p) => (typeof row.params[p] === "object" ? JSON.stringify(row.params[p]) : String(row.params[p]))),
    ...("error" in row
      ? [row.workload, row.config, ...SWEEP_COLUMNS.slice(2).map(() => ""), row.error]
      : [...SWEEP_COLUMNS.map((k) => row.result[k] as string | number), ...(failed ? [""] : [])]),
  ]);
  return { header, rows };
}
