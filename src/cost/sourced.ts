/**
 * Numbers with their provenance.
 *
 * Every number in a preset is written as a `Src`: the value, and either the source it was
 * taken from (a manual, a paper, a measurement file, REFERENCE.md) or, for a guess, the
 * one-line reason behind the estimate. `unwrap` strips a sourced tree to the plain numbers
 * the simulator uses; `leaves` lists every number with its path, for the docs and the
 * tests that check that nothing is left without a source.
 */

export interface Src {
  value: number;
  /** The citation, or for a guess the reason for the estimate. Never empty. */
  source: string;
  guess: boolean;
  /** What the number means or how it was approximated, when the source alone does not say. */
  note?: string;
}

/** A tree shaped like `T` whose numbers carry their source; strings stay as they are. */
export type Sourced<T> = T extends number
  ? Src
  : T extends string
    ? T
    : { [K in keyof T]: Sourced<T[K]> };

/** A number taken from a source. */
export function src(value: number, source: string, note?: string): Src {
  return note === undefined ? { value, source, guess: false } : { value, source, guess: false, note };
}

/** An estimate: `reason` says in one line why this value. */
export function guess(value: number, reason: string, note?: string): Src {
  return note === undefined ? { value, source: reason, guess: true } : { value, source: reason, guess: true, note };
}

export function isSrc(x: unknown): x is Src {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as Src).value === "number" &&
    typeof (x as Src).source === "string" &&
    typeof (x as Src).guess === "boolean"
  );
}

/** The plain tree: every `Src` replaced by its value. */
export function unwrap<T>(tree: Sourced<T>): T {
  return unwrapAny(tree) as T;
}

function unwrapAny(x: unknown): unknown {
  if (isSrc(x)) return x.value;
  if (typeof x !== "object" || x === null) return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = unwrapAny(v);
  return out;
}

export interface Leaf extends Src {
  /** Dotted path inside the preset, e.g. `tlb.stlb.entries`. */
  path: string;
}

/**
 * Every leaf of a sourced tree that is not a string, in definition order. A raw number
 * (one written without `src` or `guess`) is returned with an empty source so that the
 * tests can report it.
 */
export function leaves(tree: unknown, prefix = ""): Leaf[] {
  const out: Leaf[] = [];
  walk(tree, prefix, out);
  return out;
}

function walk(x: unknown, path: string, out: Leaf[]): void {
  if (isSrc(x)) {
    out.push({ path, ...x });
    return;
  }
  if (typeof x === "number") {
    out.push({ path, value: x, source: "", guess: false });
    return;
  }
  if (typeof x !== "object" || x === null) return;
  for (const [k, v] of Object.entries(x)) walk(v, path === "" ? k : `${path}.${k}`, out);
}
