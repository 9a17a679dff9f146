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
import { lstat, mkdir, mkdtemp, rmdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

/** A bad `--out`: the option, the path and what is allowed (the CLI prints it as one line). */
export class OutDirError extends RangeError {
  constructor(dir: string, why: string) {
    super(`--out: ${JSON.stringify(dir)} ${why}; expected a directory to write the reports to (made when missing)`);
    this.name = "OutDirError";
  }
}

/** The longest file name Linux, macOS and Windows (NTFS, in UTF-16 units) all take, in bytes. */
const NAME_MAX = 255;

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e);

async function kind(dir: string, path: string): Promise<"dir" | "other" | "none"> {
  try {
    return (await stat(path)).isDirectory() ? "dir" : "other";
  } catch (e) {
    // ENOTDIR: an ancestor is a file, which the walk up finds
    const code = errCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") {
      // a symbolic link to nothing: the directory could not be made where it points
      if (await lstat(path).then((l) => l.isSymbolicLink(), () => false)) throw new OutDirError(dir, `cannot be made: ${path} is a symbolic link to a missing path`);
      return "none";
    }
    throw new OutDirError(dir, `cannot be used (${code}${code === "ENAMETOOLONG" ? ": the path or one of its names is too long" : ""})`);
  }
}

/** The path and its missing ancestors, outermost first, below the nearest one that exists. */
async function missing(dir: string): Promise<{ existing: string; make: string[] }> {
  const make: string[] = [];
  let at = resolve(dir);
  for (;;) {
    const k = await kind(dir, at);
    if (k === "other") throw new OutDirError(dir, at === resolve(dir) ? "is a file" : `cannot be made: ${at} is a file`);
    if (k === "dir") break;
    make.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  return { existing: at, make };
}

/**
 * Throws OutDirError when `dir` is not a directory that can be written, or cannot be
 * made. The nearest directory that exists is tried for real (a directory made there
 * and removed at once): permissions alone do not tell a read-only file system, or a
 * kernel one such as /proc, from one that takes files.
 */
export async function checkOutDir(dir: string): Promise<void> {
  if (dir.trim() === "") throw new OutDirError(dir, "is empty");
  // a missing directory's name is checked only when it is made, after the run
  const long = resolve(dir).split(/[\\/]/).find((name) => Buffer.byteLength(name) > NAME_MAX);
  if (long !== undefined) throw new OutDirError(dir, `cannot be made: a name in it is longer than ${NAME_MAX} bytes`);
  const { existing, make } = await missing(dir);
  let probe: string;
  try {
    probe = await mkdtemp(join(existing, ".unimmu-out-"));
  } catch (e) {
    throw new OutDirError(dir, make.length === 0 ? `cannot be written (${errCode(e)})` : `cannot be made: ${existing} cannot be written (${errCode(e)})`);
  }
  await rmdir(probe);
}

/** Writes `files` (name to contents) into `dir`, made when missing. */
export async function writeOutDir(dir: string, files: Record<string, string>): Promise<void> {
  try {
    // one level at a time: Node's recursive mkdir never returns under /proc (Node 20)
    for (const d of (await missing(dir)).make) await mkdir(d);
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
  } catch (e) {
    if (e instanceof OutDirError) throw e;
    throw new OutDirError(dir, `could not be written (${errCode(e)})`);
  }
}
