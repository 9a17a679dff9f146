// `unimmu trace` on ChampSim traces (plain, gzip, xz; told apart from lackey by content)
// and under --policy osv|ucat (the trace as the application of an OSv or UCat VM), end to
// end, and the one-line errors of both.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeChampSim, xzDecompress, type ChampSimRecord } from "../../src/workloads/trace/champsim.js";
import { Rng } from "../../src/util/rng.js";
import { BASIC, FIXTURE, ROOT, cli, cliJson, expectOneLineError, pick } from "./helpers.js";

const XZ_FIXTURE = join(ROOT, "tests", "fixtures", "champsim", "tiny.champsim.xz");

/**
 * Records a program might make: code in a few 4 KiB pages (some fetches cross a page),
 * a stack, a heap whose accesses sometimes cross a page, a kernel-canonical address,
 * empty slots and duplicates.
 */
function records(n: number, seed: number): ChampSimRecord[] {
  const rng = new Rng(seed);
  const data = (): number | bigint => {
    const u = rng.float();
    if (u < 0.35) return 0; // an empty slot
    if (u < 0.6) return 0x7ffd_f000_0000 + rng.int(64) * 8; // the stack
    if (u < 0.95) return 0x60_0000 + rng.int(96) * 4096 + (rng.float() < 0.1 ? 4092 : rng.int(512) * 8); // the heap
    return 0xffff_ffff_ff60_0000n + BigInt(rng.int(16) * 8); // vsyscall page, sign-extended
  };
  const out: ChampSimRecord[] = [];
  let ip = 0x40_0ff0;
  for (let i = 0; i < n; i++) {
    ip = rng.float() < 0.05 ? 0x40_0000 + rng.int(8) * 4096 + 4094 : ip + 1 + rng.int(6);
    const s0 = data();
    out.push({ ip, sourceMemory: [s0, rng.float() < 0.1 ? s0 : data(), data(), data()], destinationMemory: [data(), data()] });
  }
  return out;
}

/** The lackey text of the same accesses: I ip,4, then L per source, then S per destination. */
function asLackey(recs: ChampSimRecord[]): string {
  const hex = (a: number | bigint): string => (BigInt(a) & ((1n << 48n) - 1n)).toString(16).padStart(8, "0");
  const lines = ["==1== the same accesses as the ChampSim trace"];
  for (const r of recs) {
    lines.push(`I  ${hex(r.ip)},4`);
    for (const a of r.sourceMemory ?? []) if (BigInt(a) !== 0n) lines.push(` L ${hex(a)},8`);
    for (const a of r.destinationMemory ?? []) if (BigInt(a) !== 0n) lines.push(` S ${hex(a)},8`);
  }
  return `${lines.join("\n")}\n`;
}

const RECS = records(600, 5);
const BYTES = encodeChampSim(RECS);

let dir = "";
const tmp = (name: string): string => join(dir, name);
let fixtureBytes: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "unimmu-cli-policies-"));
  writeFileSync(tmp("t.champsim"), BYTES);
  writeFileSync(tmp("t.champsim.gz"), gzipSync(BYTES));
  writeFileSync(tmp("t.bin"), BYTES); // a name that says nothing: the content decides
  writeFileSync(tmp("t.lackey"), asLackey(RECS));
  writeFileSync(tmp("cut.champsim"), BYTES.subarray(0, 64 * 17 + 40)); // record 17 is cut
  writeFileSync(tmp("binary.lackey"), BYTES); // misnamed
  const pieces: Uint8Array[] = [];
  for await (const p of xzDecompress([readFileSync(XZ_FIXTURE)])) pieces.push(p);
  fixtureBytes = Buffer.concat(pieces);
  writeFileSync(tmp("fixture.trace"), fixtureBytes);
  writeFileSync(tmp("fixture.trace.gz"), gzipSync(fixtureBytes));
  // 40 reads, one in each of 40 2 MiB regions: 80 MiB of 2 MiB pages
  writeFileSync(tmp("regions.lackey"), Array.from({ length: 40 }, (_, i) => ` L ${(0x1000_0000 + i * 0x20_0000).toString(16)},8\n`).join(""));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The keys of a JSON result that describe the trace file rather than the replay. */
const TRACE_KEYS = new Set(["format", "compression", "records", "accesses", "accessesByKind", "branches", "branchesTaken", "lines", "recordsByKind", "ignoredLines"]);
const replayKeys = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([k]) => !TRACE_KEYS.has(k)));

describe("ChampSim traces", () => {
  for (const policy of ["4k", "2m"] as const) {
    it(`give the conformance counts of the equivalent lackey trace (--policy ${policy})`, () => {
      const cs = cliJson(["trace", tmp("t.champsim"), "--model", "skylake-lru", "--policy", policy, "--json"]);
      const lk = cliJson(["trace", tmp("t.lackey"), "--model", "skylake-lru", "--policy", policy, "--json"]);
      expect(pick(cs, BASIC)).toEqual(pick(lk, BASIC));
      expect(cs).toMatchObject({ format: "champsim", compression: "none", records: 600 });
      expect(lk).toMatchObject({ format: "lackey", records: cs.accesses });
      // accesses that cross a 4 KiB page are split by the core: more requests than accesses
      expect(cs.requests as number).toBeGreaterThan(cs.accesses as number);
      expect(cs.faults as number).toBeGreaterThan(3);
    });
  }

  it("replays like the equivalent lackey trace under --policy ucat too (every counter and memory figure)", () => {
    const cs = cliJson(["trace", tmp("t.champsim"), "--policy", "ucat", "--json"]);
    const lk = cliJson(["trace", tmp("t.lackey"), "--policy", "ucat", "--json"]);
    expect(replayKeys(cs)).toEqual(replayKeys(lk));
  });

  it("reads gzip and xz files (the committed xz fixture, and the same records plain and gzipped)", () => {
    const runs = ["fixture.trace", "fixture.trace.gz", XZ_FIXTURE].map((f) =>
      cliJson(["trace", f.startsWith("/") ? f : tmp(f), "--model", "skylake-lru", "--json"]),
    );
    expect(runs.map((r) => r.compression)).toEqual(["none", "gzip", "xz"]);
    for (const r of runs) {
      expect(r).toMatchObject({ format: "champsim", records: 100, accesses: 180 });
      expect(pick(r, BASIC)).toEqual(pick(runs[0], BASIC));
    }
    expect(runs[0].requests).toBeGreaterThanOrEqual(180);
    const gz = cliJson(["trace", tmp("t.champsim.gz"), "--model", "skylake-lru", "--json"]);
    const plain = cliJson(["trace", tmp("t.champsim"), "--model", "skylake-lru", "--json"]);
    expect(gz.compression).toBe("gzip");
    expect(pick(gz, BASIC)).toEqual(pick(plain, BASIC));
  });

  it("are told from lackey by content whatever the name; --format names one outright", () => {
    const auto = cliJson(["trace", tmp("t.bin"), "--model", "skylake-lru", "--json"]);
    const named = cliJson(["trace", tmp("t.bin"), "--model", "skylake-lru", "--format", "champsim", "--json"]);
    expect(auto.format).toBe("champsim");
    expect(named).toEqual(auto);
    expect(cliJson(["trace", FIXTURE, "--model", "skylake-lru", "--json"]).format).toBe("lackey");
  });

  it("print their totals in the table", () => {
    const r = cli(["trace", XZ_FIXTURE, "--model", "skylake-lru"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("ChampSim (xz), 100 records, 180 accesses (fetch 100, read 55, write 25), 15 branches");
    expect(r.stdout).toMatch(/^requests \(page accesses\) +\d+/m);
  });
});

const n = (o: Record<string, unknown>, k: string): number => o[k] as number;
type BySize = { "4k": number; "2m": number; "1g": number };

describe("--policy osv and ucat: the trace as the application of a VM", () => {
  let osv: Record<string, unknown>;
  let ucat: Record<string, unknown>;
  let conf: Record<string, unknown>;
  beforeAll(() => {
    osv = cliJson(["trace", FIXTURE, "--policy", "osv", "--json"]);
    ucat = cliJson(["trace", FIXTURE, "--policy", "ucat", "--json"]);
    conf = cliJson(["trace", FIXTURE, "--model", "skylake-lru", "--json"]);
  });

  it("run every access, and count consistently", () => {
    for (const [policy, out] of [["osv", osv], ["ucat", ucat]] as const) {
      expect(out).toMatchObject({ model: "default", policy, format: "lackey", records: 3000, droppedAccesses: 0, spills: 0 });
      expect(n(out, "requests")).toBe(n(conf, "requests")); // the same page accesses
      expect(n(out, "l1Hits") + n(out, "l1Misses")).toBe(n(out, "requests") + n(out, "retries"));
      expect(n(out, "walkRefsGuest") + n(out, "walkRefsEpt")).toBe(n(out, "walkRefs"));
      // every guest page fault maps one page
      const mapped = (out.guestPages as { mapped: BySize }).mapped;
      expect(n(out, "pageFaults")).toBe(mapped["4k"] + mapped["2m"] + mapped["1g"]);
      expect(n(out, "mappings")).toBeGreaterThanOrEqual(1);
      // a small trace fits in DRAM; the VM's host memory is its backing plus EPT tables
      const byTier = out.memoryBytesByTier as Record<string, number>;
      expect(byTier.nvm).toBe(0);
      expect(byTier.dram).toBe(n(out, "memoryBytes"));
      expect(out.guestBytesByTier).toEqual({ dram: 2 ** 30, nvm: 3 * 2 ** 30 });
      expect(n(out, "pageTableBytes")).toBeGreaterThan(0);
    }
  });

  it("osv: only 4 KiB host frames (EPT violations back them); ucat: only 2 MiB ones, in both layers", () => {
    const osvFrames = (osv.backing as { frames: BySize }).frames;
    const ucatFrames = (ucat.backing as { frames: BySize }).frames;
    expect(osvFrames["4k"]).toBeGreaterThan(0);
    expect(osvFrames["2m"] + osvFrames["1g"]).toBe(0);
    expect(n(osv, "eptViolations")).toBeGreaterThan(0);
    expect(ucatFrames["4k"]).toBe(0);
    expect(ucatFrames["2m"]).toBeGreaterThan(0);
    expect((ucat.guestPages as { mapped: BySize }).mapped["4k"]).toBe(0);
    // 2 MiB host frames hold more memory than the 4 KiB ones the trace touched
    expect(n(ucat, "memoryBytes")).toBeGreaterThan(n(osv, "memoryBytes"));
  });

  it("ucat walks fewer and shorter: fewer references per walk than osv", () => {
    expect(n(ucat, "walks")).toBeLessThan(n(osv, "walks"));
    expect(n(ucat, "walkRefs") / n(ucat, "walks")).toBeLessThan(n(osv, "walkRefs") / n(osv, "walks"));
  });

  it("size guest memory with --dram and --nvm: ucat spills to NVM when DRAM is full, and drops what fits nowhere", () => {
    const out = cliJson(["trace", tmp("regions.lackey"), "--policy", "ucat", "--dram", "16MiB", "--nvm", "64MiB", "--json"]);
    expect(out.guestBytesByTier).toEqual({ dram: 16 * 2 ** 20, nvm: 64 * 2 ** 20 });
    expect(n(out, "spills")).toBe(1);
    const byTier = out.memoryBytesByTier as Record<string, number>;
    expect(byTier.nvm).toBe(64 * 2 ** 20); // the NVM node, full of 2 MiB pages
    const mapped = (out.guestPages as { mapped: BySize }).mapped["2m"];
    expect(mapped + n(out, "droppedAccesses")).toBe(40);
    expect(n(out, "droppedAccesses")).toBeGreaterThan(0);
    const one = cliJson(["trace", tmp("regions.lackey"), "--policy", "osv", "--dram", "128MiB", "--nvm", "0", "--json"]);
    expect(one.guestBytesByTier).toEqual({ dram: 128 * 2 ** 20 });
    expect(one).toMatchObject({ droppedAccesses: 0, requests: 40 });
  });

  it("--line-sampling: the same run, its line counts estimated from 1 set in k, and said so", () => {
    const sampled = cliJson(["trace", FIXTURE, "--policy", "osv", "--line-sampling", "16", "--json"]);
    expect(sampled.lineSampling).toBe(16);
    expect("lineSampling" in osv).toBe(false);
    for (const k of ["requests", "walks", "walkRefs", "pageFaults", "eptViolations", "memoryBytes"]) expect(n(sampled, k)).toBe(n(osv, k));
    // the totals stay exact: every data line counted, hits and misses together
    const lines = (o: Record<string, unknown>): number =>
      (o.dataLineHits as number[]).reduce((a, b) => a + b, 0) + (o.dataLineMisses as number[][]).flat().reduce((a, b) => a + b, 0);
    expect(lines(sampled)).toBe(lines(osv));
    expect(n(sampled, "walkRefsCached") + (sampled.refMissesByTier as number[]).reduce((a, b) => a + b, 0)).toBe(n(sampled, "walkRefs"));
    const text = cli(["trace", FIXTURE, "--policy", "ucat", "--line-sampling", "4"]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/1 line-cache set in 4 sampled: line counts are estimates/);
  });

  it("--line-thread: the same output, the line cache run on a second thread", () => {
    expect(cliJson(["trace", FIXTURE, "--policy", "osv", "--line-thread", "--json"])).toEqual(osv);
  });

  it("print the statistics and the memory figures as tables", () => {
    const r = cli(["trace", FIXTURE, "--policy", "ucat"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("model default, policy ucat (a UCat VM");
    expect(r.stdout).toContain("guest memory dram 1 GiB, nvm 3 GiB");
    for (const label of ["page walks", "walk memory references", "EPT entries", "host memory held (backing + EPT tables)", "  in dram", "host frames by size", "guest page-table pages", "EPT table pages", "accesses dropped (out of memory)"]) {
      expect(r.stdout).toContain(label);
    }
    expect(r.stdout).toMatch(/host frames by size +4K 0, 2M \d+$/m);
  });
});

describe("errors: one line each", () => {
  it("an unknown format (usage)", () => {
    expectOneLineError(cli(["trace", FIXTURE, "--format", "pin"]), 2, /--format.*'pin'.*lackey, champsim, auto/);
  });
  it("a ChampSim file that ends inside a record, whether the format is told or detected", () => {
    for (const extra of [[], ["--format", "champsim"], ["--policy", "osv"]]) {
      expectOneLineError(cli(["trace", tmp("cut.champsim"), ...extra]), 1, /cut\.champsim: truncated record 17 at byte 1088: the input ends after 40 of its 64 bytes/);
    }
  });
  it("a name that contradicts the content, and xz data read as lackey", () => {
    expectOneLineError(cli(["trace", tmp("binary.lackey")]), 1, /binary\.lackey: the name says a lackey trace but the content is binary .*--format champsim/);
    expectOneLineError(cli(["trace", XZ_FIXTURE, "--format", "lackey"]), 1, /xz-compressed lackey traces are not supported/);
    // bytes from 0x80 up are text: valgrind quotes a program's arguments as they were (Latin-1 here)
    writeFileSync(tmp("latin1.lackey"), Buffer.concat([Buffer.from("==1== Command: ./caf"), Buffer.from([0xe9]), Buffer.from("\nI  00400000,4\n")]));
    expect(cliJson(["trace", tmp("latin1.lackey"), "--model", "skylake-lru", "--json"]).records).toBe(1);
    writeFileSync(tmp("t.zst"), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x04, 0, 0]));
    expectOneLineError(cli(["trace", tmp("t.zst")]), 1, /t\.zst: zstd-compressed traces are not supported/);
    writeFileSync(tmp("twice.gz"), gzipSync(gzipSync("I  00400000,4\n")));
    expectOneLineError(cli(["trace", tmp("twice.gz")]), 1, /twice\.gz: gzip data inside gzip data is not supported \(decompress it once with gunzip\)/);
    // xz is looked into as gzip is: lackey text inside, and compressed data inside either
    const nested = join(ROOT, "tests", "fixtures", "nested");
    expectOneLineError(cli(["trace", join(nested, "lackey.xz")]), 1, /lackey\.xz: xz-compressed lackey traces are not supported \(decompress it with unxz, or recompress it with gzip\)/);
    expectOneLineError(cli(["trace", join(nested, "gzip-inside.xz")]), 1, /gzip-inside\.xz: gzip data inside xz data is not supported \(decompress it with unxz, then gunzip\)/);
    writeFileSync(tmp("xz-inside.gz"), gzipSync(readFileSync(XZ_FIXTURE)));
    expectOneLineError(cli(["trace", tmp("xz-inside.gz")]), 1, /xz-inside\.gz: xz data inside gzip data is not supported \(decompress it with gunzip, then unxz\)/);
    writeFileSync(tmp("utf8.txt"), "caf\u00e9 \u2014 \u{1F600}\n");
    expectOneLineError(cli(["trace", tmp("utf8.txt")]), 1, /utf8\.txt: no lackey records in its 1 lines/);
  });
  it("options that do not go together, and bad sizes (usage)", () => {
    expectOneLineError(cli(["trace", FIXTURE, "--model", "skylake-lru", "--policy", "ucat"]), 2, /'--policy ucat' needs the full model/);
    expectOneLineError(cli(["trace", FIXTURE, "--policy", "2m", "--dram", "1GiB"]), 2, /'--dram' and '--nvm' .* apply to --policy osv and ucat, not 2m/);
    expectOneLineError(cli(["trace", FIXTURE, "--policy", "osv", "--dram", "3MiB"]), 2, /--dram.*'3MiB'.*multiple of 2 MiB/);
    expectOneLineError(cli(["trace", FIXTURE, "--policy", "ucat", "--nvm", "lots"]), 2, /--nvm.*'lots'.*a size such as 1GiB/);
    expectOneLineError(cli(["trace", FIXTURE, "--policy", "osv", "--line-sampling", "12"]), 2, /--line-sampling.*'12'.*a power of two/);
    expectOneLineError(cli(["trace", FIXTURE, "--policy", "4k", "--line-sampling", "16"]), 2, /'--line-sampling' .* applies to --policy osv and ucat, not 4k/);
    expectOneLineError(cli(["trace", FIXTURE, "--policy", "2m", "--line-thread"]), 2, /'--line-thread' .* applies to --policy osv and ucat, not 2m/);
    expectOneLineError(cli(["trace", FIXTURE, "--policy", "osv", "--line-sampling", "4096"]), 2, /'--line-sampling <k>' argument '4096' is invalid\. Expected a power of two from 1 to 2048, the line cache's sets/);
  });
});
