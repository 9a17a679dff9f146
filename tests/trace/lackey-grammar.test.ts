// The lackey record grammar (REFERENCE.md section 9): accepted, ignored and malformed
// lines, error messages, skipBadLines, M expansion and records cut by buffer ends.
import { describe, expect, it } from "vitest";
import {
  LACKEY_FETCH,
  LACKEY_LOAD,
  LACKEY_MODIFY,
  LACKEY_STORE,
  LackeyParser,
  TraceError,
  lackeyRequests,
  parseLackey,
  syntheticLackey,
} from "../../src/workloads/trace/lackey.js";
import { enc, parsePieces, refParse } from "./helpers.js";

const HEADER = "==4967== Lackey, an example Valgrind tool\n==4967== Command: ./small\n";
/** A last line long enough that the lines before it take the parser's fast path. */
const PAD = "==4967== " + "-".repeat(60) + "\n";

/** Parses HEADER + one line (so the line is line 3), expecting one record; with and
 * without PAD after it, so that the fast path and the state machine both read it. */
function one(line: string) {
  const a = parseLackey(HEADER + line + "\n");
  expect(a.totals).toMatchObject({ lines: 3, records: 1, ignored: 2 });
  const b = parseLackey(HEADER + line + "\n" + PAD);
  expect(b.totals).toMatchObject({ lines: 4, records: 1, ignored: 3 });
  expect(b.records).toEqual(a.records);
  return a.records[0];
}

describe("accepted record forms", () => {
  const cases: [string, number, number, number][] = [
    ["I  0401ab70,3", LACKEY_FETCH, 0x401ab70, 3],
    [" L 1fff000778,8", LACKEY_LOAD, 0x1fff000778, 8],
    [" S 1fff000770,8", LACKEY_STORE, 0x1fff000770, 8],
    [" M 00406ffc,8", LACKEY_MODIFY, 0x406ffc, 8],
    ["L 10,4", LACKEY_LOAD, 0x10, 4],
    ["I 0,1", LACKEY_FETCH, 0, 1],
    ["\t\tS\t\tABCDEF,16\t  ", LACKEY_STORE, 0xabcdef, 16],
    ["   M   aBcD,2   ", LACKEY_MODIFY, 0xabcd, 2],
    ["I 0000000000000000000000401000,1", LACKEY_FETCH, 0x401000, 1],
    ["L 400000,0008", LACKEY_LOAD, 0x400000, 8],
    ["L 7fffffffffff,1", LACKEY_LOAD, 0x7fffffffffff, 1],
    ["L 000000000000000000000000007fffffffffff,1", LACKEY_LOAD, 0x7fffffffffff, 1],
    ["L 400000,0000000000000000000000000000008", LACKEY_LOAD, 0x400000, 8],
    ["L 1,1000000000", LACKEY_LOAD, 1, 1000000000],
    ["L ffffffffffff,1", LACKEY_LOAD, 0xffffffffffff, 1],
    ["L 800000000000,1", LACKEY_LOAD, 0x800000000000, 1],
    // canonical sign extension of bit 47 is dropped
    ["L ffffffffff600000,8", LACKEY_LOAD, 0xffffff600000, 8],
    ["S FFFF800000000000,1", LACKEY_STORE, 0x800000000000, 1],
    ["S 00ffff800000000000,1", LACKEY_STORE, 0x800000000000, 1],
    ["L 400000,4294967295", LACKEY_LOAD, 0x400000, 4294967295],
    ["L 400000,4\r", LACKEY_LOAD, 0x400000, 4], // CRLF
    ["L\r400000,4", LACKEY_LOAD, 0x400000, 4], // CR is a blank
    ["L 400000,4 \r \t", LACKEY_LOAD, 0x400000, 4],
  ];
  for (const [line, kind, addr, size] of cases) {
    it(JSON.stringify(line), () => {
      expect(one(line)).toEqual({ kind, addr, size });
    });
  }

  it("a last line without a newline is read", () => {
    const { records, totals } = parseLackey("==1== x\n L 1000,8");
    expect(records).toEqual([{ kind: LACKEY_LOAD, addr: 0x1000, size: 8 }]);
    expect(totals).toMatchObject({ lines: 2, records: 1, ignored: 1 });
  });

  it("an empty input has no lines", () => {
    expect(parseLackey("").totals).toEqual({
      lines: 0,
      records: 0,
      byKind: [0, 0, 0, 0],
      requests: 0,
      ignored: 0,
      skipped: 0,
    });
  });
});

describe("ignored lines", () => {
  const cases = [
    "==4967== Lackey, an example Valgrind tool",
    "==4967== ",
    "--4967-- warning",
    "",
    "   ",
    "\t",
    "\r",
    "SB 401000",
    "SB401000",
    "I",
    "M",
    "  L",
    "I\r",
    "Ignore 400000,4",
    "Lackey",
    "X 400000,4",
    "i 400000,4",
    "l 400000,4",
    "0401ab70,3",
    "IL 400000,4",
    "#I 400000,4",
    "\u00e9I 400000,4",
  ];
  for (const line of cases) {
    it(JSON.stringify(line), () => {
      const { records, totals } = parseLackey(HEADER + line + "\n");
      expect(records).toEqual([]);
      expect(totals).toMatchObject({ lines: 3, records: 0, ignored: 3, skipped: 0 });
      expect(parseLackey(HEADER + line + "\n" + PAD).totals).toMatchObject({ lines: 4, records: 0, ignored: 4 });
    });
  }
});

describe("malformed lines", () => {
  const cases: [string, string][] = [
    ["I ", "missing address"],
    ["I  ", "missing address"],
    ["L \t", "missing address"],
    ["I \r", "missing address"],
    ["L 0x400000,4", "bad hexadecimal address"],
    ["L 40g000,4", "bad hexadecimal address"],
    ["L -400000,4", "bad hexadecimal address"],
    ["L ,4", "bad hexadecimal address"],
    ["L 400000", "missing ',SIZE' after the address"],
    ["L 400000 ", "missing ',SIZE' after the address"],
    ["L 400000 ,4", "missing ',SIZE' after the address"],
    ["L 400000;4", "bad hexadecimal address"],
    ["L 400000,", "bad or missing decimal size"],
    ["L 400000, 4", "bad or missing decimal size"],
    ["L 400000,-4", "bad or missing decimal size"],
    ["L 400000,x", "bad or missing decimal size"],
    ["L 400000,4x", "text after the size"],
    ["L 400000,4 x", "text after the size"],
    ["L 400000,4,5", "text after the size"],
    ["L 400000,4.5", "text after the size"],
    ["L 400000,4 ==", "text after the size"],
    ["L 400000,0", "size 0"],
    ["L 400000,00", "size 0"],
    ["L 400000,4294967296", "size above 4294967295"],
    ["L 400000,9999999999", "size above 4294967295"],
    ["L 400000,99999999999999999999999", "size above 4294967295"],
    ["L 1000000000000,4", "address does not fit 48 bits"],
    ["L fffffffffffff,4", "address does not fit 48 bits"],
    ["L 0001000000000000,4", "address does not fit 48 bits"],
    ["L ffff000000000000,4", "address does not fit 48 bits"],
    ["L ffff7fffffffffff,4", "address does not fit 48 bits"],
    ["L fffeffffffffffff,4", "address does not fit 48 bits"],
    ["L 1ffffffffff600000,8", "address does not fit 48 bits"],
    ["L fffffffffffffffffffffff,8", "address does not fit 48 bits"],
  ];
  for (const [line, reason] of cases) {
    it(`${JSON.stringify(line)}: ${reason}`, () => {
      for (const pad of ["", PAD]) {
        let err: unknown;
        try {
          parseLackey(HEADER + line + "\nI  400000,1\n" + pad, { source: "t.lackey" });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(TraceError);
        const te = err as TraceError;
        expect(te.line).toBe(3);
        expect(te.file).toBe("t.lackey");
        expect(te.message.startsWith(`t.lackey:3: malformed lackey record (${reason}`)).toBe(true);
        expect(te.message.endsWith(`: ${JSON.stringify(line.replace(/\r$/, ""))}`)).toBe(true);

        // with skipBadLines: skipped and counted, the next record still read
        const { records, totals } = parseLackey(HEADER + line + "\nI  400000,1\n" + pad, { skipBadLines: true });
        expect(records).toEqual([{ kind: LACKEY_FETCH, addr: 0x400000, size: 1 }]);
        expect(totals).toMatchObject({ lines: pad ? 5 : 4, records: 1, ignored: pad ? 3 : 2, skipped: 1 });
      }
    });
  }

  it("names the exact line number deep in a trace, also when the line is cut by buffer ends", () => {
    const lines: string[] = [];
    for (let i = 1; i <= 5000; i++) lines.push(i % 100 === 0 ? "==1== x" : `I  ${(0x400000 + i).toString(16)},4`);
    lines[4321 - 1] = " S 1fff000770,8 junk";
    const bytes = enc(lines.join("\n") + "\n");
    for (const pieces of [[], [1], [3, 7], [65536], [4096 + 5]]) {
      let err: TraceError | undefined;
      try {
        parsePieces(bytes, pieces, { source: "deep" });
      } catch (e) {
        err = e as TraceError;
      }
      expect(err, `pieces ${pieces}`).toBeInstanceOf(TraceError);
      expect(err!.line).toBe(4321);
      expect(err!.message).toBe('deep:4321: malformed lackey record (text after the size): " S 1fff000770,8 junk"');
    }
  });

  it("the message has only the bad line's text when an earlier line was cut by a buffer end", () => {
    const p = new LackeyParser({ source: "x" });
    p.push(enc("==1==\n ")); // cut in the leading blank of the next line
    const rest = "L 1000,8\n" + "I  0401ab70,3\n".repeat(5) + "L 1,0\n" + "==1== " + "-".repeat(40) + "\n";
    expect(() => p.push(enc(rest))).toThrow('x:8: malformed lackey record (size 0): "L 1,0"');
  });

  it("a malformed last line without a newline", () => {
    expect(() => parseLackey("I  400000,1\nL 400000,", { source: "x" })).toThrow(
      'x:2: malformed lackey record (bad or missing decimal size): "L 400000,"',
    );
  });

  it("cuts a long line in the message", () => {
    const line = "L 400000,4 " + "x".repeat(10_000);
    let msg = "";
    try {
      parsePieces(enc("==1==\n" + line + "\n"), [7]);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.startsWith('trace:2: malformed lackey record (text after the size): "L 400000,4 xxx')).toBe(true);
    expect(msg.endsWith('" (cut)')).toBe(true);
    expect(msg.length).toBeLessThan(200);
  });

  it("skipBadLines counts every bad line", () => {
    const text = [HEADER.trimEnd(), "I 0x10,4", "I  400000,4", "L 1,0", "", "S 1,1,", "M 2,2", "SB 5"].join("\n");
    const { records, totals } = parseLackey(text, { skipBadLines: true });
    expect(records).toEqual([
      { kind: LACKEY_FETCH, addr: 0x400000, size: 4 },
      { kind: LACKEY_MODIFY, addr: 2, size: 2 },
    ]);
    expect(totals).toEqual({ lines: 9, records: 2, byKind: [1, 0, 0, 1], requests: 3, ignored: 4, skipped: 3 });
  });

  it("the parser refuses more input after an error", () => {
    const p = new LackeyParser();
    expect(() => p.push(enc("L 1,0\n"))).toThrow(TraceError);
    expect(() => p.push(enc("L 1,1\n"))).toThrow();
  });
});

describe("requests", () => {
  it("I fetch, L read, S write, M a read then a write of the same range", () => {
    const { chunks } = parsePieces(enc("I  400000,3\n L 1000,8\n S 2000,4\n M 3ffc,8\n"), []);
    expect(lackeyRequests(chunks[0], 2)).toEqual([
      { vcpu: 2, va: 0x400000, kind: 0, size: 3 },
      { vcpu: 2, va: 0x1000, kind: 1, size: 8 },
      { vcpu: 2, va: 0x2000, kind: 2, size: 4 },
      { vcpu: 2, va: 0x3ffc, kind: 1, size: 8 },
      { vcpu: 2, va: 0x3ffc, kind: 2, size: 8 },
    ]);
  });

  it("totals count the requests", () => {
    expect(parseLackey(" M 1,1\n M 2,2\n L 3,3\n").totals).toMatchObject({ records: 3, requests: 5, byKind: [0, 1, 0, 2] });
  });
});

describe("a byte-order mark", () => {
  const body = "I  0401ab70,3\n L 1fff000778,8\n";
  const BOM = Uint8Array.of(0xef, 0xbb, 0xbf);
  const withBom = (rest: Uint8Array): Uint8Array => {
    const b = new Uint8Array(BOM.length + rest.length);
    b.set(BOM);
    b.set(rest, BOM.length);
    return b;
  };

  it("before the first line is dropped, in pieces of any size: the first record is kept", () => {
    const plain = parseLackey(body);
    expect(plain.totals.records).toBe(2);
    for (const pieces of [[], [1], [2], [3], [4], [1, 5]]) {
      const r = parsePieces(withBom(enc(body)), pieces);
      expect(r.records).toEqual(plain.records);
      expect(r.totals).toEqual(plain.totals);
    }
  });

  it("only at the start: a mark later in the input, or bytes that only begin like one, are the line's", () => {
    // (an ignored line: its first byte is no record kind)
    const later = parsePieces(enc("I  0401ab70,3\n\ufeffL 1fff000778,8\n"), [1]);
    expect(later.totals).toMatchObject({ lines: 2, records: 1, ignored: 1 });
    for (const start of [BOM.subarray(0, 1), BOM.subarray(0, 2)]) {
      const rest = enc("x\n" + body);
      const b = new Uint8Array(start.length + rest.length);
      b.set(start);
      b.set(rest, start.length);
      for (const pieces of [[], [1]]) expect(parsePieces(b, pieces).totals).toMatchObject({ lines: 3, records: 2, ignored: 1 });
      // the input is the mark's start and nothing more: one ignored line
      expect(parsePieces(start, [1]).totals).toMatchObject({ lines: 1, records: 0, ignored: 1 });
    }
    expect(parsePieces(BOM, [1]).totals).toMatchObject({ lines: 0, records: 0, ignored: 0 });
  });
});

describe("buffer and chunk boundaries", () => {
  // every accepted, ignored and (skipped) malformed form, mixed
  const text =
    [
      "==4967== Lackey",
      "I  0401ab70,3",
      " L 1fff000778,8",
      " S 1fff000770,8",
      " M 00406ffc,8",
      "L ffffffffff600000,8",
      "\t\tS\t\tABCDEF,16\t  ",
      "I 0000000000000000000000401000,1",
      "L 400000,4\r",
      "SB 401000",
      "I",
      "I\r",
      "",
      "L 400000,0",
      "L 0001000000000000,4",
      "L 400000,4 x",
      "I ",
      "L 7fffffffffff,4294967295",
    ].join("\n") + "\n";
  const bytes = enc(text.repeat(20));
  const whole = parsePieces(bytes, [], { skipBadLines: true });

  it("the reference reading agrees", () => {
    const ref = refParse(text.repeat(20));
    expect(whole.records).toEqual(ref.records);
    expect(whole.totals.lines).toBe(ref.lines);
    expect(whole.totals.ignored).toBe(ref.ignored);
    expect(whole.totals.skipped).toBe(ref.malformedLines.length);
  });

  for (const pieces of [[1], [2], [3], [5], [7], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], [31], [33], [64]]) {
    it(`pieces of ${pieces.join(",")} bytes give the same records and totals`, () => {
      const r = parsePieces(bytes, pieces, { skipBadLines: true });
      expect(r.records).toEqual(whole.records);
      expect(r.totals).toEqual(whole.totals);
    });
  }

  it("chunks hold at most chunkRecords records, in order", () => {
    const r = parsePieces(bytes, [13], { skipBadLines: true, chunkRecords: 7 });
    expect(r.records).toEqual(whole.records);
    const counts = r.chunks.map((c) => c.count);
    expect(counts.slice(0, -1).every((c) => c === 7)).toBe(true);
    expect(counts[counts.length - 1]).toBeGreaterThan(0);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(whole.records.length);
  });

  it("a synthetic trace reads the same in any pieces", () => {
    const syn = syntheticLackey(20_000, 7);
    const a = parsePieces(syn, []);
    const b = parsePieces(syn, [1, 5, 17, 4093]);
    expect(b.records).toEqual(a.records);
    expect(a.totals).toMatchObject({ lines: 20_000, ignored: 20, records: 19_980 });
    expect(a.records).toEqual(refParse(new TextDecoder().decode(syn)).records);
  });
});
