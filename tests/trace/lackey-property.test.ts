// Property tests of the lackey parser: random well-formed traces round-trip, and random
// near-miss lines are read as the reference reading (helpers.ts) reads them, whatever the
// pieces the bytes arrive in.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LACKEY_LETTERS, TraceError, type LackeyKind } from "../../src/workloads/trace/lackey.js";
import { enc, parsePieces, refParse, refLine, type Rec } from "./helpers.js";

const blanks = (min: number, max: number, chars = [" ", "\t"]) =>
  fc.array(fc.constantFrom(...chars), { minLength: min, maxLength: max }).map((a) => a.join(""));

const mixCase = (s: string, mask: number) =>
  [...s].map((ch, i) => ((mask >> i % 31) & 1 ? ch.toUpperCase() : ch)).join("");

/** A well-formed record line and the record it stands for. */
const recordLine = fc
  .record({
    kind: fc.integer({ min: 0, max: 3 }),
    addr: fc.oneof(
      fc.bigInt(0n, (1n << 48n) - 1n),
      fc.bigInt(0n, 0xffffffffn),
      fc.constantFrom(0n, (1n << 47n) - 1n, 1n << 47n, (1n << 48n) - 1n, 0xffffff600000n),
    ),
    signExtend: fc.boolean(),
    zeros: fc.integer({ min: 0, max: 6 }),
    caseMask: fc.integer({ min: 0, max: 0x7fffffff }),
    size: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 0xffffffff })),
    sizeZeros: fc.integer({ min: 0, max: 2 }),
    lead: blanks(0, 3),
    gap: fc.oneof(blanks(1, 1, [" "]), blanks(1, 2, [" "]), blanks(1, 4, [" ", "\t", "\r"])),
    trail: fc.oneof(fc.constant(""), blanks(0, 3, [" ", "\t", "\r"])),
  })
  .map((g) => {
    let hex = g.addr.toString(16);
    // a canonical sign extension of bit 47 is allowed, and dropped by the reader
    if (g.signExtend && g.addr >= 1n << 47n) hex = "ffff" + hex.padStart(12, "0");
    hex = mixCase("0".repeat(g.zeros) + hex, g.caseMask);
    const line = `${g.lead}${LACKEY_LETTERS[g.kind]}${g.gap}${hex},${"0".repeat(g.sizeZeros)}${g.size}${g.trail}`;
    const rec: Rec = { kind: g.kind as LackeyKind, addr: Number(g.addr), size: g.size };
    return { line, rec: rec as Rec | null };
  });

/** A line that is not a record. */
const ignoredLine = fc
  .oneof(
    fc.integer({ min: 1, max: 99999 }).chain((pid) =>
      fc.string({ maxLength: 40 }).map((s) => `==${pid}== ${s.replace(/[\r\n]/g, "")}`),
    ),
    fc.bigInt(0n, (1n << 48n) - 1n).map((a) => `SB ${a.toString(16)}`),
    blanks(0, 4),
    fc.constantFrom("I", "L", "S", "M", " I", "\tM", "Ignore", "Lackey", "SB"),
    fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, "")),
  )
  // ignored also when a CRLF ending follows ("I\r" + "\r\n" is a malformed "I\r")
  .filter((line) => refLine(line).type === "ignored" && refLine(line + "\r").type === "ignored")
  .map((line) => ({ line, rec: null as Rec | null }));

const pieceSizes = fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 6 });

describe("property: well-formed traces round-trip", () => {
  it("records come back in order, with the right totals, in any pieces", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ arbitrary: recordLine, weight: 4 }, { arbitrary: ignoredLine, weight: 1 }), {
          maxLength: 60,
        }),
        fc.array(fc.constantFrom("\n", "\r\n"), { minLength: 60, maxLength: 60 }),
        fc.boolean(),
        pieceSizes,
        fc.integer({ min: 1, max: 9 }),
        (lines, endings, finalNewline, pieces, chunkRecords) => {
          const text = lines.map((l, i) => l.line + (i < lines.length - 1 || finalNewline ? endings[i] : "")).join("");
          const want = lines.flatMap((l) => (l.rec ? [l.rec] : []));
          const got = parsePieces(enc(text), pieces, { chunkRecords });
          expect(got.records).toEqual(want);
          // an empty last line with no newline after it is no line at all
          const nLines = lines.length - (!finalNewline && lines.length > 0 && lines[lines.length - 1].line === "" ? 1 : 0);
          expect(got.totals).toEqual({
            lines: nLines,
            records: want.length,
            byKind: [0, 1, 2, 3].map((k) => want.filter((r) => r.kind === k).length),
            requests: want.length + want.filter((r) => r.kind === 3).length,
            ignored: nLines - want.length,
            skipped: 0,
          });
          expect(got.chunks.every((c) => c.count >= 1 && c.count <= chunkRecords)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("property: near-miss lines read as the reference reads them", () => {
  // bytes that make lines look like records, almost
  const alphabet = [" ", " ", "\t", "\r", "I", "L", "S", "M", "B", "=", ",", ",", "0", "1", "8", "9", "a", "f", "F", "x", "-", "\n", "\n"];
  const text = fc
    .array(
      fc.oneof(
        fc.constantFrom(...alphabet),
        recordLine.map((r) => r.line),
        fc.constantFrom("ffff", "0000000000000", "4294967296", "4294967295", "9999999999", "ffff8", "ffff7", "1000000000000"),
      ),
      { maxLength: 80 },
    )
    .chain((a) =>
      // a long last line lets the lines before it take the parser's fast path
      fc.constantFrom("", "\n==1== " + "-".repeat(40)).map((pad) => a.join("") + pad),
    );

  it("records, ignored lines and skipped lines agree (skipBadLines)", () => {
    fc.assert(
      fc.property(text, pieceSizes, (t, pieces) => {
        const ref = refParse(t);
        const got = parsePieces(enc(t), pieces, { skipBadLines: true });
        expect(got.records).toEqual(ref.records);
        expect(got.totals.lines).toBe(ref.lines);
        expect(got.totals.ignored).toBe(ref.ignored);
        expect(got.totals.skipped).toBe(ref.malformedLines.length);
      }),
      { numRuns: 2000 },
    );
  });

  it("without skipBadLines the error names the first malformed line", () => {
    fc.assert(
      fc.property(text, pieceSizes, (t, pieces) => {
        const ref = refParse(t);
        let line: number | undefined;
        try {
          parsePieces(enc(t), pieces);
        } catch (e) {
          expect(e).toBeInstanceOf(TraceError);
          line = (e as TraceError).line;
        }
        expect(line).toBe(ref.malformedLines[0]);
      }),
      { numRuns: 1000 },
    );
  });
});
