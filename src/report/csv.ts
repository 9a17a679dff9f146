/**
 * CSV for result tables (RFC 4180): a header row, then one row per record; fields that
 * hold a comma, a double quote, a carriage return or a line feed are enclosed in double
 * quotes, with each inner double quote doubled; rows end with CRLF (the RFC's line break;
 * `eol: "\n"` for LF). Also a parser of the same grammar, for round trips and tests.
 *
 * Cells: strings as they are; numbers as JavaScript prints them (shortest round-trip
 * form: `0.1`, `1e+21`, `NaN`, `Infinity`); bigints and booleans as text; null and
 * undefined as an empty field.
 *
 * @example
 * toCsv(["policy", "workload", "tlb miss rate"], [["ucat", "ycsb-a", 0.0123], ["osv", 'a "b", c', null]]);
 * // 'policy,workload,tlb miss rate\r\nucat,ycsb-a,0.0123\r\nosv,"a ""b"", c",\r\n'
 */

/** A value of a CSV field. */
export type CsvCell = string | number | bigint | boolean | null | undefined;

export interface CsvOptions {
  /** Line break after every row (default "\r\n", as RFC 4180 says). */
  eol?: "\r\n" | "\n";
  /** Field separator (default ","). */
  separator?: "," | ";" | "\t";
}

/** One field, quoted if it must be. */
export function csvField(v: CsvCell, separator = ","): string {
  if (v === null || v === undefined) return "";
  const s = typeof v === "string" ? v : String(v);
  if (s.includes(separator) || s.includes('"') || s.includes("\n") || s.includes("\r")) {
    return '"' + s.replace(/"/g, '""') + '"';
  }
  return s;
}

/** One row, without its line break. */
export function csvRow(cells: readonly CsvCell[], separator = ","): string {
  return cells.map((c) => csvField(c, separator)).join(separator);
}

/**
 * A whole table: the header, then the rows, each row ending with `eol`. Every row must
 * have as many cells as the header (an error names the row otherwise).
 *
 * @example
 * writeFileSync("results.csv", toCsv(["vm", "dram bytes"], vms.map((v) => [v.name, v.dram])));
 */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[], opts: CsvOptions = {}): string {
  const eol = opts.eol ?? "\r\n";
  const sep = opts.separator ?? ",";
  const out: string[] = [csvRow(header, sep) + eol];
  rows.forEach((r, i) => {
    if (r.length !== header.length) {
      throw new RangeError(`row ${i}: ${r.length} cells, but the header has ${header.length} columns`);
    }
    out.push(csvRow(r, sep) + eol);
  });
  return out.join("");
}

/**
 * A table from records: one column per key of `columns` (default: the keys of the first
 * record, in order), each cell `record[key]`.
 *
 * @example
 * csvFromObjects([{ policy: "ucat", walks: 12 }, { policy: "osv", walks: 40 }]);
 * // "policy,walks\r\nucat,12\r\nosv,40\r\n"
 */
export function csvFromObjects(
  records: readonly Record<string, CsvCell>[],
  columns: readonly string[] = records.length > 0 ? Object.keys(records[0]) : [],
  opts: CsvOptions = {},
): string {
  return toCsv(
    columns,
    records.map((r) => columns.map((c) => r[c])),
    opts,
  );
}

/**
 * Parses CSV text (RFC 4180, either line break, a final line break optional) into rows
 * of strings. A quote inside an unquoted field, text after a closing quote, or an
 * unclosed quote is an error naming the line.
 *
 * @example
 * parseCsv('a,b\r\n1,"x, ""y"""\r\n'); // [["a", "b"], ["1", 'x, "y"']]
 */
export function parseCsv(text: string, separator = ","): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let line = 1;
  const n = text.length;
  let atFieldStart = true;
  while (i < n) {
    const c = text[i];
    if (atFieldStart && c === '"') {
      // a quoted field
      i++;
      for (;;) {
        if (i >= n) throw new SyntaxError(`CSV line ${line}: unclosed quoted field`);
        const d = text[i];
        if (d === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (d === "\n") line++;
        field += d;
        i++;
      }
      if (i < n && text[i] !== separator && text[i] !== "\r" && text[i] !== "\n") {
        throw new SyntaxError(`CSV line ${line}: text after a closing quote`);
      }
      atFieldStart = false;
      continue;
    }
    if (c === separator) {
      row.push(field);
      field = "";
      atFieldStart = true;
      i++;
    } else if (c === "\r" || c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      atFieldStart = true;
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
    } else {
      if (c === '"') throw new SyntaxError(`CSV line ${line}: a quote inside an unquoted field`);
      field += c;
      atFieldStart = false;
      i++;
    }
  }
  if (!atFieldStart || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
