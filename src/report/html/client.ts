/**
 * The parts of the HTML report that run or style in the browser: the stylesheet and the
 * script that draws the charts with Chart.js. Plain strings, so nothing here depends on
 * how the TypeScript is compiled or bundled. See `../html.ts`.
 */

/** Series colours: Tableau 10, distinguishable and print-safe. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
] as const;

export const STYLE = `
:root { color-scheme: light; --fg: #1d2329; --muted: #5b6670; --line: #d8dee4; --head: #f3f5f7; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { margin: 0 0 4px; font-size: 28px; line-height: 1.2; }
header .subtitle { margin: 0 0 12px; color: var(--muted); font-size: 16px; }
nav.toc { margin: 8px 0 16px; padding: 8px 14px; background: var(--head); border-radius: 6px; font-size: 14px; }
nav.toc ol { margin: 4px 0; padding-left: 22px; }
nav.toc a { color: var(--accent); text-decoration: none; }
section { margin-top: 28px; padding-top: 4px; border-top: 1px solid var(--line); }
section h2 { font-size: 20px; margin: 12px 0 8px; }
section p { margin: 6px 0 10px; max-width: 80ch; }
figure.chart { margin: 12px 0 18px; }
figure.chart figcaption { font-weight: 600; font-size: 14px; margin-bottom: 4px; }
.chart-box { position: relative; width: 100%; }
.chart-box canvas { display: block; }
details.chart-data { margin-top: 4px; font-size: 13px; color: var(--muted); }
details.chart-data summary { cursor: pointer; }
.table-wrap { overflow-x: auto; margin: 10px 0 16px; }
table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: var(--head); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
a.csv { font-size: 12px; color: var(--accent); margin-left: 8px; font-weight: normal; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
#report-errors { color: #b00020; font-weight: 600; }
@media print { main { max-width: none; padding: 0; } section { break-inside: avoid; } details.chart-data { display: none; } }
`;

/**
 * Draws every chart described in the JSON block `#unimmu-charts` ([{ id, kind, labels,
 * series: [{ name, values }], yLabel, xLabel, logY, xScale, horizontal }]) with the global
 * `Chart`. Errors are shown at the top of the page; when done, `data-charts` on <body> is
 * "ready" (or "error").
 */
export const CLIENT = `
(function () {
  "use strict";
  var palette = ${JSON.stringify(PALETTE)};
  var body = document.body;
  function showError(msg) {
    var box = document.getElementById("report-errors");
    if (box) { var p = document.createElement("p"); p.textContent = msg; box.appendChild(p); }
    body.setAttribute("data-charts", "error");
  }
  window.addEventListener("error", function (e) { showError("Error: " + (e && e.message)); });
  var specs;
  try {
    specs = JSON.parse(document.getElementById("unimmu-charts").textContent || "[]");
  } catch (e) { showError("Cannot read the chart data: " + e); return; }
  if (typeof Chart === "undefined") { if (specs.length) showError("Chart.js did not load: the charts are missing (their data is in the tables under them)."); return; }
  Chart.defaults.font.family = getComputedStyle(body).fontFamily;
  Chart.defaults.color = "#1d2329";
  var fmt = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 4 });
  function tick(v) { return typeof v === "number" ? fmt.format(v) : v; }
  var drawn = 0;
  specs.forEach(function (s) {
    try {
      var canvas = document.getElementById(s.id);
      var line = s.kind === "line";
      var numericX = line && (s.xScale === "linear" || s.xScale === "log");
      var datasets = s.series.map(function (ser, i) {
        var c = palette[i % palette.length];
        var data = numericX ? ser.values.map(function (v, j) { return { x: s.labels[j], y: v }; }) : ser.values;
        return line
          ? { label: ser.name, data: data, borderColor: c, backgroundColor: c, pointRadius: 3, borderWidth: 2, tension: 0, spanGaps: false }
          : { label: ser.name, data: data, backgroundColor: c, borderColor: c, borderWidth: 0 };
      });
      var valueAxis = s.horizontal ? "x" : "y";
      var catAxis = s.horizontal ? "y" : "x";
      var scales = {};
      scales[valueAxis] = {
        type: s.logY ? "logarithmic" : "linear",
        beginAtZero: !s.logY,
        stacked: s.kind === "stacked",
        title: { display: !!s.yLabel, text: s.yLabel || "" },
        ticks: { callback: function (v) { return tick(v); } }
      };
      scales[catAxis] = {
        type: numericX ? (s.xScale === "log" ? "logarithmic" : "linear") : "category",
        stacked: s.kind === "stacked",
        title: { display: !!s.xLabel, text: s.xLabel || "" }
      };
      if (numericX) {
        // ticks at the labels only (a sweep's points), and no padding past them
        var xs = s.labels.slice().sort(function (a, b) { return a - b; });
        scales[catAxis].min = xs[0];
        scales[catAxis].max = xs[xs.length - 1];
        scales[catAxis].afterBuildTicks = function (axis) { axis.ticks = xs.map(function (v) { return { value: v }; }); };
        scales[catAxis].ticks = { autoSkip: true, callback: function (v) { return tick(v); } };
      }
      new Chart(canvas, {
        type: line ? "line" : "bar",
        data: { labels: numericX ? undefined : s.labels, datasets: datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          indexAxis: s.horizontal ? "y" : "x",
          layout: { padding: { right: line ? 12 : 0 } }, // the last point is not cut in half
          interaction: { mode: line ? "nearest" : "index", intersect: false },
          scales: scales,
          plugins: {
            legend: { display: s.series.length > 1 || !!s.series[0].name, position: "top" },
            tooltip: { callbacks: { label: function (ctx) {
              var v = s.horizontal ? ctx.parsed.x : ctx.parsed.y;
              return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + (v === null || v === undefined ? "n/a" : tick(v));
            } } }
          }
        }
      });
      drawn++;
    } catch (e) { showError("Chart " + s.id + ": " + e); }
  });
  if (body.getAttribute("data-charts") !== "error") body.setAttribute("data-charts", "ready");
  body.setAttribute("data-charts-drawn", String(drawn));
})();
`;
