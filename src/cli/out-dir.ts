/**
 * `--out DIR`: the directory `unimmu run` and `unimmu sweep` write their reports to. It
 * is checked before anything runs, so that a path that cannot take the reports fails
 * at once and a long run is not lost at its end; it is made only when the reports are
 * written.
 *
 * @example
 * await checkOutDir("report");                     // before the run
 * await writeOutDir("report", { "report.json": json, "report.csv": csv });
 */
import { access, constants, mkdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

/** A bad `--out`: the option, the path and what is allowed (the CLI prints it as one line). */
export class OutDirError extends RangeError {
  constructor(dir: string, why: string) {
    super(`--out: ${JSON.stringify(dir)} ${why}; expected a directory to write the reports to (made when missing)`);
    this.name = "OutDirError";
  }
}

async function kind(path: string): Promise<"dir" | "other" | "none"> {
  try {
    return (await stat(path)).isDirectory() ? "dir" : "other";
  } catch (e) {
    // ENOTDIR: an ancestor is a file, which the walk up finds
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "none";
    throw e;
  }
}

/** Throws OutDirError when `dir` is not a directory that can be written, or cannot be made. */
export async function checkOutDir(dir: string): Promise<void> {
  if (dir.trim() === "") throw new OutDirError(dir, "is empty");
  // the path itself, else the nearest ancestor that exists: it must be a writable directory
  let at = resolve(dir);
  for (;;) {
    const k = await kind(at);
    if (k === "other") throw new OutDirError(dir, at === resolve(dir) ? "is a file" : `cannot be made: ${at} is a file`);
    if (k === "dir") break;
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  try {
    await access(at, constants.W_OK);
  } catch {
    throw new OutDirError(dir, at === resolve(dir) ? "cannot be written" : `cannot be made: ${at} cannot be written`);
  }
}

/** Writes `files` (name to contents) into `dir`, made when missing. */
export async function writeOutDir(dir: string, files: Record<string, string>): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
  } catch (e) {
    throw new OutDirError(dir, `could not be written (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}
