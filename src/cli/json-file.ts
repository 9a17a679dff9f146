/**
 * The JSON files the CLI reads (a scenario, a sweep): read and parsed, or a one-line
 * ScenarioError that names the file and what is wrong with it.
 *
 * @example
 * const json = await readJsonFile("sweep", "sweep.json");
 */
import { readFile } from "node:fs/promises";
import { ScenarioError } from "../sim/scenario.js";

const READ_ERRORS: Record<string, string> = {
  ENOENT: "no such file",
  EISDIR: "is a directory",
  EACCES: "permission denied",
  ENAMETOOLONG: "the name is too long",
};

/** Reads and parses `file`, a `kind` file; `missing` is added to the message of a file that does not exist. */
export async function readJsonFile(kind: "scenario" | "sweep", file: string, missing = ""): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new ScenarioError([`cannot read ${kind} ${file}: ${READ_ERRORS[code] ?? code}${code === "ENOENT" ? missing : ""}`]);
  }
  try {
    // a byte-order mark, as some editors write, is no part of the JSON
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new ScenarioError([`${file}: not JSON (${(e as Error).message})`]);
  }
}
