// Conformance mode `skylake-lru` (REFERENCE.md section 9, docs/core.md section 7): small
// hand-computed traces with exact counts, policies `4k` and `2m`.
//
// Geometry: ITLB4K 128/8 (16 sets), ITLB2M 8/8 (1 set), DTLB4K 64/4 (16 sets),
// DTLB2M 32/4 (8 sets), STLB 1536/12 (128 sets). A miss walks 24 (4k) or 15 (2m) refs.
import { describe, expect, it } from "vitest";
import { FETCH, READ, WRITE, type Request } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { conformanceConfig } from "./setup.js";

type Rec = ["I" | "L" | "S" | "M", number, number];

/** Lackey records as requests: M is a read of its range, then a write of it. */
function requests(recs: Rec[]): Request[] {
  const out: Request[] = [];
  for (const [k, va, size] of recs) {
    if (k === "I") out.push({ vcpu: 0, va, kind: FETCH, size });
    else if (k === "L") out.push({ vcpu: 0, va, kind: READ, size });
    else if (k === "S") out.push({ vcpu: 0, va, kind: WRITE, size });
    else out.push({ vcpu: 0, va, kind: READ, size }, { vcpu: 0, va, kind: WRITE, size });
  }
  return out;
}

interface Expected {
  requests: number;
  l1Hits: number;
  l2Hits: number;
  walks: number;
  walkRefs: number;
  faults: number;
}

describe.each(implementations)("$name: conformance skylake-lru", ({ create }) => {
  function run(policy: "4k" | "2m", recs: Rec[], replacement?: "fifo" | "random"): Expected {
    const cfg = conformanceConfig(policy);
    if (replacement) cfg.replacement = replacement;
    const core = create(cfg);
    core.submit(requests(recs));
    expect(core.run()).toBeNull();
    const c = core.counters(0);
    expect(c.l1Hits + c.l1Misses).toBe(c.requests);
    expect(c.pageFaults).toBe(c.faults);
    return { requests: c.requests, l1Hits: c.l1Hits, l2Hits: c.stlbHits, walks: c.walks, walkRefs: c.walkRefs, faults: c.faults };
  }

  it("4k: hits, an STLB hit for a fetch, a split store, a modify", () => {
    const got = run("4k", [
      ["L", 0x1000, 4], // fault, walk
      ["L", 0x1008, 8], // DTLB hit
      ["I", 0x1000, 4], // ITLB miss, STLB hit
      ["I", 0x1004, 4], // ITLB hit
      ["S", 0x1ff8, 16], // 0x1000 DTLB hit; 0x2000 fault, walk
      ["L", 0x2000, 4], // DTLB hit
      ["M", 0x3000, 8], // read: fault, walk; write: DTLB hit
    ]);
    expect(got).toEqual({ requests: 9, l1Hits: 5, l2Hits: 1, walks: 3, walkRefs: 72, faults: 3 });
  });

  // Pages 128 VPNs apart share STLB set 0, DTLB set 0 and ITLB set 0.
  const p = (k: number) => k * 128 * 4096;

  it("4k: STLB LRU; L1 hits leave the STLB order alone; STLB evictions leave the L1s alone", () => {
    const recs: Rec[] = [["I", p(0), 4]]; // a: fault, walk; STLB [p0]
    for (let k = 1; k <= 11; k++) recs.push(["L", p(k), 4]); // b: 11 faults, walks; STLB full, p0 least recent
    recs.push(
      ["I", p(0), 4], // c: ITLB hit (the STLB order does not change)
      ["L", p(12), 4], // d: fault, walk; the STLB evicts p0
      ["I", p(0), 4], // e: ITLB hit: still in the ITLB
      ["L", p(1), 4], // f: DTLB miss (holds p9..p12), STLB hit
      ["L", p(0), 4], // g: STLB miss, walk (no fault); evicts p2
      ["L", p(2), 4], // h: walk; evicts p3
      ["L", p(4), 4], // i: STLB hit
    );
    expect(run("4k", recs)).toEqual({ requests: 19, l1Hits: 2, l2Hits: 2, walks: 15, walkRefs: 15 * 24, faults: 13 });
  });

  it("4k: an L1 victim is dropped, not moved to the STLB", () => {
    const recs: Rec[] = [["I", p(0), 4]];
    for (let k = 1; k <= 12; k++) recs.push(["L", p(k), 4]); // the 12th evicts p0 from the STLB
    recs.push(["I", p(0), 4]); // ITLB hit
    // Eight fetches into ITLB set 0 (VPN 16j) in other STLB sets: the last evicts p0 from the ITLB.
    for (const j of [1, 2, 3, 4, 5, 6, 7, 9]) recs.push(["I", j * 16 * 4096, 4]);
    recs.push(["I", p(0), 4]); // ITLB miss, STLB miss: a walk
    expect(run("4k", recs)).toEqual({ requests: 23, l1Hits: 1, l2Hits: 0, walks: 22, walkRefs: 22 * 24, faults: 21 });
  });

  it("2m: 2 MiB entries, one request per 4 KiB page, fetches and data share the mapping", () => {
    const got = run("2m", [
      ["L", 0x20_0000, 8], // fault, walk
      ["L", 0x20_1000, 8], // DTLB2M hit
      ["L", 0x3f_fff8, 16], // 0x3ff000: hit; 0x400000: fault, walk
      ["I", 0x20_0040, 4], // ITLB2M miss, STLB hit
      ["I", 0x21_0000, 4], // ITLB2M hit
      ["S", 0x40_0100, 4], // DTLB2M hit
    ]);
    expect(got).toEqual({ requests: 7, l1Hits: 4, l2Hits: 1, walks: 2, walkRefs: 30, faults: 2 });
  });

  it("2m: DTLB2M LRU in a 4-way set; victims are found in the STLB", () => {
    const P = (k: number) => k * 8 * 2 * 1024 * 1024; // VPN 8k: DTLB2M set 0, STLB sets 0, 8, 16, ...
    const got = run("2m", [
      ["L", P(0), 1], ["L", P(1), 1], ["L", P(2), 1], ["L", P(3), 1], // 4 faults, walks
      ["L", P(0), 1], // hit; LRU order 1 2 3 0
      ["L", P(4), 1], // fault, walk; evicts 1 -> 2 3 0 4
      ["L", P(1), 1], // STLB hit; evicts 2 -> 3 0 4 1
      ["L", P(0), 1], // hit -> 3 4 1 0
      ["L", P(2), 1], // STLB hit; evicts 3 -> 4 1 0 2
      ["L", P(3), 1], // STLB hit; evicts 4
      ["L", P(4), 1], // STLB hit
    ]);
    expect(got).toEqual({ requests: 11, l1Hits: 2, l2Hits: 4, walks: 5, walkRefs: 75, faults: 5 });
  });

  it("2m: STLB LRU with 13 pages in one set", () => {
    const P = (k: number) => k * 128 * 2 * 1024 * 1024; // VPN 128k: STLB set 0 and DTLB2M set 0
    const recs: Rec[] = [];
    for (let k = 0; k <= 12; k++) recs.push(["L", P(k), 4]); // 13 faults; the STLB evicts P0
    recs.push(
      ["L", P(0), 4], // walk, no fault; the STLB evicts P1
      ["L", P(12), 4], // DTLB2M hit (holds P10 P11 P12 P0)
      ["L", P(2), 4], // STLB hit
      ["L", P(1), 4], // walk
    );
    expect(run("2m", recs)).toEqual({ requests: 17, l1Hits: 1, l2Hits: 1, walks: 15, walkRefs: 225, faults: 13 });
  });

  it("(reading) conformance is true LRU whatever `replacement` says", () => {
    const recs: Rec[] = [["I", p(0), 4]];
    for (let k = 1; k <= 12; k++) recs.push(["L", p(k), 4]);
    recs.push(["L", p(1), 4], ["L", p(0), 4]);
    const lru = run("4k", recs);
    expect(run("4k", recs, "fifo")).toEqual(lru);
    expect(run("4k", recs, "random")).toEqual(lru);
  });
});
