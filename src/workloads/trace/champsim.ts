/**
 * ChampSim binary instruction traces (the `input_instr` records that ChampSim's Pin
 * tracer writes and its `tracereader` reads), plain, gzip or xz, read as a stream of
 * access chunks of the same shape as the lackey reader's.
 *
 * Record layout (ChampSim `inc/trace_instruction.h`, struct `input_instr`, master branch;
 * a trivially-copyable struct written with `ostream::write` on x86-64, so little-endian
 * and without padding), 64 bytes:
 *
 * | offset | bytes | field                                   |
 * | ------ | ----- | --------------------------------------- |
 * | 0      | 8     | `ip` (u64)                              |
 * | 8      | 1     | `is_branch` (u8)                        |
 * | 9      | 1     | `branch_taken` (u8)                     |
 * | 10     | 2     | `destination_registers[2]` (u8)         |
 * | 12     | 4     | `source_registers[4]` (u8)              |
 * | 16     | 16    | `destination_memory[2]` (u64)           |
 * | 32     | 32    | `source_memory[4]` (u64)                |
 *
 * ChampSim drops memory slots that are 0 (`ooo_model_instr`'s constructor removes zeros;
 * duplicates are kept), and so does this reader. Each record becomes, in order: an
 * instruction fetch of `ip`, a read per non-zero `source_memory` slot (slot order), a
 * write per non-zero `destination_memory` slot. Traces record no access sizes: ChampSim
 * fetches the cache block holding `ip` and accesses the block of each operand. The sizes
 * used here are guesses, overridable: 4 bytes per fetch (about the mean x86-64
 * instruction length) and 8 bytes per data access (a 64-bit operand).
 *
 * Addresses are 64-bit; like the lackey reader, an address must fit 48 bits, or be a
 * canonical sign-extended 48-bit address (bits 63:47 all ones), whose bits 63:48 are
 * dropped. Any other value is a bad record: a `TraceError` naming the record's index
 * (0-based), its byte offset, the field and the value, or with `skipBadRecords` the
 * record is skipped whole and counted. A file whose length is not a multiple of 64 ends
 * in a truncated record, which is an error naming that record's index.
 *
 * Compression is told by magic bytes: gzip (`1f 8b`, Node's zlib, concatenated members
 * too) and xz (`fd 37 7a 58 5a 00`, ChampSim's usual `.xz`, concatenated streams too),
 * decoded by xz-embedded compiled to WebAssembly as shipped in the `xz-decompress`
 * package (one decoder instance per reader, so several traces can be read at once;
 * dictionaries up to 64 MiB, which covers `xz -9`). bzip2 (`.bz2`, which ChampSim also
 * reads) is not supported: it is a one-line error.
 *
 * This module imports Node modules lazily (only `readChampSim` and `xzDecompress` use
 * them), so `ChampSimParser` and `readChampSimBytes` also run in browsers.
 *
 * @example
 * import { readChampSim, champsimRequests } from "./workloads/trace/champsim.js";
 * const reader = readChampSim("600.perlbench_s-210B.champsimtrace.xz", { maxRecords: 1_000_000 });
 * for await (const chunk of reader) {
 *   core.submit(champsimRequests(chunk, 0)); // fetch ip, then reads, then writes
 *   core.run();
 * }
 * console.log(reader.compression, reader.totals); // "xz", { records, accesses, byKind, ... }
 */
import { errorCode, readError } from "./files.js";
import type { AccessKind, Request } from "../../core/types.js";
import { TraceError } from "./lackey-parse.js";

export { TraceError };

/** Bytes of one `input_instr` record. */
export const CHAMPSIM_RECORD_BYTES = 64;
/** Memory slots per record: `destination_memory` and `source_memory`. */
export const CHAMPSIM_DESTINATIONS = 2;
export const CHAMPSIM_SOURCES = 4;
/** Most accesses one record makes: a fetch, 4 reads, 2 writes. */
export const CHAMPSIM_MAX_ACCESSES = 1 + CHAMPSIM_SOURCES + CHAMPSIM_DESTINATIONS;
/** Default size of a fetch (a guess: the trace has no instruction lengths; about x86-64's mean). */
export const CHAMPSIM_FETCH_SIZE = 4;
/** Default size of a data access (a guess: the trace has no operand sizes; a 64-bit operand). */
export const CHAMPSIM_DATA_SIZE = 8;

/** Access kind codes in `ChampSimChunk.kinds` (the core's `AccessKind`s). */
export const CHAMPSIM_FETCH = 0;
export const CHAMPSIM_READ = 1;
export const CHAMPSIM_WRITE = 2;

/**
 * A batch of accesses, in trace order: access `i` has address `addrs[i]` (below 2^48),
 * kind `kinds[i]` (0 fetch, 1 read, 2 write) and size `sizes[i]`. Only the first `count`
 * entries are valid. A chunk holds whole records (`records` of them). The same shape as
 * the lackey reader's `LackeyChunk`. The caller owns the arrays.
 */
export interface ChampSimChunk {
  count: number;
  addrs: Float64Array;
  kinds: Uint8Array;
  sizes: Uint32Array;
  /** Records (instructions) whose accesses are in this chunk. */
  records: number;
}

/** Counts over everything read so far (final once the input is exhausted). */
export interface ChampSimTotals {
  /** Records read and turned into accesses (skipped ones not included). */
  records: number;
  /** Accesses made: `records` fetches plus the reads and writes. */
  accesses: number;
  /** Accesses by kind: [fetch, read, write]. */
  byKind: [number, number, number];
  /** Records with `is_branch` set, and those of them with `branch_taken` set. */
  branches: number;
  taken: number;
  /** Bad records skipped because of `skipBadRecords`. */
  skipped: number;
  /** Uncompressed bytes consumed (whole records; after `maxRecords`, no more are counted). */
  bytes: number;
}

export interface ChampSimParseOptions {
  /** Capacity of a chunk in accesses (default 65536; at least 7, one record's most). */
  chunkAccesses?: number;
  /** Name of the input, used in error messages (default "trace"). */
  source?: string;
  /** Skip and count records with a bad address instead of throwing (default false). */
  skipBadRecords?: boolean;
  /** Stop after this many records (default: all). The rest of the input is ignored. */
  maxRecords?: number;
  /** Size of each fetch in bytes (default `CHAMPSIM_FETCH_SIZE`, 4). */
  fetchSize?: number;
  /** Size of each read and write in bytes (default `CHAMPSIM_DATA_SIZE`, 8). */
  dataSize?: number;
}

const TWO_32 = 4294967296;
const FIELD_NAMES = [
  "ip",
  "source_memory[0]",
  "source_memory[1]",
  "source_memory[2]",
  "source_memory[3]",
  "destination_memory[0]",
  "destination_memory[1]",
] as const;
/** Byte offset in a record of each of the 7 address slots, in emission order. */
const SLOT_OFFSET = [0, 32, 40, 48, 56, 16, 24] as const;

function checkInt(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`${name}: ${v} is not an integer in ${lo}..${hi}`);
  }
  return v;
}

const hex64 = (hi: number, lo: number): string =>
  "0x" + hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");

/**
 * A push parser: feed it uncompressed trace bytes in pieces of any size (a record may be
 * split anywhere), get chunks of accesses back.
 *
 * @example
 * const p = new ChampSimParser({ source: "t.trace" });
 * const bytes = encodeChampSim([{ ip: 0x401000, sourceMemory: [0x7ffe0010] }]);
 * const chunks = [...p.push(bytes), ...p.end()];
 * // chunks[0]: count 2, addrs [0x401000, 0x7ffe0010], kinds [0 (fetch), 1 (read)], sizes [4, 8]
 * p.totals.records; // 1
 */
export class ChampSimParser {
  readonly source: string;
  readonly skipBadRecords: boolean;
  readonly chunkAccesses: number;
  readonly maxRecords: number;
  readonly fetchSize: number;
  readonly dataSize: number;

  /** A record cut by the end of a buffer: its first `carryLen` bytes. */
  private readonly carry = new Uint8Array(CHAMPSIM_RECORD_BYTES);
  private readonly carryView = new DataView(this.carry.buffer);
  private carryLen = 0;
  /** Index of the next record in the input (bad and skipped ones count). */
  private index = 0;

  private count = 0;
  private chunkRecords = 0;
  private addrs: Float64Array;
  private kinds: Uint8Array;
  private sizes: Uint32Array;

  private nRecords = 0;
  private readonly nByKind: [number, number, number] = [0, 0, 0];
  private nBranches = 0;
  private nTaken = 0;
  private nSkipped = 0;
  private ended = false;
  private failed = false;
  private out: ChampSimChunk[] = [];
  /** The current record's addresses, before they are checked and emitted. */
  private readonly slot = new Float64Array(CHAMPSIM_MAX_ACCESSES);

  constructor(opts: ChampSimParseOptions = {}) {
    this.source = opts.source ?? "trace";
    this.skipBadRecords = opts.skipBadRecords ?? false;
    this.chunkAccesses = checkInt("chunkAccesses", opts.chunkAccesses ?? 65536, CHAMPSIM_MAX_ACCESSES, 1 << 24);
    this.maxRecords = opts.maxRecords === undefined ? Infinity : checkInt("maxRecords", opts.maxRecords, 0, Number.MAX_SAFE_INTEGER);
    this.fetchSize = checkInt("fetchSize", opts.fetchSize ?? CHAMPSIM_FETCH_SIZE, 1, 0xffffffff);
    this.dataSize = checkInt("dataSize", opts.dataSize ?? CHAMPSIM_DATA_SIZE, 1, 0xffffffff);
    this.addrs = new Float64Array(this.chunkAccesses);
    this.kinds = new Uint8Array(this.chunkAccesses);
    this.sizes = new Uint32Array(this.chunkAccesses);
  }

  /** Counts so far; final after `end()`. */
  get totals(): ChampSimTotals {
    const byKind: [number, number, number] = [...this.nByKind];
    return {
      records: this.nRecords,
      accesses: byKind[0] + byKind[1] + byKind[2],
      byKind,
      branches: this.nBranches,
      taken: this.nTaken,
      skipped: this.nSkipped,
      bytes: this.index * CHAMPSIM_RECORD_BYTES,
    };
  }

  /** True once `maxRecords` records have been read: the rest of the input is not needed. */
  get done(): boolean {
    return this.index >= this.maxRecords;
  }

  /**
   * Parses the next bytes. Returns the chunks that filled up (often none). Throws
   * `TraceError` on a bad record unless `skipBadRecords`.
   */
  push(bytes: Uint8Array): ChampSimChunk[] {
    if (this.ended || this.failed) throw new Error("ChampSimParser: push() after end() or an error");
    this.out = [];
    const n = bytes.length;
    let i = 0;
    if (this.carryLen > 0 && !this.done) {
      const take = Math.min(CHAMPSIM_RECORD_BYTES - this.carryLen, n);
      this.carry.set(bytes.subarray(0, take), this.carryLen);
      this.carryLen += take;
      i = take;
      if (this.carryLen < CHAMPSIM_RECORD_BYTES) return this.out;
      this.carryLen = 0;
      this.record(this.carryView, 0);
    }
    if (i < n && !this.done) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, n);
      while (n - i >= CHAMPSIM_RECORD_BYTES && this.index < this.maxRecords) {
        this.record(view, i);
        i += CHAMPSIM_RECORD_BYTES;
      }
      if (i < n && !this.done) {
        this.carry.set(bytes.subarray(i), 0);
        this.carryLen = n - i;
      }
    }
    return this.out;
  }

  /**
   * Ends the input and returns the remaining accesses (at most one chunk). Throws a
   * `TraceError` if the input ended inside a record (unless `maxRecords` was reached).
   */
  end(): ChampSimChunk[] {
    if (this.ended) return [];
    this.ended = true;
    this.out = [];
    if (this.carryLen > 0 && !this.done) {
      this.failed = true;
      throw new TraceError(
        `${this.source}: truncated record ${this.index} at byte ${this.index * CHAMPSIM_RECORD_BYTES}: ` +
          `the input ends after ${this.carryLen} of its ${CHAMPSIM_RECORD_BYTES} bytes ` +
          `(a ChampSim trace is a sequence of ${CHAMPSIM_RECORD_BYTES}-byte input_instr records)`,
        { file: this.source },
      );
    }
    this.flush();
    return this.out;
  }

  private flush(): void {
    if (this.count === 0) return;
    this.out.push({
      count: this.count,
      addrs: this.addrs,
      kinds: this.kinds,
      sizes: this.sizes,
      records: this.chunkRecords,
    });
    const cap = this.chunkAccesses;
    this.count = 0;
    this.chunkRecords = 0;
    this.addrs = new Float64Array(cap);
    this.kinds = new Uint8Array(cap);
    this.sizes = new Uint32Array(cap);
  }

  /** Decodes the record at `o` in `v` and appends its accesses. */
  private record(v: DataView, o: number): void {
    const slot = this.slot;
    // Read the 7 address slots; 0 = an empty memory slot (the ip is kept even if 0).
    let bad = -1;
    for (let s = 0; s < CHAMPSIM_MAX_ACCESSES; s++) {
      const at = o + SLOT_OFFSET[s];
      const lo = v.getUint32(at, true);
      const hi = v.getUint32(at + 4, true);
      let a: number;
      if (hi < 0x10000) a = hi * TWO_32 + lo;
      else if ((hi & 0xffff8000) >>> 0 === 0xffff8000) a = (hi & 0xffff) * TWO_32 + lo;
      else {
        if (bad < 0) bad = s;
        a = -1;
      }
      slot[s] = s > 0 && lo === 0 && hi === 0 ? -2 : a;
    }
    const index = this.index++;
    if (bad >= 0) {
      if (this.skipBadRecords) {
        this.nSkipped++;
        return;
      }
      this.failed = true;
      const at = o + SLOT_OFFSET[bad];
      throw new TraceError(
        `${this.source}: bad record ${index} at byte ${index * CHAMPSIM_RECORD_BYTES}: ${FIELD_NAMES[bad]} ` +
          `${hex64(v.getUint32(at + 4, true), v.getUint32(at, true))} does not fit 48 bits ` +
          `(nor is it a sign-extended 48-bit address)`,
        { file: this.source },
      );
    }
    if (this.count + CHAMPSIM_MAX_ACCESSES > this.chunkAccesses) this.flush();
    const addrs = this.addrs;
    const kinds = this.kinds;
    const sizes = this.sizes;
    const byKind = this.nByKind;
    let c = this.count;
    addrs[c] = slot[0];
    kinds[c] = CHAMPSIM_FETCH;
    sizes[c] = this.fetchSize;
    c++;
    byKind[CHAMPSIM_FETCH]++;
    const ds = this.dataSize;
    for (let s = 1; s < CHAMPSIM_MAX_ACCESSES; s++) {
      const a = slot[s];
      if (a === -2) continue;
      const k = s <= CHAMPSIM_SOURCES ? CHAMPSIM_READ : CHAMPSIM_WRITE;
      addrs[c] = a;
      kinds[c] = k;
      sizes[c] = ds;
      c++;
      byKind[k]++;
    }
    this.count = c;
    this.chunkRecords++;
    this.nRecords++;
    if (v.getUint8(o + 8) !== 0) {
      this.nBranches++;
      if (v.getUint8(o + 9) !== 0) this.nTaken++;
    }
  }
}

/** One record to encode; omitted fields are 0. Addresses are numbers or BigInts (64-bit). */
export interface ChampSimRecord {
  ip: number | bigint;
  isBranch?: boolean;
  branchTaken?: boolean;
  destinationRegisters?: number[];
  sourceRegisters?: number[];
  /** Up to 2 addresses written; 0 or missing = an empty slot. */
  destinationMemory?: (number | bigint)[];
  /** Up to 4 addresses read; 0 or missing = an empty slot. */
  sourceMemory?: (number | bigint)[];
}

/**
 * Encodes records in ChampSim's binary format (64 bytes each, little-endian): for test
 * fixtures and tools that write traces.
 *
 * @example
 * writeFileSync("t.champsim", encodeChampSim([
 *   { ip: 0x401000, sourceMemory: [0x7ffe0010], destinationMemory: [0x601040] },
 *   { ip: 0x401004, isBranch: true, branchTaken: true },
 * ]));
 */
export function encodeChampSim(records: readonly ChampSimRecord[]): Uint8Array {
  const bytes = new Uint8Array(records.length * CHAMPSIM_RECORD_BYTES);
  const v = new DataView(bytes.buffer);
  const u64 = (at: number, x: number | bigint, what: string): void => {
    const b = BigInt(x);
    if (b < 0n || b >= 1n << 64n) throw new RangeError(`${what}: ${x} is not a u64`);
    v.setBigUint64(at, b, true);
  };
  records.forEach((r, i) => {
    const o = i * CHAMPSIM_RECORD_BYTES;
    const dm = r.destinationMemory ?? [];
    const sm = r.sourceMemory ?? [];
    const dr = r.destinationRegisters ?? [];
    const sr = r.sourceRegisters ?? [];
    if (dm.length > CHAMPSIM_DESTINATIONS || dr.length > CHAMPSIM_DESTINATIONS) {
      throw new RangeError(`record ${i}: at most ${CHAMPSIM_DESTINATIONS} destinations`);
    }
    if (sm.length > CHAMPSIM_SOURCES || sr.length > CHAMPSIM_SOURCES) {
      throw new RangeError(`record ${i}: at most ${CHAMPSIM_SOURCES} sources`);
    }
    u64(o, r.ip, `record ${i}: ip`);
    bytes[o + 8] = r.isBranch ? 1 : 0;
    bytes[o + 9] = r.branchTaken ? 1 : 0;
    dr.forEach((x, j) => (bytes[o + 10 + j] = x));
    sr.forEach((x, j) => (bytes[o + 12 + j] = x));
    dm.forEach((x, j) => u64(o + 16 + 8 * j, x, `record ${i}: destination_memory[${j}]`));
    sm.forEach((x, j) => u64(o + 32 + 8 * j, x, `record ${i}: source_memory[${j}]`));
  });
  return bytes;
}

/** The accesses of a whole trace held in memory (tests, small inputs). */
export function parseChampSim(
  bytes: Uint8Array,
  opts: ChampSimParseOptions = {},
): { accesses: { kind: AccessKind; addr: number; size: number }[]; totals: ChampSimTotals } {
  const p = new ChampSimParser(opts);
  const chunks = [...p.push(bytes), ...p.end()];
  const accesses: { kind: AccessKind; addr: number; size: number }[] = [];
  for (const c of chunks) {
    for (let i = 0; i < c.count; i++) accesses.push({ kind: c.kinds[i] as AccessKind, addr: c.addrs[i], size: c.sizes[i] });
  }
  return { accesses, totals: p.totals };
}

/** How a trace file is compressed (told by its magic bytes). */
export type ChampSimCompression = "none" | "gzip" | "xz";

type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Chunks of accesses from a byte source, opened when the iteration starts; iterate once.
 * `totals` counts what has been parsed so far; `compression` is known once it started.
 */
export class ChampSimReader implements AsyncIterable<ChampSimChunk> {
  private readonly parser: ChampSimParser;
  private started = false;
  private comp: ChampSimCompression | undefined;

  constructor(
    private readonly open: () => Promise<{ bytes: ByteSource; compression: ChampSimCompression }>,
    opts: ChampSimParseOptions = {},
    /** Maps an error of the byte source to the error to throw. */
    private readonly mapError: (err: unknown, compression: ChampSimCompression | undefined) => unknown = (e) => e,
  ) {
    this.parser = new ChampSimParser(opts);
  }

  get totals(): ChampSimTotals {
    return this.parser.totals;
  }

  /** The input's compression (undefined before the iteration starts). */
  get compression(): ChampSimCompression | undefined {
    return this.comp;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ChampSimChunk, void, undefined> {
    if (this.started) throw new Error("ChampSimReader: can be iterated only once");
    this.started = true;
    const parser = this.parser;
    const { bytes, compression } = await this.open();
    this.comp = compression;
    if (!parser.done) {
      try {
        // Leaving this loop early (maxRecords reached, or the consumer stopped) closes
        // the source: `for await` calls its return().
        for await (const piece of bytes) {
          for (const chunk of parser.push(piece)) yield chunk;
          if (parser.done) break;
        }
      } catch (err) {
        if (err instanceof TraceError) throw err;
        throw this.mapError(err, compression);
      }
    }
    for (const chunk of parser.end()) yield chunk;
  }
}

/**
 * Parses uncompressed trace bytes from any (async) iterable of `Uint8Array`s, e.g. a Node
 * stream or a browser upload, yielding chunks as they fill. To read xz data, wrap the
 * source in `xzDecompress`.
 *
 * @example
 * const reader = readChampSimBytes(xzDecompress(someAsyncIterableOfBytes), { source: "upload" });
 * for await (const chunk of reader) core.submit(champsimRequests(chunk, 0));
 * reader.totals.records;
 */
export function readChampSimBytes(input: ByteSource, opts: ChampSimParseOptions = {}): ChampSimReader {
  return new ChampSimReader(async () => ({ bytes: input, compression: "none" }), opts);
}

export interface ChampSimReadOptions extends ChampSimParseOptions {
  /** Bytes per read from the file, and per gunzip output piece (default 65536). */
  bufferSize?: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const BZIP2_MAGIC = [0x42, 0x5a, 0x68]; // "BZh"
const startsWith = (b: Uint8Array, n: number, magic: number[]): boolean =>
  n >= magic.length && magic.every((m, i) => b[i] === m);

/**
 * Reads a ChampSim trace file, plain, gzip or xz (told by magic bytes, not by the name),
 * as an async iterable of access chunks; the file is streamed, never held in memory. The
 * file is opened when the iteration starts. Errors are one-line `TraceError`s:
 * `cannot read FILE: no such file`, `FILE: the name ends in .xz but ...`,
 * `FILE: corrupt gzip data (...)`, `FILE: corrupt xz data (...)`, `FILE: truncated xz data`,
 * `FILE: bzip2-compressed traces are not supported ...`,
 * `FILE: truncated record N at byte B: ...`, `FILE: bad record N at byte B: ...`.
 *
 * @example
 * const reader = readChampSim("traces/605.mcf_s-665B.champsimtrace.xz", { maxRecords: 10_000_000 });
 * let writes = 0;
 * for await (const c of reader) for (let i = 0; i < c.count; i++) if (c.kinds[i] === CHAMPSIM_WRITE) writes++;
 * reader.totals; // { records: 10000000, accesses, byKind: [fetches, reads, writes], ... }
 */
export function readChampSim(file: string, opts: ChampSimReadOptions = {}): ChampSimReader {
  const bufferSize = checkInt("bufferSize", opts.bufferSize ?? 65536, 1, 1 << 30);
  return new ChampSimReader(() => openTrace(file, bufferSize), { ...opts, source: opts.source ?? file }, (err, comp) =>
    streamError(file, comp, err),
  );
}

async function openTrace(file: string, bufferSize: number): Promise<{ bytes: ByteSource; compression: ChampSimCompression }> {
  const { open } = await import("node:fs/promises");
  let fh: import("node:fs/promises").FileHandle;
  try {
    fh = await open(file, "r");
  } catch (err) {
    throw readError(file, err);
  }
  const magic = new Uint8Array(6);
  let n: number;
  try {
    n = (await fh.read(magic, 0, 6, 0)).bytesRead;
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw readError(file, err);
  }
  const compression: ChampSimCompression = startsWith(magic, n, GZIP_MAGIC)
    ? "gzip"
    : startsWith(magic, n, XZ_MAGIC)
      ? "xz"
      : "none";
  const fail = async (msg: string): Promise<never> => {
    await fh.close().catch(() => undefined);
    throw new TraceError(`${file}: ${msg}`, { file });
  };
  if (compression === "none") {
    if (startsWith(magic, n, BZIP2_MAGIC) && /\.bz2$/i.test(file)) {
      await fail("bzip2-compressed traces are not supported (decompress it with bunzip2, or recompress it with xz or gzip)");
    }
    if (/\.gz$/i.test(file)) await fail("the name ends in .gz but the file is not gzip (it does not start with 1f 8b)");
    if (/\.xz$/i.test(file)) await fail("the name ends in .xz but the file is not xz (it does not start with fd 37 7a 58 5a 00)");
  }
  const raw = fh.createReadStream({ start: 0, highWaterMark: bufferSize });
  if (compression === "none") return { bytes: raw, compression };
  if (compression === "xz") return { bytes: xzDecompress(raw), compression };
  const { createGunzip } = await import("node:zlib");
  const { pipeline } = await import("node:stream");
  // zlib's smallest output piece is 64 bytes; pipeline forwards errors and destroys both
  const gunzip = createGunzip({ chunkSize: Math.max(64, bufferSize) });
  return { bytes: pipeline(raw, gunzip, () => undefined), compression };
}

function streamError(file: string, comp: ChampSimCompression | undefined, err: unknown): TraceError {
  if (err instanceof XzError) return new TraceError(`${file}: ${err.message}`, { file, cause: err });
  const code = errorCode(err);
  if (comp === "gzip" && code?.startsWith("Z_")) {
    const msg = err instanceof Error ? err.message : String(err);
    return new TraceError(`${file}: corrupt gzip data (${msg})`, { file, cause: err });
  }
  return readError(file, err);
}

// ---------------------------------------------------------------------------------------
// xz: xz-embedded compiled to WebAssembly, from the `xz-decompress` package.
//
// The package's own `XzReadableStream` lets only one stream decode at a time (a global
// mutex held from a stream's start to its end), so two traces read in turn by one
// consumer would wait for each other forever. This drives the same Wasm decoder
// directly, one instance per stream. Its context (xz-decompress's `DecompressionContext`,
// whose first fields are `bufsize` and xz-embedded's `struct xz_buf`) is, as u32 words:
// [0] bufsize, [1] in, [2] in_pos, [3] in_size, [4] out, [5] out_pos, [6] out_size.
// `supply_input(ctx, n)` takes n bytes (at most bufsize) copied to `in`; `get_next_output`
// decodes into `out` (resetting out_pos is the caller's job) and returns xz-embedded's
// `enum xz_ret`. Input of length 0 means the end of the input (concatenated streams are
// decoded until then).

/** An error in xz data; its message is one line. */
export class XzError extends Error {
  constructor(
    message: string,
    /** xz-embedded's `enum xz_ret` value. */
    readonly code: number,
  ) {
    super(message);
    this.name = "XzError";
  }
}

const XZ_RET_TEXT: Record<number, string> = {
  2: "unsupported integrity check",
  3: "out of memory",
  4: "needs a dictionary larger than 64 MiB",
  5: "not xz data",
  6: "unsupported xz options (filters)",
  7: "corrupt xz data",
  8: "corrupt xz data",
};

interface XzExports {
  memory: WebAssembly.Memory;
  create_context(): number;
  destroy_context(ctx: number): void;
  supply_input(ctx: number, n: number): void;
  get_next_output(ctx: number): number;
}

let xzModule: Promise<WebAssembly.Module> | undefined;

/** The decoder's compiled module, read once from the installed `xz-decompress` package. */
function xzWasmModule(): Promise<WebAssembly.Module> {
  xzModule ??= (async () => {
    const { createRequire } = await import("node:module");
    const { readFile } = await import("node:fs/promises");
    const fail = (why: string): XzError =>
      new XzError(`cannot load the xz decoder (npm package xz-decompress): ${why}`, -1);
    let path: string;
    try {
      path = createRequire(import.meta.url).resolve("xz-decompress");
    } catch {
      try {
        // a bundle copied elsewhere: the package of the current directory
        path = createRequire(`${process.cwd()}/`).resolve("xz-decompress");
      } catch {
        throw fail("not installed");
      }
    }
    const js = await readFile(path, "utf8");
    const m = /data:application\/wasm;base64,([A-Za-z0-9+/=]+)/.exec(js);
    if (!m) throw fail(`no embedded Wasm decoder in ${path}`);
    return WebAssembly.compile(Buffer.from(m[1], "base64"));
  })();
  xzModule.catch(() => (xzModule = undefined));
  return xzModule;
}

/**
 * Decompresses an xz byte stream (one or more concatenated xz streams), yielding the
 * decompressed bytes in pieces (each a fresh copy). Throws `XzError` on bad or truncated
 * data. Node only (it loads the decoder from the installed package).
 *
 * @example
 * import { createReadStream } from "node:fs";
 * for await (const piece of xzDecompress(createReadStream("t.champsimtrace.xz"))) hash.update(piece);
 */
export async function* xzDecompress(input: ByteSource): AsyncGenerator<Uint8Array, void, undefined> {
  const instance = await WebAssembly.instantiate(await xzWasmModule(), {});
  const ex = instance.exports as unknown as XzExports;
  const ctx = ex.create_context();
  let mem8 = new Uint8Array(ex.memory.buffer);
  let mem32 = new Uint32Array(ex.memory.buffer, ctx, 7);
  const refresh = (): void => {
    if (mem8.buffer !== ex.memory.buffer) {
      mem8 = new Uint8Array(ex.memory.buffer);
      mem32 = new Uint32Array(ex.memory.buffer, ctx, 7);
    }
  };
  const bufSize = mem32[0];
  const inStart = mem32[1];
  const outStart = mem32[4];
  if (bufSize === 0 || inStart + bufSize > mem8.length || outStart + bufSize > mem8.length) {
    ex.destroy_context(ctx);
    throw new Error("xz-decompress: unexpected decoder context layout");
  }
  const it: AsyncIterator<Uint8Array> | Iterator<Uint8Array> =
    Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  let pending: Uint8Array = new Uint8Array(0);
  let eof = false;
  let idle = 0; // calls in a row that made no progress at the end of the input
  try {
    for (;;) {
      if (mem32[2] === mem32[3]) {
        // the decoder has used all its input: give it more
        while (!eof && pending.length === 0) {
          const r = await it.next();
          if (r.done) eof = true;
          else pending = r.value;
        }
        const take = Math.min(bufSize, pending.length);
        refresh();
        mem8.set(pending.subarray(0, take), inStart);
        ex.supply_input(ctx, take);
        pending = pending.subarray(take);
      }
      const rc = ex.get_next_output(ctx);
      refresh();
      const outPos = mem32[5];
      if (rc > 1) {
        const text = rc === 8 && eof ? "truncated xz data (the input ends inside an xz stream)" : XZ_RET_TEXT[rc] ?? `xz error ${rc}`;
        throw new XzError(text, rc);
      }
      if (outPos > 0) {
        const piece = mem8.slice(outStart, outStart + outPos);
        mem32[5] = 0;
        idle = 0;
        yield piece;
        refresh();
      } else if (eof && ++idle > 4) {
        throw new XzError("truncated xz data (the input ends inside an xz stream)", 8);
      }
      if (rc === 1) return; // XZ_STREAM_END: the end of the last stream
    }
  } finally {
    ex.destroy_context(ctx);
    if (!eof) await it.return?.();
  }
}

/**
 * The core requests of a chunk's accesses, in order (kinds map one to one).
 *
 * @example
 * for await (const chunk of readChampSim("t.champsimtrace.xz")) core.submit(champsimRequests(chunk, 0));
 */
export function champsimRequests(chunk: ChampSimChunk, vcpu: number, out: Request[] = []): Request[] {
  const { count, addrs, kinds, sizes } = chunk;
  for (let i = 0; i < count; i++) out.push({ vcpu, va: addrs[i], kind: kinds[i] as AccessKind, size: sizes[i] });
  return out;
}
