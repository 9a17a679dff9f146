/**
 * Parameter grids for sweeps: a base object and, per path, the values to try; the
 * cartesian product gives one job per cell, each a copy of the base with the values
 * set. Paths are dot-separated, with array indices as numbers (`host.tiers.0.capacity`).
 *
 * @example
 * expandGrid({ a: { b: 1 }, c: "x" }, { "a.b": [1, 2], c: ["x", "y"] }).length; // 4
 */

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

function setPath(obj: unknown, path: string, value: unknown): void {
  const keys = path.split(".");
  let o = obj as Record<string, unknown>;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (o === null || typeof o !== "object") throw new GridError(`grid path ${path}: ${keys.slice(0, i).join(".") || "the base"} is not an object`);
    if (!(k in o)) {
      const known = Object.keys(o);
      throw new GridError(`grid path ${path}: "${k}" does not exist in ${keys.slice(0, i).join(".") || "the base"}; it has ${known.length ? known.join(", ") : "no keys"}`);
    }
    if (i === keys.length - 1) o[k] = structuredClone(value);
    else o = o[k] as Record<string, unknown>;
  }
}

/** Every cell of the grid over `base`; throws a GridError naming a path that does not exist. */
export function expandGrid<T>(base: T, grid: Record<string, unknown[]>): GridCell<T>[] {
  const paths = Object.keys(grid);
  for (const p of paths) {
    if (!Array.isArray(grid[p]) || grid[p].length === 0) throw new GridError(`grid path ${p}: expected a non-empty array of values`);
  }
  const cells: GridCell<T>[] = [];
  const total = paths.reduce((n, p) => n * grid[p].length, 1);
  if (total > 100_000) throw new GridError(`grid: ${total} cells; at most 100000`);
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
