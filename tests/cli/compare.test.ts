// `unimmu compare A B`: one workload (the built-in kv, or memslap and YCSB A-F) on each configuration, side by side.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, cliJson } from "./helpers.js";
import { runCompare } from "../../src/cli/compare.js";
import { paperScenario } from "../../src/sim/paper.js";
import { scenarioJobs } from "../../src/sim/scenario.js";
import { runJob } from "../../src/sim/jobs.js";

const small = ["--items", "3000", "--reads", "30000"];
const KEYS = ["memoryBytes", "memoryBytesByTier", "fragmentationBytes", "pageTableBytes", "tlbMissRate", "walkRefs", "requests"];

describe("unimmu compare", () => {
  it("--json gives byte-identical output for the same seed, and another for another seed", () => {
    const args = ["compare", "osv", "ucat", "--seed", "9", "--json", ...small];
    const a = cli(args);
    const b = cli(args);
    expect(a.status).toBe(0);
    expect(a.stderr).toBe("");
    expect(b.stdout).toBe(a.stdout);
    const c = cli(["compare", "osv", "ucat", "--seed", "10", "--json", ...small]);
    expect(c.stdout).not.toBe(a.stdout);
  });

  it("--json is one object { schema, workload, seed, configs: { <name>: { ...the documented keys } } }", () => {
    const r = cliJson(["compare", "osv", "ucat", "--json", ...small]);
    expect(Object.keys(r)).toEqual(["schema", "workload", "seed", "configs"]);
    expect(r.schema).toBe("unimmu/report@1");
    expect(r.workload).toBe("kv");
    expect(r.seed).toBe(1);
    const configs = r.configs as Record<string, Record<string, unknown>>;
    expect(Object.keys(configs)).toEqual(["osv", "ucat"]);
    for (const [name, e] of Object.entries(configs)) {
      for (const k of KEYS) expect(e, `${name}.${k}`).toHaveProperty(k);
      expect(Object.keys(e.memoryBytesByTier as object)).toEqual(["dram", "nvm"]);
      const byTier = e.memoryBytesByTier as Record<string, number>;
      expect(byTier.dram! + byTier.nvm!).toBe(e.memoryBytes);
      expect(e.tlbMissRate as number).toBeGreaterThanOrEqual(0);
      expect(e.tlbMissRate as number).toBeLessThanOrEqual(1);
      expect(Number.isInteger(e.walkRefs)).toBe(true);
      expect(e.requests as number).toBeGreaterThan(0);
    }
    // the same application bytes; OSv's whole pages cost more memory and more TLB misses
    expect(configs.ucat!.requestedBytes).toBe(configs.osv!.requestedBytes);
    expect(configs.ucat!.memoryBytes as number).toBeLessThan(configs.osv!.memoryBytes as number);
    expect(configs.ucat!.tlbMissRate as number).toBeLessThan(configs.osv!.tlbMissRate as number);
  });

  it("prints a table side by side by default (the default workload)", () => {
    const r = cli(["compare", "osv", "ucat"]);
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^workload kv \(seed 1\): 61,008 keys/);
    for (const row of ["memory (host bytes)", "  in dram", "  in nvm", "fragmentation (held - requested)", "page tables (guest + EPT)", "TLB miss rate", "walk references"]) {
      expect(lines.some((l) => l.startsWith(row)), row).toBe(true);
    }
    expect(lines.find((l) => /^\s+osv\s+ucat$/.test(l))).toBeDefined();
  });

  it("compares more than two configurations", () => {
    const r = cliJson(["compare", "osv", "ucat", "ucat-nvm", "--json", ...small]);
    const configs = r.configs as Record<string, { memoryBytesByTier: Record<string, number> }>;
    expect(Object.keys(configs)).toEqual(["osv", "ucat", "ucat-nvm"]);
    expect(configs["ucat-nvm"]!.memoryBytesByTier.nvm).toBeGreaterThan(0);
  });

  it("rejects an unknown configuration, one configuration, or the same one twice", () => {
    const a = cli(["compare", "osv", "linux"]);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/linux/);
    expect(a.stderr).toMatch(/ucat/);
    const b = cli(["compare", "osv"]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/at least two/);
    const c = cli(["compare", "osv", "osv"]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/twice/);
    const d = cli(["compare", "osv", "ucat", "--workload", "ycsb-g"]);
    expect(d.status).toBe(2);
    expect(d.stderr).toMatch(/ycsb-g/);
    expect(d.stderr).toMatch(/memslap/);
    expect(cli(["compare", "osv", "ucat", "--seed", "-1"]).status).toBe(2);
  });

  it("rejects the options of one kind of workload with the other, naming both", () => {
    const a = cli(["compare", "osv", "ucat", "--workload", "ycsb-a", "--items", "100"]);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/'--items' applies to the kv workload only; ycsb-a takes --size/);
    const b = cli(["compare", "osv", "ucat", "--workload", "memslap", "--reads", "100"]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/'--reads'/);
    const c = cli(["compare", "osv", "ucat", "--size", "quick"]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/'--size' applies to memslap and ycsb/);
    const d = cli(["compare", "osv", "ucat", "--workload", "ycsb-a", "--size", "tiny"]);
    expect(d.status).toBe(2);
    expect(d.stderr).toMatch(/tiny/);
    expect(d.stderr).toMatch(/quick, standard, full/);
  });

  it("runs the paper scenario's workloads: YCSB-A at the quick size", () => {
    const r = cliJson(["compare", "osv", "ucat", "--workload", "ycsb-a", "--size", "quick", "--json"]);
    expect(r).toMatchObject({ schema: "unimmu/report@1", workload: "ycsb-a", size: "quick", seed: 1 });
    const configs = r.configs as Record<string, { workload: string; operations: number; requestedBytes: number; memoryBytes: number; tlbMissRate: number; throughputOpsPerSecond: number }>;
    for (const e of Object.values(configs)) {
      expect(e.workload).toBe("ycsb-a");
      expect(e.operations).toBe(50_000); // the quick size's operations
    }
    // the same records; OSv's whole page per record against UCat's slabs and 2 MiB pages
    expect(configs.ucat!.requestedBytes).toBe(configs.osv!.requestedBytes);
    expect(configs.ucat!.memoryBytes).toBeLessThan(configs.osv!.memoryBytes);
    expect(configs.ucat!.tlbMissRate).toBeLessThan(configs.osv!.tlbMissRate);
    expect(configs.ucat!.throughputOpsPerSecond).toBeGreaterThan(configs.osv!.throughputOpsPerSecond);
  });

  it("gives a configuration the figures the paper scenario gives it (the same job on another host size)", async () => {
    const r = await runCompare(["osv", "ucat"], { workload: "ycsb-d", size: "quick", threads: 1 });
    const job = scenarioJobs(paperScenario("quick", 1)).find((j) => j.workload.name === "ycsb-d" && j.config.name === "ucat")!;
    expect(JSON.stringify(r.configs.ucat)).toBe(JSON.stringify(await runJob(job)));
  });

  it("gives the same JSON on one thread and on two (memslap)", () => {
    const args = ["compare", "osv", "ucat-nvm", "--workload", "memslap", "--size", "quick", "--json"];
    const one = cli([...args, "--threads", "1"]);
    const two = cli([...args, "--threads", "2"]);
    expect(one.status).toBe(0);
    expect(two.stdout).toBe(one.stdout);
    const r = JSON.parse(one.stdout) as { configs: Record<string, { memoryBytesByTier: Record<string, number>; operations: number }> };
    expect(r.configs.osv!.operations).toBe(100_000);
    // ucat-nvm puts memcached's slab pages on the NVM node
    expect(r.configs["ucat-nvm"]!.memoryBytesByTier.nvm).toBeGreaterThan(r.configs["ucat-nvm"]!.memoryBytesByTier.dram!);
  });

  it("prints the workload's size and the throughput rows for a paper workload", () => {
    const r = cli(["compare", "osv", "ucat", "--workload", "ycsb-c", "--size", "quick"]);
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("workload ycsb-c (seed 1, size quick): YCSB workload C, 5,000 records, 50,000 operations");
    expect(lines.some((l) => /^operations\s+50,000\s+50,000$/.test(l))).toBe(true);
    expect(lines.some((l) => /^throughput \(cycle model\)\s+[\d,]+ ops\/s\s+[\d,]+ ops\/s$/.test(l))).toBe(true);
  });

  it("--out writes the JSON, a CSV with a row per configuration and the HTML report", () => {
    const dir = mkdtempSync(join(tmpdir(), "unimmu-compare-"));
    try {
      const out = join(dir, "r");
      const r = cli(["compare", "osv", "ucat", "--workload", "ycsb-b", "--size", "quick", "--out", out]);
      expect(r.status).toBe(0);
      expect(r.stdout.trimEnd().split("\n").at(-1)).toBe(`reports written to ${out}: report.json, report.csv, report.html`);
      const json = cli(["compare", "osv", "ucat", "--workload", "ycsb-b", "--size", "quick", "--json"]).stdout;
      expect(readFileSync(join(out, "report.json"), "utf8")).toBe(json);
      const csv = readFileSync(join(out, "report.csv"), "utf8").trimEnd().split("\r\n").map((l) => l.split(","));
      expect(csv).toHaveLength(3);
      const at = (k: string): number => csv[0]!.indexOf(k);
      expect(csv[0]!.slice(0, 6)).toEqual(["config", "workload", "seed", "memoryBytes", "memoryBytes.dram", "memoryBytes.nvm"]);
      const configs = JSON.parse(json).configs as Record<string, { memoryBytes: number; throughputOpsPerSecond: number }>;
      expect(csv.slice(1).map((row) => [row[0], row[1], Number(row[at("memoryBytes")]), Number(row[at("throughputOpsPerSecond")])])).toEqual([
        ["osv", "ycsb-b", configs.osv!.memoryBytes, configs.osv!.throughputOpsPerSecond],
        ["ucat", "ycsb-b", configs.ucat!.memoryBytes, configs.ucat!.throughputOpsPerSecond],
      ]);
      const html = readFileSync(join(out, "report.html"), "utf8");
      expect(html).toContain("unimmu: compare on ycsb-b");
      expect(html).toContain("unimmu compare osv ucat --workload ycsb-b --size quick --seed 1");
      expect(html).not.toMatch(/<script[^>]+src=/); // self-contained
      // a file where the directory should be: an error before anything runs, nothing written
      writeFileSync(join(dir, "f"), "x");
      const bad = cli(["compare", "osv", "ucat", "--out", join(dir, "f")]);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/^unimmu: error: --out: ".*f" is a file/);
      expect(existsSync(join(dir, "f", "report.json"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--help lists the configurations and options", () => {
    const r = cli(["compare", "--help"]);
    expect(r.status).toBe(0);
    for (const s of ["<configs...>", "osv", "ucat-1g", "--workload <name>", "ycsb-f", "--seed <n>", "--items <n>", "--reads <n>", "--size <size>", "--threads <n>", "--json", "--out <dir>"]) expect(r.stdout).toContain(s);
  });
});
