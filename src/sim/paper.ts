/**
 * The paper scenario: UCat against the OSv baseline on memslap and YCSB A-F (memory,
 * TLB misses, walk references, throughput), and the Iso-UniK table (system-call
 * cycles, fork time, Apache with and without isolation), each simulated figure beside
 * the published claim (REFERENCE.md section 1) with the difference. Nothing here is
 * tuned to the claims: the sizes below are workload sizes, the costs come from the
 * presets; docs/validation.md says where and why the figures differ.
 *
 * @example
 * const r = await runPaper({ size: "quick", threads: 2 });
 * r.claims.find((c) => c.metric === "memslap throughput")!.simulated;
 */
import type { Scenario } from "./scenario.js";
import { REPORT_SCHEMA, runScenario } from "./scenario.js";
import type { JobResult } from "./jobs.js";
import type { PoolOptions } from "./pool.js";
import { runIsoUnik, type IsoUnikResult } from "../cli/iso-unik.js";

export const PAPER_SIZES = ["quick", "standard", "full"] as const;
export type PaperSize = (typeof PAPER_SIZES)[number];

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** Workload sizes per run size: operations and records (not tuned; bigger is closer to the papers' runs). */
const SIZES: Record<PaperSize, { memslapOps: number; records: number; ops: number; iso: { seconds: number; forkIterations: number } }> = {
  quick: { memslapOps: 100_000, records: 5_000, ops: 50_000, iso: { seconds: 3, forkIterations: 3 } },
  standard: { memslapOps: 1_000_000, records: 50_000, ops: 500_000, iso: { seconds: 10, forkIterations: 10 } },
  full: { memslapOps: 2_000_000, records: 100_000, ops: 1_000_000, iso: { seconds: 30, forkIterations: 20 } },
};

/**
 * The paper scenario's workloads at a run size: memslap and YCSB A-F (also what
 * `unimmu compare --workload` runs).
 *
 * @example
 * paperWorkloads("quick")["ycsb-a"]; // { type: "ycsb", workload: "a", options: { recordCount: 5000, operationCount: 50000 } }
 */
export function paperWorkloads(size: PaperSize): Scenario["workloads"] {
  const z = SIZES[size];
  const ycsb = (w: "a" | "b" | "c" | "d" | "e" | "f") => ({
    type: "ycsb" as const,
    workload: w,
    options: { recordCount: z.records, operationCount: z.ops },
  });
  return {
    // memcached with a 256 MiB limit, so memaslap's 163,840 items of 1184 B fit (-m 64 would evict)
    memslap: { type: "memslap", options: { operations: z.memslapOps, server: { memoryLimit: 256 * MiB } } },
    "ycsb-a": ycsb("a"),
    "ycsb-b": ycsb("b"),
    "ycsb-c": ycsb("c"),
    "ycsb-d": ycsb("d"),
    "ycsb-e": ycsb("e"),
    "ycsb-f": ycsb("f"),
  };
}

export function paperScenario(size: PaperSize = "standard", seed = 1): Scenario {
  // one VM per configuration with 1 GiB of DRAM and 3 GiB of NVM (UCat's DRAM+NVM setting;
  // the ratio is a guess), on a host with room for both tiers
  const nodes = [
    { tier: "dram", bytes: 1 * GiB },
    { tier: "nvm", bytes: 3 * GiB },
  ];
  return {
    name: "paper",
    seed,
    cpu: "skylake",
    tiers: [
      { name: "dram", preset: "dram", capacity: 64 * GiB },
      { name: "nvm", preset: "optane", capacity: 256 * GiB },
    ],
    configs: {
      osv: { description: "OSv baseline: flat guest memory, 4 KiB EPT pages (DRAM first), OSv's mempool", policy: "osv", nodes },
      ucat: { description: "UCat: a node per tier, 2 MiB pages in both layers, slabs, tier auto", policy: "ucat", nodes },
    },
    workloads: paperWorkloads(size),
    lineCache: "all",
    lineSampling: 1,
  };
}

/** The published claims (REFERENCE.md section 1). */
export const PAPER_CLAIMS = {
  memory: { paper: -0.5, unit: "change", source: "UCat (Front. Comput. Sci. 2023), abstract: memory consumption -50%" },
  tlbMisses: { paper: -0.41, unit: "change", source: "UCat, abstract: TLB miss rate -41%" },
  memslap: { paper: 0.185, unit: "change", source: "UCat, abstract: memslap throughput +18.5%" },
  ycsb: { paper: 0.148, unit: "change", source: "UCat, abstract: YCSB throughput +14.8%" },
  syscall: { paper: 45, unit: "cycles", source: "Iso-UniK (Cybersecurity 2020), abstract: 45-cycle system calls" },
  fork: { paper: 66, unit: "us", source: "Iso-UniK, abstract: 66 us fork" },
} as const;

export interface Claim {
  metric: string;
  paper: number;
  simulated: number;
  /** simulated - paper, in the claim's unit. */
  difference: number;
  unit: "change" | "cycles" | "us";
  source: string;
  /** How the simulated figure is formed. */
  how: string;
}

export interface PaperReport {
  schema: typeof REPORT_SCHEMA;
  scenario: "paper";
  size: PaperSize;
  seed: number;
  /** ucat[workload][config]: "osv" and "ucat". */
  ucat: Record<string, Record<string, JobResult>>;
  isoUnik: IsoUnikResult;
  claims: Claim[];
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function change(r: Record<string, JobResult>, key: "memoryBytes" | "tlbMissRate" | "throughputOpsPerSecond"): number {
  const base = r.osv[key];
  return base > 0 ? r.ucat[key] / base - 1 : 0;
}

export function claimsOf(ucat: Record<string, Record<string, JobResult>>, iso: IsoUnikResult): Claim[] {
  const all = Object.values(ucat);
  const ycsb = Object.entries(ucat).filter(([w]) => w.startsWith("ycsb-")).map(([, r]) => r);
  const claim = (metric: string, key: keyof typeof PAPER_CLAIMS, simulated: number, how: string): Claim => {
    const c = PAPER_CLAIMS[key];
    return { metric, paper: c.paper, simulated, difference: simulated - c.paper, unit: c.unit, source: c.source, how };
  };
  const designs = iso.designs as unknown as Record<string, { syscallCycles: number; forkMicroseconds: number }>;
  return [
    claim("memory consumption", "memory", mean(all.map((r) => change(r, "memoryBytes"))), "host bytes the VM holds, ucat / osv - 1, mean over the workloads"),
    claim("TLB miss rate", "tlbMisses", mean(all.map((r) => change(r, "tlbMissRate"))), "STLB misses per translation request, ucat / osv - 1, mean over the workloads"),
    claim("memslap throughput", "memslap", ucat.memslap ? change(ucat.memslap, "throughputOpsPerSecond") : 0, "operations per second from the cycle model, ucat / osv - 1"),
    claim("YCSB throughput", "ycsb", mean(ycsb.map((r) => change(r, "throughputOpsPerSecond"))), "operations per second, ucat / osv - 1, mean over YCSB A-F"),
    claim("system call", "syscall", designs["iso-unik"]?.syscallCycles ?? 0, "the Iso-UniK gate: two WRPKRUs, the call and return, the handler's entry"),
    claim("fork", "fork", designs["iso-unik"]?.forkMicroseconds ?? 0, "lmbench fork+exit+wait of the default parent, Iso-UniK design"),
  ];
}

export interface PaperOptions extends PoolOptions {
  size?: PaperSize;
  seed?: number;
}

export async function runPaper(o: PaperOptions = {}): Promise<PaperReport> {
  const size = o.size ?? "standard";
  if (!(PAPER_SIZES as readonly string[]).includes(size)) throw new RangeError(`size: ${JSON.stringify(size)} is not allowed; expected one of ${PAPER_SIZES.join(", ")}`);
  const seed = o.seed ?? 1;
  const report = await runScenario(paperScenario(size, seed), o);
  const isoUnik = await runIsoUnik({ seed, seconds: SIZES[size].iso.seconds, forkIterations: SIZES[size].iso.forkIterations });
  return { schema: REPORT_SCHEMA, scenario: "paper", size, seed, ucat: report.results, isoUnik, claims: claimsOf(report.results, isoUnik) };
}
