/**
 * The scenario `unimmu run` runs for now: one VM with demand-mapped memory (a flat VM,
 * 4 KiB guest and EPT pages, the full default model) running a seeded random workload.
 * It stands in until the paper scenario (UCat vs OSv, Iso-UniK) replaces it.
 *
 * The workload (every number a guess, chosen to exercise every level of the TLB
 * hierarchy; none is taken from a paper):
 * - 25% of requests are 4-byte instruction fetches from a code region of 64 pages:
 *   straight-line code (the next 4 bytes), with one fetch in 16 jumping to a random
 *   aligned place in the region;
 * - the rest are data accesses to a working set of `pages` 4 KiB pages, hot/cold: 90%
 *   go to the first 10% of the pages (the hot set), 10% to the rest; 70% reads, 30%
 *   writes; 8 bytes (75%), 4 bytes (15%) or 64 bytes (10%), aligned to their size (so
 *   no access crosses a page).
 *
 * @example
 * const r = await runDefaultScenario({ seed: 1, requests: 100_000, pages: 4096 });
 * console.log(formatScenario(r));
 */
import { FlatVm } from "../core/flat.js";
import { modelConfig } from "../core/models.js";
import { FETCH, READ, WRITE } from "../core/types.js";
import { WasmCore } from "../core/wasm.js";
import { formatStats, fullStats, type FullStats } from "../report/stats.js";
import { groupDigits } from "../report/table.js";
import { Rng } from "../util/rng.js";
import { runDemandPaged } from "../workloads/trace/replay.js";

export interface ScenarioOptions {
  /** Seed of the workload's random stream, 0..2^32-1. */
  seed?: number;
  /** Requests to run (each touches one page). */
  requests?: number;
  /** Pages (4 KiB) in the data working set. */
  pages?: number;
}

/** Defaults of `unimmu run` (guesses, see the module comment). */
export const SCENARIO_DEFAULTS = { seed: 1, requests: 1_000_000, pages: 4096 } as const;
/** Allowed ranges of the options. */
export const SCENARIO_LIMITS = {
  seed: [0, 0xffffffff],
  requests: [1, 2 ** 40],
  pages: [1, 2 ** 24],
} as const;

const CODE_BASE = 0x40_0000; // where ELF executables load by default on x86-64
const CODE_PAGES = 64;
const DATA_BASE = 0x10_0000_0000; // 64 GiB: any page-aligned 48-bit address would do
const FETCH_SHARE = 0.25;
const JUMP_EVERY = 16;
const HOT_SHARE = 0.1; // of the pages
const HOT_ACCESSES = 0.9; // of the data accesses
const WRITE_SHARE = 0.3;

export interface ScenarioResult {
  scenario: {
    name: "default";
    seed: number;
    requests: number;
    pages: number;
    hotPages: number;
    codePages: number;
    model: "default";
    policy: "4k";
  };
  stats: FullStats;
}

function checkInt(name: keyof typeof SCENARIO_LIMITS, v: number): number {
  const [min, max] = SCENARIO_LIMITS[name];
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name}: ${v} is not allowed; expected an integer in ${min}..${max}`);
  }
  return v;
}

/**
 * Runs the default scenario; the same options give the same result, to the counter.
 *
 * @example
 * const a = await runDefaultScenario({ seed: 7 });
 * const b = await runDefaultScenario({ seed: 7 });
 * JSON.stringify(a) === JSON.stringify(b); // true
 */
export async function runDefaultScenario(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const seed = checkInt("seed", opts.seed ?? SCENARIO_DEFAULTS.seed);
  const requests = checkInt("requests", opts.requests ?? SCENARIO_DEFAULTS.requests);
  const pages = checkInt("pages", opts.pages ?? SCENARIO_DEFAULTS.pages);
  const hotPages = Math.max(1, Math.round(pages * HOT_SHARE));
  const coldPages = pages - hotPages;

  const core = await WasmCore.create(modelConfig("default", { policy: "4k" }));
  const vm = new FlatVm(core, { pageSize: 0 });
  const rng = new Rng(seed);
  const fetchBelow = FETCH_SHARE * 2 ** 32;
  const hotBelow = HOT_ACCESSES * 2 ** 32;
  const writeBelow = WRITE_SHARE * 2 ** 32;
  const codeBytes = CODE_PAGES * 4096;
  let pc = CODE_BASE;
  const batch = Math.min(core.capacity, 1 << 16);

  for (let done = 0; done < requests; ) {
    const n = Math.min(batch, requests - done);
    const w = core.writer(); // fresh each batch: mapping pages may grow the core's memory
    for (let i = 0; i < n; i++) {
      if (rng.u32() < fetchBelow) {
        if (rng.int(JUMP_EVERY) === 0) pc = CODE_BASE + rng.int(codeBytes / 4) * 4;
        else {
          pc += 4;
          if (pc >= CODE_BASE + codeBytes) pc = CODE_BASE;
        }
        w.put(i, pc, FETCH, 4, vm.vcpu);
        continue;
      }
      const page = coldPages === 0 || rng.u32() < hotBelow ? rng.int(hotPages) : hotPages + rng.int(coldPages);
      const s = rng.int(20);
      const size = s < 15 ? 8 : s < 18 ? 4 : 64;
      const va = DATA_BASE + page * 4096 + rng.int(4096 / size) * size;
      w.put(i, va, rng.u32() < writeBelow ? WRITE : READ, size, vm.vcpu);
    }
    runDemandPaged(core, vm, n);
    done += n;
  }

  return {
    scenario: { name: "default", seed, requests, pages, hotPages, codePages: CODE_PAGES, model: "default", policy: "4k" },
    stats: fullStats(core.counters(vm.vcpu), { demandMaps: vm.demandMaps }),
  };
}

/**
 * The result as text: a line about the scenario, then the statistics table.
 *
 * @example
 * process.stdout.write(formatScenario(await runDefaultScenario()) + "\n");
 */
export function formatScenario(r: ScenarioResult): string {
  const s = r.scenario;
  const head =
    `scenario: one VM, demand-mapped 4 KiB pages, model default (seed ${s.seed})\n` +
    `workload: ${groupDigits(s.requests)} requests, ${Math.round(FETCH_SHARE * 100)}% fetches over ${s.codePages} code pages, ` +
    `data over ${groupDigits(s.pages)} pages (${groupDigits(s.hotPages)} hot pages get ${Math.round(HOT_ACCESSES * 100)}% of data accesses), ` +
    `${Math.round(WRITE_SHARE * 100)}% of data accesses are writes`;
  return `${head}\n\n${formatStats(r.stats)}`;
}
