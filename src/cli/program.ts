/**
 * The `unimmu` command line: `unimmu trace FILE` replays a lackey or ChampSim trace
 * (trace.ts), `unimmu run` runs the default scenario. Every error prints one line to stderr (no stack; set
 * UNIMMU_DEBUG=1 for one) and exits with status 2 (bad usage: unknown command or
 * option, bad option value) or 1 (the run failed: unreadable file, malformed trace).
 *
 * @example
 * // node build/node/cli.js trace app.lackey.gz --model skylake-lru --policy 2m --json
 * const status = await runCli(["node", "unimmu", "trace", "app.lackey.gz", "--json"]);
 * process.exitCode = status;
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ConfigError } from "../core/config.js";
import { TraceError } from "../workloads/trace/lackey.js";
import { SCENARIO_DEFAULTS, SCENARIO_LIMITS } from "./default-scenario.js";
import { registerCompare } from "./compare.js";
import { runScenarioCommand, type RunOptions } from "./run.js";
import { registerSweep } from "./sweep.js";
import { registerTrace } from "./trace.js";
import { PAPER_SIZES } from "../sim/paper.js";
import { ScenarioError } from "../sim/scenario.js";
import { JobError } from "../sim/jobs.js";

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

export { traceJson, traceText } from "./trace.js";

/** Which scenarios of `unimmu run` each of its scenario-specific options applies to ("file": a scenario file). */
const RUN_OPTION_SCENARIOS: Record<string, readonly string[]> = {
  // the translation demo writes no reports
  out: ["paper", "iso-unik", "file"],
  size: ["paper"],
  requests: ["translation"],
  pages: ["translation"],
  threads: ["paper", "file"],
};

/**
 * The usage error for an option given on the command line (`given`) that the scenario
 * does not use (it would be ignored, and the run not be the one asked for), or null.
 */
function misplacedRunOption(scenario: string, given: (name: string) => boolean): string | null {
  const kind = ["paper", "iso-unik", "translation"].includes(scenario) ? scenario : "file";
  const label = (k: string): string => (k === "file" ? "a scenario file" : k);
  for (const [name, where] of Object.entries(RUN_OPTION_SCENARIOS)) {
    if (given(name) && !where.includes(kind)) {
      const places = where.map(label);
      return `option '--${name}' applies to ${places.length > 1 ? `${places.slice(0, -1).join(", ")} and ${places.at(-1)}` : places[0]}, not ${kind === "file" ? `a scenario file (${scenario})` : kind}`;
    }
  }
  return null;
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

  registerTrace(program, io);

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
    .action(async (scenario: string, o: RunOptions, cmd: Command) => {
      const misplaced = misplacedRunOption(scenario, (name) => cmd.getOptionValueSource(name) === "cli");
      if (misplaced) cmd.error(`error: ${misplaced}`);
      await runScenarioCommand(scenario, o, io);
    });

  registerCompare(program, io);
  registerSweep(program, io, intOption);

  return program;
}

/** One line for an error, without a stack (unless UNIMMU_DEBUG is set). */
function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const known = err instanceof TraceError || err instanceof RangeError || err instanceof ConfigError || err instanceof ScenarioError || err instanceof JobError;
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
