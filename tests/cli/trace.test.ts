// `unimmu trace` end to end: a tiny hand-made trace whose counts are worked out below,
// the committed fixture against the TypeScript reference model, and the full statistics
// of the default model.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FlatVm } from "../../src/core/flat.js";
import { modelConfig } from "../../src/core/models.js";
import type { Counters, MmuCore, Request } from "../../src/core/types.js";
import { lackeyRequests, parseLackey, LackeyParser } from "../../src/workloads/trace/lackey.js";
import { createReferenceCore } from "../reference/index.js";
import { BASIC, FIXTURE, cli, cliJson, pick } from "./helpers.js";

// A tiny trace. Under REFERENCE.md section 9 (Skylake geometry, true LRU, no inclusion):
//
// line  record          4k policy (pages are 4 KiB VPNs)              2m policy (2 MiB VPNs: 0x400000 is 2, 0x600000 is 3)
//  1    ==123== ...     ignored                                        ignored
//  2    I 400000,4      ITLB miss, STLB miss, fault + walk (0x400)      ITLB2M miss, STLB miss, fault + walk (VPN 2)
//  3    I 400004,4      ITLB hit                                       ITLB2M hit
//  4    L 600ff8,16     crosses 0x601000: two page accesses:            two page accesses (split at 4 KiB under both policies):
//                       0x600 miss/miss/fault+walk,                    0x600ff8 DTLB2M miss, STLB miss, fault + walk (VPN 3),
//                       0x601 miss/miss/fault+walk                     0x601000 DTLB2M hit
//  5    S 600000,8      DTLB hit (0x600)                               DTLB2M hit
//  6    M 400010,4      read: DTLB miss (the fetch filled only the      read: DTLB2M miss, STLB hit; write: DTLB2M hit
//                       ITLB), STLB hit, fills DTLB; write: DTLB hit
//  7    SB 00400000     ignored (KIND letter not followed by a blank)  ignored
//  8    (blank)         ignored                                        ignored
//  9    M 601ffc,8      crosses 0x602000: reads 0x601 hit, 0x602        reads 0x601ffc hit, 0x602000 hit; writes both hit
//                       miss/miss/fault+walk; writes 0x601 hit,
//                       0x602 hit
// 10    ==123== done    ignored                                        ignored
//
// 4k: requests 1+1+2+1+2+4 = 11; l1Hits: line 3 (1), 5 (1), 6 write (1), 9 (3) = 6;
//     l2Hits 1 (line 6 read); walks = faults = 4 (0x400, 0x600, 0x601, 0x602); walkRefs 4 x 24 = 96.
//     No set conflicts: DTLB4K has 16 sets (VPNs 0x400 and 0x600 share set 0 of 4 ways).
// 2m: requests 11; l1Hits: line 3 (1), 4 second page (1), 5 (1), 6 write (1), 9 (4) = 8;
//     l2Hits 1; walks = faults = 2 (VPNs 2 and 3); walkRefs 2 x 15 = 30.
// Check: l1Hits + l2Hits + walks = requests (11) under both.
const TINY = [
  "==123== Lackey, a tiny hand-made trace",
  "I  00400000,4",
  "I  00400004,4",
  " L 00600ff8,16",
  " S 00600000,8",
  " M 00400010,4",
  "SB 00400000",
  "",
  " M 00601ffc,8",
  "==123== done",
  "",
].join("\n");

const TINY_4K = { requests: 11, l1Hits: 6, l2Hits: 1, walks: 4, walkRefs: 96, faults: 4 };
const TINY_2M = { requests: 11, l1Hits: 8, l2Hits: 1, walks: 2, walkRefs: 30, faults: 2 };

let dir = "";
const tmp = (name: string): string => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "unimmu-cli-"));
  writeFileSync(tmp("tiny.lackey"), TINY);
  writeFileSync(tmp("tiny.lackey.gz"), gzipSync(TINY));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("unimmu trace --model skylake-lru: a hand-made trace", () => {
  for (const [policy, want] of [["4k", TINY_4K], ["2m", TINY_2M]] as const) {
    it(`gives the hand-computed counts under --policy ${policy}`, () => {
      const out = cliJson(["trace", tmp("tiny.lackey"), "--model", "skylake-lru", "--policy", policy, "--json"]);
      expect(pick(out, BASIC)).toEqual(want);
      expect(out).toMatchObject({ model: "skylake-lru", policy, lines: 10, records: 6, ignoredLines: 4 });
      expect(out.recordsByKind).toEqual({ I: 2, L: 1, S: 1, M: 2 });
      expect(out).not.toHaveProperty("skippedLines"); // only with --skip-bad-lines
    });

    it(`reads the same trace gzipped to the same counts (--policy ${policy})`, () => {
      const out = cliJson(["trace", tmp("tiny.lackey.gz"), "--model", "skylake-lru", "--policy", policy, "--json"]);
      expect(pick(out, BASIC)).toEqual(want);
    });
  }

  it("prints a readable table without --json", () => {
    const r = cli(["trace", tmp("tiny.lackey"), "--model", "skylake-lru"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("10 lines, 6 records (I 2, L 1, S 1, M 2), 4 other lines ignored");
    expect(r.stdout).toMatch(/^requests \(page accesses\) +11 *$/m);
    expect(r.stdout).toMatch(/^L1 TLB hits +6 +54\.55% of requests$/m);
    expect(r.stdout).toMatch(/^STLB \(L2\) hits +1 +20\.00% of L1 misses$/m);
    expect(r.stdout).toMatch(/^page walks +4 +363\.64 per 1000 requests$/m);
    expect(r.stdout).toMatch(/^walk memory references +96 +24\.00 per walk$/m);
    expect(r.stdout).toMatch(/^faults +4 /m);
  });
});

/** The fixture's records through the reference model's submit/run. */
function referenceCounts(policy: "4k" | "2m"): Counters {
  const core = createReferenceCore(modelConfig("skylake-lru", { policy }));
  const { records } = parseLackey(readFileSync(FIXTURE));
  const requests: Request[] = [];
  for (const r of records) {
    if (r.kind === 3) requests.push({ vcpu: 0, va: r.addr, kind: 1, size: r.size }, { vcpu: 0, va: r.addr, kind: 2, size: r.size });
    else requests.push({ vcpu: 0, va: r.addr, kind: r.kind, size: r.size });
  }
  core.submit(requests);
  expect(core.run()).toBeNull(); // the conformance model raises no events
  return core.counters(0);
}

// The reference model (tests/reference) is the plain TypeScript reading of the same
// rules; if it changes under us, this is the test that says so.
describe("unimmu trace --model skylake-lru: the fixture against the reference model", () => {
  for (const policy of ["4k", "2m"] as const) {
    it(`agrees with the reference model on every count (--policy ${policy})`, () => {
      const ref = referenceCounts(policy);
      const out = cliJson(["trace", FIXTURE, "--model", "skylake-lru", "--policy", policy, "--json"]);
      expect(pick(out, BASIC)).toEqual({
        requests: ref.requests,
        l1Hits: ref.l1Hits,
        l2Hits: ref.stlbHits,
        walks: ref.walks,
        walkRefs: ref.walkRefs,
        faults: ref.faults,
      });
      expect(out.requests as number).toBeGreaterThan(3000); // the fixture is not empty
      expect(out).toMatchObject({ lines: 3025, records: 3000 });
    });
  }
});

/**
 * The reference core, adapted to what FlatVm expects of WasmCore: EPT frames may be
 * queued before their VM exists, and `createVm` takes the EPT root from them. The
 * reference takes the root lazily (from the pool, at the first eptMap), so until then
 * one queued frame is reserved for it and not counted as available.
 */
function referenceForFlatVm(policy: "4k" | "2m"): MmuCore {
  const core = createReferenceCore(modelConfig("default", { policy }));
  const early = new Map<number, number[]>();
  const addEptFrames = core.addEptFrames.bind(core);
  const createVm = core.createVm.bind(core);
  core.addEptFrames = (vm, hpas) => {
    if (early.has(vm) || !tryFrames(() => addEptFrames(vm, hpas))) early.set(vm, [...(early.get(vm) ?? []), ...hpas]);
  };
  core.createVm = (vm, opts) => {
    createVm(vm, opts);
    const hpas = early.get(vm);
    early.delete(vm);
    if (hpas) addEptFrames(vm, hpas);
  };
  const framesAvailable = core.framesAvailable.bind(core);
  const rootTaken = (vm: number): boolean =>
    (core as unknown as { vms: ({ eptRoot: number | null } | null)[] }).vms[vm]?.eptRoot != null;
  core.framesAvailable = (vm) => {
    const f = framesAvailable(vm);
    return rootTaken(vm) ? f : { ...f, ept: Math.max(0, f.ept - 1) };
  };
  return core;
}

function tryFrames(f: () => void): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof RangeError && /does not exist/.test(e.message)) return false;
    throw e;
  }
}

/** The fixture through a FlatVm on the reference model, the way `trace` runs the default model. */
function referenceDefault(policy: "4k" | "2m"): { counters: Counters; demandMaps: number } {
  const core = referenceForFlatVm(policy);
  const vm = new FlatVm(core, { pageSize: policy === "2m" ? 1 : 0 });
  const p = new LackeyParser();
  const requests = [...p.push(readFileSync(FIXTURE)), ...p.end()].flatMap((c) => lackeyRequests(c, vm.vcpu));
  vm.runRequests(requests);
  return { counters: core.counters(vm.vcpu), demandMaps: vm.demandMaps };
}

describe("unimmu trace (default model): the full statistics", () => {
  for (const policy of ["4k", "2m"] as const) {
    it(`reports every counter in JSON, consistent with the conformance counts (--policy ${policy})`, () => {
      const out = cliJson(["trace", FIXTURE, "--policy", policy, "--json"]);
      expect(out.model).toBe("default");
      for (const k of [
        ...BASIC, "requestsByKind", "retries", "l1Misses", "itlb4kHits", "itlb2mHits", "dtlb4kHits", "dtlb2mHits",
        "stlbHits4k", "stlbHits2m", "walkRefsGuest", "walkRefsEpt", "refsByTier", "pwcHits", "pwcMisses",
        "ntlbHits", "ntlbMisses", "pageFaults", "protFaults", "eptViolations", "dirtyAssists", "aUpdates",
        "dUpdates", "eptAUpdates", "eptDUpdates", "data", "demandMaps",
      ]) {
        expect(out, k).toHaveProperty(k);
      }
      const n = (k: string): number => out[k] as number;
      // every attempt probes the L1 once (docs/core.md section 8)
      expect(n("l1Hits") + n("l1Misses")).toBe(n("requests") + n("retries"));
      expect(n("walkRefsGuest") + n("walkRefsEpt")).toBe(n("walkRefs"));
      // page accesses are the same as under the conformance model; every fault is a first
      // touch, and the pages first touched are the conformance model's faults
      const conf = cliJson(["trace", FIXTURE, "--model", "skylake-lru", "--policy", policy, "--json"]);
      expect(n("requests")).toBe(conf.requests);
      expect(n("faults")).toBe(conf.faults);
      expect(n("pageFaults")).toBe(conf.faults);
      expect(n("demandMaps")).toBe(conf.faults);
      expect(n("retries")).toBe(conf.faults); // each fault retries its access once
      expect((out.pwcHits as number[]).some((x) => x > 0) || n("ntlbHits") > 0).toBe(true);
    });

    it(`agrees with a FlatVm on the reference model (--policy ${policy})`, () => {
      const { counters, demandMaps } = referenceDefault(policy);
      const out = cliJson(["trace", FIXTURE, "--policy", policy, "--json"]);
      const { stlbHits, ...rest } = counters;
      expect(out).toMatchObject({ ...rest, l2Hits: stlbHits, demandMaps });
    });
  }

  it("prints the full table without --json", () => {
    const r = cli(["trace", FIXTURE]);
    expect(r.status).toBe(0);
    for (const label of [
      "requests (page accesses)", "retries after an event", "ITLB 4K", "DTLB 4K", "STLB (L2) hits", "page walks",
      "walk memory references", "guest page-table entries", "EPT entries", "walk-cache hits (PDE)",
      "walk-cache misses", "nested TLB hits", "page faults (not present)", "pages mapped on demand",
      "dirty assists", "guest accessed-bit updates", "EPT dirty-bit updates",
    ]) {
      expect(r.stdout).toContain(label);
    }
    expect(r.stdout).toContain("model default, policy 4k");
  });
});
