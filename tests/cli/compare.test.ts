// `unimmu compare A B`: the built-in kv workload on each configuration, side by side.
import { describe, expect, it } from "vitest";
import { cli, cliJson } from "./helpers.js";

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

  it("--json is one object { configs: { <name>: { ...the documented keys } } }", () => {
    const r = cliJson(["compare", "osv", "ucat", "--json", ...small]);
    expect(Object.keys(r)).toEqual(["configs"]);
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
    const d = cli(["compare", "osv", "ucat", "--workload", "ycsb-a"]);
    expect(d.status).toBe(2);
    expect(cli(["compare", "osv", "ucat", "--seed", "-1"]).status).toBe(2);
  });

  it("--help lists the configurations and options", () => {
    const r = cli(["compare", "--help"]);
    expect(r.status).toBe(0);
    for (const s of ["<configs...>", "osv", "ucat-1g", "--workload <name>", "--seed <n>", "--items <n>", "--reads <n>", "--json"]) expect(r.stdout).toContain(s);
  });
});
