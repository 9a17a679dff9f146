/**
 * Replays a trace on the Wasm core, streaming: records go straight from the reader's
 * typed arrays into the core's request buffer (no `Request` object per record), one
 * batch per chunk. Two formats: Valgrind lackey text (plain or gzip) and ChampSim binary
 * records (plain, gzip or xz), told apart by `detectTraceFormat` (format.ts) unless the
 * caller names one.
 *
 * Models and policies:
 * - `skylake-lru`: the conformance model of REFERENCE.md section 9 (exact counts that an
 *   independent implementation must reproduce), policies `4k` and `2m`;
 * - `default`: the full model (walk caches, nested TLB, A/D bits), either on a flat VM
 *   whose guest and EPT pages all have the policy's size (`4k`, `2m`), mapped on demand
 *   when the core raises a not-present page fault (`FlatVm`), or as the application of
 *   an OSv or UCat VM on a Simulator host (`osv`, `ucat`; replay-vm.ts), which adds the
 *   VM's memory figures.
 *
 * lackey: `I` is a fetch, `L` a read, `S` a write, `M` a read of its range then a write
 * of the same range. ChampSim: each record is a fetch of its `ip`, then its reads, then
 * its writes (champsim.ts). A range that crosses 4 KiB pages is split by the core into
 * one access per page.
 */
import { open, stat } from "node:fs/promises";
import { FlatVm } from "../../core/flat.js";
import { modelConfig, isModelName, MODEL_NAMES, type ModelName } from "../../core/models.js";
import { WasmCore } from "../../core/wasm.js";
import { basicStats, fullStats, type BasicStats, type FullStats } from "../../report/stats.js";
import { readChampSim, type ChampSimCompression, type ChampSimReader, type ChampSimTotals } from "./champsim.js";
import { TRACE_FORMATS, checkLackeyFile, detectTraceFormat, type TraceFormat, type TraceFormatOption } from "./format.js";
import { LACKEY_LETTERS, LACKEY_MODIFY, TraceError, readLackey, type LackeyReader, type LackeyTotals } from "./lackey.js";
import { TraceVm, type TraceVmMemory, type TraceVmOptions } from "./replay-vm.js";

export const POLICY_NAMES = ["4k", "2m", "osv", "ucat"] as const;
export type TracePolicy = (typeof POLICY_NAMES)[number];
/** Policies of a flat VM (every page one size); the others are OSv and UCat VMs. */
export const FLAT_POLICY_NAMES = ["4k", "2m"] as const;
export { TRACE_FORMATS, type TraceFormat, type TraceFormatOption };

/** Virtual addresses are 48-bit (docs/core.md). */
const VA_LIMIT = 2 ** 48;
const TWO_32 = 2 ** 32;

/** How far a replay has got; sent after each chunk of records. */
export interface ReplayProgress {
  format: TraceFormat;
  /** Lines read so far (lackey; 0 for ChampSim, which has records only). */
  lines: number;
  records: number;
  /** Core requests run so far (one per record, two per `M`; ChampSim: one per access). */
  requests: number;
  /**
   * Estimated part of the file done, 0..1, or null when it cannot be estimated. lackey:
   * the estimate assumes lackey's own line format (`I  %08x,%d`), which gives the bytes
   * of each record line. ChampSim: exact (64 bytes a record), except for xz files (null).
   * For gzip files the total is the uncompressed size in the gzip trailer (modulo 2^32,
   * corrected with the compressed size).
   */
  fraction: number | null;
}

export interface ReplayOptions extends TraceVmOptions {
  /** `skylake-lru` (exact conformance counts) or `default` (the full model). Default: `default`. */
  model?: ModelName;
  /**
   * `4k` or `2m`: a flat VM, every guest and EPT page of that size; `osv` or `ucat`: the
   * application of an OSv or UCat VM (`default` model only; replay-vm.ts). Default: `4k`.
   */
  policy?: TracePolicy;
  /** `lackey`, `champsim`, or `auto` (by content and name: format.ts). Default: `auto`. */
  format?: TraceFormatOption;
  /**
   * Skip and count malformed lines (lackey) or bad records (ChampSim), and records whose
   * range passes 2^48, instead of stopping with an error.
   */
  skipBadLines?: boolean;
  /** Called after each chunk of records (about 65536). */
  onProgress?: (p: ReplayProgress) => void;
}

/** The lackey reader's totals plus the records skipped because their range passes 2^48. */
export interface ReplayTotals extends LackeyTotals {
  /** Records dropped (with `skipBadLines`) because their last byte is not a 48-bit address. */
  outOfRange: number;
}

/** The ChampSim reader's totals plus the accesses skipped because their range passes 2^48. */
export interface ChampSimReplayTotals extends ChampSimTotals {
  /** Accesses dropped (with `skipBadLines`) because their last byte is not a 48-bit address. */
  outOfRange: number;
}

interface ReplayResultBase {
  model: ModelName;
  policy: TracePolicy;
  /** `skylake-lru`: the six basic counts; `default`: every counter (`4k`, `2m`: plus `demandMaps`). */
  stats: BasicStats | FullStats;
  /** `osv`, `ucat`: the VM's memory figures. */
  memory?: TraceVmMemory;
  /** `osv`, `ucat` with `lineSampling` > 1: line-cache sets per modelled set (line counts are estimates). */
  lineSampling?: number;
}

/** What a replay found: the statistics and the reader's totals, by format. */
export type ReplayResult = ReplayResultBase &
  ({ format: "lackey"; totals: ReplayTotals } | { format: "champsim"; totals: ChampSimReplayTotals; compression: ChampSimCompression });

/** Where a replay's requests go: a core's buffer, or a Simulator VM's queue. */
interface Target {
  put(va: number, kind: 0 | 1 | 2, size: number): void;
  /** Runs what is queued. */
  flush(): void;
}

/** The core's request buffer, run in batches (conformance model or a flat VM). */
class CoreTarget implements Target {
  private pos = 0;
  private w;
  private readonly cap: number;

  constructor(
    private readonly core: WasmCore,
    private readonly vcpu: number,
    private readonly runBatch: (n: number) => void,
  ) {
    this.w = core.writer();
    this.cap = core.capacity;
  }

  put(va: number, kind: 0 | 1 | 2, size: number): void {
    if (this.pos === this.cap) this.flush();
    this.w.put(this.pos++, va, kind, size, this.vcpu);
  }

  flush(): void {
    if (this.pos === 0) return;
    this.runBatch(this.pos);
    this.pos = 0;
    this.w = this.core.writer(); // the core's memory may have grown
  }
}

/**
 * Replays a trace file and returns its statistics and the reader's totals. Errors are
 * `TraceError`s with a one-line message: an unreadable file, corrupt gzip or xz data, a
 * malformed lackey line (with its number), a bad or truncated ChampSim record (with its
 * index), a record whose range passes 2^48, a file whose name and content disagree
 * (`auto`); option errors are `RangeError`s naming the option, the value and what is
 * allowed.
 *
 * @example
 * const r = await replayTrace("605.mcf_s-665B.champsimtrace.xz", { model: "skylake-lru", policy: "4k" });
 * r.format; // "champsim"
 * const u = await replayTrace("tests/fixtures/small.lackey", { policy: "ucat" });
 * u.memory?.backing.frames; // { "4k": 0, "2m": ..., "1g": 0 }
 */
export async function replayTrace(file: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const model = opts.model ?? "default";
  const policy = opts.policy ?? "4k";
  const formatOption = opts.format ?? "auto";
  if (!isModelName(model)) throw new RangeError(`model: ${JSON.stringify(model)} is not allowed; expected one of ${MODEL_NAMES.join(", ")}`);
  if (!(POLICY_NAMES as readonly string[]).includes(policy)) {
    throw new RangeError(`policy: ${JSON.stringify(policy)} is not allowed; expected one of ${POLICY_NAMES.join(", ")}`);
  }
  if (!(TRACE_FORMATS as readonly string[]).includes(formatOption)) {
    throw new RangeError(`format: ${JSON.stringify(formatOption)} is not allowed; expected one of ${TRACE_FORMATS.join(", ")}`);
  }
  const flat = policy === "4k" || policy === "2m";
  const sampling = opts.lineSampling ?? 1;
  if (flat && sampling !== 1) {
    throw new RangeError(`lineSampling: ${sampling} is not allowed with policy ${JSON.stringify(policy)}; only the OSv and UCat VMs (policies osv, ucat) have a line cache to sample`);
  }
  if (flat && opts.lineThread) {
    throw new RangeError(`lineThread: true is not allowed with policy ${JSON.stringify(policy)}; only the OSv and UCat VMs (policies osv, ucat) have a line cache to run on a thread`);
  }
  if (!flat && model !== "default") {
    throw new RangeError(`policy: ${JSON.stringify(policy)} is not allowed with model ${JSON.stringify(model)}; the conformance model has policies 4k and 2m only (use model default)`);
  }
  if (flat && (opts.dram !== undefined || opts.nvm !== undefined)) {
    throw new RangeError(`dram, nvm: guest memory sizes apply to policies osv and ucat only; policy ${JSON.stringify(policy)} is a flat VM`);
  }
  const skipBadLines = opts.skipBadLines ?? false;
  const onProgress = opts.onProgress;

  // the trace's format first: a bad file fails before the simulator is built
  const format: TraceFormat = formatOption === "auto" ? (await detectTraceFormat(file)).format : formatOption;
  if (formatOption === "lackey") await checkLackeyFile(file);

  let target: Target;
  let finish: () => { stats: BasicStats | FullStats; memory?: TraceVmMemory; lineSampling?: number };
  let tvm: TraceVm | null = null;
  if (flat) {
    const core = await WasmCore.create(modelConfig(model, { policy }));
    const vm = model === "default" ? new FlatVm(core, { pageSize: policy === "2m" ? 1 : 0 }) : null;
    const vcpu = vm ? vm.vcpu : 0; // the conformance model's one vCPU is 0
    target = new CoreTarget(core, vcpu, vm ? (n) => runDemandPaged(core, vm, n) : (n) => runConformance(core, n));
    finish = () => {
      const c = core.counters(vcpu);
      return { stats: vm ? fullStats(c, { demandMaps: vm.demandMaps }) : basicStats(c) };
    };
  } else {
    const vm = await TraceVm.create(policy, { dram: opts.dram, nvm: opts.nvm, lineSampling: sampling, ...(opts.lineThread ? { lineThread: true } : {}) });
    tvm = vm;
    target = vm;
    finish = () => ({ ...vm.finish(), ...(sampling > 1 ? { lineSampling: sampling } : {}) });
  }
  let failed = true;
  try {
    const r = await replayRecords(file, format, target, finish, { model, policy, skipBadLines, onProgress });
    failed = false;
    return r;
  } finally {
    // the line thread goes back now, on an error too (not when the core is collected);
    // an error in closing must not hide the replay's own
    try {
      tvm?.close();
    } catch (e) {
      if (!failed) throw e;
    }
  }
}

/** Runs the records of `file` into `target`; `finish` reads the statistics at the end. */
async function replayRecords(
  file: string,
  format: TraceFormat,
  target: Target,
  finish: () => { stats: BasicStats | FullStats; memory?: TraceVmMemory; lineSampling?: number },
  o: { model: ModelName; policy: TracePolicy; skipBadLines: boolean; onProgress?: (p: ReplayProgress) => void },
): Promise<ReplayResult> {
  const { model, policy, skipBadLines, onProgress } = o;
  const fileBytes = onProgress ? await traceBytes(file) : null;
  let outOfRange = 0;
  let requests = 0;
  if (format === "lackey") {
    const reader = readLackey(file, { skipBadLines });
    let recordBase = 0; // records before the current chunk
    let estBytes = 0; // estimated bytes of the lines read (progress only)
    for await (const chunk of reader) {
      const { count, addrs, kinds, sizes } = chunk;
      for (let i = 0; i < count; i++) {
        const va = addrs[i];
        const size = sizes[i];
        const k = kinds[i];
        if (va + size > VA_LIMIT) {
          if (!skipBadLines) throw rangeError(file, `record ${recordBase + i + 1} ("${LACKEY_LETTERS[k]} ${va.toString(16)},${size}")`, va, size);
          outOfRange++;
          continue;
        }
        if (k === LACKEY_MODIFY) {
          target.put(va, 1, size);
          target.put(va, 2, size);
          requests += 2;
        } else {
          // LACKEY_FETCH, LACKEY_LOAD, LACKEY_STORE are the core's fetch, read, write
          target.put(va, k as 0 | 1 | 2, size);
          requests++;
        }
      }
      target.flush(); // one batch per chunk at least, so progress is real
      recordBase += count;
      if (onProgress) {
        estBytes += estimateRecordBytes(addrs, sizes, count);
        onProgress(lackeyProgress(reader, estBytes, fileBytes, requests));
      }
    }
    target.flush();
    return { model, policy, ...finish(), format, totals: { ...reader.totals, outOfRange } };
  }

  const reader: ChampSimReader = readChampSim(file, { skipBadRecords: skipBadLines });
  let accessBase = 0; // accesses before the current chunk
  for await (const chunk of reader) {
    const { count, addrs, kinds, sizes } = chunk;
    for (let i = 0; i < count; i++) {
      const va = addrs[i];
      const size = sizes[i];
      const k = kinds[i] as 0 | 1 | 2;
      if (va + size > VA_LIMIT) {
        if (!skipBadLines) throw rangeError(file, `access ${accessBase + i + 1} (a ${ACCESS_NAMES[k]} of ${size} B at 0x${va.toString(16)})`, va, size);
        outOfRange++;
        continue;
      }
      target.put(va, k, size);
      requests++;
    }
    target.flush();
    accessBase += count;
    if (onProgress) {
      const t = reader.totals;
      onProgress({
        format,
        lines: 0,
        records: t.records,
        requests,
        fraction: fileBytes && reader.compression !== "xz" ? Math.min(0.999, t.bytes / fileBytes) : null,
      });
    }
  }
  target.flush();
  return { model, policy, ...finish(), format, totals: { ...reader.totals, outOfRange }, compression: reader.compression ?? "none" };
}

const ACCESS_NAMES = ["fetch", "read", "write"] as const;

function lackeyProgress(reader: LackeyReader, estBytes: number, fileBytes: number | null, requests: number): ReplayProgress {
  const t = reader.totals;
  const done = estBytes + t.ignored * IGNORED_LINE_BYTES;
  return {
    format: "lackey",
    lines: t.lines,
    records: t.records,
    requests,
    fraction: fileBytes ? Math.min(0.999, done / fileBytes) : null,
  };
}

/**
 * Replays a lackey trace file (plain or gzip): `replayTrace` with format `lackey`.
 *
 * @example
 * const r = await replayLackey("tests/fixtures/small.lackey", { model: "skylake-lru", policy: "2m" });
 * r.stats; // { requests, l1Hits, l2Hits, walks, walkRefs, faults }
 * const d = await replayLackey("app.lackey.gz", { onProgress: (p) => bar.update(p.fraction ?? 0) });
 * d.stats; // every counter of the default model, e.g. d.stats.pwcHits, d.stats.dirtyAssists
 */
export async function replayLackey(file: string, opts: Omit<ReplayOptions, "format"> = {}): Promise<ReplayResult & { format: "lackey" }> {
  const r = await replayTrace(file, { ...opts, format: "lackey" });
  if (r.format !== "lackey") throw new Error("replayLackey: not a lackey result");
  return r;
}

function rangeError(file: string, what: string, va: number, size: number): TraceError {
  const last = (va + size - 1).toString(16);
  return new TraceError(`${file}: ${what}: its range [0x${va.toString(16)}, 0x${last}] passes 2^48; addresses are 48-bit`, { file });
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
