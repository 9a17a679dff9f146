// `unimmu --help`, `unimmu trace --help`, the bin script, and `unimmu run`.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, cli, cliJson } from "./helpers.js";

describe("help", () => {
  it("unimmu --help lists the commands", () => {
    const r = cli(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^Usage: unimmu \[options\] \[command\]/);
    expect(r.stdout).toMatch(/^\s+trace \[options\] <file>/m);
    expect(r.stdout).toMatch(/^\s+run \[options\]/m);
  });
  it("unimmu trace --help lists its options and their choices", () => {
    const r = cli(["trace", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: unimmu trace \[options\] <file>/);
    for (const s of ["--model <model>", '"skylake-lru"', "--policy <policy>", '"2m"', "--json", "--skip-bad-lines"]) {
      expect(r.stdout).toContain(s);
    }
  });
  it("unimmu run --help lists its options", () => {
    const r = cli(["run", "--help"]);
    expect(r.status).toBe(0);
    for (const s of ["[scenario]", "--seed <n>", "--size <size>", "--out <dir>", "--threads <n>", "--requests <n>", "--pages <n>", "--json"]) expect(r.stdout).toContain(s);
  });
  it("bin/unimmu.js runs the same CLI", () => {
    const r = cli(["--version"], { script: join(ROOT, "bin", "unimmu.js") });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("unimmu run translation (one demand-mapped VM, a random mix)", () => {
  const args = ["run", "translation", "--seed", "42", "--requests", "200000", "--pages", "3000", "--json"];

  it("gives byte-identical JSON for the same seed", () => {
    const a = cli(args);
    const b = cli(args);
    expect(a.status).toBe(0);
    expect(a.stderr).toBe("");
    expect(a.stdout.length).toBeGreaterThan(100);
    expect(b.stdout).toBe(a.stdout);
  });

  it("depends on the seed, and reports the full statistics", () => {
    const a = cliJson(args);
    const c = cliJson(["run", "translation", "--seed", "43", "--requests", "200000", "--pages", "3000", "--json"]);
    expect(JSON.stringify(c.stats)).not.toBe(JSON.stringify(a.stats));
    expect(a.scenario).toMatchObject({ name: "default", seed: 42, requests: 200000, pages: 3000, hotPages: 300 });
    const s = a.stats as Record<string, number> & { requestsByKind: number[]; pwcHits: number[] };
    expect(s.requests).toBe(200000); // no access crosses a page
    expect(s.l1Hits + s.l1Misses).toBe(s.requests + s.retries);
    expect(s.l1Hits + s.l2Hits + s.walks).toBe(s.requests + s.retries + s.dirtyAssists);
    // every page touched faults once: at most the working set plus the code region
    expect(s.faults).toBe(s.demandMaps);
    expect(s.faults).toBeLessThanOrEqual(3000 + 64);
    expect(s.faults).toBeGreaterThan(2900);
    // all three kinds, and every level of the hierarchy is exercised
    expect(s.requestsByKind.every((n) => n > 0)).toBe(true);
    expect(s.l1Hits).toBeGreaterThan(0);
    expect(s.l2Hits).toBeGreaterThan(0);
    expect(s.pwcHits.some((n) => n > 0)).toBe(true);
  });

  it("prints a readable table by default", () => {
    const r = cli(["run", "translation", "--requests", "50000"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^scenario: one VM, demand-mapped 4 KiB pages/);
    expect(r.stdout).toMatch(/^L1 TLB hits +[\d,]+ +\d+\.\d\d% of attempts$/m);
    expect(r.stdout).toMatch(/^page walks +[\d,]+ +\d+\.\d\d per 1000 requests$/m);
    expect(r.stdout).toMatch(/^walk memory references +[\d,]+ +\d+\.\d\d per walk$/m);
  });
});
