// CSV (RFC 4180): quoting, line breaks, round trips through the parser.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csvField, csvFromObjects, parseCsv, toCsv } from "../../src/report/csv.js";

describe("toCsv", () => {
  it("quotes only the fields that need it and ends rows with CRLF", () => {
    expect(
      toCsv(
        ["policy", "workload", "miss rate"],
        [
          ["ucat", "ycsb-a", 0.0123],
          ["osv", 'a "b", c', null],
          ["multi\nline", "cr\rhere", undefined],
          [" spaced ", "", 12n],
          [true, false, -0.5],
        ],
      ),
    ).toBe(
      "policy,workload,miss rate\r\n" +
        "ucat,ycsb-a,0.0123\r\n" +
        'osv,"a ""b"", c",\r\n' +
        '"multi\nline","cr\rhere",\r\n' +
        " spaced ,,12\r\n" +
        "true,false,-0.5\r\n",
    );
  });

  it("writes numbers in their shortest round-trip form", () => {
    expect([0.1 + 0.2, 1e21, 2 ** 53, -0, NaN, Infinity].map((x) => csvField(x))).toEqual([
      "0.30000000000000004",
      "1e+21",
      "9007199254740992",
      "0",
      "NaN",
      "Infinity",
    ]);
  });

  it("takes LF line breaks and other separators", () => {
    expect(toCsv(["a", "b"], [["x;y", "z"]], { eol: "\n", separator: ";" })).toBe('a;b\n"x;y";z\n');
    expect(toCsv(["a"], [["x,y"]], { separator: "\t" })).toBe("a\r\nx,y\r\n");
  });

  it("names a row with the wrong number of cells", () => {
    expect(() => toCsv(["a", "b"], [["1", "2"], ["3"]])).toThrow("row 1: 1 cells, but the header has 2 columns");
  });

  it("makes a table from records", () => {
    expect(csvFromObjects([{ policy: "ucat", walks: 12 }, { policy: "osv", walks: 40 }])).toBe(
      "policy,walks\r\nucat,12\r\nosv,40\r\n",
    );
    expect(csvFromObjects([{ a: 1, b: 2 }], ["b"])).toBe("b\r\n2\r\n");
    expect(csvFromObjects([])).toBe("\r\n");
  });
});

describe("parseCsv", () => {
  it("reads quoted fields, doubled quotes, both line breaks and a missing final break", () => {
    expect(parseCsv('a,b\r\n1,"x, ""y"""\n"multi\r\nline",\r\nlast,row')).toEqual([
      ["a", "b"],
      ["1", 'x, "y"'],
      ["multi\r\nline", ""],
      ["last", "row"],
    ]);
  });

  it("names the line of malformed input", () => {
    expect(() => parseCsv('a,b\nx"y,z\n')).toThrow("CSV line 2: a quote inside an unquoted field");
    expect(() => parseCsv('a\n"x"y\n')).toThrow("CSV line 2: text after a closing quote");
    expect(() => parseCsv('a\n"open\n')).toThrow("CSV line 3: unclosed quoted field");
  });

  it("round-trips any table of strings", () => {
    const cell = fc.string({ unit: fc.constantFrom("a", "b", " ", ",", '"', "\r", "\n", "é", "\t", ";"), maxLength: 6 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((w) =>
          fc.tuple(fc.array(cell, { minLength: w, maxLength: w }), fc.array(fc.array(cell, { minLength: w, maxLength: w }), { maxLength: 5 })),
        ),
        fc.constantFrom(",", ";", "\t"),
        fc.constantFrom("\r\n", "\n"),
        ([header, rows], separator, eol) => {
          const text = toCsv(header, rows, { separator: separator as ",", eol: eol as "\n" });
          // a table whose only column is empty writes empty lines; they read back as [""]
          expect(parseCsv(text, separator)).toEqual([header, ...rows]);
        },
      ),
      { numRuns: 500, seed: 42 },
    );
  });
});
