/**
 * A self-contained HTML report: one file that opens anywhere with no network access
 * (Chart.js, the stylesheet, the data and the drawing script are all inlined, and a
 * Content-Security-Policy forbids fetching anything). A title, an optional subtitle,
 * then sections, each with text, charts and tables, in that order.
 *
 * Charts (Chart.js, read from node_modules when the report is made; Node only):
 * - `bar`: grouped bars, one group per label, one bar per series (e.g. TLB miss rate
 *   per policy, grouped by workload),
 * - `stacked`: stacked bars (memory by tier per VM, cost breakdowns),
 * - `line`: one line per series over the labels (sweep curves); `xScale: "linear"` or
 *   `"log"` places numeric labels by value.
 * A `null` value is a gap. Under each chart a collapsed table holds its numbers, so the
 * data is readable without JavaScript. Tables get a "CSV" link (a data: URI).
 *
 * All text is escaped; the output depends only on the input (no timestamp unless given),
 * so the same results make byte-identical reports.
 *
 * @example
 * import { writeFileSync } from "node:fs";
 * writeFileSync("report.html", htmlReport({
 *   title: "UCat vs OSv",
 *   subtitle: "memslap and YCSB A-F, 4 VMs, seed 1",
 *   sections: [{
 *     title: "TLB misses",
 *     text: "Misses per 1000 accesses; lower is better.",
 *     chart: { kind: "bar", labels: ["memslap", "ycsb-a"], yLabel: "misses / 1k",
 *       series: [{ name: "osv", values: [12.1, 9.4] }, { name: "ucat", values: [3.2, 2.8] }] },
 *     table: { header: ["workload", "osv", "ucat"], rows: [["memslap", 12.1, 3.2], ["ycsb-a", 9.4, 2.8]] },
 *   }],
 * }));
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { toCsv, type CsvCell } from "./csv.js";
import { CLIENT, STYLE } from "./html/client.js";

/** A chart. `series[i].values` has one value per label. */
export interface ChartSpec {
  kind: "bar" | "stacked" | "line";
  /** Shown above the chart. */
  title?: string;
  /** Categories (bars) or x values (lines). */
  labels: (string | number)[];
  series: { name: string; values: (number | null)[] }[];
  yLabel?: string;
  xLabel?: string;
  /** Logarithmic value axis. */
  logY?: boolean;
  /** Line charts: how labels are placed on x (default "category": evenly). */
  xScale?: "category" | "linear" | "log";
  /** Bars along y, labels down the side (long labels). */
  horizontal?: boolean;
  /** Height in CSS pixels (default 320). */
  height?: number;
}

/** A table. Numbers are shown with digit grouping and right-aligned; null is empty. */
export interface TableSpec {
  header: string[];
  rows: CsvCell[][];
  caption?: string;
  /** Name of the CSV file the table's link saves (default from the section title). */
  csvName?: string;
}

export interface ReportSection {
  title: string;
  /** Paragraphs (a string is one paragraph; blank lines also split it). */
  text?: string | string[];
  chart?: ChartSpec;
  charts?: ChartSpec[];
  table?: TableSpec;
  tables?: TableSpec[];
}

export interface HtmlReportOptions {
  title: string;
  subtitle?: string;
  sections: ReportSection[];
  /** Text at the bottom (e.g. the command, the version, a date). */
  footer?: string;
  /** Table of contents (default: when there are more than 3 sections). */
  toc?: boolean;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that is safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

let library: { version: string; js: string } | undefined;

/**
 * Chart.js's minified browser build and version, read once from node_modules.
 *
 * @example
 * chartLibrary().version; // "4.6.1"
 */
export function chartLibrary(): { version: string; js: string } {
  if (!library) {
    const require = createRequire(import.meta.url);
    let main: string;
    try {
      main = require.resolve("chart.js"); // .../chart.js/dist/chart.cjs
    } catch {
      throw new Error("htmlReport: the npm package chart.js is not installed (npm install)");
    }
    const js = readFileSync(join(dirname(main), "chart.umd.min.js"), "utf8");
    const version = /Chart\.js v(\d+\.\d+\.\d+)/.exec(js)?.[1] ?? "unknown";
    // The library is inlined in a <script>: it must not close it or open a comment.
    if (/<\/script|<!--/i.test(js)) throw new Error("htmlReport: chart.umd.min.js cannot be inlined safely");
    library = { version, js };
  }
  return library;
}

const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 });

/** A table cell's text: numbers grouped (1,234,567; 0.123; 1.23e-7), null empty. */
function cellText(v: CsvCell): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (v !== 0 && Math.abs(v) < 0.001) return v.toPrecision(3);
    return numberFormat.format(v);
  }
  return String(v);
}

const isNumeric = (v: CsvCell): boolean => typeof v === "number" || typeof v === "bigint";

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "table"
  );
}

function tableHtml(t: TableSpec, where: string, defaultName: string): string {
  t.rows.forEach((r, i) => {
    if (r.length !== t.header.length) {
      throw new RangeError(`${where}: row ${i} has ${r.length} cells, but the header has ${t.header.length} columns`);
    }
  });
  // a column is numeric if all its non-empty cells are numbers
  const numeric = t.header.map((_, c) => {
    const cells = t.rows.map((r) => r[c]).filter((v) => v !== null && v !== undefined && v !== "");
    return cells.length > 0 && cells.every(isNumeric);
  });
  const csv = toCsv(t.header, t.rows);
  const name = `${slug(t.csvName ?? defaultName)}.csv`;
  const href = "data:text/csv;charset=utf-8," + encodeURIComponent(csv);
  const cls = (c: number): string => (numeric[c] ? ' class="num"' : "");
  const head = t.header.map((h, c) => `<th${cls(c)}>${escapeHtml(h)}</th>`).join("");
  const body = t.rows
    .map((r) => `<tr>${r.map((v, c) => `<td${cls(c)}>${escapeHtml(cellText(v))}</td>`).join("")}</tr>`)
    .join("\n");
  const caption = `<caption>${t.caption ? escapeHtml(t.caption) : ""}<a class="csv" download="${escapeHtml(name)}" href="${escapeHtml(href)}">CSV</a></caption>`;
  return `<div class="table-wrap"><table>${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

function checkChart(c: ChartSpec, where: string): void {
  if (!["bar", "stacked", "line"].includes(c.kind)) {
    throw new RangeError(`${where}: kind ${JSON.stringify(c.kind)} is not one of "bar", "stacked", "line"`);
  }
  if (c.series.length === 0) throw new RangeError(`${where}: no series`);
  c.series.forEach((s, i) => {
    if (s.values.length !== c.labels.length) {
      throw new RangeError(
        `${where}: series ${i} (${JSON.stringify(s.name)}) has ${s.values.length} values, but there are ${c.labels.length} labels`,
      );
    }
    s.values.forEach((v, j) => {
      if (v !== null && !Number.isFinite(v)) {
        throw new RangeError(`${where}: series ${i} (${JSON.stringify(s.name)}) value ${j} is ${v}, not a finite number or null`);
      }
    });
  });
  if (c.xScale && c.xScale !== "category") {
    if (c.kind !== "line") throw new RangeError(`${where}: xScale ${c.xScale} is only for line charts`);
    if (!c.labels.every((l) => typeof l === "number" && (c.xScale !== "log" || l > 0))) {
      throw new RangeError(`${where}: xScale ${c.xScale} needs ${c.xScale === "log" ? "positive " : ""}numeric labels`);
    }
  }
  if (c.height !== undefined && !(c.height >= 100 && c.height <= 2000)) {
    throw new RangeError(`${where}: height ${c.height} is not in 100..2000`);
  }
}

/**
 * The report as one HTML document (a string). Throws a `RangeError` naming the section,
 * chart or table of malformed input (values per label, row widths, unknown kinds).
 */
export function htmlReport(opts: HtmlReportOptions): string {
  const lib = chartLibrary();
  const specs: (ChartSpec & { id: string })[] = [];
  const parts: string[] = [];
  const toc = opts.toc ?? opts.sections.length > 3;

  opts.sections.forEach((sec, si) => {
    const where = `section ${si} (${JSON.stringify(sec.title)})`;
    const out: string[] = [`<section id="s${si + 1}">`, `<h2>${escapeHtml(sec.title)}</h2>`];
    const paras = sec.text === undefined ? [] : (Array.isArray(sec.text) ? sec.text : [sec.text]).flatMap((t) => t.split(/\n\s*\n/));
    for (const p of paras) if (p.trim()) out.push(`<p>${escapeHtml(p.trim())}</p>`);

    const charts = [...(sec.chart ? [sec.chart] : []), ...(sec.charts ?? [])];
    charts.forEach((c, ci) => {
      const cwhere = `${where}, chart ${ci}`;
      checkChart(c, cwhere);
      const id = `chart-${si + 1}-${ci + 1}`;
      specs.push({ ...c, id });
      const label = c.title ?? sec.title;
      const data = tableHtml(
        {
          header: [c.xLabel ?? "label", ...c.series.map((s, i) => s.name || `series ${i + 1}`)],
          rows: c.labels.map((l, j) => [l, ...c.series.map((s) => s.values[j])]),
          csvName: `${sec.title} ${c.title ?? `chart ${ci + 1}`}`,
        },
        cwhere,
        sec.title,
      );
      out.push(
        `<figure class="chart">` +
          (c.title ? `<figcaption>${escapeHtml(c.title)}</figcaption>` : "") +
          `<div class="chart-box" style="height:${c.height ?? 320}px"><canvas id="${id}" role="img" aria-label="${escapeHtml(label)}"></canvas></div>` +
          `<details class="chart-data"><summary>data</summary>${data}</details></figure>`,
      );
    });

    const tables = [...(sec.table ? [sec.table] : []), ...(sec.tables ?? [])];
    tables.forEach((t, ti) => out.push(tableHtml(t, `${where}, table ${ti}`, tables.length > 1 ? `${sec.title} ${ti + 1}` : sec.title)));
    out.push("</section>");
    parts.push(out.join("\n"));
  });

  const nav = toc
    ? `<nav class="toc"><strong>Contents</strong><ol>${opts.sections
        .map((s, i) => `<li><a href="#s${i + 1}">${escapeHtml(s.title)}</a></li>`)
        .join("")}</ol></nav>`
    : "";
  const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:";
  const footer = [opts.footer ? escapeHtml(opts.footer) : "", `Charts: Chart.js ${escapeHtml(lib.version)} (MIT), inlined.`]
    .filter(Boolean)
    .join(" · ");

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="generator" content="unimmu">
<title>${escapeHtml(opts.title)}</title>
<style>${STYLE}</style>
</head>
<body data-charts="pending">
<main>
<header><h1>${escapeHtml(opts.title)}</h1>${opts.subtitle ? `<p class="subtitle">${escapeHtml(opts.subtitle)}</p>` : ""}</header>
<div id="report-errors"></div>
${nav}
${parts.join("\n")}
<footer>${footer}</footer>
</main>
<script type="application/json" id="unimmu-charts">${scriptJson(specs)}</script>
<script>
${lib.js}
</script>
<script>${CLIENT}</script>
</body>
</html>
`;
}
