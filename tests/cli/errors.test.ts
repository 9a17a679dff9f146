// Every error of the CLI: one line on stderr, no stack, nothing on stdout, a nonzero
// status (2: bad usage, 1: the run failed); and --skip-bad-lines skips and counts.
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASIC, cli, cliJson, expectOneLineError, pick } from "./helpers.js";

let dir = "";
const tmp = (name: string): string => join(dir, name);

// Good records: a fetch and a read on two 4 KiB pages (4k: 2 requests, 2 walks, 2 faults).
const GOOD = "I  00400000,4\n L 00600000,8\n";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "unimmu-cli-err-"));
  writeFileSync(tmp("good.lackey"), GOOD);
  writeFileSync(tmp("plain.gz"), GOOD); // named .gz, not gzip
  const gz = gzipSync(GOOD.repeat(200));
  const corrupt = Buffer.from(gz);
  for (let i = 12; i < corrupt.length - 8; i++) corrupt[i] ^= 0x5a;
  writeFileSync(tmp("corrupt.gz"), corrupt);
  writeFileSync(tmp("size0.lackey"), `${GOOD}==1== note\n L 00601000,0\n`); // line 4
  writeFileSync(tmp("junk.lackey"), `${GOOD} S 00601000,8 extra\n`); // line 3
  writeFileSync(tmp("range.lackey"), `${GOOD} L ffffffffffff,8\n`); // record 3 ends past 2^48
  // two malformed lines (lines 2 and 5) and one record past 2^48 (line 4), among good ones
  writeFileSync(tmp("mixed.lackey"), `I  00400000,4\n L zz,8\n==1== ok\n S fffffffffff8,16\n M 1000,0\n L 00600000,8\n`);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI and asserts the one-line error contract; returns the line. */
function fails(args: string[], status: number, pattern: RegExp): string {
  return expectOneLineError(cli(args), status, pattern);
}

describe("trace errors", () => {
  it("a missing file", () => {
    fails(["trace", tmp("nope.lackey")], 1, /cannot read .*nope\.lackey: no such file/);
  });
  it("a directory", () => {
    fails(["trace", dir], 1, /cannot read .*: is a directory/);
  });
  it("a .gz file that is not gzip", () => {
    fails(["trace", tmp("plain.gz")], 1, /plain\.gz: the name ends in \.gz but the file is not gzip/);
  });
  it("corrupt gzip data", () => {
    fails(["trace", tmp("corrupt.gz")], 1, /corrupt\.gz: corrupt gzip data/);
  });
  it("a record of size 0, with its line number", () => {
    fails(["trace", tmp("size0.lackey")], 1, /size0\.lackey:4: malformed lackey record \(size 0\): " L 00601000,0"/);
  });
  it("text after the size, with its line number", () => {
    fails(["trace", tmp("junk.lackey"), "--model", "skylake-lru"], 1, /junk\.lackey:3: malformed lackey record \(text after the size\)/);
  });
  it("a record whose range passes 2^48, naming the record", () => {
    for (const model of ["skylake-lru", "default"]) {
      fails(["trace", tmp("range.lackey"), "--model", model], 1, /range\.lackey: record 3 \("L ffffffffffff,8"\).* passes 2\^48/);
    }
  });
});

describe("scenario and sweep files that cannot be read", () => {
  it("a byte-order mark before the JSON is no error", () => {
    const scenario = { tiers: [{ name: "dram", preset: "dram", capacity: "1GiB" }], configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "64MiB" }] } }, workloads: { kv: { type: "kv", options: { items: 10, reads: 10 } } } };
    writeFileSync(tmp("bom.json"), `\ufeff${JSON.stringify(scenario)}`);
    expect(cli(["run", tmp("bom.json"), "--json", "--threads", "1"]).status).toBe(0);
  });

  it("say why in the same words", () => {
    for (const cmd of ["run", "sweep"]) {
      const kind = cmd === "run" ? "scenario" : "sweep";
      fails([cmd, dir], 1, new RegExp(`cannot read ${kind} .*: is a directory$`));
      fails([cmd, tmp("none.json")], 1, new RegExp(`cannot read ${kind} .*none\\.json: no such file`));
    }
  });
});

describe("a trace with no records is an error, not a table of zeros", () => {
  it("text that is no lackey trace, an empty file, records all skipped", () => {
    writeFileSync(tmp("notes.txt"), "# notes\nnot a trace\n\n");
    fails(["trace", tmp("notes.txt")], 1, /notes\.txt: no lackey records in its 3 lines \(all ignored\); expected lines such as " L 1ffefff8e0,8"/);
    writeFileSync(tmp("empty.lackey"), "");
    fails(["trace", tmp("empty.lackey")], 1, /empty\.lackey: no lackey records in an empty file/);
    writeFileSync(tmp("empty.champsim"), "");
    fails(["trace", tmp("empty.champsim")], 1, /empty\.champsim: no ChampSim records \(an empty file\)/);
    writeFileSync(tmp("allbad.lackey"), " L zz,8\n S qq,4\n");
    fails(["trace", tmp("allbad.lackey"), "--skip-bad-lines"], 1, /allbad\.lackey: no records left: all 2 were bad and skipped/);
  });
});

describe("usage errors name the option, the value and what is allowed", () => {
  it("run's options that the scenario does not use", () => {
    writeFileSync(tmp("tiny.json"), JSON.stringify({
      tiers: [{ name: "dram", preset: "dram", capacity: "1GiB" }],
      configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "64MiB" }] } },
      workloads: { kv: { type: "kv", options: { items: 10, reads: 10 } } },
    }));
    fails(["run", tmp("tiny.json"), "--size", "quick"], 2, /option '--size' applies to paper, not a scenario file \(.*tiny\.json\)/);
    fails(["run", "iso-unik", "--pages", "3"], 2, /option '--pages' applies to translation, not iso-unik/);
    fails(["run", "translation", "--threads", "2"], 2, /option '--threads' applies to paper and a scenario file, not translation/);
    fails(["run", "iso-unik", "--size", "quick"], 2, /option '--size' applies to paper, not iso-unik/);
  });

  it("--model", () => {
    fails(["trace", tmp("good.lackey"), "--model", "haswell"], 2, /--model.*'haswell'.*skylake-lru, default/);
  });
  it("--policy", () => {
    fails(["trace", tmp("good.lackey"), "--policy", "1g"], 2, /--policy.*'1g'.*4k, 2m/);
  });
  it("run --seed, --requests, --pages", () => {
    fails(["run", "--seed", "abc"], 2, /--seed.*'abc'.*an integer in 0\.\.4294967295/);
    fails(["run", "--seed", "-1"], 2, /--seed.*'-1'.*an integer in 0\.\.4294967295/);
    fails(["run", "--requests", "0"], 2, /--requests.*'0'.*an integer in 1\.\./);
    fails(["run", "--pages", "2.5"], 2, /--pages.*'2\.5'.*an integer in 1\.\.16777216/);
  });
  it("a missing file argument, an unknown option, an unknown or missing command", () => {
    fails(["trace"], 2, /missing required argument 'file'/);
    fails(["trace", tmp("good.lackey"), "--fast"], 2, /unknown option '--fast'/);
    fails(["frobnicate"], 2, /unknown command 'frobnicate'/);
    fails([], 2, /missing command; expected one of trace, run/);
  });
});

describe("--out names the option and the path, before anything runs, and writes nothing", () => {
  it("a file, or a path under a file", () => {
    writeFileSync(tmp("afile"), "x");
    const started = Date.now();
    // the standard paper scenario runs for many seconds: the error comes before it
    fails(["run", "--out", tmp("afile")], 1, /^unimmu: error: --out: ".*afile" is a file; expected a directory to write the reports to/);
    fails(["run", "iso-unik", "--out", join(tmp("afile"), "sub")], 1, /--out: ".*afile\/sub" cannot be made: .*afile is a file/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(existsSync(join(tmp("afile"), "sub"))).toBe(false);
  });

  it("a sweep's --out too, once the sweep file is checked", () => {
    writeFileSync(tmp("afile"), "x");
    writeFileSync(tmp("bad-sweep.json"), JSON.stringify({ base: { seed: 1 }, grid: { seed: [1] } }));
    fails(["sweep", tmp("bad-sweep.json"), "--out", tmp("afile")], 1, /1\. grid cell 0 \(\{"seed":1\}\): tiers: missing; expected an array/); // the file's own problems first
    const base = {
      seed: 1,
      tiers: [{ name: "dram", preset: "dram", capacity: "8GiB" }],
      configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "256MiB" }] } },
      workloads: { kv: { type: "kv", options: { items: 100, reads: 100 } } },
    };
    writeFileSync(tmp("sweep.json"), JSON.stringify({ base, grid: { seed: [1, 2] } }));
    fails(["sweep", tmp("sweep.json"), "--out", tmp("afile")], 1, /^unimmu: error: --out: ".*afile" is a file/);
    expect(cli(["sweep", tmp("sweep.json"), "--out", tmp("sw")]).status).toBe(0);
    expect(existsSync(join(tmp("sw"), "report.json"))).toBe(true);
  });

  it("a symbolic link to a missing path", () => {
    symlinkSync(join(dir, "nowhere", "at-all"), tmp("dangling"));
    fails(["run", "iso-unik", "--out", tmp("dangling")], 1, /--out: ".*dangling" cannot be made: .*dangling is a symbolic link to a missing path/);
  });

  it("a name too long to be made, or a file system that takes no files", () => {
    const long = join(tmp("deep"), "a".repeat(300));
    fails(["run", "iso-unik", "--out", long], 1, /--out: ".*" cannot be made: a name in it is longer than 255 bytes/);
    expect(existsSync(tmp("deep"))).toBe(false);
    // /proc lets root past a permission check, but takes no directories (Node's own mkdir would never return there)
    if (process.platform === "linux" && process.getuid?.() === 0) {
      fails(["run", "iso-unik", "--out", "/proc/unimmu-out"], 1, /--out: "\/proc\/unimmu-out" cannot be made: \/proc cannot be written/);
    }
  });

  it("the translation scenario, which writes no reports", () => {
    fails(["run", "translation", "--out", tmp("tr")], 2, /option '--out' applies to paper, iso-unik and a scenario file, not translation/);
    expect(existsSync(tmp("tr"))).toBe(false);
  });
});

describe("a configuration too small for its workload", () => {
  it("is an error naming the configuration, the workload and what ran out, not an internal one", () => {
    const scenario = {
      tiers: [{ name: "dram", preset: "dram", capacity: "1GiB" }],
      configs: { tight: { policy: "ucat", nodes: [{ tier: "dram", bytes: "64MiB" }] } },
      workloads: { big: { type: "ycsb", workload: "a", options: { recordCount: 80000, operationCount: 10 } } },
    };
    writeFileSync(tmp("tight.json"), JSON.stringify(scenario));
    for (const threads of ["1", "2"]) {
      const line = fails(["run", tmp("tight.json"), "--threads", threads], 1, /^unimmu: error: configuration "tight", workload "big": the VM's guest memory ran out/);
      expect(line).not.toMatch(/internal error/);
    }
  });
});

describe("a scenario's job problems: found before any job runs, with the paths of the file", () => {
  const T = [{ name: "dram", preset: "dram", capacity: "8GiB" }];
  const C = { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "64MiB" }] } };

  it("a problem of the second workload stops the scenario before the first runs, and nothing is written", () => {
    const scenario = {
      tiers: T,
      configs: C,
      workloads: {
        // would run out of guest memory (a JobError) if it ran before the check of the next
        big: { type: "ycsb", workload: "a", options: { recordCount: 80000, operationCount: 10 } },
        m: { type: "memslap", options: { operations: 10, concurrency: 0 } },
      },
    };
    writeFileSync(tmp("late.json"), JSON.stringify(scenario));
    for (const threads of ["1", "2"]) {
      fails(["run", tmp("late.json"), "--threads", threads, "--out", tmp("late-out")], 1, /^unimmu: error: workloads\.m\.options\.concurrency: 0 is not allowed; expected an integer in 1\.\.65536/);
      expect(existsSync(tmp("late-out"))).toBe(false);
    }
  });

  it("every problem at once, values as the file wrote them", () => {
    const scenario = {
      cpu: { base: "skylake", tlb: { stlb: { entries: 12, ways: 4 } } },
      tiers: [{ name: "dram", preset: "dram", capacity: "1.5B" }],
      configs: { osv: { policy: "osv", nodes: [{ tier: "dram", bytes: "3MiB" }], hypervisor: { pageTableTier: "hbm" } } },
      workloads: { m: { type: "memslap", options: { keySize: 1, valueSize: 1000000 } } },
    };
    writeFileSync(tmp("many.json"), JSON.stringify(scenario));
    const line = fails(["run", tmp("many.json")], 1, /^unimmu: error: 6 problems: /);
    for (const p of [
      /1\. tiers\.0\.capacity: "1\.5B" is not allowed; expected a positive multiple of 2 MiB/,
      /2\. cpu\.tlb\.stlb: \{"entries":12,"ways":4\} is not allowed; expected entries \/ ways to be a power of two/,
      /3\. configs\.osv\.hypervisor\.pageTableTier: "hbm" is not allowed; expected one of the host's tiers: dram/,
      /4\. configs\.osv\.nodes\.0\.bytes: "3MiB" is not allowed; expected a positive multiple of 2 MiB up to 1 TiB/,
      /5\. workloads\.m\.options\.keySize: 1 is not allowed; expected an integer in 16\.\.250 6\./, // what the file may give: a number
      /6\. workloads\.m\.options\.valueSize: 1000000 is not allowed; expected an integer in 1\.\.524213 \(the largest value whose item, with keys of at least 16 B, fits/,
    ]) expect(line).toMatch(p);
  });

  it("a line cache of 0 lines is refused, not an internal error", () => {
    const scenario = { cpu: { base: "skylake", lineCache: { entries: 0, ways: 1 } }, tiers: T, configs: C, workloads: { k: { type: "kv", options: { items: 10, reads: 10 } } } };
    writeFileSync(tmp("lines0.json"), JSON.stringify(scenario));
    fails(["run", tmp("lines0.json")], 1, /^unimmu: error: cpu\.lineCache\.entries: 0 is not allowed; expected an integer >= 1 with lineCache "all" \(use lineCache "off" for no line cache\)$/);
    writeFileSync(tmp("lines0-off.json"), JSON.stringify({ ...scenario, lineCache: "off" }));
    expect(cli(["run", tmp("lines0-off.json"), "--json"]).status).toBe(0);
  });

  it("YCSB D with recordCount 0, either backend: refused at once rather than summing a zipfian over 2^31-1 records", () => {
    for (const backend of ["kv-store", "memcached"]) {
      const scenario = { tiers: T, configs: C, workloads: { y: { type: "ycsb", workload: "d", options: { recordCount: 0, operationCount: 1, backend } } } };
      writeFileSync(tmp("d0.json"), JSON.stringify(scenario));
      const started = Date.now();
      fails(["run", tmp("d0.json"), "--threads", "1"], 1, /^unimmu: error: workloads\.y\.options\.recordCount: 0 is not allowed; expected an integer in 1\.\.2147483647 for workloadd/);
      expect(Date.now() - started).toBeLessThan(20_000);
    }
  });
});

describe("--skip-bad-lines", () => {
  it("skips malformed lines and records past 2^48, and counts them", () => {
    // left: I 400000 and L 600000 (2 requests, 2 walks, 2 faults under 4k)
    const out = cliJson(["trace", tmp("mixed.lackey"), "--model", "skylake-lru", "--skip-bad-lines", "--json"]);
    expect(pick(out, BASIC)).toEqual({ requests: 2, l1Hits: 0, l2Hits: 0, walks: 2, walkRefs: 48, faults: 2 });
    expect(out).toMatchObject({ skippedLines: 3, lines: 6, ignoredLines: 1 });
  });
  it("reports skippedLines 0 on a clean trace, and says so in the table", () => {
    expect(cliJson(["trace", tmp("good.lackey"), "--skip-bad-lines", "--json"]).skippedLines).toBe(0);
    const r = cli(["trace", tmp("mixed.lackey"), "--skip-bad-lines"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("3 bad lines skipped");
  });
  it("still stops on a file error", () => {
    fails(["trace", tmp("nope.lackey"), "--skip-bad-lines"], 1, /no such file/);
  });
});
