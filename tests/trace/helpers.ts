// Shared helpers of the lackey tests: collecting records, and a slow reference reading
// of REFERENCE.md section 9 (one regular expression per line, BigInt addresses) that the
// byte-level parser is compared against.
import {
  LackeyParser,
  type LackeyChunk,
  type LackeyKind,
  type LackeyParseOptions,
  type LackeyTotals,
} from "../../src/workloads/trace/lackey.js";

export interface Rec {
  kind: LackeyKind;
  addr: number;
  size: number;
}

export function flatten(chunks: Iterable<LackeyChunk>): Rec[] {
  const out: Rec[] = [];
  for (const c of chunks) {
    for (let i = 0; i < c.count; i++) out.push({ kind: c.kinds[i] as LackeyKind, addr: c.addrs[i], size: c.sizes[i] });
  }
  return out;
}

export async function collect(reader: AsyncIterable<LackeyChunk>): Promise<{ chunks: LackeyChunk[]; records: Rec[] }> {
  const chunks: LackeyChunk[] = [];
  for await (const c of reader) chunks.push(c);
  return { chunks, records: flatten(chunks) };
}

/** Parses `bytes` fed to the push parser in pieces of the given sizes (cycled). */
export function parsePieces(
  bytes: Uint8Array,
  pieces: number[],
  opts: LackeyParseOptions = {},
): { records: Rec[]; totals: LackeyTotals; chunks: LackeyChunk[] } {
  const p = new LackeyParser(opts);
  const chunks: LackeyChunk[] = [];
  let off = 0;
  let k = 0;
  while (off < bytes.length) {
    const len = Math.max(1, pieces.length ? pieces[k++ % pieces.length] : bytes.length);
    chunks.push(...p.push(bytes.subarray(off, Math.min(bytes.length, off + len))));
    off += len;
  }
  chunks.push(...p.end());
  return { records: flatten(chunks), totals: p.totals, chunks };
}

const KINDS: Record<string, LackeyKind> = { I: 0, L: 1, S: 2, M: 3 };
const STARTS_LIKE_RECORD = /^[ \t\r]*[ILSM][ \t\r]/;
const RECORD = /^[ \t\r]*([ILSM])[ \t\r]+([0-9a-fA-F]+),([0-9]+)[ \t\r]*$/;
const MASK48 = (1n << 48n) - 1n;

export type RefLine = { type: "record"; rec: Rec } | { type: "ignored" } | { type: "malformed" };

/** The reference reading of one line (without its `\n`; a `\r` right before it is dropped). */
export function refLine(text: string): RefLine {
  const line = text.endsWith("\r") ? text.slice(0, -1) : text;
  if (!STARTS_LIKE_RECORD.test(line)) return { type: "ignored" };
  const m = RECORD.exec(line);
  if (!m) return { type: "malformed" };
  const size = BigInt(m[3]);
  if (size === 0n || size > 0xffffffffn) return { type: "malformed" };
  let a = BigInt("0x" + m[2]);
  if (a > MASK48) {
    if (a >> 48n === 0xffffn && (a & (1n << 47n)) !== 0n) a &= MASK48;
    else return { type: "malformed" };
  }
  return { type: "record", rec: { kind: KINDS[m[1]], addr: Number(a), size: Number(size) } };
}

/** The reference reading of a whole text. */
export function refParse(text: string): {
  records: Rec[];
  lines: number;
  ignored: number;
  malformedLines: number[];
} {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop(); // the text ends with a newline
  const records: Rec[] = [];
  const malformedLines: number[] = [];
  let ignored = 0;
  lines.forEach((l, i) => {
    const r = refLine(l);
    if (r.type === "record") records.push(r.rec);
    else if (r.type === "ignored") ignored++;
    else malformedLines.push(i + 1);
  });
  return { records, lines: lines.length, ignored, malformedLines };
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
