/**
 * Reading trace files: one-line errors for what the file system says (shared by the
 * lackey and ChampSim readers).
 */
import { TraceError } from "./lackey-parse.js";

export function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

const CODE_TEXT: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is not a directory",
  EMFILE: "too many open files",
  EIO: "input/output error",
};

export function readError(file: string, err: unknown): TraceError {
  const code = errorCode(err);
  const text = (code && CODE_TEXT[code]) ?? (err instanceof Error ? err.message : String(err));
  return new TraceError(`cannot read ${file}: ${text}`, { file, cause: err });
}

