// `unimmu run` on scenario files and the paper scenario: reports, determinism, errors.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCsv } from "../../src/report/csv.js";
import { cli, cliJson } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "unimmu-scenario-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SMALL = {
  name: "small",
  seed: 7,
  tiers: [
    { name: "dram", preset: "dram", capacity: "8GiB" },
    { name: "nvm", preset: "optane", capacity: "16GiB" },
  ],
  configs: {
    osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "256MiB" }, { tier: "nvm", bytes: "512MiB" }] },
    ucat: { policy: "ucat", nodes: [{ tier: "dram", bytes: "256MiB" }, { tier: "nvm", bytes: "512MiB" }] },
  },
  workloads: {
    "ycsb-a": { type: "ycsb", workload: "a", options: { recordCount: 2000, operationCount: 10000 } },
    memslap: { type: "memslap", options: { operations: 10000 } },
  },
};

function scenarioFile(content: unknown, name: string): string {
  const f = join(work, name);
  writeFileSync(f, typeof content === "string" ? content : JSON.stringify(content));
  return f;
}

describe("unimmu run SCENARIO.json", () => {
  it("writes JSON, CSV, HTML and a trace; the same seed gives byte-identical JSON", () => {
    const f = scenarioFile(SMALL, "small.json");
    const a = cli(["run", f, "--json", "--threads", "2", "--out", join(work, "a")]);
    const b = cli(["run", f, "--json", "--threads", "1", "--out", join(work, "b")]);
    expect(a.stderr).toBe("");
    expect(a.status).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const r = JSON.parse(a.stdout);
    expect(r.schema).toBe("unimmu/report@1");
    expect(Object.keys(r.results)).toEqual(["ycsb-a", "memslap"]);
    for (const w of ["ycsb-a", "memslap"]) {
      for (const c of ["osv", "ucat"]) {
        const x = r.results[w][c];
        for (const k of ["memoryBytes", "memoryBytesByTier", "fragmentationBytes", "pageTableBytes", "tlbMissRate", "walkRefs", "requests", "throughputOpsPerSecond"]) {
          expect(x, `${w}.${c}.${k}`).toHaveProperty(k);
        }
        expect(x.throughputOpsPerSecond).toBeGreaterThan(0);
      }
    }
    expect(readFileSync(join(work, "a", "report.json"), "utf8")).toBe(a.stdout);
    const csv = parseCsv(readFileSync(join(work, "a", "report.csv"), "utf8"));
    expect(csv[0]).toContain("throughputOpsPerSecond");
    expect(csv.length).toBe(1 + 4);
    const html = readFileSync(join(work, "a", "report.html"), "utf8");
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/i);
    expect(JSON.parse(readFileSync(join(work, "a", "trace.json"), "utf8")).traceEvents.length).toBeGreaterThan(4);
  });

  it("a different seed changes the results", () => {
    const f = scenarioFile(SMALL, "small2.json");
    const a = JSON.parse(cli(["run", f, "--json", "--threads", "1"]).stdout);
    const b = JSON.parse(cli(["run", f, "--json", "--threads", "1", "--seed", "8"]).stdout);
    expect(b.seed).toBe(8);
    expect(b.results["ycsb-a"].osv.walkRefs).not.toBe(a.results["ycsb-a"].osv.walkRefs);
  });

  it.each([
    [{ ...SMALL, tiers: [{ name: "dram", preset: "ddr9", capacity: "8GiB" }] }, /tiers\.0\.preset: "ddr9" is not allowed/],
    [{ ...SMALL, configs: { x: { policy: "osv", nodes: [{ tier: "hbm", bytes: "1GiB" }] } } }, /configs\.x\.nodes\.0\.tier: "hbm" is not allowed; expected one of dram, nvm/],
    [{ ...SMALL, seed: -1 }, /seed: -1 is not allowed/],
    [{ ...SMALL, configs: { x: { policy: "osv", nodes: [{ tier: "dram", bytes: "4 GB" }] } } }, /configs\.x\.nodes\.0\.bytes: "4 GB" is not allowed/],
    [{ ...SMALL, workloads: { w: { type: "ycsb", workload: "g" } } }, /workloads\.w\.workload: "g" is not allowed/],
    [{ ...SMALL, extra: 1 }, /\(the scenario\): key "extra" is not allowed; expected only schema, name, seed, cpu, tiers, configs, workloads, /],
    [{ ...SMALL, workloads: { w: { type: "ycsb", workload: "a", options: { records: 5 } } } }, /workloads\.w\.options: key "records" is not allowed; expected only recordCount, operationCount, backend, memcached \(a misspelling\?\)/],
    [{ ...SMALL, tiers: undefined }, /tiers: missing; expected an array/],
    [{ ...SMALL, seed: 1.5 }, /seed: 1.5 is not allowed; expected an integer/],
    [{ ...SMALL, configs: { x: { policy: "linux", nodes: [] } } }, /2 problems: 1\. configs\.x\.policy: "linux" is not allowed; expected one of "osv", "ucat" 2\. configs\.x\.nodes: \[\] is not allowed; expected a list of >= 1 entries/],
    [{ ...SMALL, configs: { x: { policy: "osv", nodes: [{ tier: "dram", bytes: 1 }], hypervisor: { pageTableTier: 7 } } }, workloads: { w: { type: "kv", options: { items: "x".repeat(200) } } } }, /items: "xxxxx[x]*\.\.\. is not allowed; expected an integer >= 0/],
    // what is allowed, for every alternative of a union; names; numbers (text: JSON.parse makes "__proto__" an own key and 1e400 Infinity)
    [{ ...SMALL, cpu: "Skylake" }, /cpu: "Skylake" is not allowed; expected a preset name \("skylake", "icelake", "goldencove", "zen4"\) or an object of overrides with an optional base$/m],
    [{ ...SMALL, tiers: [{ name: "dram", preset: "dram", capacity: "8gib" }] }, /tiers\.0\.capacity: "8gib" is not allowed; expected an integer number of bytes >= 0, or a string such as "4GiB" \(units B, KiB, MiB, GiB, TiB\)$/m],
    [{ ...SMALL, configs: { x: { policy: "osv", nodes: [{ tier: "dram" }], linearPage: 3 } } }, /1\. configs\.x\.nodes\.0\.bytes: missing; expected an integer number of bytes >= 0, or a string .* 2\. configs\.x\.linearPage: 3 is not allowed; expected 1 or 2$/m],
    [{ ...SMALL, configs: { "": SMALL.configs.osv } }, /configs: key "" is not allowed; expected a non-empty name$/m],
    [JSON.stringify(SMALL).replace('"configs":{', '"configs":{"__proto__":{"policy":"osv","nodes":[{"tier":"dram","bytes":"1GiB"}]},'), /configs: key "__proto__" is not allowed; expected a name other than "__proto__", which JavaScript objects reserve$/m],
    [JSON.stringify(SMALL).replace('"seed":7', '"seed":1e400'), /seed: Infinity is not allowed; expected an integer from 0 to 4294967295$/m],
    [JSON.stringify(SMALL).replace('"seed":7', `"seed":${"[".repeat(5000)}${"]".repeat(5000)}`), /seed: \[+\.\.\. is not allowed; expected at most 32 levels of nested objects and arrays$/m],
    [{ ...SMALL, tiers: [{ name: "dram", preset: { base: "dram", loadRandomNs: 1e300 }, capacity: "8GiB" }, SMALL.tiers[1]] }, /tiers\.0\.preset\.loadRandomNs: 1e\+300 is not allowed; expected a number > 0 and <= 1e9 ns \(a second\)$/m],
  ])("a malformed scenario gets a one-line error naming the path, and writes nothing (%#)", (content, message) => {
    const out = join(work, `bad-${Math.random().toString(36).slice(2)}`);
    const r = cli(["run", scenarioFile(content, "bad.json"), "--out", out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(existsSync(out)).toBe(false);
  });

  it("any name works, also one every object inherits (toString, constructor, hasOwnProperty): each run is in every report", () => {
    const kv = { type: "kv", options: { items: 10, reads: 10 } };
    const vm = { policy: "osv", nodes: [{ tier: "dram", bytes: "64MiB" }] };
    const names = { ...SMALL, configs: { constructor: vm, hasOwnProperty: { ...vm, policy: "ucat" } }, workloads: { k: kv, toString: kv, constructor: kv } };
    const out = join(work, "inherited");
    const r = cli(["run", scenarioFile(names, "inherited.json"), "--json", "--threads", "2", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j.results)).toEqual(["k", "toString", "constructor"]);
    for (const w of ["k", "toString", "constructor"]) {
      expect(Object.keys(j.results[w])).toEqual(["constructor", "hasOwnProperty"]);
      for (const c of ["constructor", "hasOwnProperty"]) expect(j.results[w][c]).toMatchObject({ workload: w, config: c, throughputOpsPerSecond: expect.any(Number) });
    }
    const csv = parseCsv(readFileSync(join(out, "report.csv"), "utf8"));
    expect(csv.slice(1).map((row) => `${row[0]} ${row[1]}`)).toEqual(["k constructor", "k hasOwnProperty", "toString constructor", "toString hasOwnProperty", "constructor constructor", "constructor hasOwnProperty"]);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).toContain('"labels":["k","toString","constructor"]');
    expect(html).toMatch(/"name":"hasOwnProperty","values":\[[0-9.e-]+,[0-9.e-]+,[0-9.e-]+\]/);
    const trace = JSON.parse(readFileSync(join(out, "trace.json"), "utf8"));
    expect(trace.traceEvents.filter((e: { name: string }) => e.name === "process_name").map((e: { args: { name: string } }) => e.args.name)).toContain("toString on hasOwnProperty");
    // the case that failed outright: toString as the only workload
    const only = cli(["run", scenarioFile({ ...names, workloads: { toString: kv } }, "only-tostring.json"), "--threads", "1", "--out", join(work, "only")]);
    expect(only.stderr).toBe("");
    expect(only.status).toBe(0);
    expect(only.stdout).toMatch(/^toString\s+constructor\s/m);
  });

  it("a file that is not JSON, or is missing, is a one-line error", () => {
    const r = cli(["run", scenarioFile("{ nope", "broken.json")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not JSON/);
    const m = cli(["run", join(work, "missing.json")]);
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/cannot read scenario .*missing\.json: no such file/);
  });
});

describe("unimmu run (the paper scenario)", () => {
  it("prints the UCat and Iso-UniK tables with each figure beside the published claim", () => {
    const r = cli(["run", "--size", "quick", "--threads", "2", "--json"]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j.ucat)).toEqual(["memslap", "ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f"]);
    for (const w of Object.values(j.ucat) as Record<string, Record<string, number>>[]) {
      for (const c of ["osv", "ucat"]) expect(w[c].throughputOpsPerSecond).toBeGreaterThan(0);
    }
    expect(Object.keys(j.isoUnik.designs)).toEqual(["none", "iso-unik", "shared-as", "linux", "vm-per-process"]);
    expect(j.claims.map((c: { metric: string }) => c.metric)).toEqual(["memory consumption", "TLB miss rate", "memslap throughput", "YCSB throughput", "system call", "fork"]);
    for (const c of j.claims) expect(c.difference).toBeCloseTo(c.simulated - c.paper, 9);
  });
});

describe("unimmu sweep", () => {
  const sweep = {
    base: { ...SMALL, workloads: { "ycsb-c": { type: "ycsb", workload: "c", options: { recordCount: 1000, operationCount: 4000 } } } },
    grid: {
      "configs.ucat.nodes.0.bytes": ["64MiB", "256MiB"],
      "workloads.ycsb-c.options.recordCount": [1000, 2000],
    },
  };

  it("runs the grid on worker threads into one table, the same for any thread count", () => {
    const f = scenarioFile(sweep, "sweep.json");
    const a = cli(["sweep", f, "--json", "--threads", "2", "--out", join(work, "sw")]);
    const b = cli(["sweep", f, "--json", "--threads", "1"]);
    expect(a.status).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const r = JSON.parse(a.stdout);
    expect(r.sweep.cells).toBe(4);
    expect(r.rows.length).toBe(8); // 4 cells x 2 configurations x 1 workload
    expect(r.rows[0].params).toEqual({ "configs.ucat.nodes.0.bytes": "64MiB", "workloads.ycsb-c.options.recordCount": 1000 });
    expect(r.rows[7].params).toEqual({ "configs.ucat.nodes.0.bytes": "256MiB", "workloads.ycsb-c.options.recordCount": 2000 });
    const csv = parseCsv(readFileSync(join(work, "sw", "report.csv"), "utf8"));
    expect(csv.length).toBe(9);
    expect(existsSync(join(work, "sw", "report.html"))).toBe(true);
    const text = cli(["sweep", f, "--threads", "1"]);
    expect(text.stdout).toMatch(/configs\.ucat\.nodes\.0\.bytes/);
  });

  it("a run too big for its cell's configuration is a row that says why, and the others run on", () => {
    // 60,000 records of 1,056 B: too many for 32 MiB of ucat guest memory (one node), not for 256 MiB
    const grid = {
      base: {
        ...SMALL,
        configs: { ucat: { policy: "ucat", nodes: [{ tier: "dram", bytes: "32MiB" }] } },
        workloads: { "ycsb-c": { type: "ycsb", workload: "c", options: { recordCount: 60000, operationCount: 100 } } },
      },
      grid: { "configs.ucat.nodes.0.bytes": ["32MiB", "256MiB"] },
    };
    const f = scenarioFile(grid, "tight-sweep.json");
    const out = join(work, "tight");
    const a = cli(["sweep", f, "--json", "--threads", "2", "--out", out]);
    const b = cli(["sweep", f, "--json", "--threads", "1"]);
    expect(a.status).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    expect(a.stderr).toMatch(/^unimmu: note: 1 of 2 runs did not fit their configuration; their rows say why\n$/);
    const r = JSON.parse(a.stdout);
    expect(r.sweep).toMatchObject({ cells: 2, jobs: 2, failed: 1 });
    expect(r.rows[0]).toEqual({
      cell: 0,
      params: { "configs.ucat.nodes.0.bytes": "32MiB" },
      workload: "ycsb-c",
      config: "ucat",
      error: expect.stringMatching(/^configuration "ucat", workload "ycsb-c": the VM's guest memory ran out/),
    });
    expect(r.rows[1].result.operations).toBe(100);
    const csv = parseCsv(readFileSync(join(out, "report.csv"), "utf8"));
    expect(csv[0]!.at(-1)).toBe("error");
    expect(csv[1]!.at(-1)).toMatch(/guest memory ran out/);
    expect(csv[2]!.at(-1)).toBe("");
    const text = cli(["sweep", f, "--threads", "1"]);
    expect(text.stdout).toMatch(/ycsb-c\s+ucat\s+configuration "ucat"/);
  });

  it("a grid path that does not exist is a one-line error naming it", () => {
    const r = cli(["sweep", scenarioFile({ base: SMALL, grid: { "configs.ucat.pages": [1] } }, "badsweep.json")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/grid path configs\.ucat\.pages: "pages" does not exist in configs\.ucat; it has policy, nodes/);
  });
});

describe("presets in a scenario file: a name, or overrides on a base (docs/parameters.md)", () => {
  const base = {
    seed: 3,
    tiers: [
      { name: "dram", preset: "dram", capacity: "8GiB" },
      { name: "nvm", preset: "optane", capacity: "16GiB" },
    ],
    configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "256MiB" }, { tier: "nvm", bytes: "512MiB" }] } },
    workloads: { "ycsb-c": { type: "ycsb", workload: "c", options: { recordCount: 3000, operationCount: 20000 } } },
  };
  const run = (s: object): { cpu: unknown; results: Record<string, Record<string, Record<string, number>>> } =>
    cliJson(["run", scenarioFile(s, `presets-${Math.random().toString(36).slice(2)}.json`), "--json", "--threads", "1"]) as never;

  it("overrides on a base change what they touch, and nothing else; the report keeps them as given", () => {
    const named = run({ ...base, cpu: "skylake" }).results["ycsb-c"]!.osv!;
    const same = run({ ...base, cpu: { base: "skylake" } });
    expect(same.cpu).toEqual({ base: "skylake" });
    expect(same.results["ycsb-c"]!.osv).toEqual(named);
    // a 4x larger STLB misses less; the workload is the same
    const big = run({ ...base, cpu: { base: "skylake", tlb: { stlb: { entries: 6144, ways: 12 } } } }).results["ycsb-c"]!.osv!;
    expect(big.requests).toBe(named.requests);
    expect(big.stlbMisses).toBeLessThan(named.stlbMisses!);
    // a slower tier costs cycles but changes no count
    const slow = run({ ...base, tiers: [{ name: "dram", preset: { base: "dram", loadRandomNs: 500 }, capacity: "8GiB" }, base.tiers[1]] }).results["ycsb-c"]!.osv!;
    expect(slow.walkRefs).toBe(named.walkRefs);
    expect(slow.throughputOpsPerSecond).toBeLessThan(named.throughputOpsPerSecond!);
  });

  it("a bad override is a one-line error naming each field, and nothing runs", () => {
    const r = cli(["run", scenarioFile({ ...base, cpu: { base: "skylake", frequencyHz: -1 }, tiers: [{ name: "dram", preset: { base: "dram", speed: 3 }, capacity: "8GiB" }, base.tiers[1]] }, "bad-presets.json")]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/cpu\.frequencyHz: -1 is not allowed; expected an integer from 1 to 1e10 Hz \(10 GHz\)/);
    expect(r.stderr).toMatch(/tiers\.0\.preset\.speed: 3 is not allowed; expected a known field: one of name, label, kind, loadRandomNs/);
  });
});
