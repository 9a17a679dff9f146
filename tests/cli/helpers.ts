// Helpers of the CLI end-to-end tests: run the built CLI (build/node/cli.js, built by the
// vitest global setup) in a child process and collect its output.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";

export const ROOT = join(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "build", "node", "cli.js");
export const FIXTURE = join(ROOT, "tests", "fixtures", "small.lackey");

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node build/node/cli.js ...args` (or another script) and waits for it. */
export function cli(args: string[], opts: { script?: string; env?: Record<string, string> } = {}): CliRun {
  const r = spawnSync(process.execPath, [opts.script ?? CLI, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, UNIMMU_DEBUG: "", ...opts.env },
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI and parses its stdout as one JSON object; fails with its stderr otherwise. */
export function cliJson(args: string[]): Record<string, unknown> {
  const r = cli(args);
  if (r.status !== 0) throw new Error(`unimmu ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.trimEnd().split("\n");
  if (lines.length !== 1) throw new Error(`expected one line of JSON, got ${lines.length}`);
  return JSON.parse(lines[0]) as Record<string, unknown>;
}

/** The six counts every model reports. */
export const BASIC = ["requests", "l1Hits", "l2Hits", "walks", "walkRefs", "faults"] as const;

export function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

/**
 * Asserts the CLI's error contract on a finished run: the exit status, nothing on
 * stdout, one line on stderr starting "unimmu: error: " without stack frames, matching
 * `pattern`. Returns the line.
 */
export function expectOneLineError(r: CliRun, status: number, pattern: RegExp): string {
  expect(r.status, r.stderr).toBe(status);
  expect(r.stdout).toBe("");
  expect(r.stderr.endsWith("\n")).toBe(true);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^unimmu: error: /);
  expect(lines[0]).not.toMatch(/\bat .*:\d+:\d+/); // no stack frames
  expect(lines[0]).toMatch(pattern);
  return lines[0];
}
