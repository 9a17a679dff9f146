/**
 * Which trace format a file holds: Valgrind lackey text (plain or gzip) or ChampSim
 * binary records (plain, gzip or xz), for `unimmu trace --format auto`.
 *
 * The rule, in order:
 * 1. The file's first bytes. bzip2 data (`BZh1`..`BZh9` then `31 41 59 26 53 59`) is
 *    an error (neither reader decodes it), so is zstd data (`28 b5 2f fd`). gzip data
 *    (`1f 8b`) and xz data (`fd 37 7a 58 5a 00`) are looked into: the start of their
 *    decompressed content is what the next step reads. Compressed data inside them is
 *    an error (neither reader decompresses twice), and so is text inside xz: lackey
 *    traces are read plain or gzip only. xz data whose start cannot be decoded (its
 *    decoder missing, or corrupt data) is ChampSim, whose reader reports the problem.
 * 2. The content's first 4 KiB: binary if they hold a NUL byte or another C0 control
 *    character other than tab, LF, VT, FF, CR and ESC, which lackey's text never has and
 *    a ChampSim record always has (the top bytes of a 48-bit address are 00, empty
 *    memory slots are 0, register numbers are small). Binary is ChampSim, text is
 *    lackey (bytes from 0x80 up are text: valgrind quotes a program's arguments as given).
 * 3. The name, when the content says nothing (an empty file, gzip data too corrupt to
 *    decompress): `.lackey` or `.lackey.gz` is lackey; `.champsim`, `.champsimtrace`,
 *    each optionally with `.gz`, `.xz` or `.bz2`, is ChampSim; any other name is lackey
 *    (whose reader then reports the corrupt gzip data; an empty file has no records
 *    either way).
 * 4. A name that says one format while the content says the other is an error: the
 *    file was misnamed or is not a trace, and `--format` settles it.
 *
 * @example
 * const { format, reason } = await detectTraceFormat("605.mcf_s-665B.champsimtrace.xz");
 * format; // "champsim"
 * reason; // "xz data"
 */
import { open } from "node:fs/promises";
import { constants, gunzipSync } from "node:zlib";
import { readError } from "./files.js";
import { TraceError } from "./lackey-parse.js";
import { xzDecompress } from "./champsim.js";

/** The formats `unimmu trace` reads, and `auto`. */
export const TRACE_FORMATS = ["lackey", "champsim", "auto"] as const;
export type TraceFormatOption = (typeof TRACE_FORMATS)[number];
export type TraceFormat = Exclude<TraceFormatOption, "auto">;

/** Bytes of content looked at (after gunzip). */
const SAMPLE_BYTES = 4096;
/** Bytes of a gzip file read to decompress the sample (deflate expands at most about 1032 times). */
const GZIP_PREFIX_BYTES = 4096;
/** Bytes of an xz file read to decompress the sample (a guess, ample: xz-embedded decodes LZMA2 as its input comes, and a 4 KiB sample takes a few KiB of it). */
const XZ_PREFIX_BYTES = 65536;

const GZIP_MAGIC = [0x1f, 0x8b];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const BZIP2_BLOCK_MAGIC = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

const startsWith = (b: Uint8Array, magic: number[], at = 0): boolean =>
  b.length >= at + magic.length && magic.every((m, i) => b[at + i] === m);

const isBzip2 = (b: Uint8Array): boolean => b.length >= 10 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68 && b[3] >= 0x31 && b[3] <= 0x39 && startsWith(b, BZIP2_BLOCK_MAGIC, 4);

/** The compression whose data `b` starts with, if any. */
function compressionOf(b: Uint8Array): "gzip" | "xz" | "bzip2" | "zstd" | null {
  if (startsWith(b, GZIP_MAGIC)) return "gzip";
  if (startsWith(b, XZ_MAGIC)) return "xz";
  if (isBzip2(b)) return "bzip2";
  if (startsWith(b, ZSTD_MAGIC)) return "zstd";
  return null;
}

/** The start (up to SAMPLE_BYTES) of what the xz data `prefix` decodes to, or null when none of it decodes. */
async function xzSample(prefix: Uint8Array): Promise<Uint8Array | null> {
  const out = new Uint8Array(SAMPLE_BYTES);
  let n = 0;
  try {
    for await (const piece of xzDecompress([prefix])) {
      const k = Math.min(piece.length, SAMPLE_BYTES - n);
      out.set(piece.subarray(0, k), n);
      n += k;
      if (n === SAMPLE_BYTES) break;
    }
  } catch {
    // the prefix ends inside the stream (most files), the data is corrupt, or the decoder
    // cannot be loaded: what decoded so far
  }
  return n > 0 ? out.subarray(0, n) : null;
}

/** The format a file's name says, if any. */
export function formatOfName(file: string): TraceFormat | null {
  if (/\.lackey(\.gz)?$/i.test(file)) return "lackey";
  if (/\.champsim(trace)?(\.(gz|xz|bz2))?$/i.test(file)) return "champsim";
  return null;
}

/**
 * The offset of the first byte in `sample` that text never holds (a NUL or a C0 control
 * character other than tab, LF, VT, FF, CR and ESC), or -1 when it reads as text. Bytes
 * from 0x80 up are text: valgrind's header lines quote the program's arguments as they
 * were, in any encoding.
 */
export function firstBinaryByte(sample: Uint8Array): number {
  for (let i = 0; i < sample.length; i++) {
    const c = sample[i];
    if (c < 0x20 && !(c >= 0x09 && c <= 0x0d) && c !== 0x1b) return i;
  }
  return -1;
}

/**
 * Throws the one-line `TraceError` for xz data read as lackey (the lackey reader takes
 * plain text or gzip only; without this it would read no records). A file that cannot
 * be read passes: the reader reports that.
 */
export async function checkLackeyFile(file: string): Promise<void> {
  let head: Uint8Array;
  try {
    const fh = await open(file, "r");
    try {
      const buf = new Uint8Array(XZ_MAGIC.length);
      head = buf.subarray(0, (await fh.read(buf, 0, buf.length, 0)).bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return;
  }
  if (startsWith(head, XZ_MAGIC)) throw xzLackey(file);
}

/** The tool that undoes each compression. */
const DECOMPRESS: Record<string, string> = { gzip: "gunzip", xz: "unxz", bzip2: "bunzip2", zstd: "unzstd" };

const xzLackey = (file: string): TraceError =>
  new TraceError(`${file}: xz-compressed lackey traces are not supported (decompress it with unxz, or recompress it with gzip)`, { file });

/** What `detectTraceFormat` decided and why (for messages and tests). */
export interface FormatGuess {
  format: TraceFormat;
  reason: string;
}

/**
 * Tells a trace file's format by the rule above. Throws a one-line `TraceError` when the
 * file cannot be read, is bzip2 or zstd, holds compressed data inside gzip or xz, is
 * lackey text inside xz, or its name and content disagree.
 *
 * @example
 * await detectTraceFormat("ls.lackey.gz"); // { format: "lackey", reason: "text (gzip)" }
 */
export async function detectTraceFormat(file: string): Promise<FormatGuess> {
  let head: Uint8Array;
  try {
    const fh = await open(file, "r");
    try {
      const buf = new Uint8Array(Math.max(SAMPLE_BYTES, GZIP_PREFIX_BYTES, XZ_PREFIX_BYTES));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw readError(file, err);
  }
  const byName = formatOfName(file);
  const disagree = (content: TraceFormat, what: string): TraceError =>
    new TraceError(
      `${file}: the name says a ${byName} trace but the content is ${what}, as in a ${content} trace; ` +
        `--format ${content} reads it as one, --format ${byName} as the name says`,
      { file },
    );

  const nested = (inner: Uint8Array, outer: string): void => {
    const c = compressionOf(inner);
    if (c === outer) throw new TraceError(`${file}: ${c} data inside ${c} data is not supported (decompress it once with ${DECOMPRESS[c]})`, { file });
    if (c) throw new TraceError(`${file}: ${c} data inside ${outer} data is not supported (decompress it with ${DECOMPRESS[outer]}, then ${DECOMPRESS[c]})`, { file });
  };
  if (startsWith(head, XZ_MAGIC)) {
    if (byName === "lackey") throw xzLackey(file);
    const inner = await xzSample(head);
    if (inner) {
      nested(inner, "xz");
      if (firstBinaryByte(inner) < 0) throw xzLackey(file);
    }
    return { format: "champsim", reason: "xz data" };
  }
  if (isBzip2(head)) {
    throw new TraceError(`${file}: bzip2-compressed traces are not supported (decompress it with bunzip2, or recompress it with xz or gzip)`, { file });
  }
  if (startsWith(head, ZSTD_MAGIC)) {
    throw new TraceError(`${file}: zstd-compressed traces are not supported (decompress it with unzstd, or recompress it with xz or gzip)`, { file });
  }
  let sample: Uint8Array | null = head.subarray(0, SAMPLE_BYTES);
  let how = "";
  if (startsWith(head, GZIP_MAGIC)) {
    how = " (gzip)";
    try {
      // a prefix of the file: flush what it decodes to instead of failing at its end
      sample = gunzipSync(head.subarray(0, GZIP_PREFIX_BYTES), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, SAMPLE_BYTES);
    } catch {
      sample = null; // corrupt: the reader will say so
    }
  }
  if (sample && how) nested(sample, "gzip");
  if (!sample || sample.length === 0) {
    return { format: byName ?? "lackey", reason: byName ? `the name (${sample ? "empty content" : "undecodable gzip data"})` : "no content to tell by" };
  }
  const bin = firstBinaryByte(sample);
  const content: TraceFormat = bin >= 0 ? "champsim" : "lackey";
  const what = bin >= 0 ? `binary (byte 0x${sample[bin].toString(16).padStart(2, "0")} at offset ${bin}${how})` : `text${how}`;
  if (byName && byName !== content) throw disagree(content, what);
  return { format: content, reason: what };
}
