/**
 * `unimmu trace FILE`: replays a Valgrind lackey trace (plain or gzip) or a ChampSim
 * binary trace (plain, gzip or xz) on the MMU core, on a flat VM (`--policy 4k|2m`) or as
 * the application of an OSv or UCat VM (`--policy osv|ucat`), and prints the statistics
 * (and, for a VM, its memory figures) as a table or one JSON object.
 *
 * @example
 * // unimmu trace 605.mcf_s-665B.champsimtrace.xz --policy ucat --dram 2GiB --json
 * registerTrace(program, io);
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { SingleBar } from "cli-progress";
import { MODEL_NAMES, type ModelName } from "../core/models.js";
import { formatStats } from "../report/stats.js";
import { formatTable, groupDigits } from "../report/table.js";
import { sizeName } from "../host/buddy.js";
import {
  POLICY_NAMES,
  TRACE_FORMATS,
  replayTrace,
  type ReplayProgress,
  type ReplayResult,
  type TraceFormatOption,
  type TracePolicy,
} from "../workloads/trace/replay.js";
import { TRACE_VM_DEFAULTS, TRACE_VM_MAX_NODE, type TraceVmMemory } from "../workloads/trace/replay-vm.js";
import { TraceError } from "../workloads/trace/lackey-parse.js";
import { cpuPreset } from "../cost/cpus.js";
import type { CliIo } from "./program.js";

const UNITS: Record<string, number> = { b: 1, k: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tib: 2 ** 40 };
const TWO_MIB = 2 ** 21;

/**
 * A commander argument parser for a memory size: a number with a binary unit (B, KiB,
 * MiB, GiB, TiB; K, M, G, T are the same), no unit meaning bytes; a multiple of 2 MiB
 * up to 1 TiB, and above 0 unless `zero`.
 *
 * @example
 * sizeOption(false)("1GiB"); // 1073741824
 */
export function sizeOption(zero: boolean): (value: string) => number {
  return (value) => {
    const m = /^([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)$/i.exec(value.trim());
    const unit = m ? UNITS[(m[2] || "b").toLowerCase()] : undefined;
    const n = m && unit ? Number(m[1]) * unit : NaN;
    if (!Number.isSafeInteger(n) || n % TWO_MIB !== 0 || n > TRACE_VM_MAX_NODE || (n === 0 && !zero)) {
      throw new InvalidArgumentError(
        `Expected a size such as 1GiB or 512MiB (units B, KiB, MiB, GiB, TiB), ${zero ? "0 or " : ""}a positive multiple of 2 MiB up to 1 TiB.`,
      );
    }
    return n;
  };
}

/** A commander argument parser for a power of two (the simulator, which knows the line cache's sets, checks the upper bound). */
function powerOfTwoOption(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  // (2^30: the bitwise test holds below 2^31; no line cache has nearly as many sets)
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= 2 ** 30 && (n & (n - 1)) === 0)) {
    throw new InvalidArgumentError("Expected a power of two (1, 2, 4, ...), at most the line cache's sets.");
  }
  return n;
}

/**
 * A replay that found no records: the file is no trace of the format read (any text
 * reads as lackey lines that are not records, which lackey's reader ignores as it
 * ignores valgrind's own), or every record was bad and skipped. Its table of zeros
 * would pass for a result.
 */
function checkHasRecords(file: string, r: ReplayResult, skipped: boolean): void {
  const t = r.totals;
  if (t.records > 0) return;
  const bad = r.format === "lackey" ? r.totals.skipped + r.totals.outOfRange : r.totals.skipped;
  if (skipped && bad > 0) throw new TraceError(`trace ${file}: no records left: all ${groupDigits(bad)} were bad and skipped (--skip-bad-lines)`, { file });
  if (r.format === "lackey") {
    const lines = r.totals.lines;
    throw new TraceError(
      `trace ${file}: no lackey records in ${lines === 0 ? "an empty file" : `its ${groupDigits(lines)} lines (all ignored)`}; expected lines such as " L 1ffefff8e0,8" ` +
        "(valgrind --tool=lackey --trace-mem=yes), or --format champsim for a ChampSim trace",
      { file },
    );
  }
  throw new TraceError(`trace ${file}: no ChampSim records (an empty ${r.compression === "none" ? "file" : `${r.compression} stream`}); expected 64-byte records`, { file });
}

/** Shows a progress bar on a terminal once a replay has run for a second. */
class TraceProgress {
  private bar: SingleBar | null = null;
  private readonly start = performance.now();

  constructor(private readonly enabled: boolean) {}

  update(p: ReplayProgress): void {
    if (!this.enabled || p.fraction === null) return;
    const seconds = (performance.now() - this.start) / 1000;
    const unit = p.format === "lackey" ? "lines" : "records";
    const done = p.format === "lackey" ? p.lines : p.records;
    const rate = seconds > 0 ? `${groupDigits(done / seconds)} ${unit}/s` : "";
    const payload = { rate, done: groupDigits(done), unit };
    if (!this.bar) {
      if (seconds < 1 || p.fraction > 0.8) return; // short traces get no bar
      this.bar = new SingleBar({
        format: "replaying [{bar}] {percentage}% | {rate} | {done} {unit} | ETA {eta_formatted}",
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
      });
      this.bar.start(1000, Math.round(p.fraction * 1000), payload);
      return;
    }
    this.bar.update(Math.round(p.fraction * 1000), payload);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/**
 * The JSON object of `unimmu trace --json`: the statistics first, then the model, policy
 * and format, the trace's totals, and for `osv` and `ucat` the VM's memory figures
 * (`TraceVmMemory`'s keys).
 */
export function traceJson(r: ReplayResult, skipBadLines: boolean): Record<string, unknown> {
  const head = { ...r.stats, model: r.model, policy: r.policy, format: r.format };
  let trace: Record<string, unknown>;
  if (r.format === "lackey") {
    const t = r.totals;
    trace = {
      lines: t.lines,
      records: t.records,
      recordsByKind: { I: t.byKind[0], L: t.byKind[1], S: t.byKind[2], M: t.byKind[3] },
      ignoredLines: t.ignored,
      ...(skipBadLines ? { skippedLines: t.skipped + t.outOfRange } : {}),
    };
  } else {
    const t = r.totals;
    trace = {
      compression: r.compression,
      records: t.records,
      accesses: t.accesses,
      accessesByKind: { fetch: t.byKind[0], read: t.byKind[1], write: t.byKind[2] },
      branches: t.branches,
      branchesTaken: t.taken,
      ...(skipBadLines ? { skippedRecords: t.skipped, skippedAccesses: t.outOfRange } : {}),
    };
  }
  return { ...head, ...(r.lineSampling ? { lineSampling: r.lineSampling } : {}), ...trace, ...(r.memory ?? {}) };
}

const POLICY_TEXT: Record<TracePolicy, string> = {
  "4k": "every guest and EPT page 4 KiB, mapped on first touch",
  "2m": "every guest and EPT page 2 MiB, mapped on first touch",
  osv: "an OSv VM: flat guest memory backed by 4 KiB EPT pages; OSv's fault policy maps 2 MiB guest pages in aligned interiors, else 4 KiB",
  ucat: "a UCat VM: a node per tier, 2 MiB pages in both layers",
};

function bytesText(n: number): string {
  if (n === 0) return "0";
  const h = n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${(n / 1024).toFixed(2)} KiB`;
  return `${groupDigits(n)} B (${h})`;
}

const bySizeText = (s: { "4k": number; "2m": number; "1g": number }): string =>
  `4K ${groupDigits(s["4k"])}, 2M ${groupDigits(s["2m"])}` + (s["1g"] > 0 ? `, 1G ${groupDigits(s["1g"])}` : "");

/** The memory figures of a trace VM as a table (`memory`, `value`). */
export function formatTraceMemory(m: TraceVmMemory): string {
  const rows: string[][] = [];
  const row = (label: string, value: string): void => {
    rows.push([label, value]);
  };
  row("host memory held (backing + EPT tables)", bytesText(m.memoryBytes));
  for (const [tier, b] of Object.entries(m.memoryBytesByTier)) row(`  in ${tier}`, bytesText(b));
  row("backing (host frames behind guest memory)", bytesText(m.backing.bytes));
  row("  host frames by size", bySizeText(m.backing.frames));
  row("  smaller EPT pages than wanted", groupDigits(m.backing.smallerFallbacks));
  row("  backed in another tier", groupDigits(m.backing.tierFallbacks));
  row("guest pages mapped", bySizeText(m.guestPages.mapped));
  row("guest page-table pages", `${groupDigits(m.guestTables.pages)} (${groupDigits(m.guestTables.inUse)} in use)`);
  row("EPT table pages", `${groupDigits(m.eptTables.pages)} (${groupDigits(m.eptTables.inUse)} in use)`);
  row("page tables (guest + EPT)", bytesText(m.pageTableBytes));
  row("mappings covering the trace", groupDigits(m.mappings));
  if (Object.keys(m.guestBytesByTier).length > 1) row("mappings spilled to the next node", groupDigits(m.spills));
  row("accesses dropped (out of memory)", groupDigits(m.droppedAccesses));
  return formatTable(["memory", "value"], rows, ["l", "r"]);
}

/** The text of `unimmu trace` without --json. */
export function traceText(file: string, r: ReplayResult, skipBadLines: boolean): string {
  let first: string;
  if (r.format === "lackey") {
    const t = r.totals;
    const kinds = t.byKind.map((n, k) => `${"ILSM"[k]} ${groupDigits(n)}`).join(", ");
    first =
      `trace ${file}: ${groupDigits(t.lines)} lines, ${groupDigits(t.records)} records (${kinds}), ${groupDigits(t.ignored)} other lines ignored` +
      (skipBadLines ? `, ${groupDigits(t.skipped + t.outOfRange)} bad lines skipped` : "");
  } else {
    const t = r.totals;
    first =
      `trace ${file}: ChampSim (${r.compression === "none" ? "uncompressed" : r.compression}), ${groupDigits(t.records)} records, ` +
      `${groupDigits(t.accesses)} accesses (fetch ${groupDigits(t.byKind[0])}, read ${groupDigits(t.byKind[1])}, write ${groupDigits(t.byKind[2])}), ` +
      `${groupDigits(t.branches)} branches` +
      (skipBadLines ? `, ${groupDigits(t.skipped)} bad records and ${groupDigits(t.outOfRange)} accesses past 2^48 skipped` : "");
  }
  const lines = [
    first,
    `model ${r.model}${r.model === "skylake-lru" ? " (REFERENCE.md section 9)" : ""}, policy ${r.policy} (${POLICY_TEXT[r.policy]})` +
      (r.lineSampling ? `; 1 line-cache set in ${r.lineSampling} sampled: line counts are estimates` : ""),
  ];
  const m = r.memory;
  if (m) {
    const sizes = (o: Record<string, number>): string => Object.entries(o).map(([t, b]) => `${t} ${sizeName(b)}`).join(", ");
    lines.push(`guest memory ${sizes(m.guestBytesByTier)}; host ${sizes(m.hostCapacityByTier)}`);
  }
  lines.push("", formatStats(r.stats));
  if (m) lines.push("", formatTraceMemory(m));
  return lines.join("\n");
}

/**
 * Adds `trace` to the program; output goes through `io`.
 * @example registerTrace(program, io);
 */
export function registerTrace(program: Command, io: CliIo): void {
  program
    .command("trace")
    .description(
      "Replay a memory trace on the MMU core: Valgrind lackey text (valgrind --tool=lackey --trace-mem=yes; plain or gzip; " +
        "I is a fetch, L a read, S a write, M a read then a write) or ChampSim binary records (plain, gzip or xz; each " +
        "instruction a fetch, then its reads, then its writes), on a flat VM or as the application of an OSv or UCat VM.",
    )
    .argument("<file>", "the trace file (compression is recognised by its magic bytes)")
    .addOption(
      new Option(
        "--format <format>",
        "auto: ChampSim if the content is binary (xz data, or a NUL or other control byte in its first 4 KiB, gzip decompressed), " +
          "lackey if it is text; the name (.lackey, .champsim, .champsimtrace) decides an empty file, and contradicting it is an error",
      )
        .choices(TRACE_FORMATS)
        .default("auto"),
    )
    .addOption(
      new Option("--model <model>", "skylake-lru: the exact conformance counts (REFERENCE.md section 9); default: the full model with walk caches and nested TLB")
        .choices(MODEL_NAMES)
        .default("default"),
    )
    .addOption(
      new Option(
        "--policy <policy>",
        "4k, 2m: a flat VM, every guest and EPT page of that size; osv, ucat: the application of an OSv or UCat VM on a DRAM + NVM host (full model only)",
      )
        .choices(POLICY_NAMES)
        .default("4k"),
    )
    .option("--dram <size>", `osv, ucat: guest memory on the DRAM node (default ${sizeName(TRACE_VM_DEFAULTS.dram)})`, sizeOption(false))
    .option("--nvm <size>", `osv, ucat: guest memory on the NVM node, 0 for none (default ${sizeName(TRACE_VM_DEFAULTS.nvm)})`, sizeOption(true))
    .option(
      "--line-sampling <k>",
      "osv, ucat: model 1 line-cache set in k (a power of two up to the preset's sets) and estimate the line counts: faster on long traces (default 1, exact)",
      powerOfTwoOption,
    )
    .option("--line-thread", "osv, ucat: run the line cache on a second thread (the same counts, sooner on a multi-core host)")
    .option("--json", "print one JSON object instead of tables")
    .option(
      "--skip-bad-lines",
      "skip and count malformed lackey lines or bad ChampSim records (and records that reach past 2^48) instead of stopping at the first",
    )
    .exitOverride()
    .action(
      async (
        file: string,
        o: { format: TraceFormatOption; model: ModelName; policy: TracePolicy; dram?: number; nvm?: number; lineSampling?: number; lineThread?: boolean; json?: boolean; skipBadLines?: boolean },
        cmd: Command,
      ) => {
        // usage errors go through commander: one line, exit status 2
        const vm = o.policy === "osv" || o.policy === "ucat";
        if (vm && o.model !== "default") {
          cmd.error(`error: option '--policy ${o.policy}' needs the full model; --model ${o.model} has policies 4k and 2m only`);
        }
        if (!vm && (o.dram !== undefined || o.nvm !== undefined)) {
          cmd.error(`error: options '--dram' and '--nvm' size an OSv or UCat VM's memory; they apply to --policy osv and ucat, not ${o.policy}`);
        }
        if (!vm && o.lineSampling !== undefined && o.lineSampling !== 1) {
          cmd.error(`error: option '--line-sampling' samples an OSv or UCat VM's line cache; it applies to --policy osv and ucat, not ${o.policy}`);
        }
        if (vm && o.lineSampling !== undefined) {
          const { entries, ways } = cpuPreset(TRACE_VM_DEFAULTS.cpu).lineCache;
          if (o.lineSampling > entries / ways) {
            cmd.error(`error: option '--line-sampling <k>' argument '${o.lineSampling}' is invalid. Expected a power of two from 1 to ${entries / ways}, the line cache's sets (cpu ${TRACE_VM_DEFAULTS.cpu}).`);
          }
        }
        if (!vm && o.lineThread) {
          cmd.error(`error: option '--line-thread' runs an OSv or UCat VM's line cache on a thread; it applies to --policy osv and ucat, not ${o.policy}`);
        }
        const skip = o.skipBadLines === true;
        const progress = new TraceProgress(io.errIsTty);
        let r: ReplayResult;
        try {
          r = await replayTrace(file, {
            format: o.format,
            model: o.model,
            policy: o.policy,
            ...(vm ? { dram: o.dram, nvm: o.nvm, lineSampling: o.lineSampling, ...(o.lineThread ? { lineThread: true } : {}) } : {}),
            skipBadLines: skip,
            onProgress: (p) => progress.update(p),
          });
        } finally {
          progress.stop();
        }
        checkHasRecords(file, r, skip);
        io.out(o.json ? `${JSON.stringify(traceJson(r, skip))}\n` : `${traceText(file, r, skip)}\n`);
      },
    );
}
