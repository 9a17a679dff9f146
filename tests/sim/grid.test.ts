// Grid paths and sweep files: what a grid may set, and the errors for what it may not.
import { afterEach, describe, expect, it } from "vitest";
import { expandGrid } from "../../src/sim/grid.js";
import { parseSweep, runSweep } from "../../src/sim/sweep.js";

const BASE = {
  tiers: [{ name: "dram", preset: "dram", capacity: "8GiB" }],
  configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "64MiB" }] } },
  workloads: { k: { type: "kv", options: { items: 10, reads: 10 } } },
};

/** The message parseSweep throws for `grid` over BASE (and fails when it throws none). */
function sweepError(grid: Record<string, unknown[]>): string {
  try {
    parseSweep({ base: BASE, grid });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`parseSweep accepted ${JSON.stringify(grid)}`);
}

describe("expandGrid", () => {
  it("sets own keys of objects and indices of arrays, every combination", () => {
    const cells = expandGrid({ a: { b: 1 }, l: [1, 2] }, { "a.b": [1, 2], "l.1": ["x", "y"] });
    expect(cells.map((c) => c.value)).toEqual([
      { a: { b: 1 }, l: [1, "x"] },
      { a: { b: 1 }, l: [1, "y"] },
      { a: { b: 2 }, l: [1, "x"] },
      { a: { b: 2 }, l: [1, "y"] },
    ]);
  });
});

describe("grid paths reach only the base's own data", () => {
  afterEach(() => {
    // a grid that wrote onto Object.prototype would show here
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, "x")).toBe(false);
    expect(typeof Object.prototype.toString).toBe("function");
    expect(typeof Object.prototype.hasOwnProperty).toBe("function");
  });

  it.each(["__proto__.hasOwnProperty", "__proto__.toString", "__proto__.valueOf", "__proto__.constructor", "__proto__.propertyIsEnumerable", "__proto__.x"])(
    "%s: __proto__ is no key of the base",
    (path) => {
      expect(sweepError({ [path]: [1] })).toBe(`grid path ${path}: "__proto__" does not exist in the base; it has tiers, configs, workloads`);
    },
  );

  it.each(["constructor", "toString", "hasOwnProperty"])("an inherited property (%s) is no key either", (k) => {
    expect(sweepError({ [`configs.${k}`]: [1] })).toBe(`grid path configs.${k}: "${k}" does not exist in configs; it has osv`);
    expect(sweepError({ [`configs.osv.${k}.x`]: [1] })).toBe(`grid path configs.osv.${k}.x: "${k}" does not exist in configs.osv; it has policy, nodes`);
  });

  it("__proto__, constructor and prototype are refused even as keys the base has", () => {
    const base = JSON.parse('{"a":{"__proto__":{"x":1},"constructor":2,"prototype":3,"b":4}}') as unknown;
    for (const k of ["__proto__", "constructor", "prototype"]) {
      expect(() => expandGrid(base, { [`a.${k}`]: [1] })).toThrow(`grid path a.${k}: "${k}" does not exist in a; it has b`);
    }
    expect(() => expandGrid(base, { "a.__proto__.x": [1] })).toThrow(`"__proto__" does not exist in a`);
  });
});

describe("an array's elements are addressed by index", () => {
  it.each([
    ["tiers.length", [-1]],
    ["tiers.length", [1e10]],
    ["tiers.length", [5]],
  ])("%s = %j: length is no path", (path, values) => {
    expect(sweepError({ [path]: values })).toBe(`grid path ${path}: "length" does not exist in tiers; it is an array: its elements are addressed by index 0..0`);
  });

  it.each(["tiers.__proto__.map", "tiers.map", "tiers.1", "tiers.-1", "tiers.01", "tiers.0x0", "tiers.1e0", "tiers. 0", "tiers."])("%s is no index of tiers", (path) => {
    const k = path.split(".")[1];
    expect(sweepError({ [path]: [1] })).toBe(`grid path ${path}: "${k}" does not exist in tiers; it is an array: its elements are addressed by index 0..0`);
  });

  it("an empty array has no index", () => {
    expect(() => expandGrid({ l: [] }, { "l.0": [1] })).toThrow(`grid path l.0: "0" does not exist in l; it is an empty array`);
  });
});

describe("a sweep file's grid", () => {
  it("is not empty: a sweep without parameters is a run", () => {
    expect(sweepError({})).toBe("grid: {} is not allowed; expected at least one path and its values");
  });

  it("has no \"__proto__\" key, nor a base nested past what a scenario can be (checked before the base is copied)", () => {
    const proto = JSON.parse('{"base":{},"grid":{"__proto__":[1],"seed":[1]}}');
    expect(() => parseSweep(proto)).toThrow(/^grid: key "__proto__" is not allowed; expected a name other than "__proto__"/);
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    expect(() => parseSweep({ base: { ...BASE, seed: deep }, grid: { seed: [1] } })).toThrow(/^base: .* is not allowed; expected at most 32 levels of nested objects and arrays/);
  });

  it("has no path inside another: a cell would set both", () => {
    const osv = BASE.configs.osv;
    expect(sweepError({ "configs.osv": [osv], "configs.osv.policy": ["ucat"] })).toBe(
      'grid: "configs.osv.policy" is not allowed; expected paths none of which is a prefix of another ("configs.osv" sets it too)',
    );
    // in either order, and any depth
    expect(sweepError({ "workloads.k.options.items": [5], workloads: [BASE.workloads] })).toBe(
      'grid: "workloads.k.options.items" is not allowed; expected paths none of which is a prefix of another ("workloads" sets it too)',
    );
    // a prefix segment by segment, not by characters
    expect(parseSweep({ base: { ...BASE, configs: { osv: osv, osv2: osv } }, grid: { "configs.osv.policy": ["osv"], "configs.osv2.policy": ["ucat"] } }).cells).toHaveLength(1);
  });
});

describe("runSweep", () => {
  it("every bad cell is reported at once, up to 20 lines", () => {
    const sweepError = (grid: Record<string, unknown[]>): string => {
      try {
        parseSweep({ base: { ...BASE, seed: 1 }, grid });
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    const lines = sweepError({ seed: [-1, 1, -2], "workloads.k.options.items": [0, 10] }).split("\n").slice(1);
    expect(lines).toHaveLength(5); // cells 0, 1, 2 (items 0), 4 and 5 (seeds -1 and -2 with items 10)
    expect(lines[0]).toMatch(/^ {2}1\. grid cell 0 \(\{"seed":-1,"workloads\.k\.options\.items":0\}\): seed: -1 is not allowed/);
    const many = sweepError({ seed: Array.from({ length: 30 }, (_, k) => -1 - k) }).split("\n").slice(1);
    expect(many).toHaveLength(21);
    expect(many[20]).toMatch(/21\. and 10 more problems in other cells$/);
  });

  it("a grid of astronomically many cells says so without Infinity; many paths are checked", () => {
    const paths = Object.fromEntries(Array.from({ length: 320 }, (_, k) => [`p${k}`, Array.from({ length: 10 }, (_, j) => j)]));
    expect(() => expandGrid({}, paths)).toThrow("grid: more than 1e308 cells; at most 100000");
    const wide = Object.fromEntries(Array.from({ length: 20_000 }, (_, k) => [`a.p${k}`, [1]]));
    expect(() => expandGrid({ a: {} }, wide)).toThrow(/does not exist/);
  });

  it("a bad argument a cell's job would refuse is found before anything runs, naming the cell", () => {
    expect(() => parseSweep({ base: BASE, grid: { "workloads.k.options.items": [10, 0] } })).toThrow(
      /^grid cell 1 \(\{"workloads\.k\.options\.items":0\}\): workloads\.k\.options\.items: 0 is not allowed; expected an integer in 1\.\.134217728/,
    );
  });

  it("a bad argument that only a cell's job sees names the cell", async () => {
    // a spec that bypassed parseSweep's checks: runJob's own check is what refuses it
    const spec = parseSweep({ base: BASE, grid: { "workloads.k.options.items": [10, 20] } });
    (spec.cells[1]!.scenario.workloads.k!.options as { items: number }).items = 0;
    await expect(runSweep(spec, { threads: 1 })).rejects.toThrow(/^grid cell 1 \(\{"workloads\.k\.options\.items":20\}\): workloads\.k\.options\.items: 0 is not allowed/);
  });
});
