/**
 * docs/parameters.md, generated from the sourced presets so that the document and the
 * numbers cannot drift apart (tests/cost/docs.test.ts compares them; regenerate with
 * `UPDATE_DOCS=1 npx vitest run tests/cost/docs.test.ts`).
 */

import { REFERENCE_POINTS_SOURCED } from "./calibration.js";
import { CPU_NAMES, CPU_PRESETS_SOURCED } from "./cpus.js";
import { REFS } from "./refs.js";
import { limitText, PRESET_LIMITS as L } from "./schema.js";
import { leaves, type Leaf } from "./sourced.js";
import { TIER_NAMES, TIER_PRESETS_SOURCED } from "./tiers.js";

export function unitOf(path: string): string {
  const last = path.slice(path.lastIndexOf(".") + 1);
  if (last === "frequencyHz") return "Hz";
  if (last === "entries") return "entries";
  if (last === "ways") return "ways";
  if (last === "pageWalkers") return "walks in flight";
  if (path.startsWith("latency.") || path.startsWith("costs.") || last.endsWith("Cycles")) return "cycles";
  if (last.endsWith("Ns")) return "ns";
  if (last.endsWith("BytesPerSec")) return "bytes/s";
  if (last.endsWith("Bytes")) return "bytes";
  return "";
}

function num(v: number): string {
  if (!Number.isInteger(v)) return String(v);
  return String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Replaces each full citation by its key, e.g. `[intelOpt]`; the References section lists them in full. */
function abbreviate(s: string): string {
  const byLength = Object.entries(REFS).sort((a, b) => b[1].length - a[1].length);
  let out = s;
  for (const [key, text] of byLength) out = out.split(text).join(`[${key}]`);
  return out;
}

function cell(s: string): string {
  return abbreviate(s).replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function table(rows: Leaf[]): string {
  const lines = ["| parameter | value | unit | source | note |", "|---|---:|---|---|---|"];
  for (const r of rows) {
    const source = r.guess ? `**guess**: ${r.source}` : r.source;
    lines.push(`| \`${r.path}\` | ${num(r.value)} | ${unitOf(r.path)} | ${cell(source)} | ${cell(r.note ?? "")} |`);
  }
  return lines.join("\n");
}

function guessList(prefix: string, rows: Leaf[]): string[] {
  return rows.filter((r) => r.guess).map((r) => `- \`${prefix}.${r.path}\` = ${num(r.value)} ${unitOf(r.path)}: ${abbreviate(r.source)}`);
}

const APPROXIMATIONS = [
  "**TLB structures are split by page size** (`TlbGeometry`: itlb4k, itlb2m, dtlb4k, dtlb2m, dtlb1g, stlb for 4 KiB + 2 MiB, stlb1g). Where the hardware differs, the presets approximate:",
  "  - **Zen 4** has one 72-entry fully associative L1 DTLB (and one 64-entry L1 ITLB) for all page sizes. The preset gives each size its own 72-entry (64-entry) fully associative copy: exact for a workload that uses one page size (the `4k` and `2m` policies), up to three times the real reach when sizes mix. Zen 4's 512-entry L2 ITLB is not modelled; instruction fetches that miss the L1 ITLB go to the unified `stlb`, which on AMD serves data only. The L2 DTLB is one 3072-entry 8-way array here (the hardware reports 8 ways for 4 KiB and 6 for 2 MiB).",
  "  - **Ice Lake and Golden Cove** enumerate two 1024-entry 8-way L2 TLBs (CPUID leaf 18H): one for 4K/2M/4M and one for 4K/1G. The presets use one 2048-entry 16-way `stlb` (exact for 4 KiB pages, which both arrays hold in 128 sets; twice the real 1024 for 2 MiB) and a 1024-entry 8-way `stlb1g` whose sharing with 4 KiB entries is not modelled. Secondary sources (REFERENCE.md, Hennessy & Patterson) describe Golden Cove's STLB the same way, as 2048 entries, 16-way.",
  "  - The separate store DTLBs of Ice Lake and Golden Cove (16 entries, fully associative, all sizes) are not modelled; `dtlb*` are the load DTLBs.",
  "  - Golden Cove's L1 DTLB is 96 entries, 6-way per Intel and Hennessy & Patterson, although CPUID leaf 18H on Alder Lake and Sapphire Rapids still enumerates 64 entries, 4-way.",
  "**Page-walk caches**: a walk first probes the paging-structure caches (`latency.pscLookup` extra cycles, 0 in every preset); a hit in `pd`, `pdpt` or `pml4` skips the guest references above the cached level (semantics in docs/core.md sec. 3). Each remaining reference, guest or EPT, costs `walkRefL1d`, `walkRefL2` or `walkRefLlc` by where its line is found, or the tier's latency when it misses the caches. A 4-level guest over a 4-level EPT walk without hits is 24 references (REFERENCE.md sec. 5).",
  "**Paging-structure caches** are unpublished for every vendor; all presets use Virtuoso's 3 x 32 entries, 4-way. Zen 4 caches page-directory entries in its L2 TLB instead; the same PSC model stands in for it. The **nested TLB** is a guess everywhere.",
  "**Page copy and zeroing** costs are derived from an assumed single-core DRAM bandwidth (given in each source string) and the preset's frequency. They are stored numbers: overriding `frequencyHz` does not recompute them.",
  "**Tier latencies** are in ns and independent of the CPU; a walk reference or data access that misses the LLC costs `nsToCycles(tier.loadRandomNs, cpu.frequencyHz)` cycles.",
];

export function parametersMarkdown(): string {
  const out: string[] = [];
  out.push("# Cost-model parameters");
  out.push("");
  out.push(
    "Every number of the named presets in `src/cost/` with its unit, its source and a note. A number marked **guess** has no published source; its source column gives the one-line reason for the estimate, and all guesses are listed again at the end. Sources are abbreviated as \`[key]\`; the full citations with URLs are under References at the end. This file is generated from the presets by `parametersMarkdown()` in `src/cost/doc.ts`; `tests/cost/docs.test.ts` fails when the two disagree. Regenerate with `UPDATE_DOCS=1 npx vitest run tests/cost/docs.test.ts`.",
  );
  out.push("");
  out.push(
    "Scenario files name a preset (`\"cpu\": \"skylake\"`) or override any field on top of one (`\"cpu\": { \"base\": \"skylake\", \"tlb\": { \"stlb\": { \"entries\": 2048, \"ways\": 16 } } }`); see `resolveCpu` and `resolveTier` in `src/cost/schema.ts`. " +
      `Overrides are checked field by field; the fields the cycle model multiplies have upper bounds far beyond any real part, so that costs stay finite (sanity limits, not defaults: \`PRESET_LIMITS\`): tier latencies up to ${limitText(L.ns)}, CPU latencies and costs up to ${limitText(L.cycles)}, \`frequencyHz\` up to ${limitText(L.hz)}, bandwidths up to ${limitText(L.bytesPerSec)}.` +
      " A structure of 0 entries is absent (a TLB, a page-walk cache, the nested TLB), except the line cache: a scenario without one says `\"lineCache\": \"off\"`, and 0 line-cache entries with `all` or `walks` are refused. Geometries are checked with the core's rules before anything runs: entries up to 2^20, ways up to 64 dividing the entries, sets (entries / ways) a power of two.",
  );
  out.push("");
  out.push("## How the presets approximate the hardware");
  out.push("");
  for (const a of APPROXIMATIONS) out.push(a.startsWith("  ") ? a : `- ${a}`);
  out.push("");

  const guesses: string[] = [];

  out.push("## CPU presets");
  out.push("");
  for (const name of CPU_NAMES) {
    const p = CPU_PRESETS_SOURCED[name];
    const rows = leaves(p);
    out.push(`### \`${name}\`: ${p.label}`);
    out.push("");
    out.push(table(rows));
    out.push("");
    guesses.push(...guessList(name, rows));
  }

  out.push("## Tier presets");
  out.push("");
  for (const name of TIER_NAMES) {
    const p = TIER_PRESETS_SOURCED[name];
    const rows = leaves(p);
    out.push(`### \`${name}\` (${p.kind}): ${p.label}`);
    out.push("");
    out.push(table(rows));
    out.push("");
    guesses.push(...guessList(name, rows));
  }

  out.push("## Reference points");
  out.push("");
  out.push("Published end results to check the model against; not inputs (`REFERENCE_POINTS` in `src/cost/calibration.ts`).");
  out.push("");
  const refRows = leaves(REFERENCE_POINTS_SOURCED);
  out.push(table(refRows));
  out.push("");
  guesses.push(...guessList("reference", refRows));

  out.push("## Guesses");
  out.push("");
  out.push(`${guesses.length} numbers have no published source. Each is listed with the reason for its value.`);
  out.push("");
  out.push(...guesses);
  out.push("");

  out.push("## References");
  out.push("");
  for (const [key, text] of Object.entries(REFS)) out.push(`- \`[${key}]\` ${text}`);
  out.push("");
  return out.join("\n");
}
