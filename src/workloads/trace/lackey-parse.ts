/**
 * The byte-level parser of Valgrind lackey `--trace-mem=yes` traces (REFERENCE.md
 * sections 8 and 9). It has no Node imports, so it also runs in browsers; the file
 * reader (plain or gzip) is in `lackey.ts`.
 *
 * Grammar (REFERENCE.md section 9). A line is a record only if it reads
 * `KIND HEXADDR,DECSIZE` with KIND one of `I`, `L`, `S`, `M` and blanks around it:
 * optional blanks, the KIND letter, one or more blanks, a hexadecimal address (either
 * case, no `0x`), a comma, a decimal size, optional blanks. Lackey writes
 * `I  0401ab70,3`, ` L 1fff000778,8`, ` S ...` and ` M ...`. Blanks are space, tab and
 * carriage return; a carriage return right before the newline ends the line, so CRLF
 * files read the same as LF files (`I\r\n`, like `I\n`, is ignored).
 * Every other line (`==pid==` lines, `SB ...`, blank lines, any other text) is ignored.
 * A line that starts like a record (optional blanks, a KIND letter, a blank) but does
 * not parse is malformed: a bad hexadecimal address, a missing comma or size, text after
 * the size, size 0 (or above 2^32-1), or an address that does not fit 48 bits once a
 * canonical sign extension of bits 63:48 is dropped (`ffffffffff600000` reads as
 * `ffffff600000`; `0001000000000000` and `ffff000000000000` are malformed).
 * A malformed line throws a `TraceError` naming its line number and text, or with
 * `skipBadLines` is skipped and counted.
 *
 * Records come out in chunks of parallel typed arrays; the kind codes are
 * `LACKEY_FETCH` (I), `LACKEY_LOAD` (L), `LACKEY_STORE` (S) and `LACKEY_MODIFY` (M).
 * `lackeyRequests` turns a chunk into core requests (an M becomes a read of its range,
 * then a write of the same range).
 */
import type { AccessKind, Request } from "../../core/types.js";

/**
 * An error in a trace: unreadable file, corrupt gzip data, or a malformed line. The
 * message is one line, meant to be shown as it is (no stack).
 *
 * @example
 * try {
 *   for await (const chunk of readLackey(file)) use(chunk);
 * } catch (e) {
 *   if (e instanceof TraceError) console.error(e.message); // "t.lackey:12: malformed lackey record (size 0): \"L 1000,0\""
 *   else throw e;
 * }
 */
export class TraceError extends Error {
  /** 1-based line number of a malformed line. */
  readonly line?: number;
  /** The file (or source name) the error is about. */
  readonly file?: string;

  constructor(message: string, opts: { line?: number; file?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "TraceError";
    if (opts.line !== undefined) this.line = opts.line;
    if (opts.file !== undefined) this.file = opts.file;
  }
}

/** Record kind codes in `LackeyChunk.kinds`: I, L, S, M. */
export const LACKEY_FETCH = 0;
export const LACKEY_LOAD = 1;
export const LACKEY_STORE = 2;
export const LACKEY_MODIFY = 3;
export type LackeyKind = 0 | 1 | 2 | 3;
/** The lackey letter of each kind code. */
export const LACKEY_LETTERS = ["I", "L", "S", "M"] as const;

/**
 * A batch of records, in trace order: record `i` has address `addrs[i]` (below 2^48),
 * kind `kinds[i]` (a `LackeyKind`) and size `sizes[i]` (1..2^32-1 bytes). Only the first
 * `count` entries are valid. The caller owns the arrays (the parser does not reuse them).
 */
export interface LackeyChunk {
  count: number;
  addrs: Float64Array;
  kinds: Uint8Array;
  sizes: Uint32Array;
}

/** Counts over everything read so far (final once the input is exhausted). */
export interface LackeyTotals {
  /** Lines read (a last line without a newline counts). */
  lines: number;
  /** Well-formed records. */
  records: number;
  /** Records by kind: [I, L, S, M]. */
  byKind: [number, number, number, number];
  /** Core requests the records make (`records` plus one per M). */
  requests: number;
  /** Lines that are not records (`==pid==`, blank, other text). */
  ignored: number;
  /** Malformed lines skipped because of `skipBadLines`. */
  skipped: number;
}

export interface LackeyParseOptions {
  /** Skip and count malformed lines instead of throwing (default false). */
  skipBadLines?: boolean;
  /** Records per chunk (default 65536). */
  chunkRecords?: number;
  /** Name of the input, used in error messages (default "trace"). */
  source?: string;
}

// Parser states. A line is read by a state machine whose state survives the end of an
// input buffer, so a record may be split anywhere between two buffers.
const S_START = 0; // at line start or in the leading blanks
const S_KIND = 1; // after the KIND letter: needs a blank
const S_KIND_CR = 2; // after KIND and a carriage return (KIND\r\n is not a record)
const S_GAP = 3; // blanks between KIND and the address
const S_HEX = 4; // in the address
const S_DEC = 5; // after the comma, in the size
const S_TRAIL = 6; // blanks after the size
const S_SKIP = 7; // in an ignored line
const S_BAD = 8; // in a malformed line

const NL = 10;
const COMMA = 44;
/** Bytes of a line kept across buffers for error messages. */
const HEAD_MAX = 256;
/** UTF-8's byte-order mark, which some editors write before the first line. */
const BOM = Uint8Array.of(0xef, 0xbb, 0xbf);
/** Characters of a line shown in an error message. */
const TEXT_MAX = 100;
const TWO_44 = 2 ** 44;
const TWO_47 = 2 ** 47;

/** Character classes: 1 = blank (space, tab, CR). */
const BLANK = new Uint8Array(256);
BLANK[32] = BLANK[9] = BLANK[13] = 1;
/** KIND letter -> kind code; 255 = not a KIND letter. */
const KIND_OF = new Uint8Array(256).fill(255);
KIND_OF[73] = LACKEY_FETCH; // I
KIND_OF[76] = LACKEY_LOAD; // L
KIND_OF[83] = LACKEY_STORE; // S
KIND_OF[77] = LACKEY_MODIFY; // M
/** Hex digit value; 255 = not a hex digit. */
const HEX = new Uint8Array(256).fill(255);
for (let d = 0; d < 10; d++) HEX[48 + d] = d;
for (let d = 0; d < 6; d++) HEX[65 + d] = HEX[97 + d] = 10 + d;

const REASONS = [
  "",
  "bad hexadecimal address",
  "missing address",
  "missing ',SIZE' after the address",
  "bad or missing decimal size",
  "text after the size",
  "size 0",
  "size above 4294967295",
  "address does not fit 48 bits (nor is it a sign-extended 48-bit address)",
] as const;
const R_BAD_HEX = 1,
  R_NO_ADDR = 2,
  R_NO_SIZE = 3,
  R_BAD_SIZE = 4,
  R_JUNK = 5,
  R_SIZE0 = 6,
  R_SIZE_BIG = 7,
  R_ADDR = 8;

const decoder = new TextDecoder("utf-8");

/**
 * A push parser: feed it bytes in pieces of any size, get chunks of records back.
 *
 * @example
 * const p = new LackeyParser({ source: "t.lackey" });
 * const chunks = p.push(new TextEncoder().encode("==1== hi\nI  0400a0,3\n M 1ff0,8\n"));
 * chunks.push(...p.end());
 * // chunks[0]: count 2, addrs [0x400a0, 0x1ff0], kinds [LACKEY_FETCH, LACKEY_MODIFY], sizes [3, 8]
 * p.totals; // { lines: 3, records: 2, ignored: 1, skipped: 0, requests: 3, byKind: [1, 0, 0, 1] }
 */
export class LackeyParser {
  readonly source: string;
  readonly skipBadLines: boolean;
  readonly chunkRecords: number;

  // state of the current line
  private state = S_START;
  private kind = 0;
  private lo = 0; // the address's last 12 significant hex digits
  private top = 0; // the address's digits above those
  private nd = 0; // significant hex digits
  private size = 0;
  private sd = 0; // size digits
  private reason = 0;
  private partial = false; // the current line has at least one byte
  private readonly head = new Uint8Array(HEAD_MAX);
  private headLen = 0;
  private line = 1; // number of the current line
  /** Bytes of a byte-order mark seen at the input's start (0..2), -1 once past it. */
  private bom = 0;

  // output
  private count = 0;
  private addrs: Float64Array;
  private kinds: Uint8Array;
  private sizes: Uint32Array;

  // totals
  private nRecords = 0;
  private nIgnored = 0;
  private nSkipped = 0;
  private readonly nByKind: [number, number, number, number] = [0, 0, 0, 0];
  private ended = false;

  constructor(opts: LackeyParseOptions = {}) {
    this.source = opts.source ?? "trace";
    this.skipBadLines = opts.skipBadLines ?? false;
    const cap = opts.chunkRecords ?? 65536;
    if (!Number.isInteger(cap) || cap < 1 || cap > 1 << 24) {
      throw new RangeError(`chunkRecords: ${cap} is not an integer in 1..16777216`);
    }
    this.chunkRecords = cap;
    this.addrs = new Float64Array(cap);
    this.kinds = new Uint8Array(cap);
    this.sizes = new Uint32Array(cap);
  }

  /** Counts so far; final after `end()`. */
  get totals(): LackeyTotals {
    const byKind: [number, number, number, number] = [...this.nByKind];
    return {
      lines: this.line - 1 + (this.partial ? 1 : 0),
      records: this.nRecords,
      byKind,
      requests: this.nRecords + byKind[LACKEY_MODIFY],
      ignored: this.nIgnored,
      skipped: this.nSkipped,
    };
  }

  /**
   * Parses the next bytes of the input. Returns the chunks that filled up (often none);
   * a record cut by the end of `bytes` is completed by the next call.
   * Throws `TraceError` on a malformed line unless `skipBadLines`.
   */
  push(bytes: Uint8Array): LackeyChunk[] {
    if (this.ended) throw new Error("LackeyParser: push() after end()");
    if (this.bom >= 0 && bytes.length > 0) return this.pushPastBom(bytes);
    const out: LackeyChunk[] = [];
    // A plain Uint8Array view (Node's Buffer is a subclass): keeps the loop monomorphic.
    const buf = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = buf.length;
    if (n === 0) return out;

    let state = this.state;
    let kind = this.kind;
    let lo = this.lo;
    let top = this.top;
    let nd = this.nd;
    let size = this.size;
    let sd = this.sd;
    let reason = this.reason;
    let line = this.line;
    let count = this.count;
    let addrs = this.addrs;
    let kinds = this.kinds;
    let sizes = this.sizes;
    const cap = this.chunkRecords;
    let nIgnored = this.nIgnored;
    const byKind = this.nByKind;
    // The current line began in an earlier buffer (its first bytes are in `head`).
    let headValid = this.partial;
    let lineStart = 0;
    let i = 0;

    while (i < n) {
      if (state === S_START) {
        // Fast path for lackey's own line forms, `[ ]K[ ][ ]HEX,DEC\n` with at most 12
        // hex digits and at most 10 size digits: at most 29 bytes, so with more than 32
        // bytes left every read is inside `buf`. Any other line (or a size of 0 or above
        // 2^32-1) goes to the state machine below, from its first byte.
        while (n - i > 32) {
          let j = i;
          let c = buf[j];
          if (c === 32) c = buf[++j];
          const k = KIND_OF[c];
          if (k === 255 || buf[j + 1] !== 32) break;
          j += 2;
          c = buf[j];
          if (c === 32) c = buf[++j];
          let d = HEX[c];
          if (d === 255) break;
          let a = d;
          const h0 = j;
          c = buf[++j];
          d = HEX[c];
          while (d !== 255 && j - h0 < 12) {
            a = a * 16 + d;
            c = buf[++j];
            d = HEX[c];
          }
          if (c !== COMMA) break; // also when there are more than 12 digits
          c = buf[++j];
          let sz = c - 48;
          if (sz < 0 || sz > 9) break;
          const s0 = j;
          c = buf[++j];
          d = c - 48;
          while (d >= 0 && d <= 9 && j - s0 < 10) {
            sz = sz * 10 + d;
            c = buf[++j];
            d = c - 48;
          }
          if (c !== NL || sz === 0 || sz > 0xffffffff) break;
          addrs[count] = a;
          kinds[count] = k;
          sizes[count] = sz;
          byKind[k]++;
          if (++count === cap) {
            out.push({ count, addrs, kinds, sizes });
            count = 0;
            addrs = new Float64Array(cap);
            kinds = new Uint8Array(cap);
            sizes = new Uint32Array(cap);
          }
          i = j + 1;
          line++;
          lineStart = i;
          headValid = false;
        }
      }
      let c = buf[i];
      switch (state) {
        case S_START: {
          while (BLANK[c] === 1) {
            if (++i === n) break;
            c = buf[i];
          }
          if (i === n) break;
          const k = KIND_OF[c];
          i++;
          if (k !== 255) {
            kind = k;
            state = S_KIND;
          } else if (c === NL) {
            nIgnored++;
            line++;
            lineStart = i;
            headValid = false;
          } else {
            state = S_SKIP;
          }
          break;
        }
        case S_KIND:
          if (BLANK[c] === 1) {
            i++;
            state = c === 13 ? S_KIND_CR : S_GAP;
          } else {
            state = S_SKIP; // "I" alone, "SB ...", "Ignore ...": not records
          }
          break;
        case S_KIND_CR:
          if (c === NL) state = S_SKIP; // "I\r\n" reads as "I\n"
          else state = S_GAP;
          break;
        case S_GAP: {
          while (BLANK[c] === 1) {
            if (++i === n) break;
            c = buf[i];
          }
          if (i === n) break;
          if (HEX[c] !== 255) {
            lo = 0;
            top = 0;
            nd = 0;
            state = S_HEX;
          } else {
            reason = c === NL ? R_NO_ADDR : R_BAD_HEX;
            state = S_BAD;
          }
          break;
        }
        case S_HEX: {
          let d = HEX[c];
          while (d !== 255) {
            if (nd < 12) {
              if (nd !== 0 || d !== 0) {
                lo = lo * 16 + d;
                nd++;
              }
            } else {
              const t = Math.floor(lo / TWO_44);
              lo = (lo - t * TWO_44) * 16 + d;
              top = top * 16 + t;
              nd++;
            }
            if (++i === n) break;
            c = buf[i];
            d = HEX[c];
          }
          if (i === n) break;
          if (c === COMMA) {
            i++;
            size = 0;
            sd = 0;
            state = S_DEC;
          } else {
            reason = c === NL || BLANK[c] === 1 ? R_NO_SIZE : R_BAD_HEX;
            state = S_BAD;
          }
          break;
        }
        case S_DEC: {
          let d = c - 48;
          while (d >= 0 && d <= 9) {
            size = size * 10 + d;
            sd++;
            if (++i === n) break;
            c = buf[i];
            d = c - 48;
          }
          if (i === n) break;
          if (sd === 0) {
            reason = R_BAD_SIZE;
            state = S_BAD;
          } else if (c === NL) {
            state = S_TRAIL; // ends the record below
          } else if (BLANK[c] === 1) {
            i++;
            state = S_TRAIL;
          } else {
            reason = R_JUNK;
            state = S_BAD;
          }
          break;
        }
        case S_TRAIL: {
          while (BLANK[c] === 1) {
            if (++i === n) break;
            c = buf[i];
          }
          if (i === n) break;
          if (c !== NL) {
            reason = R_JUNK;
            state = S_BAD;
            break;
          }
          // End of a record line: check the size and the address.
          if (size === 0) reason = R_SIZE0;
          else if (size > 0xffffffff) reason = R_SIZE_BIG;
          else if (nd > 12 && !(nd === 16 && top === 0xffff && lo >= TWO_47)) reason = R_ADDR;
          if (reason !== 0) {
            state = S_BAD;
            break;
          }
          addrs[count] = lo;
          kinds[count] = kind;
          sizes[count] = size;
          byKind[kind]++;
          if (++count === cap) {
            out.push({ count, addrs, kinds, sizes });
            count = 0;
            addrs = new Float64Array(cap);
            kinds = new Uint8Array(cap);
            sizes = new Uint32Array(cap);
          }
          i++;
          line++;
          lineStart = i;
          headValid = false;
          state = S_START;
          break;
        }
        case S_SKIP: {
          const nl = buf.indexOf(NL, i);
          if (nl < 0) {
            i = n;
            break;
          }
          i = nl + 1;
          nIgnored++;
          line++;
          lineStart = i;
          headValid = false;
          state = S_START;
          break;
        }
        case S_BAD: {
          const nl = buf.indexOf(NL, i);
          if (nl < 0) {
            i = n;
            break;
          }
          if (!this.skipBadLines) {
            this.state = S_BAD; // the parser cannot go on
            this.ended = true;
            throw this.malformed(line, reason, headValid, buf.subarray(lineStart, nl));
          }
          this.nSkipped++;
          reason = 0;
          i = nl + 1;
          line++;
          lineStart = i;
          headValid = false;
          state = S_START;
          break;
        }
      }
    }

    // Keep the first bytes of an unfinished line for error messages.
    if (lineStart < n) {
      if (!headValid) this.headLen = 0;
      const take = Math.min(n - lineStart, HEAD_MAX - this.headLen);
      if (take > 0) this.head.set(buf.subarray(lineStart, lineStart + take), this.headLen);
      this.headLen += take;
      this.partial = true;
    } else {
      this.headLen = 0;
      this.partial = false;
    }

    this.state = state;
    this.kind = kind;
    this.lo = lo;
    this.top = top;
    this.nd = nd;
    this.size = size;
    this.sd = sd;
    this.reason = reason;
    this.line = line;
    this.count = count;
    this.addrs = addrs;
    this.kinds = kinds;
    this.sizes = sizes;
    this.nIgnored = nIgnored;
    this.nRecords = byKind[0] + byKind[1] + byKind[2] + byKind[3];
    return out;
  }

  /**
   * The input's first bytes: a UTF-8 byte-order mark before the first line is dropped
   * (the line would read as no record of lackey's). Bytes that only began like one are
   * the line's.
   */
  private pushPastBom(bytes: Uint8Array): LackeyChunk[] {
    let j = 0;
    while (j < bytes.length && this.bom < BOM.length && bytes[j] === BOM[this.bom]) {
      j++;
      this.bom++;
    }
    if (this.bom === BOM.length) {
      this.bom = -1;
      return this.push(bytes.subarray(j));
    }
    if (j === bytes.length) return []; // the mark's start so far: the next bytes tell
    const seen = this.bom;
    this.bom = -1;
    if (seen === 0) return this.push(bytes);
    const line = new Uint8Array(seen + bytes.length - j);
    line.set(BOM.subarray(0, seen));
    line.set(bytes.subarray(j), seen);
    return this.push(line);
  }

  /**
   * Ends the input: parses a last line that has no newline and returns the remaining
   * records (at most one chunk, none if there are no records left).
   */
  end(): LackeyChunk[] {
    if (this.ended) return [];
    if (this.bom > 0) {
      // the input was the start of a mark and no more: those bytes are its one line
      const seen = this.bom;
      this.bom = -1;
      const out = this.push(BOM.subarray(0, seen));
      return [...out, ...this.end()];
    }
    // A last line without a newline: end it (the added newline is not counted twice:
    // `lines` counts the unfinished line already).
    const out = this.partial ? this.push(Uint8Array.of(NL)) : [];
    this.ended = true;
    if (this.count > 0) {
      out.push({ count: this.count, addrs: this.addrs, kinds: this.kinds, sizes: this.sizes });
      this.count = 0;
    }
    return out;
  }

  private malformed(line: number, reason: number, headValid: boolean, rest: Uint8Array): TraceError {
    let bytes = rest;
    let cut = false;
    if (headValid && this.headLen > 0) {
      if (this.headLen === HEAD_MAX) {
        bytes = this.head; // the line's first HEAD_MAX bytes
        cut = true;
      } else {
        bytes = new Uint8Array(this.headLen + Math.min(rest.length, HEAD_MAX));
        bytes.set(this.head.subarray(0, this.headLen));
        bytes.set(rest.subarray(0, bytes.length - this.headLen), this.headLen);
        cut = rest.length > bytes.length - this.headLen;
      }
    }
    return new TraceError(
      `${this.source}:${line}: malformed lackey record (${REASONS[reason]}): ${lineText(bytes, cut)}`,
      { line, file: this.source },
    );
  }
}

/** A line's text for a message: quoted, control characters escaped, at most TEXT_MAX characters. */
function lineText(bytes: Uint8Array, cut: boolean): string {
  let end = bytes.length;
  if (!cut && end > 0 && bytes[end - 1] === 13) end--; // CR of a CRLF
  if (end > HEAD_MAX) {
    end = HEAD_MAX;
    cut = true;
  }
  let text = decoder.decode(bytes.subarray(0, end));
  if (text.length > TEXT_MAX) {
    text = text.slice(0, TEXT_MAX);
    cut = true;
  }
  return JSON.stringify(text) + (cut ? " (cut)" : "");
}

/**
 * Parses a whole trace held in memory (tests, small inputs). Use `readLackey` for files.
 *
 * @example
 * const { records, totals } = parseLackey("I  0400a0,3\n L 1ff0,8\n");
 * records; // [{ kind: LACKEY_FETCH, addr: 0x400a0, size: 3 }, { kind: LACKEY_LOAD, addr: 0x1ff0, size: 8 }]
 */
export function parseLackey(
  input: string | Uint8Array,
  opts: LackeyParseOptions = {},
): { records: { kind: LackeyKind; addr: number; size: number }[]; totals: LackeyTotals } {
  const parser = new LackeyParser(opts);
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const chunks = [...parser.push(bytes), ...parser.end()];
  const records: { kind: LackeyKind; addr: number; size: number }[] = [];
  for (const c of chunks) {
    for (let i = 0; i < c.count; i++) {
      records.push({ kind: c.kinds[i] as LackeyKind, addr: c.addrs[i], size: c.sizes[i] });
    }
  }
  return { records, totals: parser.totals };
}

/**
 * Parses a stream of bytes (any async iterable of `Uint8Array`, e.g. a Node stream or a
 * browser `ReadableStream`'s reader wrapped in a generator), yielding chunks as they
 * fill. `totals` is final once the iteration has finished.
 *
 * @example
 * const reader = readLackeyBytes(someAsyncIterableOfBytes, { source: "upload" });
 * for await (const chunk of reader) core.submit(lackeyRequests(chunk, 0));
 * reader.totals.records;
 */
export function readLackeyBytes(
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: LackeyParseOptions = {},
): LackeyReader {
  return new LackeyReader(async () => input, opts);
}

/**
 * Chunks of records from a byte source, opened when the iteration starts; iterate once.
 * `totals` counts what has been parsed so far.
 */
export class LackeyReader implements AsyncIterable<LackeyChunk> {
  private readonly parser: LackeyParser;
  private started = false;

  constructor(
    private readonly open: () => Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>,
    opts: LackeyParseOptions = {},
    /** Maps an error of the byte source to the error to throw. */
    private readonly mapError: (err: unknown) => unknown = (err) => err,
  ) {
    this.parser = new LackeyParser(opts);
  }

  get totals(): LackeyTotals {
    return this.parser.totals;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<LackeyChunk, void, undefined> {
    if (this.started) throw new Error("LackeyReader: can be iterated only once");
    this.started = true;
    const source = await this.open();
    let pending: LackeyChunk[] = [];
    try {
      for await (const bytes of source) {
        pending = this.parser.push(bytes);
        for (const chunk of pending) yield chunk;
      }
    } catch (err) {
      if (err instanceof TraceError) throw err;
      throw this.mapError(err);
    }
    for (const chunk of this.parser.end()) yield chunk;
  }
}

/**
 * The core requests of a chunk's records, in order: I -> fetch, L -> read, S -> write,
 * M -> a read of its range then a write of the same range. A record keeps its address and
 * size (a range that crosses pages is one request; splitting it is the caller's job).
 *
 * @example
 * for await (const chunk of readLackey("app.lackey.gz")) core.submit(lackeyRequests(chunk, 0));
 */
export function lackeyRequests(chunk: LackeyChunk, vcpu: number, out: Request[] = []): Request[] {
  const { count, addrs, kinds, sizes } = chunk;
  for (let i = 0; i < count; i++) {
    const k = kinds[i];
    const va = addrs[i];
    const size = sizes[i];
    if (k === LACKEY_MODIFY) {
      out.push({ vcpu, va, kind: 1, size }, { vcpu, va, kind: 2, size });
    } else {
      out.push({ vcpu, va, kind: k as AccessKind, size });
    }
  }
  return out;
}

/**
 * Parse speed on a synthetic in-memory trace (lackey's own line forms, about 68% I,
 * 20% L, 10% S, 2% M, plus a `==pid==` line every 1000 lines), fed in 64 KiB pieces as a
 * file stream would be. For `npm run bench`.
 *
 * @example
 * const r = benchLackeyParse(); // { lines: 10000000, bytes: ..., seconds: ..., linesPerSecond: ..., bytesPerSecond: ... }
 */
export function benchLackeyParse(
  opts: { lines?: number; rounds?: number } = {},
): { lines: number; bytes: number; seconds: number; linesPerSecond: number; bytesPerSecond: number } {
  const lines = opts.lines ?? 2_000_000;
  const rounds = opts.rounds ?? 5;
  const text = syntheticLackey(lines, 1);
  const piece = 64 * 1024;
  let best = Infinity;
  let records = 0;
  for (let r = 0; r < rounds + 1; r++) {
    const parser = new LackeyParser();
    const t0 = performance.now();
    for (let off = 0; off < text.length; off += piece) {
      parser.push(text.subarray(off, Math.min(off + piece, text.length)));
    }
    parser.end();
    const dt = (performance.now() - t0) / 1000;
    if (r > 0) best = Math.min(best, dt); // round 0 warms up the JIT
    records = parser.totals.records;
  }
  if (records === 0) throw new Error("benchLackeyParse: no records parsed");
  return {
    lines,
    bytes: text.length,
    seconds: best,
    linesPerSecond: lines / best,
    bytesPerSecond: text.length / best,
  };
}

/** A synthetic lackey trace of `lines` lines in lackey's own formats (seeded, deterministic). */
export function syntheticLackey(lines: number, seed: number): Uint8Array {
  const parts: string[] = [];
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    // xorshift32: fine for a benchmark input
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  let pc = 0x401000;
  let data = 0x1fff000000;
  for (let i = 0; i < lines; i++) {
    if (i % 1000 === 0) {
      parts.push(`==4967== line ${i}`);
      continue;
    }
    const u = rnd();
    if (u < 0.68) {
      pc += 1 + Math.floor(rnd() * 7);
      parts.push(`I  ${pc.toString(16).padStart(8, "0")},${1 + Math.floor(rnd() * 7)}`);
    } else {
      data += Math.floor(rnd() * 256) - 120;
      const k = u < 0.88 ? "L" : u < 0.98 ? "S" : "M";
      parts.push(` ${k} ${data.toString(16).padStart(8, "0")},${[1, 2, 4, 8, 16][Math.floor(rnd() * 5)]}`);
    }
  }
  parts.push("");
  return new TextEncoder().encode(parts.join("\n"));
}
