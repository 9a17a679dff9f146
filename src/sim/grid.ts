/**
 * Parameter grids for sweeps: a base object and, per path, the values to try; the
 * cartesian product gives one job per cell, each a copy of the base with the values
 * set. Paths are dot-separated, with array indices as numbers (`host.tiers.0.capacity`);
 * each part is a key the base has (own, not inherited) or an index of its array.
 *
 * @example
 * expandGrid({ a: { b: 1 }, c: "x" }, { "a.b": [1, 2], c: ["x", "y"] }).length; // 4
 */
import { formatIssue } from "../cost/schema.js";

/** A grid its base cannot take: a path that does not exist in it, or paths inside one another. */
export class GridError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GridError";
  }
}

export interface GridCell<T> {
  /** Position in the grid (row-major over the paths in the order given). */
  index: number;
  /** The values of this cell, by path. */
  params: Record<string, unknown>;
  value: T;
}

// Names that reach an object's prototype whether or not the base has them as keys:
// setting them would change every object of the process.
const RESERVED = new Set(["__proto__", "constructor", "prototype"]);

/** Whether a grid may set `o[k]`: an own key of an object (but no RESERVED one), or an index 0..n-1 of an array. */
function isSlot(o: object, k: string): boolean {
  if (Array.isArray(o)) return /^(0|[1-9]\d*)$/.test(k) && Number(k) < o.length;
  return Object.hasOwn(o, k) && !RESERVED.has(k);
}

/** What a grid may set in `o`, for the error about a key it may not. */
function slots(o: object): string {
  if (Array.isArray(o)) return o.length ? `it is an array: its elements are addressed by index 0..${o.length - 1}` : "it is an empty array";
  const keys = Object.keys(o).filter((k) => !RESERVED.has(k));
  return `it has ${keys.length ? keys.join(", ") : "no keys"}`;
}

function setPath(obj: unknown, path: string, value: unknown): void {
  const keys = path.split(".");
  let o = obj;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const where = keys.slice(0, i).join(".") || "the base";
    if (o === null || typeof o !== "object") throw new GridError(`grid path ${path}: ${where} is not an object`);
    if (!isSlot(o, k)) throw new GridError(`grid path ${path}: "${k}" does not exist in ${where}; ${slots(o)}`);
    if (i === keys.length - 1) (o as Record<string, unknown>)[k] = structuredClone(value);
    else o = (o as Record<string, unknown>)[k];
  }
}

/** Throws a GridError for two paths of which one is a prefix of the other (segment by segment): a cell would set both. */
function checkDisjoint(paths: string[]): void {
  const all = new Set(paths);
  for (const p of paths) {
    // each proper prefix of p, segment by segment (linear in the paths, not quadratic)
    const parts = p.split(".");
    const outer = parts.slice(1).map((_, k) => parts.slice(0, k + 1).join(".")).find((q) => all.has(q));
    if (outer !== undefined) {
      throw new GridError(formatIssue({ path: "grid", value: p, allowed: `expected paths none of which is a prefix of another (${JSON.stringify(outer)} sets it too)` }));
    }
  }
}

/**
 * Every cell of the grid over `base`; throws a GridError naming a path that does not
 * exist (a path segment is an own key of an object or an index of an array) or one
 * inside another.
 */
export function expandGrid<T>(base: T, grid: Record<string, unknown[]>): GridCell<T>[] {
  const paths = Object.keys(grid);
  for (const p of paths) {
    if (!Array.isArray(grid[p]) || grid[p].length === 0) throw new GridError(`grid path ${p}: expected a non-empty array of values`);
  }
  checkDisjoint(paths);
  const cells: GridCell<T>[] = [];
  const total = paths.reduce((n, p) => n * grid[p].length, 1);
  if (total > 100_000) throw new GridError(`grid: ${Number.isFinite(total) ? total : "more than 1e308"} cells; at most 100000`);
  for (let index = 0; index < total; index++) {
    const value = structuredClone(base);
    const params: Record<string, unknown> = {};
    let rest = index;
    for (let i = paths.length - 1; i >= 0; i--) {
      const values = grid[paths[i]];
      const v = values[rest % values.length];
      rest = Math.floor(rest / values.length);
      params[paths[i]] = v;
      setPath(value, paths[i], v);
    }
    const ordered: Record<string, unknown> = {};
    for (const p of paths) ordered[p] = params[p];
    cells.push({ index, params: ordered, value });
  }
  return cells;
}
