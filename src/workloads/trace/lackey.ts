/**
 * Valgrind lackey trace files (`valgrind --tool=lackey --trace-mem=yes`), plain or gzip,
 * read as a stream of record chunks (REFERENCE.md sections 8 and 9). The grammar and the
 * parser are in `lackey-parse.ts` (no Node imports there, for browsers); this module adds
 * files and re-exports the parser's API.
 *
 * @example
 * import { readLackey, lackeyRequests } from "./workloads/trace/lackey.js";
 * const reader = readLackey("ls.lackey.gz", { skipBadLines: false });
 * for await (const chunk of reader) {
 *   core.submit(lackeyRequests(chunk, 0)); // I fetch, L read, S write, M read + write
 *   core.run();
 * }
 * console.log(reader.totals); // { lines, records, byKind, requests, ignored, skipped }
 */
import { errorCode, readError } from "./files.js";
import { open, type FileHandle } from "node:fs/promises";
import { pipeline, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { LackeyReader, TraceError, type LackeyParseOptions } from "./lackey-parse.js";

export {
  LackeyParser,
  LackeyReader,
  TraceError,
  LACKEY_FETCH,
  LACKEY_LOAD,
  LACKEY_STORE,
  LACKEY_MODIFY,
  LACKEY_LETTERS,
  benchLackeyParse,
  lackeyRequests,
  parseLackey,
  readLackeyBytes,
  syntheticLackey,
} from "./lackey-parse.js";
export type { LackeyChunk, LackeyKind, LackeyParseOptions, LackeyTotals } from "./lackey-parse.js";

export interface LackeyReadOptions extends LackeyParseOptions {
  /** Bytes per read from the file, and per gunzip output piece (default 65536). */
  bufferSize?: number;
}

/** The gzip magic bytes (RFC 1952). */
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/**
 * Reads a lackey trace file, plain or gzip (told apart by the gzip magic bytes, not by
 * the name), as an async iterable of record chunks; the file is streamed, never held in
 * memory. The file is opened when the iteration starts. Errors are `TraceError`s:
 * `cannot read FILE: no such file`, `FILE: the name ends in .gz but ...`,
 * `FILE: corrupt gzip data (...)`, `FILE:LINE: malformed lackey record (...): "text"`.
 *
 * @example
 * const reader = readLackey("trace.lackey");
 * let fetches = 0;
 * for await (const c of reader) for (let i = 0; i < c.count; i++) if (c.kinds[i] === LACKEY_FETCH) fetches++;
 * reader.totals.records; // every record, of which `fetches` are I
 */
export function readLackey(file: string, opts: LackeyReadOptions = {}): LackeyReader {
  const bufferSize = opts.bufferSize ?? 65536;
  if (!Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > 1 << 30) {
    throw new RangeError(`bufferSize: ${bufferSize} is not an integer in 1..1073741824`);
  }
  let gzip = false;
  return new LackeyReader(
    async () => {
      const opened = await openTrace(file, bufferSize);
      gzip = opened.gzip;
      return opened.stream;
    },
    { ...opts, source: opts.source ?? file },
    (err) => streamError(file, gzip, err),
  );
}

async function openTrace(file: string, bufferSize: number): Promise<{ stream: Readable; gzip: boolean }> {
  let fh: FileHandle;
  try {
    fh = await open(file, "r");
  } catch (err) {
    throw readError(file, err);
  }
  let gzip: boolean;
  try {
    const magic = new Uint8Array(2);
    const { bytesRead } = await fh.read(magic, 0, 2, 0);
    gzip = bytesRead === 2 && magic[0] === GZIP_MAGIC[0] && magic[1] === GZIP_MAGIC[1];
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw readError(file, err);
  }
  if (!gzip && /\.gz$/i.test(file)) {
    await fh.close().catch(() => undefined);
    throw new TraceError(
      `${file}: the name ends in .gz but the file is not gzip (it does not start with the gzip magic bytes 1f 8b)`,
      { file },
    );
  }
  const raw = fh.createReadStream({ start: 0, highWaterMark: bufferSize });
  if (!gzip) return { stream: raw, gzip };
  // zlib's smallest output piece is 64 bytes
  const gunzip = createGunzip({ chunkSize: Math.max(64, bufferSize) });
  // pipeline forwards an error of either stream to the last one, and destroys both
  return { stream: pipeline(raw, gunzip, () => undefined), gzip };
}

function streamError(file: string, gzip: boolean, err: unknown): TraceError {
  const code = errorCode(err);
  if (gzip && code?.startsWith("Z_")) {
    const msg = err instanceof Error ? err.message : String(err);
    return new TraceError(`${file}: corrupt gzip data (${msg})`, { file, cause: err });
  }
  return readError(file, err);
}
