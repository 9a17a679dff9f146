/**
 * Plain-text tables for the terminal.
 *
 * @example
 * formatTable(["name", "value"], [["walks", "12"]], ["l", "r"]);
 */
export function formatTable(header: string[], rows: string[][], align: ("l" | "r")[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => ((align[i] ?? "l") === "r" ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Formats an integer with thin grouping (1 234 567) for readability. */
export function groupDigits(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
