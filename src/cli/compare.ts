/**
 * `unimmu compare A B [C...]`: runs the seeded built-in workload on each named
 * configuration, each on a fresh simulator with the same host and the same guest memory,
 * and prints memory by tier, fragmentation, page tables, TLB miss rate and walk
 * references side by side, or with `--json` one object
 * `{ "configs": { "<name>": CompareEntry } }` (docs/accounting.md defines each key).
 * The same arguments and seed give byte-identical output.
 *
 * @example
 * // unimmu compare osv ucat --seed 7 --json
 * const r = await runCompare(["osv", "ucat"], { seed: 7 });
 * r.configs.ucat.memoryBytes < r.configs.osv.memoryBytes; // slabs waste less than OSv's whole pages
 * console.log(formatCompare(r));
 */
import { Argument, InvalidArgumentError, Option, type Command } from "commander";
import type { SimulatorOptions } from "../sim/simulator.js";
import type { VmOptions } from "../sim/vm.js";
import type { BySize } from "../sim/stats.js";
import { runJob, type JobResult } from "../sim/jobs.js";
import { KV_DEFAULTS, type KvResult } from "../workloads/kv/kv.js";
import { formatTable, groupDigits } from "../report/table.js";

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
export const COMPARE_WORKLOADS = ["kv"] as const;

/** Defaults of the compare workload: 64 MiB of values, a million gets (guesses: several times the TLB reach of 4 KiB pages). */
export const COMPARE_DEFAULTS = { seed: 1, fillBytes: 64 * MiB, reads: 1_000_000 } as const;

export interface CompareOptions {
  workload?: (typeof COMPARE_WORKLOADS)[number];
  seed?: number;
  /** Keys to store (default: 64 MiB of values). */
  items?: number;
  /** Gets (default 1,000,000). */
  reads?: number;
}

/**
 * One configuration's figures: a run's (src/sim/jobs.ts, shared with `unimmu run` and
 * `unimmu sweep`; docs/accounting.md defines each in full) with the kv workload's result.
 */
export type CompareEntry = JobResult & { description: string; result: KvResult };

export interface CompareResult {
  configs: Record<string, CompareEntry>;
}

function checkName(name: string): CompareConfig {
  const c = Object.prototype.hasOwnProperty.call(COMPARE_CONFIGS, name) ? COMPARE_CONFIGS[name] : undefined;
  if (!c) throw new RangeError(`config: ${JSON.stringify(name)} is not allowed; expected one of ${COMPARE_CONFIG_NAMES.join(", ")}`);
  return c;
}

/** Runs one configuration on a fresh simulator (a run job with the kv workload). */
export async function runConfig(name: string, o: CompareOptions = {}): Promise<CompareEntry> {
  const c = checkName(name);
  const seed = o.seed ?? COMPARE_DEFAULTS.seed;
  const r = await runJob({
    seed,
    tiers: COMPARE_TIERS,
    config: { name, description: c.description, vm: c.vm, nodes: COMPARE_NODES, hypervisor: c.hypervisor, tier: c.tier ?? KV_DEFAULTS.tier },
    workload: {
      name: "kv",
      type: "kv",
      options: { ...(o.items === undefined ? { fillBytes: COMPARE_DEFAULTS.fillBytes } : { items: o.items }), reads: o.reads ?? COMPARE_DEFAULTS.reads },
    },
  });
  return { ...r, description: c.description, result: r.result as KvResult };
}

/**
 * Runs each configuration (in the order given, each on its own simulator).
 * @example await runCompare(["osv", "ucat"], { seed: 1, items: 10_000, reads: 100_000 })
 */
export async function runCompare(names: string[], o: CompareOptions = {}): Promise<CompareResult> {
  if (!Array.isArray(names) || names.length < 2) throw new RangeError(`configs: ${JSON.stringify(names)} is not allowed; expected at least two names`);
  names.forEach(checkName);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new RangeError(`configs: ${JSON.stringify(dup)} is given twice; expected distinct names`);
  const workload = o.workload ?? "kv";
  if (!(COMPARE_WORKLOADS as readonly string[]).includes(workload)) {
    throw new RangeError(`workload: ${JSON.stringify(workload)} is not allowed; expected one of ${COMPARE_WORKLOADS.join(", ")}`);
  }
  const configs: Record<string, CompareEntry> = {};
  for (const n of names) configs[n] = await runConfig(n, o);
  return { configs };
}

// ---- text ----------------------------------------------------------------------------

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
  const w = es[0]!.result;
  const head = [
    `workload kv (seed ${es[0]!.seed}): ${groupDigits(w.items)} keys of 1000..1200 B values, ${groupDigits(w.gets)} zipfian gets, ` +
      `${Math.round(KV_DEFAULTS.replace * 100)}% replaced, ${Math.round(KV_DEFAULTS.delete * 100)}% deleted`,
    `guest memory: ${COMPARE_NODES.map((n) => `${n.bytes / GiB} GiB ${n.tier}`).join(" + ")} per VM; host: ${COMPARE_TIERS.map((t) => `${t.capacity / GiB} GiB ${t.name}`).join(" + ")}`,
    ...names.map((n, i) => `${n}: ${es[i]!.description}${es[i]!.result.outOfMemory ? ` (ran out of ${es[i]!.result.outOfMemory} memory)` : ""}`),
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
 * Adds `compare` to the program; output goes through `out`.
 * @example registerCompare(program, (s) => process.stdout.write(s));
 */
export function registerCompare(program: Command, out: (s: string) => void): void {
  program
    .command("compare")
    .description(
      "Run the seeded built-in key-value workload on each configuration (a fresh simulator each) and show memory by tier, " +
        "fragmentation, page tables, TLB miss rate and walk references side by side.",
    )
    .addArgument(new Argument("<configs...>", "two or more configurations").choices(COMPARE_CONFIG_NAMES))
    .addOption(new Option("--workload <name>", "the workload").choices(COMPARE_WORKLOADS).default("kv"))
    .option("--seed <n>", "seed of the workload", intArg(0, 0xffffffff), COMPARE_DEFAULTS.seed)
    .option("--items <n>", "keys to store (default: 64 MiB of values)", intArg(1, 2 ** 24))
    .option("--reads <n>", "gets", intArg(0, 2 ** 32), COMPARE_DEFAULTS.reads)
    .option("--json", 'print one JSON object { "configs": { "<name>": { ... } } } instead of a table')
    .exitOverride()
    .action(async (configs: string[], o: { workload: "kv"; seed: number; items?: number; reads: number; json?: boolean }, cmd: Command) => {
      // usage errors go through commander: one line, exit status 2
      if (configs.length < 2) cmd.error(`error: compare needs at least two configurations (of ${COMPARE_CONFIG_NAMES.join(", ")}); got ${configs.length}`);
      const dup = configs.find((n, i) => configs.indexOf(n) !== i);
      if (dup !== undefined) cmd.error(`error: configuration '${dup}' given twice; expected distinct names`);
      const r = await runCompare(configs, { workload: o.workload, seed: o.seed, items: o.items, reads: o.reads });
      out(o.json ? `${JSON.stringify(r)}\n` : `${formatCompare(r)}\n`);
    });
}
