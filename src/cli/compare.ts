/**
 * `unimmu compare A B [C...]`: runs one seeded workload on each named configuration,
 * each on a fresh simulator with the same host and the same guest memory, and prints
 * memory by tier, fragmentation, page tables, TLB miss rate, walk references and the
 * cycle model's throughput side by side, or with `--json` one object
 * `{ "schema": "unimmu/report@1", "workload", "seed", "configs": { "<name>": CompareEntry } }`
 * (docs/accounting.md defines each key). The workload is the built-in key-value one
 * (`kv`, the default) or one of the paper scenario's: memslap and YCSB A-F at a run size.
 * The same arguments and seed give byte-identical output.
 *
 * @example
 * // unimmu compare osv ucat --workload ycsb-a --size quick --json
 * const r = await runCompare(["osv", "ucat"], { workload: "ycsb-a", size: "quick" });
 * r.configs.ucat.tlbMissRate < r.configs.osv.tlbMissRate; // 2 MiB pages in both layers
 * console.log(formatCompare(r));
 */
import { Argument, InvalidArgumentError, Option, type Command } from "commander";
import type { SimulatorOptions } from "../sim/simulator.js";
import type { VmOptions } from "../sim/vm.js";
import type { BySize } from "../sim/stats.js";
import type { Job, JobResult, WorkloadSpec } from "../sim/jobs.js";
import { runJobs, type PoolOptions } from "../sim/pool.js";
import { PAPER_SIZES, paperWorkloads, type PaperSize } from "../sim/paper.js";
import { REPORT_SCHEMA } from "../sim/scenario.js";
import { KV_DEFAULTS, type KvResult } from "../workloads/kv/kv.js";
import type { WorkloadRunResult } from "../workloads/drivers.js";
import type { YcsbWorkloadName } from "../workloads/ycsb/workloads.js";
import { formatTable, groupDigits } from "../report/table.js";
import { progress } from "../report/progress.js";
import type { CliIo } from "./program.js";
import { checkOutDir, writeOutDir } from "./out-dir.js";
import { compareCsv, compareHtml } from "../report/compare.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/**
 * The host every configuration runs on: 16 GiB of DRAM and 64 GiB of Optane (a guess
 * at a small two-tier server; only needs to be far larger than one VM).
 */
export const COMPARE_TIERS: SimulatorOptions["tiers"] = [
  { name: "dram", preset: "dram", capacity: 16 * GiB },
  { name: "nvm", preset: "optane", capacity: 64 * GiB },
];

/**
 * The guest memory of every configuration: 1 GiB on the DRAM node and 3 GiB on the NVM
 * node (osv sees their 4 GiB as one flat range). A guess with a reason: 1 GiB nodes
 * let the 1 GiB variant map whole 1 GiB pages, and the 1:3 split is UCat's setting of a
 * little DRAM and much NVM.
 */
export const COMPARE_NODES: VmOptions["nodes"] = [
  { tier: "dram", bytes: 1 * GiB },
  { tier: "nvm", bytes: 3 * GiB },
];

/** One configuration: the VM's policy and options, the back-end's, and the workload's tier. */
export interface CompareConfig {
  description: string;
  vm: Omit<VmOptions, "nodes">;
  hypervisor?: SimulatorOptions["hypervisor"];
  /** The tier the workload asks malloc for (osv ignores it). */
  tier?: string;
}

/** The configurations by name. */
export const COMPARE_CONFIGS: Record<string, CompareConfig> = {
  osv: {
    description: "OSv baseline: flat guest memory, 4 KiB EPT pages (DRAM first), OSv's mempool",
    vm: { policy: "osv" },
  },
  "osv-interleave": {
    description: "OSv baseline with the host interleaving tiers page by page",
    vm: { policy: "osv" },
    hypervisor: { osvPlacement: "interleave" },
  },
  ucat: {
    description: "UCat: a node per tier, 2 MiB pages in both layers, slabs, tier auto",
    vm: { policy: "ucat" },
  },
  "ucat-1g": {
    description: "UCat with a 1 GiB linear map and 1 GiB EPT pages on first touch",
    vm: { policy: "ucat", linearPage: 2 },
    hypervisor: { maxEptPage: 2 },
  },
  "ucat-nvm": {
    description: "UCat with every value placed on the NVM node",
    vm: { policy: "ucat" },
    tier: "nvm",
  },
};

export const COMPARE_CONFIG_NAMES = Object.keys(COMPARE_CONFIGS);
export type CompareWorkload = "kv" | "memslap" | `ycsb-${YcsbWorkloadName}`;
/** The workloads: the built-in key-value one, and the paper scenario's (memslap, YCSB A-F). */
export const COMPARE_WORKLOADS: readonly CompareWorkload[] = ["kv", ...(Object.keys(paperWorkloads("quick")) as Exclude<CompareWorkload, "kv">[])];

/** Defaults of the kv workload: 64 MiB of values, a million gets (guesses: several times the TLB reach of 4 KiB pages); the others' run size. */
export const COMPARE_DEFAULTS = { seed: 1, fillBytes: 64 * MiB, reads: 1_000_000, size: "standard" } as const;

export interface CompareOptions extends PoolOptions {
  workload?: CompareWorkload;
  seed?: number;
  /** kv only: keys to store (default: 64 MiB of values). */
  items?: number;
  /** kv only: gets (default 1,000,000). */
  reads?: number;
  /** memslap and YCSB only: the paper scenario's run size (default "standard"). */
  size?: PaperSize;
}

/**
 * One configuration's figures: a run's (src/sim/jobs.ts, shared with `unimmu run` and
 * `unimmu sweep`; docs/accounting.md defines each in full) with the workload's own result.
 */
export type CompareEntry = JobResult & { description: string; result: KvResult | WorkloadRunResult };

export interface CompareResult {
  schema: typeof REPORT_SCHEMA;
  workload: CompareWorkload;
  /** memslap and YCSB: the run size. */
  size?: PaperSize;
  seed: number;
  configs: Record<string, CompareEntry>;
}

function checkName(name: string): CompareConfig {
  const c = Object.prototype.hasOwnProperty.call(COMPARE_CONFIGS, name) ? COMPARE_CONFIGS[name] : undefined;
  if (!c) throw new RangeError(`config: ${JSON.stringify(name)} is not allowed; expected one of ${COMPARE_CONFIG_NAMES.join(", ")}`);
  return c;
}

/** An option given with a workload it does not apply to (items and reads size kv, size the others), or null. */
function misplacedOption(o: CompareOptions): "items" | "reads" | "size" | null {
  if ((o.workload ?? "kv") === "kv") return o.size !== undefined ? "size" : null;
  return o.items !== undefined ? "items" : o.reads !== undefined ? "reads" : null;
}

/** The workload a compare runs, checked with the options that apply to it. */
function compareWorkload(o: CompareOptions): { name: CompareWorkload; spec: WorkloadSpec; size?: PaperSize } {
  const name = o.workload ?? "kv";
  if (!COMPARE_WORKLOADS.includes(name)) {
    throw new RangeError(`workload: ${JSON.stringify(name)} is not allowed; expected one of ${COMPARE_WORKLOADS.join(", ")}`);
  }
  const misplaced = misplacedOption(o);
  if (misplaced) {
    throw new RangeError(`${misplaced}: ${JSON.stringify(o[misplaced])} is not allowed with workload ${name}; items and reads size kv, size the others (${PAPER_SIZES.join(", ")})`);
  }
  if (name === "kv") {
    const options = { ...(o.items === undefined ? { fillBytes: COMPARE_DEFAULTS.fillBytes } : { items: o.items }), reads: o.reads ?? COMPARE_DEFAULTS.reads };
    return { name, spec: { name, type: "kv", options } };
  }
  const size = o.size ?? COMPARE_DEFAULTS.size;
  if (!(PAPER_SIZES as readonly string[]).includes(size)) throw new RangeError(`size: ${JSON.stringify(size)} is not allowed; expected one of ${PAPER_SIZES.join(", ")}`);
  return { name, spec: { name, ...paperWorkloads(size)[name]! } as WorkloadSpec, size };
}

/** The run job of configuration `name` with workload `w` (each runs on a fresh simulator). */
function compareJob(name: string, w: WorkloadSpec, seed: number): Job {
  const c = checkName(name);
  // the kv workload puts its values in the allocator's default tier unless the configuration says
  const tier = c.tier ?? (w.type === "kv" ? KV_DEFAULTS.tier : undefined);
  return {
    seed,
    tiers: COMPARE_TIERS,
    config: { name, description: c.description, vm: c.vm, nodes: COMPARE_NODES, hypervisor: c.hypervisor, ...(tier === undefined ? {} : { tier }) },
    workload: w,
  };
}

/**
 * Runs each configuration (each on its own simulator, on worker threads when there are
 * several; the results in the order given).
 * @example await runCompare(["osv", "ucat"], { seed: 1, items: 10_000, reads: 100_000 })
 */
export async function runCompare(names: string[], o: CompareOptions = {}): Promise<CompareResult> {
  if (!Array.isArray(names) || names.length < 2) throw new RangeError(`configs: ${JSON.stringify(names)} is not allowed; expected at least two names`);
  names.forEach(checkName);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new RangeError(`configs: ${JSON.stringify(dup)} is given twice; expected distinct names`);
  const w = compareWorkload(o);
  const seed = o.seed ?? COMPARE_DEFAULTS.seed;
  const results = await runJobs(names.map((n) => compareJob(n, w.spec, seed)), { threads: o.threads, cores: o.cores, onProgress: o.onProgress });
  const configs: Record<string, CompareEntry> = {};
  // each job's configuration carries its description, so its result does
  names.forEach((n, i) => (configs[n] = results[i] as CompareEntry));
  return { schema: REPORT_SCHEMA, workload: w.name, ...(w.size ? { size: w.size } : {}), seed, configs };
}

// ---- text ----------------------------------------------------------------------------

/** The table's first line: what ran. */
function workloadLine(r: CompareResult): string {
  const first = Object.values(r.configs)[0]!;
  if (r.workload === "kv") {
    const w = first.result as KvResult;
    return (
      `workload kv (seed ${r.seed}): ${groupDigits(w.items)} keys of 1000..1200 B values, ${groupDigits(w.gets)} zipfian gets, ` +
      `${Math.round(KV_DEFAULTS.replace * 100)}% replaced, ${Math.round(KV_DEFAULTS.delete * 100)}% deleted`
    );
  }
  const spec = paperWorkloads(r.size ?? COMPARE_DEFAULTS.size)[r.workload]!;
  const what =
    spec.type === "ycsb"
      ? `YCSB workload ${spec.workload.toUpperCase()}, ${groupDigits(spec.options?.recordCount ?? 0)} records, ${groupDigits(spec.options?.operationCount ?? 0)} operations`
      : `memaslap against memcached, ${groupDigits(first.operations)} operations`;
  return `workload ${r.workload} (seed ${r.seed}, size ${r.size}): ${what}`;
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.001 && x > 0 ? 4 : 2)}%`;
}

/**
 * The figures side by side: one row per figure, one column per configuration.
 * @example console.log(formatCompare(await runCompare(["osv", "ucat"])))
 */
export function formatCompare(r: CompareResult): string {
  const names = Object.keys(r.configs);
  const es = names.map((n) => r.configs[n]!);
  const tiers = Object.keys(es[0]!.memoryBytesByTier);
  const rows: string[][] = [];
  const row = (label: string, f: (e: CompareEntry) => string): void => {
    rows.push([label, ...es.map(f)]);
  };
  const sizes = (b: BySize): string => `${groupDigits(b["4k"])} / ${groupDigits(b["2m"])} / ${groupDigits(b["1g"])}`;
  row("memory (host bytes)", (e) => mib(e.memoryBytes));
  for (const t of tiers) row(`  in ${t}`, (e) => mib(e.memoryBytesByTier[t] ?? 0));
  row("requested by the app", (e) => mib(e.requestedBytes));
  row("allocated (heap)", (e) => mib(e.allocatedBytes));
  row("held (heap)", (e) => mib(e.heldBytes));
  row("fragmentation (held - requested)", (e) => mib(e.fragmentationBytes));
  row("  internal (allocated - requested)", (e) => mib(e.internalFragmentationBytes));
  row("page tables (guest + EPT)", (e) => `${groupDigits(e.guestTablePages)} + ${groupDigits(e.eptTablePages)} pages`);
  row("host frames 4K / 2M / 1G", (e) => sizes(e.hostFrames));
  row("guest pages touched 4K / 2M / 1G", (e) => sizes(e.guestPagesTouched));
  row("translation requests", (e) => groupDigits(e.requests));
  row("TLB miss rate (STLB misses / requests)", (e) => pct(e.tlbMissRate));
  row("walks", (e) => groupDigits(e.walks));
  row("walk references", (e) => groupDigits(e.walkRefs));
  for (const t of tiers) row(`  to ${t}`, (e) => groupDigits(e.walkRefsByTier[t] ?? 0));
  row("data accesses by tier", (e) => tiers.map((t) => `${t} ${groupDigits(e.accessesByTier[t] ?? 0)}`).join(", "));
  row("operations", (e) => groupDigits(e.operations));
  row("throughput (cycle model)", (e) => `${groupDigits(Math.round(e.throughputOpsPerSecond))} ops/s`);
  const head = [
    workloadLine(r),
    `guest memory: ${COMPARE_NODES.map((n) => `${n.bytes / GiB} GiB ${n.tier}`).join(" + ")} per VM; host: ${COMPARE_TIERS.map((t) => `${t.capacity / GiB} GiB ${t.name}`).join(" + ")}`,
    ...names.map((n, i) => {
      const oom = r.workload === "kv" ? (es[i]!.result as KvResult).outOfMemory : undefined;
      return `${n}: ${es[i]!.description}${oom ? ` (ran out of ${oom} memory)` : ""}`;
    }),
  ];
  return `${head.join("\n")}\n\n${formatTable(["", ...names], rows, ["l", ...names.map(() => "r" as const)])}`;
}

// ---- the command ---------------------------------------------------------------------

function intArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^[0-9][0-9_]*(e[0-9]+)?$/i.test(value) ? Number(value.replace(/_/g, "")) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Expected an integer in ${min}..${max}.`);
    return n;
  };
}

/**
 * Adds `compare` to the program; output goes through `io`.
 * @example registerCompare(program, io);
 */
export function registerCompare(program: Command, io: CliIo): void {
  program
    .command("compare")
    .description(
      "Run one seeded workload on each configuration (a fresh simulator each) and show memory by tier, fragmentation, " +
        "page tables, TLB miss rate, walk references and throughput side by side. The workload is the built-in key-value " +
        "one (kv) or one of the paper scenario's: memslap, ycsb-a .. ycsb-f.",
    )
    .addArgument(new Argument("<configs...>", "two or more configurations").choices(COMPARE_CONFIG_NAMES))
    .addOption(new Option("--workload <name>", "the workload").choices(COMPARE_WORKLOADS).default("kv"))
    .option("--seed <n>", "seed of the workload", intArg(0, 0xffffffff), COMPARE_DEFAULTS.seed)
    .option("--items <n>", "kv: keys to store (default: 64 MiB of values)", intArg(1, 2 ** 24))
    .option("--reads <n>", `kv: gets (default: ${COMPARE_DEFAULTS.reads})`, intArg(0, 2 ** 32))
    .addOption(new Option("--size <size>", `memslap and YCSB: the paper scenario's sizes (default: ${COMPARE_DEFAULTS.size})`).choices(PAPER_SIZES))
    .option("--threads <n>", "worker threads for the configurations' runs (default: the machine's cores)", intArg(1, 256))
    .option("--json", 'print one JSON object { "schema", "workload", "seed", "configs": { "<name>": { ... } } } instead of a table')
    .option("--out <dir>", "also write report.json, report.csv and report.html to this directory")
    .exitOverride()
    .action(
      async (
        configs: string[],
        o: { workload: CompareWorkload; seed: number; items?: number; reads?: number; size?: PaperSize; threads?: number; json?: boolean; out?: string },
        cmd: Command,
      ) => {
        // usage errors go through commander: one line, exit status 2
        if (configs.length < 2) cmd.error(`error: compare needs at least two configurations (of ${COMPARE_CONFIG_NAMES.join(", ")}); got ${configs.length}`);
        const dup = configs.find((n, i) => configs.indexOf(n) !== i);
        if (dup !== undefined) cmd.error(`error: configuration '${dup}' given twice; expected distinct names`);
        const misplaced = misplacedOption(o);
        if (misplaced === "size") cmd.error(`error: option '--size' applies to memslap and ycsb-a .. ycsb-f; the kv workload takes --items and --reads`);
        if (misplaced) cmd.error(`error: option '--${misplaced}' applies to the kv workload only; ${o.workload} takes --size (${PAPER_SIZES.join(", ")})`);
        if (o.out !== undefined) await checkOutDir(o.out);
        const bar = progress({ total: 0, label: "compare", unit: "runs", stream: io.errIsTty ? process.stderr : { write: () => true } });
        let r: CompareResult;
        try {
          r = await runCompare(configs, {
            workload: o.workload, seed: o.seed, items: o.items, reads: o.reads, size: o.size, threads: o.threads,
            onProgress: (d, t) => (bar.setTotal(t), bar.update(d)),
          });
        } finally {
          bar.stop();
        }
        const json = JSON.stringify(r);
        if (o.out !== undefined) {
          const command = `unimmu compare ${configs.join(" ")} --workload ${r.workload}${r.size ? ` --size ${r.size}` : ""} --seed ${r.seed}`;
          await writeOutDir(o.out, { "report.json": `${json}\n`, "report.csv": compareCsv(r), "report.html": compareHtml(r, command) });
        }
        io.out(o.json ? `${json}\n` : `${formatCompare(r)}\n`);
        if (o.out !== undefined && !o.json) io.out(`reports written to ${o.out}: report.json, report.csv, report.html\n`);
      },
    );
}
