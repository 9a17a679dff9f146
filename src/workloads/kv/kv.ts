/**
 * The built-in key-value workload: a seeded store that fills a VM's heap with values,
 * reads them with a skewed key popularity, replaces some and deletes some, through the
 * VM's process (`malloc`, `write`, `read`, `free`). It stands in for memcached- and
 * YCSB-like servers until those workloads drive the simulator; it keeps no data bytes,
 * only each key's address and size.
 *
 * Phases, in order (each a documented choice, not taken from a paper):
 * 1. fill: `items` keys, each a value of a size drawn from `valueSize`, malloc'd and
 *    written whole (a set copies the value into the store);
 * 2. reads: half of `reads` gets, the key drawn from a zipfian (YCSB's ZipfianGenerator,
 *    theta 0.99) over a seeded permutation of the keys, so hot keys are scattered over
 *    the heap as YCSB's scrambled zipfian scatters them; a get reads the whole value;
 * 3. churn: a `replace` share of the keys, chosen uniformly, are freed, then set again
 *    with fresh sizes (an update that changes a value's size reallocates it);
 * 4. deletes: a `delete` share of the keys, chosen uniformly, are freed for good;
 * 5. reads: the other half of the gets; a get of a deleted key is a miss (no access).
 *
 * Value sizes: by default uniform in 1000..1200 B, a guess that spans a YCSB record's
 * payload (10 fields x 100 B, REFERENCE.md section 8) and a memaslap item in memcached
 * (48 + 65 + 1026 + 8 = 1147 B). A fixed size or another range is an option.
 *
 * Out of memory ends the workload early, never with an exception: a malloc that throws
 * GuestOutOfMemory (or the hypervisor's OutOfMemoryError) stops it, and so does an
 * access the simulator recorded as an "oom" fault (checked after each phase). It reports
 * `outOfMemory: "host"` when the back-end refused a host frame (the hypervisor's
 * `outOfMemory` count), else `"guest"` (the VM's own guest memory was full).
 *
 * @example
 * const vm = sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: 256 * MiB }] });
 * const r = runKv(vm, { seed: 1, items: 10_000, reads: 100_000 });
 * r.requestedBytes; // live bytes of values after the deletes
 */
import { ZipfianGenerator, ZIPFIAN_CONSTANT } from "../ycsb/generators.js";
import { Rng } from "../../util/rng.js";
import { formatIssue, type PresetIssue } from "../../cost/schema.js";
import { YCSB_MAX_COUNT } from "../ycsb/workloads.js";
import { GuestOutOfMemory } from "../../guest/guest.js";
import { OutOfMemoryError } from "../../host/hypervisor.js";
import type { Vm } from "../../sim/vm.js";

export interface KvOptions {
  /** Seed of every random draw (sizes, keys, choices), 0..2^32-1. Default 1. */
  seed?: number;
  /** Keys to store. Default: as many as `fillBytes` of values (mean size). */
  items?: number;
  /** Bytes of values to fill with when `items` is not given. Default 16 MiB (a guess: enough pages to miss the TLBs). */
  fillBytes?: number;
  /** Value size in bytes: fixed, or uniform in [min, max]. Default { min: 1000, max: 1200 }. */
  valueSize?: number | { min: number; max: number };
  /** Gets in all, split over the two read phases. Default 4 x items. */
  reads?: number;
  /** Bytes a get reads: "value" (the whole value, default) or a number (the first bytes). */
  readBytes?: "value" | number;
  /** Share of keys replaced in the churn phase. Default 0.25 (a guess). */
  replace?: number;
  /** Share of keys deleted at the end. Default 0.1 (a guess). */
  delete?: number;
  /** Zipfian constant. Default 0.99 (YCSB's). */
  theta?: number;
  /** Tier for malloc ("auto", or a node's tier name; osv ignores it). Default "auto". */
  tier?: string;
}

export interface KvResult {
  /** Keys the fill phase meant to store, and those it stored. */
  items: number;
  stored: number;
  /** Keys alive at the end, and the bytes they asked for. */
  liveItems: number;
  requestedBytes: number;
  mallocs: number;
  frees: number;
  gets: number;
  /** Gets of deleted keys (no access made). */
  misses: number;
  /** Bytes written by sets and read by gets. */
  bytesWritten: number;
  bytesRead: number;
  /** Why the workload stopped early, or null when it ran to the end. */
  outOfMemory: null | "guest" | "host";
  /** The phase it stopped in ("done" when it finished). */
  phase: "fill" | "reads" | "churn" | "deletes" | "done";
}

/** Defaults of the workload (guesses, see the module comment). */
export const KV_DEFAULTS = {
  seed: 1,
  fillBytes: 16 * 2 ** 20,
  valueSize: { min: 1000, max: 1200 },
  replace: 0.25,
  delete: 0.1,
  theta: ZIPFIAN_CONSTANT,
  tier: "auto",
} as const;

/**
 * The most keys: the workload keeps 20 bytes of host state per key (its value's address
 * and size, its popularity rank, its place in the churn order) and sums its zipfian
 * over every key before the first get; 2^27 keys take 2.5 GiB of host memory, and
 * their values at the default sizes 147 GB of guest memory.
 */
export const KV_MAX_ITEMS = 2 ** 27;
/** The largest value: sizes are kept in 32 bits. */
export const KV_MAX_VALUE_SIZE = 2 ** 32 - 1;

/**
 * Every problem of `options` that {@link runKv} would refuse (paths under the options:
 * `items`, `valueSize.min`, ...), without running anything.
 *
 * @example
 * kvIssues({ items: 0 })[0]; // { path: "items", value: 0, allowed: "expected an integer in 1..134217728 (...)" }
 */
export function kvIssues(options: KvOptions = {}): PresetIssue[] {
  const issues: PresetIssue[] = [];
  const int = (path: string, v: unknown, min: number, max: number, why = ""): boolean => {
    if (Number.isInteger(v) && (v as number) >= min && (v as number) <= max) return true;
    issues.push({ path, value: v, allowed: `expected an integer in ${min}..${max}${why}` });
    return false;
  };
  const share = (path: string, v: unknown): void => {
    if (!(typeof v === "number" && v >= 0 && v <= 1)) issues.push({ path, value: v, allowed: "expected a fraction in 0..1" });
  };
  const seed = options.seed ?? KV_DEFAULTS.seed;
  int("seed", seed, 0, 0xffffffff);
  const v = options.valueSize ?? KV_DEFAULTS.valueSize;
  const [path, lo, hi] = typeof v === "number" ? ["valueSize", v, v] : [null, v?.min, v?.max];
  const sizes = path ? int(path, lo, 1, KV_MAX_VALUE_SIZE) : int("valueSize.min", lo, 1, KV_MAX_VALUE_SIZE) && int("valueSize.max", hi, lo as number, KV_MAX_VALUE_SIZE);
  const keys = " (the most keys the workload holds: host state for each, a zipfian over all)";
  if (options.items !== undefined) {
    int("items", options.items, 1, KV_MAX_ITEMS, keys);
    // the two say how many keys: with both, fillBytes would be ignored
    if (options.fillBytes !== undefined) issues.push({ path: "fillBytes", value: options.fillBytes, allowed: "expected it only without items (both say how many keys to store)" });
  } else if (sizes) {
    const mean = ((lo as number) + (hi as number)) / 2;
    // the keys are as many as fillBytes holds of the mean value size
    const fill = options.fillBytes ?? KV_DEFAULTS.fillBytes;
    const most = (KV_MAX_ITEMS + 1) * mean;
    if (!(typeof fill === "number" && fill >= 0 && fill < most)) {
      issues.push({ path: "fillBytes", value: fill, allowed: `expected a number of bytes in 0..${Math.ceil(most) - 1}: at most ${KV_MAX_ITEMS} values of the mean size, ${mean} B${keys}` });
    }
  }
  if (options.reads !== undefined) int("reads", options.reads, 0, YCSB_MAX_COUNT, " (capped as YCSB's counts)");
  share("replace", options.replace ?? KV_DEFAULTS.replace);
  share("delete", options.delete ?? KV_DEFAULTS.delete);
  if (options.readBytes !== undefined && options.readBytes !== "value") int("readBytes", options.readBytes, 1, KV_MAX_VALUE_SIZE);
  const theta = options.theta ?? KV_DEFAULTS.theta;
  if (!(theta > 0 && theta < 1)) issues.push({ path: "theta", value: theta, allowed: "expected a number in (0, 1)" });
  return issues;
}

/** Whether an error is an out-of-memory the guest sees (not a bug). */
function isOom(e: unknown): boolean {
  return e instanceof GuestOutOfMemory || e instanceof OutOfMemoryError;
}

/** Shuffles the first `n` entries of `a` (Fisher-Yates) with `rng`. */
function shuffle(a: Uint32Array, rng: Rng, n = a.length): void {
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/**
 * Runs the workload on `vm`'s first process and runs its queued accesses before
 * returning. Deterministic: the same VM configuration, options and seed give the same
 * result and the same simulator state.
 */
export function runKv(vm: Vm, options: KvOptions = {}): KvResult {
  const issues = kvIssues(options);
  if (issues.length) throw new RangeError(issues.map(formatIssue).join("\n"));
  const seed = options.seed ?? KV_DEFAULTS.seed;
  const rng = new Rng(seed);
  const v = options.valueSize ?? KV_DEFAULTS.valueSize;
  const sizes = typeof v === "number" ? { min: v, max: v } : v;
  const mean = (sizes.min + sizes.max) / 2;
  const items = options.items ?? Math.max(1, Math.floor((options.fillBytes ?? KV_DEFAULTS.fillBytes) / mean));
  const reads = options.reads ?? 4 * items;
  const replace = options.replace ?? KV_DEFAULTS.replace;
  const del = options.delete ?? KV_DEFAULTS.delete;
  const readBytes = options.readBytes ?? "value";
  const theta = options.theta ?? KV_DEFAULTS.theta;
  const malloc = { tier: options.tier ?? KV_DEFAULTS.tier };

  const app = vm.process;
  const addr = new Float64Array(items);
  const size = new Uint32Array(items); // 0: no value (not stored, or deleted)
  const draw = (): number => sizes.min + rng.int(sizes.max - sizes.min + 1);
  const r: KvResult = {
    items,
    stored: 0,
    liveItems: 0,
    requestedBytes: 0,
    mallocs: 0,
    frees: 0,
    gets: 0,
    misses: 0,
    bytesWritten: 0,
    bytesRead: 0,
    outOfMemory: null,
    phase: "fill",
  };
  // an access the guest or the host could not back leaves an "oom" fault on the VM (of
  // the first 1000 faults it keeps) and a refused host frame counts in the back-end:
  // both are compared with their values before this run
  const oomFaults = (): number => vm.faults.reduce((n, f) => n + (f.kind === "oom" ? 1 : 0), 0);
  const hostRefusals = (): number => vm.hv.stats(vm.id).outOfMemory;
  const faults0 = oomFaults();
  const refusals0 = hostRefusals();
  const faulted = (): boolean => oomFaults() > faults0 || hostRefusals() > refusals0;
  // whose memory ran out: the host's when the back-end refused a frame, else the guest's own
  const whose = (): "guest" | "host" => (hostRefusals() > refusals0 ? "host" : "guest");
  const set = (k: number): void => {
    const s = draw();
    const va = app.malloc(s, malloc);
    r.mallocs++;
    addr[k] = va;
    size[k] = s;
    app.write(va, s);
    r.bytesWritten += s;
  };
  const unset = (k: number): void => {
    app.free(addr[k]!);
    r.frees++;
    size[k] = 0;
  };
  // popularity rank -> key: a seeded permutation scatters the hot keys over the heap
  const byRank = new Uint32Array(items);
  for (let i = 0; i < items; i++) byRank[i] = i;
  const zipf = new ZipfianGenerator(rng.fork(), 0, items - 1, theta);
  const get = (): void => {
    const k = byRank[zipf.nextValue()]!;
    r.gets++;
    if (size[k] === 0) {
      r.misses++;
      return;
    }
    const n = readBytes === "value" ? size[k]! : Math.min(readBytes, size[k]!);
    app.read(addr[k]!, n);
    r.bytesRead += n;
  };
  // the keys chosen for churn and deletes: a prefix of a shuffled list, then the next part
  const pick = new Uint32Array(items);

  try {
    for (let k = 0; k < items; k++) {
      set(k);
      r.stored++;
    }
    shuffle(byRank, rng);
    vm.sim.flush();
    if (faulted()) throw new OomFault();
    r.phase = "reads";
    const firstHalf = Math.floor(reads / 2);
    for (let i = 0; i < firstHalf; i++) get();
    r.phase = "churn";
    for (let i = 0; i < items; i++) pick[i] = i;
    shuffle(pick, rng);
    const nReplace = Math.floor(items * replace);
    for (let i = 0; i < nReplace; i++) unset(pick[i]!);
    for (let i = 0; i < nReplace; i++) set(pick[i]!);
    vm.sim.flush();
    if (faulted()) throw new OomFault();
    r.phase = "deletes";
    // deletes take keys after the replaced ones, so a key is replaced or deleted, not both
    const nDelete = Math.min(items - nReplace, Math.floor(items * del));
    for (let i = nReplace; i < nReplace + nDelete; i++) unset(pick[i]!);
    r.phase = "reads";
    for (let i = firstHalf; i < reads; i++) get();
    vm.sim.flush();
    if (faulted()) throw new OomFault();
    r.phase = "done";
  } catch (e) {
    if (!(e instanceof OomFault) && !isOom(e)) throw e;
    vm.sim.flush();
    r.outOfMemory = whose();
  }
  for (let k = 0; k < items; k++) {
    if (size[k]! > 0) {
      r.liveItems++;
      r.requestedBytes += size[k]!;
    }
  }
  return r;
}


/** Thrown inside runKv when the simulator recorded an out-of-memory fault for the VM. */
class OomFault extends Error {}
