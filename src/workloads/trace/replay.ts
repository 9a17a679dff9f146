/**
 * Replays a Valgrind lackey trace on the Wasm core, streaming: records go straight from
 * the parser's typed arrays into the core's request buffer (no `Request` object per
 * record), one batch per parsed chunk.
 *
 * Two models:
 * - `skylake-lru`: the conformance model of REFERENCE.md section 9 (exact counts that an
 *   independent implementation must reproduce);
 * - `default`: the full model (walk caches, nested TLB, A/D bits) on a flat VM whose
 *   guest and EPT pages all have the policy's size, mapped on demand when the core
 *   raises a not-present page fault (`FlatVm`).
 *
 * `I` is a fetch, `L` a read, `S` a write, `M` a read of its range then a write of the
 * same range; a range that crosses 4 KiB pages is split by the core into one access per
 * page.
 *
 * @example
 * const { stats, totals } = await replayLackey("ls.lackey.gz", { model: "skylake-lru", policy: "4k" });
 * console.log(stats.walks, totals.records);
 */
import { open, stat } from "node:fs/promises";
import { FlatVm } from "../../core/flat.js";
import { modelConfig, isModelName, MODEL_NAMES, type ModelName } from "../../core/models.js";
import { WasmCore } from "../../core/wasm.js";
import { basicStats, fullStats, type BasicStats, type FullStats } from "../../report/stats.js";
import { LACKEY_LETTERS, LACKEY_MODIFY, TraceError, readLackey, type LackeyTotals } from "./lackey.js";

export const POLICY_NAMES = ["4k", "2m"] as const;
export type TracePolicy = (typeof POLICY_NAMES)[number];

/** Virtual addresses are 48-bit (docs/core.md). */
const VA_LIMIT = 2 ** 48;
const TWO_32 = 2 ** 32;

/** How far a replay has got; sent after each chunk of records. */
export interface ReplayProgress {
  /** Lines read so far. */
  lines: number;
  records: number;
  /** Core requests run so far (one per record, two per `M`). */
  requests: number;
  /**
   * Estimated part of the file done, 0..1, or null when it cannot be estimated. The
   * estimate assumes lackey's own line format (`I  %08x,%d`), which gives the bytes of
   * each record line; for gzip files the total is the uncompressed size in the gzip
   * trailer (modulo 2^32, corrected with the compressed size).
   */
  fraction: number | null;
}

export interface ReplayOptions {
  /** `skylake-lru` (exact conformance counts) or `default` (the full model). Default: `default`. */
  model?: ModelName;
  /** Page size of every page: `4k` or `2m`. Default: `4k`. */
  policy?: TracePolicy;
  /**
   * Skip and count malformed lines (and records whose range passes 2^48) instead of
   * stopping with an error.
   */
  skipBadLines?: boolean;
  /** Called after each chunk of records (about 65536). */
  onProgress?: (p: ReplayProgress) => void;
}

/** The reader's totals plus the records skipped because their range passes 2^48. */
export interface ReplayTotals extends LackeyTotals {
  /** Records dropped (with `skipBadLines`) because their last byte is not a 48-bit address. */
  outOfRange: number;
}

export interface ReplayResult {
  model: ModelName;
  policy: TracePolicy;
  /** `skylake-lru`: the six basic counts; `default`: every counter, plus `demandMaps`. */
  stats: BasicStats | FullStats;
  totals: ReplayTotals;
}

/**
 * Replays a lackey trace file (plain or gzip) and returns its statistics and the
 * reader's totals. Errors are `TraceError`s with a one-line message: an unreadable
 * file, corrupt gzip data, a malformed line (with its number), or a record whose range
 * passes 2^48 (with its record number); option errors are `RangeError`s naming the
 * option, the value and what is allowed.
 *
 * @example
 * const r = await replayLackey("tests/fixtures/small.lackey", { model: "skylake-lru", policy: "2m" });
 * r.stats; // { requests, l1Hits, l2Hits, walks, walkRefs, faults }
 * const d = await replayLackey("app.lackey.gz", { onProgress: (p) => bar.update(p.fraction ?? 0) });
 * d.stats; // every counter of the default model, e.g. d.stats.pwcHits, d.stats.dirtyAssists
 */
export async function replayLackey(file: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const model = opts.model ?? "default";
  const policy = opts.policy ?? "4k";
  if (!isModelName(model)) throw new RangeError(`model: ${JSON.stringify(model)} is not allowed; expected one of ${MODEL_NAMES.join(", ")}`);
  if (policy !== "4k" && policy !== "2m") throw new RangeError(`policy: ${JSON.stringify(policy)} is not allowed; expected one of ${POLICY_NAMES.join(", ")}`);
  const skipBadLines = opts.skipBadLines ?? false;
  const onProgress = opts.onProgress;

  const core = await WasmCore.create(modelConfig(model, { policy }));
  const vm = model === "default" ? new FlatVm(core, { pageSize: policy === "2m" ? 1 : 0 }) : null;
  const vcpu = vm ? vm.vcpu : 0; // the conformance model's one vCPU is 0
  const runBatch = vm ? (n: number) => runDemandPaged(core, vm, n) : (n: number) => runConformance(core, n);

  const reader = readLackey(file, { skipBadLines });
  const fileBytes = onProgress ? await traceBytes(file) : null;
  const cap = core.capacity;
  let recordBase = 0; // records before the current chunk
  let outOfRange = 0;
  let estBytes = 0; // estimated bytes of the lines read (progress only)
  let requests = 0;

  for await (const chunk of reader) {
    const { count, addrs, kinds, sizes } = chunk;
    let w = core.writer();
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const va = addrs[i];
      const size = sizes[i];
      const k = kinds[i];
      if (va + size > VA_LIMIT) {
        if (!skipBadLines) throw rangeError(file, recordBase + i + 1, k, va, size);
        outOfRange++;
        continue;
      }
      if (pos + 2 > cap) {
        runBatch(pos);
        requests += pos;
        pos = 0;
        w = core.writer(); // the core's memory may have grown
      }
      if (k === LACKEY_MODIFY) {
        w.put(pos++, va, 1, size, vcpu);
        w.put(pos++, va, 2, size, vcpu);
      } else {
        // LACKEY_FETCH, LACKEY_LOAD, LACKEY_STORE are the core's fetch, read, write
        w.put(pos++, va, k, size, vcpu);
      }
    }
    if (pos > 0) runBatch(pos);
    requests += pos;
    recordBase += count;
    if (onProgress) {
      estBytes += estimateRecordBytes(chunk.addrs, chunk.sizes, count);
      const t = reader.totals;
      const done = estBytes + t.ignored * IGNORED_LINE_BYTES;
      onProgress({
        lines: t.lines,
        records: t.records,
        requests,
        fraction: fileBytes ? Math.min(0.999, done / fileBytes) : null,
      });
    }
  }

  const c = core.counters(vcpu);
  const stats = vm ? fullStats(c, { demandMaps: vm.demandMaps }) : basicStats(c);
  return { model, policy, stats, totals: { ...reader.totals, outOfRange } };
}

function rangeError(file: string, n: number, kind: number, va: number, size: number): TraceError {
  const text = `${LACKEY_LETTERS[kind]} ${va.toString(16)},${size}`;
  const last = (va + size - 1).toString(16);
  return new TraceError(
    `${file}: record ${n} ("${text}"): its range [0x${va.toString(16)}, 0x${last}] passes 2^48; addresses are 48-bit`,
    { file },
  );
}

/**
 * Runs `n` requests from the core's buffer in the conformance model, which raises no
 * events (a first touch maps the page itself).
 */
function runConformance(core: WasmCore, n: number): void {
  const ev = core.runBuffer(n);
  if (ev) throw new Error(`the conformance core raised a ${ev.type} at request ${ev.index}; it should raise none`);
}

/**
 * Runs `n` requests already written to the core's buffer on a flat VM, mapping pages on
 * demand: after a not-present page fault the VM maps the page and the core resumes at
 * the faulting page access (which counts as a retry). Any other event is an error.
 *
 * @example
 * const w = core.writer();
 * w.put(0, 0x400000, READ, 8, vm.vcpu);
 * runDemandPaged(core, vm, 1); // maps the page, then the read succeeds
 */
export function runDemandPaged(core: WasmCore, vm: FlatVm, n: number): void {
  for (let ev = core.runBuffer(n); ev; ev = core.run()) {
    if (!vm.handle(ev)) {
      const gpa = "gpa" in ev ? ` (gpa 0x${ev.gpa.toString(16)})` : "";
      throw new Error(`unexpected ${ev.type} at va 0x${ev.va.toString(16)}${gpa} while running on a flat VM`);
    }
  }
}

/** Bytes assumed for a line that is not a record (`==pid== ...` lines). */
const IGNORED_LINE_BYTES = 50;

/** Bytes of the record lines as lackey writes them: `I  %08lx,%lu\n`, ` L %08lx,%lu\n`. */
function estimateRecordBytes(addrs: Float64Array, sizes: Uint32Array, count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const a = addrs[i];
    const s = sizes[i];
    const hex = a < TWO_32 ? 8 : a < 2 ** 36 ? 9 : a < 2 ** 40 ? 10 : a < 2 ** 44 ? 11 : 12;
    const dec = s < 10 ? 1 : s < 100 ? 2 : s < 1000 ? 3 : String(s).length;
    total += 3 + hex + 1 + dec + 1;
  }
  return total;
}

/**
 * The uncompressed size of a trace file, for progress: its size, or for gzip the
 * trailer's ISIZE (the size modulo 2^32) raised by multiples of 2^32 to at least the
 * compressed size. Null when the file cannot be read (the reader reports that).
 */
async function traceBytes(file: string): Promise<number | null> {
  try {
    const { size } = await stat(file);
    if (size < 18) return size || null;
    const fh = await open(file, "r");
    try {
      const head = new Uint8Array(2);
      await fh.read(head, 0, 2, 0);
      if (head[0] !== 0x1f || head[1] !== 0x8b) return size;
      const tail = new Uint8Array(4);
      await fh.read(tail, 0, 4, size - 4);
      let isize = (tail[0] | (tail[1] << 8) | (tail[2] << 16) | (tail[3] << 24)) >>> 0;
      while (isize < size) isize += TWO_32;
      return isize;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}
