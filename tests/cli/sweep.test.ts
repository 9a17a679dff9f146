// `unimmu sweep` on bad sweep files: one line naming the path or the cell, status 1,
// and nothing run or written.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, expectOneLineError } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "unimmu-sweep-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BASE = {
  tiers: [{ name: "dram", preset: "dram", capacity: "8GiB" }],
  configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "64MiB" }] } },
  workloads: { k: { type: "kv", options: { items: 10, reads: 10 } } },
};

let files = 0;
function sweepFile(grid: Record<string, unknown[]>): string {
  const f = join(work, `sweep-${files++}.json`);
  writeFileSync(f, JSON.stringify({ base: BASE, grid }));
  return f;
}

/** Runs a bad sweep with --out and checks the one-line error, that the --out directory was not made. */
function refused(grid: Record<string, unknown[]>, pattern: RegExp, threads = "1"): void {
  const out = join(work, `out-${files}`);
  expectOneLineError(cli(["sweep", sweepFile(grid), "--threads", threads, "--out", out]), 1, pattern);
  expect(existsSync(out)).toBe(false);
}

describe("unimmu sweep refuses a bad grid before anything runs", () => {
  it("a path through __proto__ or an inherited property", () => {
    for (const p of ["__proto__.hasOwnProperty", "__proto__.toString", "__proto__.constructor", "__proto__.valueOf"]) {
      refused({ [p]: [1] }, /^unimmu: error: grid path __proto__\.\w+: "__proto__" does not exist in the base; it has tiers, configs, workloads$/);
    }
    refused({ "tiers.__proto__.map": [1] }, /"__proto__" does not exist in tiers; it is an array: its elements are addressed by index 0\.\.0$/);
  });

  it("an array's length", () => {
    for (const v of [-1, 1e10, 5]) refused({ "tiers.length": [v] }, /^unimmu: error: grid path tiers\.length: "length" does not exist in tiers; it is an array: its elements are addressed by index 0\.\.0$/);
  });

  it("an empty grid", () => {
    refused({}, /^unimmu: error: grid: \{\} is not allowed; expected at least one path and its values$/);
  });

  it("a path inside another", () => {
    refused(
      { "configs.osv": [BASE.configs.osv], "configs.osv.policy": ["ucat"] },
      /^unimmu: error: grid: "configs\.osv\.policy" is not allowed; expected paths none of which is a prefix of another \("configs\.osv" sets it too\)$/,
    );
  });
});

describe("unimmu sweep: a bad argument a cell's job would refuse", () => {
  it.each(["1", "2"])("names the cell, before anything runs (--threads %s)", (threads) => {
    const out = join(work, `job-${threads}`);
    const r = cli(["sweep", sweepFile({ "workloads.k.options.items": [10, 0] }), "--threads", threads, "--out", out]);
    expectOneLineError(r, 1, /^unimmu: error: grid cell 1 \(\{"workloads\.k\.options\.items":0\}\): workloads\.k\.options\.items: 0 is not allowed; expected an integer in 1\.\.134217728/);
    expect(existsSync(out)).toBe(false);
  });
});
