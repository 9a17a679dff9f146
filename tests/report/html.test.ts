// The self-contained HTML report: escaped text, inlined Chart.js, no external URLs, the
// data present, input errors named; and a real headless Chromium drawing its charts.
import { findChromium, launchChromium, NO_CHROMIUM } from "../helpers/browser.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCsv } from "../../src/report/csv.js";
import { chartLibrary, escapeHtml, htmlReport, type HtmlReportOptions } from "../../src/report/html.js";

const workloads = ["memslap", "ycsb-a", "ycsb-b", "ycsb-c", "apache"];

function sampleReport(): HtmlReportOptions {
  return {
    title: 'UCat vs OSv <b>"bold"</b> & more',
    subtitle: "4 VMs, seed 1 </script><script>alert(1)</script>",
    footer: "unimmu run paper.json",
    sections: [
      {
        title: "TLB miss rate",
        text: "Misses per 1000 accesses.\n\nLower is <better>.",
        chart: {
          kind: "bar",
          labels: workloads,
          yLabel: "misses / 1k accesses",
          series: [
            { name: "osv", values: [12.5, 9.25, 8.125, 7.0625, 15.03125] },
            { name: "ucat", values: [3.5, 2.75, 2.5, 2.25, 5.5] },
            { name: "ucat </script>", values: [1.5, 1.75, null, 1.25, 3.5] },
          ],
        },
      },
      {
        title: "Memory by tier",
        chart: {
          kind: "stacked",
          labels: ["vm0", "vm1", "vm2"],
          yLabel: "GiB",
          series: [
            { name: "dram", values: [2, 1.5, 3] },
            { name: "nvm", values: [6, 4, 2] },
          ],
        },
        table: {
          header: ["vm", "dram bytes", "note"],
          rows: [
            ["vm0", 2147483648, 'a, "b"'],
            ["vm1", 1610612736, null],
            ["vm2", 3221225472, "<img src=x onerror=alert(1)>"],
          ],
        },
      },
      {
        title: "Sweep",
        charts: [
          {
            kind: "line",
            title: "throughput vs DRAM",
            labels: [1, 2, 4, 8, 16],
            xScale: "log",
            xLabel: "DRAM GiB",
            yLabel: "ops/s",
            series: [
              { name: "osv", values: [100000, 150000, 200000, 220000, 230000] },
              { name: "ucat", values: [160000, 220000, 260000, 270000, 275000] },
            ],
          },
          { kind: "line", title: "evenly spaced", labels: ["a", "b", "c"], series: [{ name: "", values: [1, 3, 2] }] },
        ],
      },
      { title: "Totals", table: { header: ["counter", "value"], rows: [["walks", 123456789], ["ratio", 0.0000123]] } },
    ],
  };
}

describe("htmlReport", () => {
  const html = htmlReport(sampleReport());

  it("escapes all text", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
    expect(html).toContain("<title>UCat vs OSv &#60;b&#62;&#34;bold&#34;&#60;/b&#62; &#38; more</title>");
    expect(html).toContain("<p>Lower is &#60;better&#62;.</p>");
    expect(html).not.toContain("<b>");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("alert(1)</script>");
    // the only </script> closings are the three script elements'
    expect(html.match(/<\/script>/g)).toHaveLength(3);
  });

  it("is self-contained: no external scripts, styles, images or links", () => {
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]*\s(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\s(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).toContain("default-src 'none'"); // and the CSP forbids fetching anything
  });

  it("inlines Chart.js", () => {
    const lib = chartLibrary();
    expect(lib.version).toBe("4.6.1");
    expect(lib.js.length).toBeGreaterThan(100_000);
    expect(html).toContain(lib.js);
    expect(html).toContain("Chart.js v4.6.1");
  });

  it("contains the data: the chart specs, the tables and the CSV links", () => {
    const json = /<script type="application\/json" id="unimmu-charts">([^<]*)<\/script>/.exec(html);
    expect(json).not.toBeNull();
    const specs = JSON.parse(json![1]);
    expect(specs).toHaveLength(4);
    expect(specs[0]).toMatchObject({ id: "chart-1-1", kind: "bar", labels: workloads });
    expect(specs[0].series[2]).toEqual({ name: "ucat </script>", values: [1.5, 1.75, null, 1.25, 3.5] });
    expect(specs[2]).toMatchObject({ id: "chart-3-1", kind: "line", xScale: "log" });
    for (const id of ["chart-1-1", "chart-2-1", "chart-3-1", "chart-3-2"]) expect(html).toContain(`<canvas id="${id}"`);
    // tables: numbers grouped and right-aligned, text escaped
    expect(html).toContain('<td class="num">2,147,483,648</td>');
    expect(html).toContain('<td class="num">123,456,789</td>');
    expect(html).toContain('<td class="num">0.0000123</td>');
    expect(html).toContain("<td>a, &#34;b&#34;</td>");
    // the chart data tables (for readers without JavaScript)
    expect(html).toContain('<td class="num">15.031</td>');
    // CSV links hold the raw numbers
    const href = /download="memory-by-tier\.csv" href="data:text\/csv;charset=utf-8,([^"]*)"/.exec(html);
    expect(href).not.toBeNull();
    const csv = decodeURIComponent(href![1].replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c))));
    expect(parseCsv(csv)).toEqual([
      ["vm", "dram bytes", "note"],
      ["vm0", "2147483648", 'a, "b"'],
      ["vm1", "1610612736", ""],
      ["vm2", "3221225472", "<img src=x onerror=alert(1)>"],
    ]);
    expect(html).toContain('download="memory-by-tier-chart-1.csv"');
    expect(html).toContain('download="sweep-throughput-vs-dram.csv"');
    // a table of contents for more than 3 sections
    expect(html).toContain('<a href="#s4">Totals</a>');
  });

  it("is deterministic", () => {
    expect(htmlReport(sampleReport())).toBe(html);
  });

  it("names the section, chart and series of malformed input", () => {
    const bad = (sections: HtmlReportOptions["sections"]): (() => string) => () => htmlReport({ title: "t", sections });
    expect(bad([{ title: "A", chart: { kind: "bar", labels: ["x", "y"], series: [{ name: "s", values: [1] }] } }])).toThrow(
      'section 0 ("A"), chart 0: series 0 ("s") has 1 values, but there are 2 labels',
    );
    expect(bad([{ title: "A", chart: { kind: "pie" as "bar", labels: [], series: [{ name: "s", values: [] }] } }])).toThrow(
      'section 0 ("A"), chart 0: kind "pie" is not one of "bar", "stacked", "line"',
    );
    expect(bad([{ title: "A", chart: { kind: "bar", labels: ["x"], series: [{ name: "s", values: [NaN] }] } }])).toThrow(
      "value 0 is NaN, not a finite number or null",
    );
    expect(bad([{ title: "A", chart: { kind: "line", labels: [0, 1], xScale: "log", series: [{ name: "s", values: [1, 2] }] } }])).toThrow(
      "xScale log needs positive numeric labels",
    );
    expect(bad([{ title: "A" }, { title: "B", table: { header: ["a", "b"], rows: [["1"]] } }])).toThrow(
      'section 1 ("B"), table 0: row 0 has 1 cells, but the header has 2 columns',
    );
  });
});

// ----- in a real browser -----------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), "unimmu-html-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("htmlReport in headless Chromium", () => {
  it("draws every chart without errors or network requests", async (ctx) => {
    const chromium = findChromium();
    if (!chromium) {
      ctx.skip(NO_CHROMIUM);
      return;
    }
    const file = join(work, "report.html");
    writeFileSync(file, htmlReport(sampleReport()));
    const context = await launchChromium(chromium);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(`file://${file}`);
      await page.waitForFunction(() => document.body.dataset.charts !== "pending", undefined, { timeout: 20_000 });
      const state = await page.evaluate(() => ({
        charts: document.body.dataset.charts,
        drawn: document.body.dataset.chartsDrawn,
        errorText: document.getElementById("report-errors")?.textContent ?? "",
        instances: Object.keys((window as unknown as { Chart: { instances: object } }).Chart.instances).length,
      }));
      expect(errors).toEqual([]);
      expect(state).toEqual({ charts: "ready", drawn: "4", errorText: "", instances: 4 });
      expect(requests).toEqual([`file://${file}`]);
      // each canvas has a drawing on it, in the series colours
      const pixels = await page.evaluate(() =>
        Array.from(document.querySelectorAll("canvas")).map((c) => {
          const { data } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
          let painted = 0;
          let first = 0; // pixels of the first series colour, #4e79a7
          let second = 0; // #f28e2b
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] > 0) painted++;
            const near = (r: number, g: number, b: number): boolean =>
              Math.abs(data[i] - r) < 8 && Math.abs(data[i + 1] - g) < 8 && Math.abs(data[i + 2] - b) < 8 && data[i + 3] > 200;
            if (near(0x4e, 0x79, 0xa7)) first++;
            if (near(0xf2, 0x8e, 0x2b)) second++;
          }
          return { id: c.id, w: c.width, h: c.height, painted, first, second };
        }),
      );
      expect(pixels.map((p) => p.id)).toEqual(["chart-1-1", "chart-2-1", "chart-3-1", "chart-3-2"]);
      for (const p of pixels) {
        expect(p.w, p.id).toBeGreaterThan(500);
        expect(p.h, p.id).toBeGreaterThan(200);
        expect(p.painted, p.id).toBeGreaterThan(5000);
        expect(p.first, p.id).toBeGreaterThan(200);
      }
      // the bar charts' second series (orange) is there too; the one-series line has none
      expect(pixels[0].second).toBeGreaterThan(1000);
      expect(pixels[1].second).toBeGreaterThan(1000);
      expect(pixels[3].second).toBe(0);
      await page.screenshot({ path: join(tmpdir(), "unimmu-html-report.png"), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
