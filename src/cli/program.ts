/**
 * The `unimmu` command line: `unimmu trace FILE` replays a lackey trace, `unimmu run`
 * runs the default scenario. Every error prints one line to stderr (no stack; set
 * UNIMMU_DEBUG=1 for one) and exits with status 2 (bad usage: unknown command or
 * option, bad option value) or 1 (the run failed: unreadable file, malformed trace).
 *
 * @example
 * // node build/node/cli.js trace app.lackey.gz --model skylake-lru --policy 2m --json
 * const status = await runCli(["node", "unimmu", "trace", "app.lackey.gz", "--json"]);
 * process.exitCode = status;
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { SingleBar } from "cli-progress";
import { MODEL_NAMES, type ModelName } from "../core/models.js";
import { ConfigError } from "../core/config.js";
import { formatStats } from "../report/stats.js";
import { groupDigits } from "../report/table.js";
import { POLICY_NAMES, replayLackey, type ReplayProgress, type ReplayResult, type TracePolicy } from "../workloads/trace/replay.js";
import { TraceError } from "../workloads/trace/lackey.js";
import { SCENARIO_DEFAULTS, SCENARIO_LIMITS } from "./default-scenario.js";
import { registerCompare } from "./compare.js";
import { runScenarioCommand, type RunOptions } from "./run.js";
import { registerSweep } from "./sweep.js";
import { PAPER_SIZES } from "../sim/paper.js";
import { ScenarioError } from "../sim/scenario.js";

/** Exit status of a usage error (commander's errors and bad option values). */
export const EXIT_USAGE = 2;
/** Exit status of a failed run (a bad trace, an unreadable file). */
export const EXIT_FAILURE = 1;

/** Where the CLI writes; tests may pass their own. */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal (progress bars are shown only then). */
  errIsTty: boolean;
}

const nodeIo = (): CliIo => ({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  errIsTty: process.stderr.isTTY === true,
});

/** A commander argument parser for an integer option in [min, max]. */
function intOption(min: number, max: number): (value: string) => number {
  return (value) => {
    // digits, with optional _ separators or an exponent: 1000000, 1_000_000, 1e6
    const n = /^[0-9][0-9_]*(e[0-9]+)?$/i.test(value) ? Number(value.replace(/_/g, "")) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected an integer in ${min}..${max}.`);
    }
    return n;
  };
}

/** Shows a progress bar on a terminal once a replay has run for a second. */
class TraceProgress {
  private bar: SingleBar | null = null;
  private readonly start = performance.now();

  constructor(private readonly enabled: boolean) {}

  update(p: ReplayProgress): void {
    if (!this.enabled || p.fraction === null) return;
    const seconds = (performance.now() - this.start) / 1000;
    const rate = seconds > 0 ? `${groupDigits(p.lines / seconds)} lines/s` : "";
    if (!this.bar) {
      if (seconds < 1 || p.fraction > 0.8) return; // short traces get no bar
      this.bar = new SingleBar({
        format: "replaying [{bar}] {percentage}% | {rate} | {lines} lines | ETA {eta_formatted}",
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
      });
      this.bar.start(1000, Math.round(p.fraction * 1000), { rate, lines: groupDigits(p.lines) });
      return;
    }
    this.bar.update(Math.round(p.fraction * 1000), { rate, lines: groupDigits(p.lines) });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/** The JSON object of `unimmu trace --json`: the statistics first, then the trace's totals. */
export function traceJson(r: ReplayResult, skipBadLines: boolean): Record<string, unknown> {
  const t = r.totals;
  return {
    ...r.stats,
    model: r.model,
    policy: r.policy,
    lines: t.lines,
    records: t.records,
    recordsByKind: { I: t.byKind[0], L: t.byKind[1], S: t.byKind[2], M: t.byKind[3] },
    ignoredLines: t.ignored,
    ...(skipBadLines ? { skippedLines: t.skipped + t.outOfRange } : {}),
  };
}

/** The text of `unimmu trace` without --json. */
export function traceText(file: string, r: ReplayResult, skipBadLines: boolean): string {
  const t = r.totals;
  const kinds = t.byKind.map((n, k) => `${"ILSM"[k]} ${groupDigits(n)}`).join(", ");
  const lines = [
    `trace ${file}: ${groupDigits(t.lines)} lines, ${groupDigits(t.records)} records (${kinds}), ${groupDigits(t.ignored)} other lines ignored` +
      (skipBadLines ? `, ${groupDigits(t.skipped + t.outOfRange)} bad lines skipped` : ""),
    `model ${r.model}${r.model === "skylake-lru" ? " (REFERENCE.md section 9)" : ""}, policy ${r.policy}` +
      ` (every guest and EPT page ${r.policy === "4k" ? "4 KiB" : "2 MiB"}, mapped on first touch)`,
    "",
    formatStats(r.stats),
  ];
  return lines.join("\n");
}

/**
 * Builds the command tree. Actions write through `io`; errors propagate to `runCli`.
 *
 * @example
 * buildProgram(io).parseAsync(["node", "unimmu", "run", "--json"]);
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command("unimmu")
    .description("A fast simulator of the memory system of unikernel VMs: TLBs, two-dimensional page walks, memory tiers.")
    .version("0.1.0", "-V, --version")
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      // commander's own errors ("error: unknown option '--x'"): one line, named as ours
      outputError: (str, write) => write(`unimmu: ${str.trimEnd().replace(/\n+/g, " ")}\n`),
    })
    .exitOverride();

  program
    .command("trace")
    .description(
      "Replay a Valgrind lackey trace (valgrind --tool=lackey --trace-mem=yes), plain or gzip, on the MMU core; " +
        "I is a fetch, L a read, S a write, M a read then a write.",
    )
    .argument("<file>", "the trace file (gzip is recognised by its magic bytes)")
    .addOption(
      new Option("--model <model>", "skylake-lru: the exact conformance counts (REFERENCE.md section 9); default: the full model with walk caches and nested TLB")
        .choices(MODEL_NAMES)
        .default("default"),
    )
    .addOption(new Option("--policy <policy>", "page size of every guest and EPT page").choices(POLICY_NAMES).default("4k"))
    .option("--json", "print one JSON object instead of a table")
    .option("--skip-bad-lines", "skip and count malformed lines (and records that reach past 2^48) instead of stopping at the first")
    .exitOverride()
    .action(async (file: string, o: { model: ModelName; policy: TracePolicy; json?: boolean; skipBadLines?: boolean }) => {
      const skip = o.skipBadLines === true;
      const progress = new TraceProgress(io.errIsTty);
      let r: ReplayResult;
      try {
        r = await replayLackey(file, { model: o.model, policy: o.policy, skipBadLines: skip, onProgress: (p) => progress.update(p) });
      } finally {
        progress.stop();
      }
      io.out(o.json ? `${JSON.stringify(traceJson(r, skip))}\n` : `${traceText(file, r, skip)}\n`);
    });

  program
    .command("run")
    .description(
      "Run a scenario: `paper` (the default: UCat against OSv on memslap and YCSB A-F, and the Iso-UniK table, each figure " +
        "beside the published claim), `iso-unik`, `translation` (one demand-mapped VM running a random mix), or a scenario JSON file.",
    )
    .argument("[scenario]", "paper, iso-unik, translation, or a path to a scenario file (.json)", "paper")
    .option("--json", "print one JSON object instead of tables")
    .option("--out <dir>", "also write report.json, report.csv, report.html and trace.json (Perfetto) to this directory")
    .option("--seed <n>", "seed of the workloads (default: the scenario's)", intOption(0, 0xffffffff))
    .addOption(new Option("--size <size>", "paper: workload sizes").choices(PAPER_SIZES).default("standard"))
    .option("--threads <n>", "worker threads for independent runs (default: the machine's cores)", intOption(1, 256))
    .option("--requests <n>", "translation: requests to run", intOption(...SCENARIO_LIMITS.requests), SCENARIO_DEFAULTS.requests)
    .option("--pages <n>", "translation: 4 KiB pages in the data working set (10% of them hot)", intOption(...SCENARIO_LIMITS.pages), SCENARIO_DEFAULTS.pages)
    .exitOverride()
    .action(async (scenario: string, o: RunOptions) => {
      await runScenarioCommand(scenario, o, io);
    });

  registerCompare(program, io.out);
  registerSweep(program, io, intOption);

  return program;
}

/** One line for an error, without a stack (unless UNIMMU_DEBUG is set). */
function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const known = err instanceof TraceError || err instanceof RangeError || err instanceof ConfigError || err instanceof ScenarioError;
  return `unimmu: error: ${known ? "" : "internal error: "}${msg.replace(/\s*\n\s*/g, " ")}\n`;
}

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, arguments) and returns the
 * exit status: 0, EXIT_FAILURE or EXIT_USAGE.
 *
 * @example
 * process.exitCode = await runCli(process.argv);
 */
export async function runCli(argv: string[], io: CliIo = nodeIo()): Promise<number> {
  const program = buildProgram(io);
  if (argv.length <= 2) {
    const names = program.commands.map((c) => c.name()).join(", ");
    io.err(`unimmu: error: missing command; expected one of ${names} (see unimmu --help)\n`);
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with a CommanderError too; commander has printed already
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0) return 0;
      if (err.code === "commander.executeSubCommandAsync") return err.exitCode;
      return EXIT_USAGE;
    }
    io.err(errorLine(err));
    if (process.env.UNIMMU_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return EXIT_FAILURE;
  }
}
