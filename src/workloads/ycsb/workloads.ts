/**
 * The YCSB core workloads A-F as data, and seeded operation streams for their load and run
 * phases, following brianfrankcooper/YCSB (master, commit d9faaac8):
 * `workloads/workloada..f` (the property files), `core/.../workloads/CoreWorkload.java`
 * (defaults, key names, how each operation chooses its key and fields) and
 * `memcached/src/main/java/site/ycsb/db/MemcachedClient.java` (how the memcached binding
 * turns operations into memcached requests).
 *
 * What a stream reproduces exactly: the operation mix, the key-choice distributions and
 * their constants, the retry of keys not yet inserted, the key names (bit-exact), the field
 * choices, the scan lengths, and the encoded sizes. What it cannot reproduce: the exact
 * values of a JVM run, since draws come from the project's seeded Rng.
 *
 * Only constant field lengths (`fieldlengthdistribution=constant`, the default) and the
 * request distributions uniform, zipfian and latest (those of workloads A-F) are supported.
 * Key numbers must stay below 2^31 (YCSB casts them to `int`).
 *
 * @example
 * const spec = ycsbWorkload("a");
 * for (const op of ycsbLoadPhase(spec)) store(op.key, op.writeFields);      // 1000 inserts
 * for (const op of ycsbRunPhase(spec, 42)) apply(op);                       // 1000 operations
 */
import { Rng } from "../../util/rng.js";
import {
  AcknowledgedCounterGenerator,
  CounterGenerator,
  DiscreteGenerator,
  type NumberGenerator,
  ScrambledZipfianGenerator,
  SkewedLatestGenerator,
  UniformLongGenerator,
  ZipfianGenerator,
  createScanLengthGenerator,
  fnvDecimalParts,
  fnvHash64Digits,
  fnvHash64String,
} from "./generators.js";
import { packKey } from "./btree.js";
import type { KeyNaming } from "./store.js";
import { formatIssue, type PresetIssue } from "../../cost/schema.js";

/** The five operations of CoreWorkload. */
export type YcsbOp = "read" | "update" | "insert" | "scan" | "readmodifywrite";

/** Request distributions supported here (`requestdistribution`). */
export type RequestDistribution = "uniform" | "zipfian" | "latest";

/** A CoreWorkload configuration (the subset of YCSB properties that shape the stream). */
export interface YcsbWorkloadSpec {
  /** Name for reports, e.g. "workloada". */
  name: string;
  /** `recordcount`: records inserted by the load phase. */
  recordCount: number;
  /** `operationcount`: operations of the run phase. */
  operationCount: number;
  /** `readproportion`. */
  readProportion: number;
  /** `updateproportion`. */
  updateProportion: number;
  /** `insertproportion`. */
  insertProportion: number;
  /** `scanproportion`. */
  scanProportion: number;
  /** `readmodifywriteproportion`. */
  readModifyWriteProportion: number;
  /** `requestdistribution`. */
  requestDistribution: RequestDistribution;
  /** `readallfields`: reads (and scans, RMW reads) fetch every field. */
  readAllFields: boolean;
  /** `writeallfields`: updates (and RMW writes) rewrite every field, not one random field. */
  writeAllFields: boolean;
  /** `fieldcount`: fields per record. */
  fieldCount: number;
  /** `fieldlength`: bytes per field (constant distribution). */
  fieldLength: number;
  /** `fieldnameprefix`: field names are prefix + index. */
  fieldNamePrefix: string;
  /** `minscanlength`. */
  minScanLength: number;
  /** `maxscanlength`. */
  maxScanLength: number;
  /** `scanlengthdistribution`. */
  scanLengthDistribution: "uniform" | "zipfian";
  /** `insertorder`: "hashed" scatters key numbers with fnvhash64, "ordered" keeps them. */
  insertOrder: "hashed" | "ordered";
  /** `zeropadding`: key numbers are left-padded with zeros to this many digits. */
  zeroPadding: number;
  /** `insertstart`: first key number of the load phase. */
  insertStart: number;
  /** `insertcount`: records this loader inserts; default recordCount - insertStart. */
  insertCount?: number;
  /** `table`: table name (the memcached binding prefixes keys with it). */
  table: string;
}

/**
 * CoreWorkload's own property defaults (CoreWorkload.java `*_PROPERTY_DEFAULT`), without
 * record and operation counts (Client's default recordcount "0" means Integer.MAX_VALUE and
 * operationcount has no default; every workload file sets both to 1000).
 */
export const CORE_WORKLOAD_DEFAULTS: Readonly<Omit<YcsbWorkloadSpec, "name" | "recordCount" | "operationCount">> =
  Object.freeze({
    readProportion: 0.95, // READ_PROPORTION_PROPERTY_DEFAULT "0.95"
    updateProportion: 0.05, // UPDATE_PROPORTION_PROPERTY_DEFAULT "0.05"
    insertProportion: 0, // INSERT_PROPORTION_PROPERTY_DEFAULT "0.0"
    scanProportion: 0, // SCAN_PROPORTION_PROPERTY_DEFAULT "0.0"
    readModifyWriteProportion: 0, // READMODIFYWRITE_PROPORTION_PROPERTY_DEFAULT "0.0"
    requestDistribution: "uniform", // REQUEST_DISTRIBUTION_PROPERTY_DEFAULT "uniform"
    readAllFields: true, // READ_ALL_FIELDS_PROPERTY_DEFAULT "true"
    writeAllFields: false, // WRITE_ALL_FIELDS_PROPERTY_DEFAULT "false"
    fieldCount: 10, // FIELD_COUNT_PROPERTY_DEFAULT "10"
    fieldLength: 100, // FIELD_LENGTH_PROPERTY_DEFAULT "100"
    fieldNamePrefix: "field", // FIELD_NAME_PREFIX_DEFAULT "field"
    minScanLength: 1, // MIN_SCAN_LENGTH_PROPERTY_DEFAULT "1"
    maxScanLength: 1000, // MAX_SCAN_LENGTH_PROPERTY_DEFAULT "1000" (workload E sets 100)
    scanLengthDistribution: "uniform", // SCAN_LENGTH_DISTRIBUTION_PROPERTY_DEFAULT "uniform"
    insertOrder: "hashed", // INSERT_ORDER_PROPERTY_DEFAULT "hashed"
    zeroPadding: 1, // ZERO_PADDING_PROPERTY_DEFAULT "1"
    insertStart: 0, // Workload.INSERT_START_PROPERTY_DEFAULT "0"
    table: "usertable", // TABLENAME_PROPERTY_DEFAULT "usertable"
  });

/** Names of the core workloads. */
export type YcsbWorkloadName = "a" | "b" | "c" | "d" | "e" | "f";

function workload(name: string, props: Partial<YcsbWorkloadSpec>): Readonly<YcsbWorkloadSpec> {
  return Object.freeze({
    ...CORE_WORKLOAD_DEFAULTS,
    name,
    recordCount: 1000, // every workloads/workload? file: recordcount=1000
    operationCount: 1000, // every workloads/workload? file: operationcount=1000
    ...props,
  });
}

/**
 * The core workloads, property for property as in YCSB's `workloads/workloada..f` (all set
 * recordcount=1000, operationcount=1000, readallfields=true; the rest is CoreWorkload's
 * defaults: 10 fields x 100 B, insertorder=hashed, writeallfields=false).
 *
 * - A (update heavy): read 0.5, update 0.5, zipfian.
 * - B (read mostly): read 0.95, update 0.05, zipfian.
 * - C (read only): read 1, zipfian.
 * - D (read latest): read 0.95, insert 0.05, latest.
 * - E (short ranges): scan 0.95, insert 0.05, zipfian, maxscanlength=100, uniform lengths.
 * - F (read-modify-write): read 0.5, readmodifywrite 0.5, zipfian.
 *
 * @example
 * YCSB_WORKLOADS.d.requestDistribution; // "latest"
 */
export const YCSB_WORKLOADS: Readonly<Record<YcsbWorkloadName, Readonly<YcsbWorkloadSpec>>> = Object.freeze({
  a: workload("workloada", {
    readProportion: 0.5,
    updateProportion: 0.5,
    scanProportion: 0,
    insertProportion: 0,
    requestDistribution: "zipfian",
  }),
  b: workload("workloadb", {
    readProportion: 0.95,
    updateProportion: 0.05,
    scanProportion: 0,
    insertProportion: 0,
    requestDistribution: "zipfian",
  }),
  c: workload("workloadc", {
    readProportion: 1,
    updateProportion: 0,
    scanProportion: 0,
    insertProportion: 0,
    requestDistribution: "zipfian",
  }),
  d: workload("workloadd", {
    readProportion: 0.95,
    updateProportion: 0,
    scanProportion: 0,
    insertProportion: 0.05,
    requestDistribution: "latest",
  }),
  e: workload("workloade", {
    readProportion: 0,
    updateProportion: 0,
    scanProportion: 0.95,
    insertProportion: 0.05,
    requestDistribution: "zipfian",
    maxScanLength: 100,
    scanLengthDistribution: "uniform",
  }),
  f: workload("workloadf", {
    readProportion: 0.5,
    updateProportion: 0,
    scanProportion: 0,
    insertProportion: 0,
    readModifyWriteProportion: 0.5,
    requestDistribution: "zipfian",
  }),
});

/**
 * A core workload with some properties overridden (as `-p name=value` on YCSB's command line).
 *
 * @example
 * const big = ycsbWorkload("a", { recordCount: 1_000_000, operationCount: 10_000_000 });
 */
export function ycsbWorkload(name: YcsbWorkloadName, overrides: Partial<YcsbWorkloadSpec> = {}): YcsbWorkloadSpec {
  const problem = ycsbNameIssue(name);
  if (problem) throw new RangeError(formatIssue(problem));
  return checkYcsbSpec({ ...YCSB_WORKLOADS[name], ...overrides });
}

/**
 * The problem of a core workload's name (path `workload`), or null when it names one.
 *
 * @example
 * ycsbNameIssue("z")?.allowed; // 'expected one of "a", "b", "c", "d", "e", "f" (YCSB's core workloads)'
 */
export function ycsbNameIssue(name: unknown): PresetIssue | null {
  if (typeof name === "string" && Object.prototype.hasOwnProperty.call(YCSB_WORKLOADS, name)) return null;
  return { path: "workload", value: name, allowed: `expected one of "a", "b", "c", "d", "e", "f" (YCSB's core workloads)` };
}

/**
 * The largest count YCSB takes (`recordcount`, `operationcount`, ...: Java ints,
 * Integer.parseInt); the other workloads' counts are capped at it too (a run of more
 * operations would take days).
 */
export const YCSB_MAX_COUNT = 2147483647;

/**
 * Checks a workload's properties (what YCSB would refuse or loop on): throws a
 * RangeError naming the property, its value and what is allowed; returns the spec.
 *
 * @example
 * checkYcsbSpec({ ...ycsbWorkload("a"), recordCount: -5 }); // RangeError: recordCount: -5 is not allowed; expected an integer in 0..2147483647
 */
export function checkYcsbSpec(spec: YcsbWorkloadSpec): YcsbWorkloadSpec {
  const problem = ycsbSpecIssues(spec)[0];
  if (problem) throw new RangeError(formatIssue(problem));
  return spec;
}

/**
 * Every problem {@link checkYcsbSpec} finds in a workload's properties (paths are the
 * property names), for callers that report them all before anything runs.
 *
 * @example
 * ycsbSpecIssues({ ...ycsbWorkload("d"), recordCount: 0 })[0].path; // "recordCount"
 */
export function ycsbSpecIssues(spec: YcsbWorkloadSpec): PresetIssue[] {
  const issues: PresetIssue[] = [];
  const int = (key: keyof YcsbWorkloadSpec, min: number, max = YCSB_MAX_COUNT): boolean => {
    const v = spec[key];
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return true;
    issues.push({ path: key, value: v, allowed: `expected an integer in ${min}..${max}` });
    return false;
  };
  const oneOf = (key: keyof YcsbWorkloadSpec, allowed: readonly string[]): void => {
    if (!allowed.includes(spec[key] as string)) issues.push({ path: key, value: spec[key], allowed: `expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}` });
  };
  // Java ints: the counts and lengths YCSB reads with Integer.parseInt
  const counts = int("recordCount", 0);
  int("operationCount", 0);
  int("fieldCount", 1);
  int("fieldLength", 1);
  if (int("minScanLength", 1)) int("maxScanLength", spec.minScanLength);
  int("zeroPadding", 1);
  const start = int("insertStart", 0);
  const count = spec.insertCount === undefined || int("insertCount", 0);
  const props = ["readProportion", "updateProportion", "insertProportion", "scanProportion", "readModifyWriteProportion"] as const;
  let proportions = true;
  for (const key of props) {
    const v = spec[key];
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
      issues.push({ path: key, value: v, allowed: "expected a proportion in 0..1" });
      proportions = false;
    }
  }
  if (proportions && spec.operationCount > 0 && props.every((k) => spec[k] === 0)) {
    issues.push({ path: props[0], value: 0, allowed: `expected at least one of ${props.join(", ")} above 0 with operations to run (all are 0)` });
  }
  oneOf("requestDistribution", ["uniform", "zipfian", "latest"]);
  oneOf("scanLengthDistribution", ["uniform", "zipfian"]);
  oneOf("insertOrder", ["hashed", "ordered"]);
  if (counts && start && count) {
    // CoreWorkload.init: recordcount 0 means Integer.MAX_VALUE records
    const recordCount = spec.recordCount === 0 ? YCSB_MAX_COUNT : spec.recordCount;
    if (recordCount < spec.insertStart + (spec.insertCount ?? recordCount - spec.insertStart)) {
      issues.push({ path: "insertCount", value: spec.insertCount, allowed: `expected at most recordCount - insertStart (${recordCount - spec.insertStart}): YCSB's "recordcount must be bigger than insertstart + insertcount"` });
    }
    if (spec.recordCount === 0 && spec.requestDistribution === "latest") {
      // YCSB would take recordcount 0 as 2^31-1 records and sum the latest distribution's
      // zipfian over all of them before the first operation (minutes; the TypeScript sum
      // here too), only to read records the load phase never inserted
      issues.push({
        path: "recordCount",
        value: 0,
        allowed: `expected an integer in 1..${YCSB_MAX_COUNT} for ${spec.name}, whose reads choose among the latest records (requestDistribution "latest"): YCSB takes recordcount 0 as 2^31-1 records, none of them loaded, and sums a zipfian over all of them first`,
      });
    }
  }
  return issues;
}

/**
 * `CoreWorkload.buildKeyName`: "user" + the key number (hashed with fnvhash64 unless
 * inserts are ordered) in decimal, left-padded with zeros to `zeroPadding` digits. With the
 * default padding 1 nothing is ever padded, so hashed keys are "user" + 1 to 19 digits.
 *
 * @example
 * buildKeyName(0);              // "user6284781860667377211"
 * buildKeyName(7, 4, true);     // "user0007"
 */
export function buildKeyName(keyNum: number, zeroPadding = 1, orderedInserts = false): string {
  const value = orderedInserts ? String(keyNum) : fnvHash64String(keyNum);
  const fill = zeroPadding - value.length;
  return fill > 0 ? "user" + "0".repeat(fill) + value : "user" + value;
}

/**
 * `buildKeyName(keyNum, zeroPadding, orderedInserts).length`, without making the string.
 *
 * @example
 * keyNameLength(0); // 23
 */
export function keyNameLength(keyNum: number, zeroPadding = 1, orderedInserts = false): number {
  const digits = orderedInserts ? String(keyNum).length : fnvHash64Digits(keyNum);
  return 4 + Math.max(zeroPadding, digits);
}

/**
 * The key names of a workload as a store's {@link KeyNaming}: lengths remembered by key
 * number, the ordered index's packed head computed from the number's decimal digits
 * (no string made), the name made only when asked for.
 *
 * @example
 * const naming = ycsbKeyNaming(ycsbWorkload("a"));
 * naming.length(0); // 23
 * naming.name(0);   // "user6284781860667377211"
 */
export function ycsbKeyNaming(spec: Pick<YcsbWorkloadSpec, "zeroPadding" | "insertOrder">): KeyNaming {
  const zeroPadding = spec.zeroPadding;
  const ordered = spec.insertOrder !== "hashed";
  const lengths = new KeyLengths(zeroPadding, ordered);
  return {
    name: (keyNum) => buildKeyName(keyNum, zeroPadding, ordered),
    length: (keyNum) => lengths.of(keyNum),
    pack: (keyNum, out) => packKeyName(keyNum, lengths.of(keyNum) - 4, ordered, zeroPadding, out),
  };
}

/** "user" as `packKey` packs it (each code unit + 1), the head's first four places. */
const USER_HEAD = ((("u".charCodeAt(0) + 1) * 256 + "s".charCodeAt(0) + 1) * 256 + "e".charCodeAt(0) + 1) * 256 + "r".charCodeAt(0) + 1;
const DIGIT_0 = "0".charCodeAt(0) + 1;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const nameParts = new Float64Array(3);

/**
 * `packKey(buildKeyName(keyNum, zeroPadding, ordered), out)` from the digits: the name is
 * "user" and `digits` decimal digits, the number's (zero-padded), of which the head
 * holds the first 8. The number's 19-digit zero-padded form is the parts q1 (1 digit),
 * q2 and r (9 each); digit i of the name is digit 19 - digits + i of that form (a
 * padding zero before it).
 */
function packKeyName(keyNum: number, digits: number, ordered: boolean, zeroPadding: number, out: Float64Array): void {
  let q1: number;
  let q2: number;
  let r: number;
  if (ordered) {
    if (!(Number.isSafeInteger(keyNum) && keyNum >= 0)) return packKey(buildKeyName(keyNum, zeroPadding, ordered), out);
    q1 = 0;
    q2 = Math.floor(keyNum / 1e9);
    r = keyNum - q2 * 1e9;
  } else {
    if (!fnvDecimalParts(keyNum, nameParts)) return packKey(buildKeyName(keyNum, zeroPadding, ordered), out);
    q1 = nameParts[0]!;
    q2 = nameParts[1]!;
    r = nameParts[2]!;
  }
  const at = 19 - digits;
  let head = USER_HEAD;
  let v = 0;
  for (let i = 0; i < 8; i++) {
    let d = 0; // past the end
    if (i < digits) {
      const j = at + i;
      d = DIGIT_0 + (j < 0 ? 0 : j === 0 ? q1 : j <= 9 ? Math.floor(q2 / POW10[9 - j]!) % 10 : Math.floor(r / POW10[18 - j]!) % 10);
    }
    if (i < 2) head = head * 256 + d;
    else v = v * 256 + d;
  }
  out[0] = head;
  out[1] = v;
}

/** Key numbers below this have their name's length remembered (one byte each; 16 MiB at most, a guess). */
export const KEY_LENGTHS_CACHED = 1 << 24;

/**
 * The lengths of the key names of a stream, each computed once: the run phase draws
 * the same key numbers again and again, and the FNV hash behind a length costs more
 * than a lookup.
 */
class KeyLengths {
  private lengths = new Uint8Array(1024);

  constructor(
    private readonly zeroPadding: number,
    private readonly ordered: boolean,
  ) {}

  of(keyNum: number): number {
    if (keyNum < this.lengths.length) {
      const l = this.lengths[keyNum]!;
      if (l !== 0) return l;
    }
    const l = keyNameLength(keyNum, this.zeroPadding, this.ordered);
    if (keyNum < KEY_LENGTHS_CACHED && l < 256) {
      if (keyNum >= this.lengths.length) {
        let n = this.lengths.length * 2;
        while (n <= keyNum) n *= 2;
        const grown = new Uint8Array(n);
        grown.set(this.lengths);
        this.lengths = grown;
      }
      this.lengths[keyNum] = l;
    }
    return l;
  }
}

/**
 * A {@link YcsbOperation} whose key name is made only when read: reads and updates need
 * just its length (the models find records by key number), and making millions of
 * FNV-hashed names was a sixth of a YCSB run. A stream's shared operation is
 * overwritten in place (`reset`) instead of made anew for each draw.
 */
class Operation implements YcsbOperation {
  #key: string | undefined;
  readField = -1;
  writeField = -1;

  constructor(
    public op: YcsbOp,
    public keyNum: number,
    public keyLength: number,
    public readFields: readonly string[],
    public writeFields: readonly string[],
    readonly fieldLength: number,
    public scanLength: number,
    private readonly zeroPadding: number,
    private readonly ordered: boolean,
    key?: string,
  ) {
    this.#key = key;
  }

  get key(): string {
    return (this.#key ??= buildKeyName(this.keyNum, this.zeroPadding, this.ordered));
  }

  reset(op: YcsbOp, keyNum: number, keyLength: number, readFields: readonly string[], writeFields: readonly string[], scanLength: number): this {
    this.op = op;
    this.keyNum = keyNum;
    this.keyLength = keyLength;
    this.readFields = readFields;
    this.writeFields = writeFields;
    this.scanLength = scanLength;
    this.#key = undefined;
    return this;
  }

  /** Sets the field indices: `readFields` and `writeFields` each one field (its index) or not (-1). */
  fields(readField: number, writeField: number): this {
    this.readField = readField;
    this.writeField = writeField;
    return this;
  }

  toJSON(): object {
    const { op, keyNum, key, keyLength, readFields, writeFields, readField, writeField, fieldLength, scanLength } = this;
    return { op, keyNum, key, keyLength, readFields, writeFields, readField, writeField, fieldLength, scanLength };
  }
}

/** One YCSB operation, as CoreWorkload would hand it to the DB binding. */
export interface YcsbOperation {
  op: YcsbOp;
  /** The key number (before hashing): 0..recordCount-1 for loaded records, then inserts. */
  keyNum: number;
  /** The key, as `buildKeyName` builds it (made when first read). */
  readonly key: string;
  /** The key's length (`key.length`, known without making the key). */
  keyLength: number;
  /**
   * Fields read: every field when `readAllFields` (YCSB passes `null`, meaning all), else one
   * random field. Empty for update and insert.
   */
  readFields: readonly string[];
  /**
   * Fields written with new random values: all fields for insert; one random field for
   * update and read-modify-write (every field if `writeAllFields`). Empty for read and scan.
   */
  writeFields: readonly string[];
  /** The index of the one field in `readFields` (`readFields[0]` is `field<readField>`), or -1 when it holds every field or none. */
  readonly readField: number;
  /** The index of the one field in `writeFields`, or -1 when it holds every field or none. */
  readonly writeField: number;
  /** Bytes of each written field (`fieldlength`). */
  fieldLength: number;
  /** Records scanned, starting at `key` (scan only; 0 otherwise). */
  scanLength: number;
}

function fieldNames(spec: YcsbWorkloadSpec): readonly string[] {
  return Object.freeze(Array.from({ length: spec.fieldCount }, (_, i) => spec.fieldNamePrefix + i));
}

const NO_FIELDS: readonly string[] = Object.freeze([]);

/**
 * The load phase: `insertCount` inserts of the keys insertStart, insertStart+1, ... (YCSB's
 * `keysequence`, a CounterGenerator), each with every field. It draws nothing at random.
 *
 * @example
 * const keys = [...ycsbLoadPhase(ycsbWorkload("c"))].map((op) => op.key); // 1000 keys
 */
export function* ycsbLoadPhase(spec: YcsbWorkloadSpec): Generator<YcsbOperation, void, undefined> {
  const stream = new YcsbLoadStream(spec);
  for (let op = stream.next(); op; op = stream.next()) yield op;
}

/**
 * The load phase as a stream: {@link ycsbLoadPhase}'s inserts, one at a time. Keys are
 * made only when read (a store can take the key number and a {@link ycsbKeyNaming}).
 *
 * @example
 * const s = new YcsbLoadStream(spec);
 * for (let op = s.nextShared(); op; op = s.nextShared()) store.insertKey(op.keyNum, naming);
 */
export class YcsbLoadStream {
  /** Inserts in all. */
  readonly count: number;
  private done = 0;
  private readonly all: readonly string[];
  private readonly ordered: boolean;
  private readonly keySequence: CounterGenerator;
  private readonly keyLengths: KeyLengths;
  private shared: Operation | null = null;

  constructor(readonly spec: YcsbWorkloadSpec) {
    this.all = fieldNames(spec);
    this.ordered = spec.insertOrder !== "hashed";
    this.count = spec.insertCount ?? spec.recordCount - spec.insertStart;
    this.keySequence = new CounterGenerator(spec.insertStart);
    this.keyLengths = new KeyLengths(spec.zeroPadding, this.ordered);
  }

  /** The next insert (a new object), or null after the last. */
  next(): YcsbOperation | null {
    return this.draw(null);
  }

  /** The next insert in one object the stream reuses (overwritten by the following call), or null after the last. */
  nextShared(): YcsbOperation | null {
    return this.draw((this.shared ??= new Operation("insert", 0, 0, NO_FIELDS, this.all, this.spec.fieldLength, 0, this.spec.zeroPadding, this.ordered)));
  }

  private draw(into: Operation | null): YcsbOperation | null {
    if (this.done >= this.count) return null;
    this.done++;
    const keyNum = this.keySequence.nextValue();
    const len = this.keyLengths.of(keyNum);
    if (into) return into.reset("insert", keyNum, len, NO_FIELDS, this.all, 0);
    return new Operation("insert", keyNum, len, NO_FIELDS, this.all, this.spec.fieldLength, 0, this.spec.zeroPadding, this.ordered);
  }
}

/**
 * The run phase of CoreWorkload as an endless seeded stream (`next()` never runs out; see
 * {@link ycsbRunPhase} for exactly `operationCount` operations). Generators are built in
 * CoreWorkload.init's order and draws are made in doTransaction*'s order:
 *
 * - operation: DiscreteGenerator over READ, UPDATE, INSERT, SCAN, READMODIFYWRITE (those
 *   with proportion > 0, in that order);
 * - key (read, update, scan, RMW): `nextKeynum`, drawing again while the key number exceeds
 *   the insert sequence's acknowledged limit. Key choosers: uniform over
 *   [insertStart, insertStart+insertCount-1]; zipfian = ScrambledZipfian over
 *   [insertStart, insertStart+insertCount+expectedNewKeys] with
 *   expectedNewKeys = (int)(operationCount * insertProportion * 2.0); latest =
 *   SkewedLatest over the insert sequence;
 * - insert: the next number of an AcknowledgedCounterGenerator starting at recordCount,
 *   acknowledged at once (single client thread);
 * - fields: UniformLongGenerator(0, fieldCount-1) for the one field read (if not
 *   readAllFields) and the one field written (if not writeAllFields);
 * - scan length: createScanLengthGenerator(min, max, distribution).
 *
 * @example
 * const s = new YcsbRunStream(ycsbWorkload("d"), 7);
 * const op = s.next(); // { op: "read", key: "user...", ... } or an insert
 */
export class YcsbRunStream implements Iterable<YcsbOperation> {
  readonly spec: YcsbWorkloadSpec;
  private readonly rng: Rng;
  private readonly fields: readonly string[];
  private readonly singleFields: readonly (readonly string[])[];
  private readonly ordered: boolean;
  private readonly operationChooser: DiscreteGenerator<YcsbOp>;
  private readonly insertSequence: AcknowledgedCounterGenerator;
  private readonly keyChooser: NumberGenerator;
  private readonly fieldChooser: UniformLongGenerator;
  private readonly scanLength: NumberGenerator;
  private readonly keyLengths: KeyLengths;
  private shared: Operation | null = null;

  constructor(spec: YcsbWorkloadSpec, seed: number) {
    this.spec = checkYcsbSpec(spec);
    this.rng = new Rng(seed);
    const rng = this.rng;
    this.fields = fieldNames(spec);
    this.singleFields = this.fields.map((f) => Object.freeze([f]));
    this.ordered = spec.insertOrder !== "hashed";
    this.keyLengths = new KeyLengths(spec.zeroPadding, this.ordered);
    const recordCount = spec.recordCount === 0 ? YCSB_MAX_COUNT : spec.recordCount; // 0 means Integer.MAX_VALUE (checkYcsbSpec checked insertCount against it)
    const insertStart = spec.insertStart;
    const insertCount = spec.insertCount ?? recordCount - insertStart;
    this.operationChooser = new DiscreteGenerator<YcsbOp>(rng);
    if (spec.readProportion > 0) this.operationChooser.addValue(spec.readProportion, "read");
    if (spec.updateProportion > 0) this.operationChooser.addValue(spec.updateProportion, "update");
    if (spec.insertProportion > 0) this.operationChooser.addValue(spec.insertProportion, "insert");
    if (spec.scanProportion > 0) this.operationChooser.addValue(spec.scanProportion, "scan");
    if (spec.readModifyWriteProportion > 0) {
      this.operationChooser.addValue(spec.readModifyWriteProportion, "readmodifywrite");
    }
    this.insertSequence = new AcknowledgedCounterGenerator(recordCount);
    switch (spec.requestDistribution) {
      case "uniform":
        this.keyChooser = new UniformLongGenerator(rng, insertStart, insertStart + insertCount - 1);
        break;
      case "zipfian": {
        // CoreWorkload: int expectednewkeys = (int) ((opcount) * insertproportion * 2.0); // 2 is fudge factor
        const expectedNewKeys = Math.trunc(spec.operationCount * spec.insertProportion * 2.0);
        this.keyChooser = new ScrambledZipfianGenerator(rng, insertStart, insertStart + insertCount + expectedNewKeys);
        break;
      }
      case "latest":
        this.keyChooser = new SkewedLatestGenerator(rng, this.insertSequence);
        break;
      default:
        throw new RangeError(`Unknown request distribution "${String(spec.requestDistribution)}"`);
    }
    this.fieldChooser = new UniformLongGenerator(rng, 0, spec.fieldCount - 1);
    this.scanLength = createScanLengthGenerator(rng, {
      min: spec.minScanLength,
      max: spec.maxScanLength,
      distribution: spec.scanLengthDistribution,
    });
  }

  /** The key number the next insert would use minus one: the highest key readers may choose. */
  get lastInsertedKeyNum(): number {
    return this.insertSequence.lastValue();
  }

  /**
   * What the core's generator needs to continue this stream exactly (src/workloads/ycsb/
   * core-run.ts), or null when the stream has what it lacks: scan lengths other than
   * uniform, or key names over 255 bytes (the store refuses them; the host path says so).
   * The next insert takes the number after `limit` (no insert is outstanding: the
   * stream acknowledges each at once).
   *
   * @example
   * stream.coreParams()?.keys.kind; // "scrambled" for workload A
   */
  coreParams(): YcsbCoreParams | null {
    const shares = this.operationChooser.weights();
    if (4 + Math.max(this.spec.zeroPadding, 20) > 255) return null;
    const hasScan = shares.some((s) => s.value === "scan");
    const sl = this.scanLength;
    if (hasScan && !(sl instanceof UniformLongGenerator)) return null;
    const kc = this.keyChooser;
    let keys: YcsbCoreParams["keys"];
    if (kc instanceof UniformLongGenerator) keys = { kind: "uniform", lb: kc.lb, interval: kc.interval };
    else if (kc instanceof ScrambledZipfianGenerator) {
      const z = kc.gen;
      keys = { kind: "scrambled", items: z.items, zetan: z.zetan, eta: z.eta, alpha: z.alpha, secondBound: z.secondBound, min: kc.min, count: kc.itemCount };
    } else if (kc instanceof SkewedLatestGenerator) {
      const z = kc.zipfian;
      keys = { kind: "latest", items: z.items, zetan: z.zetan, countForZeta: z.countForZeta, eta: z.eta, theta: z.theta, zeta2theta: z.zeta2theta, alpha: z.alpha, secondBound: z.secondBound };
    } else return null;
    return {
      rng: this.rng,
      shares: shares.map((s) => ({ op: s.value, share: s.share })),
      keys,
      limit: this.insertSequence.lastValue(),
      scan: sl instanceof UniformLongGenerator ? { min: sl.lb, interval: sl.interval } : { min: 0, interval: 1 },
      fieldCount: this.fields.length,
      readAll: this.spec.readAllFields,
      writeAll: this.spec.writeAllFields,
      ordered: this.ordered,
      zeroPadding: this.spec.zeroPadding,
    };
  }


  /** The next operation (a new object each call). */
  next(): YcsbOperation {
    return this.draw(null);
  }

  /**
   * The next operation, the same draws as `next()`, in one object the stream reuses: it
   * is overwritten by the following call. For drivers that finish with an operation
   * before drawing the next (no garbage per operation).
   *
   * @example
   * for (let i = 0; i < n; i++) apply(stream.nextShared());
   */
  nextShared(): YcsbOperation {
    return this.draw((this.shared ??= new Operation("read", 0, 0, NO_FIELDS, NO_FIELDS, this.spec.fieldLength, 0, this.spec.zeroPadding, this.ordered)));
  }

  /** Draws an operation into `into` (or a new object). */
  private draw(into: Operation | null): YcsbOperation {
    const op = this.operationChooser.nextValue();
    const spec = this.spec;
    switch (op) {
      case "read": {
        const keyNum = this.nextKeyNum();
        const rf = this.pickField(spec.readAllFields);
        return this.make(into, op, keyNum, this.fieldsOf(rf), NO_FIELDS, 0).fields(rf, -1);
      }
      case "update": {
        const keyNum = this.nextKeyNum();
        const wf = this.pickField(spec.writeAllFields);
        return this.make(into, op, keyNum, NO_FIELDS, this.fieldsOf(wf), 0).fields(-1, wf);
      }
      case "insert": {
        const keyNum = this.insertSequence.nextValue();
        const result = this.make(into, op, keyNum, NO_FIELDS, this.fields, 0).fields(-1, -1);
        this.insertSequence.acknowledge(keyNum);
        return result;
      }
      case "scan": {
        const keyNum = this.nextKeyNum();
        const len = this.scanLength.nextValue();
        const rf = this.pickField(spec.readAllFields);
        return this.make(into, op, keyNum, this.fieldsOf(rf), NO_FIELDS, len).fields(rf, -1);
      }
      default: {
        const keyNum = this.nextKeyNum();
        const rf = this.pickField(spec.readAllFields);
        const wf = this.pickField(spec.writeAllFields);
        return this.make(into, "readmodifywrite", keyNum, this.fieldsOf(rf), this.fieldsOf(wf), 0).fields(rf, wf);
      }
    }
  }

  *[Symbol.iterator](): Iterator<YcsbOperation> {
    for (;;) yield this.next();
  }

  /** CoreWorkload.nextKeynum (non-exponential branch). */
  private nextKeyNum(): number {
    const limit = this.insertSequence.lastValue();
    let keyNum: number;
    do {
      keyNum = this.keyChooser.nextValue();
    } while (keyNum > limit);
    return keyNum;
  }

  /** -1 (every field) when `all`, else a random field's index (-1 too when there is one field: it is every field). */
  private pickField(all: boolean): number {
    if (all) return -1;
    const f = this.fieldChooser.nextValue();
    return this.fields.length === 1 ? -1 : f;
  }

  /** Every field (-1) or the one field `f`. */
  private fieldsOf(f: number): readonly string[] {
    return f < 0 ? this.fields : this.singleFields[f]!;
  }

  private make(
    into: Operation | null,
    op: YcsbOp,
    keyNum: number,
    readFields: readonly string[],
    writeFields: readonly string[],
    scanLength: number,
  ): Operation {
    const keyLength = this.keyLengths.of(keyNum);
    if (into) return into.reset(op, keyNum, keyLength, readFields, writeFields, scanLength);
    return new Operation(op, keyNum, keyLength, readFields, writeFields, this.spec.fieldLength, scanLength, this.spec.zeroPadding, this.ordered);
  }
}

/**
 * A run stream's state and parameters for the core's generator ({@link YcsbRunStream.coreParams}):
 * its random source (the core continues it), the operation chooser's shares in YCSB's
 * order, the key chooser, the highest key a read may choose, the field chooser and the
 * key names' form.
 */
export interface YcsbCoreParams {
  rng: Rng;
  shares: { op: YcsbOp; share: number }[];
  keys:
    | { kind: "uniform"; lb: number; interval: number }
    | { kind: "scrambled"; items: number; zetan: number; eta: number; alpha: number; secondBound: number; min: number; count: number }
    | { kind: "latest"; items: number; zetan: number; countForZeta: number; eta: number; theta: number; zeta2theta: number; alpha: number; secondBound: number };
  limit: number;
  /** Scan lengths: uniform in [min, min + interval). */
  scan: { min: number; interval: number };
  fieldCount: number;
  readAll: boolean;
  writeAll: boolean;
  ordered: boolean;
  zeroPadding: number;
}

/**
 * The run phase: exactly `spec.operationCount` operations of a {@link YcsbRunStream}.
 *
 * @example
 * const ops = [...ycsbRunPhase(ycsbWorkload("e"), 1)];
 * ops.filter((o) => o.op === "scan").length; // about 950
 */
export function* ycsbRunPhase(spec: YcsbWorkloadSpec, seed: number): Generator<YcsbOperation, void, undefined> {
  const stream = new YcsbRunStream(spec, seed);
  for (let i = 0; i < spec.operationCount; i++) yield stream.next();
}

// ---------------------------------------------------------------------------------------
// Field contents and the memcached binding
// ---------------------------------------------------------------------------------------

/**
 * A random field value exactly as YCSB's `RandomByteIterator(len).toString()` produces it
 * (the path the memcached binding takes): one 32-bit draw per 6 bytes, byte j of a group
 * being ' ' + (draw >> 5j masked with 31, 63, 95, 31, 63, 95 for j = 0..5). So bytes at
 * positions 0 mod 3 are in 32..63, at 1 mod 3 in 32..95, at 2 mod 3 in 32..63 or 96..127:
 * printable ASCII and DEL, including the JSON-escaped '"' and '\'. (RandomByteIterator's
 * constructor also makes one draw it never uses; we make it too.)
 *
 * @example
 * randomFieldValue(new Rng(1), 100).length; // 100
 */
export function randomFieldValue(rng: Rng, length: number): string {
  const codes = randomFieldBytes(rng, length);
  let s = "";
  for (let i = 0; i < codes.length; i++) s += String.fromCharCode(codes[i]!);
  return s;
}

function randomFieldBytes(rng: Rng, length: number): Uint8Array {
  const out = new Uint8Array(length);
  rng.u32(); // the constructor's fillBytes(), unused by toArray()
  for (let base = 0; base < length; base += 6) {
    const bytes = rng.u32() | 0; // Java int
    const n = Math.min(6, length - base);
    // fillBytesImpl's fall-through switch, from the highest byte down.
    if (n > 5) out[base + 5] = ((bytes >> 25) & 95) + 32;
    if (n > 4) out[base + 4] = ((bytes >> 20) & 63) + 32;
    if (n > 3) out[base + 3] = ((bytes >> 15) & 31) + 32;
    if (n > 2) out[base + 2] = ((bytes >> 10) & 95) + 32;
    if (n > 1) out[base + 1] = ((bytes >> 5) & 63) + 32;
    out[base] = (bytes & 31) + 32;
  }
  return out;
}

/** UTF-8 bytes of `s` written as a JSON string body with Jackson's standard escapes. */
function jsonStringBytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) n += 2; // \" and \\
    else if (c < 0x20) n += c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6; // \n or \u00XX
    else if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 1; // Java's UTF-8 encoder replaces a lone surrogate with '?'
    } else if (c >= 0xd800 && c <= 0xdfff) n += 1;
    else n += 3;
  }
  return n;
}

/**
 * Byte length of the value the YCSB memcached binding stores for these fields:
 * `MemcachedClient.toJson` writes them as one flat JSON object of strings with Jackson
 * (`{"field0":"...","field1":"..."}`, no spaces, '"' '\' and control characters escaped),
 * and spymemcached stores that String as UTF-8 with flags 0, uncompressed (JSON objects are
 * never compressed; other strings only above 16384 B).
 *
 * The binding's `update` sends `replace` with ONLY the updated field(s): the stored value is
 * replaced by that smaller object, so after the first update of a record (default: one field)
 * a `get` returns about 115 B instead of about 1150 B. `insert` sends `add` with every field;
 * `read` sends `get` (the whole value; fields are filtered client-side); `scan` is not
 * implemented (returns NOT_IMPLEMENTED without contacting the server).
 *
 * @example
 * encodeMemcachedValue({ field0: "abc" }); // 16: {"field0":"abc"}
 * encodeMemcachedValue(new Map([["f", 'a"b']])); // 12: {"f":"a\"b"}
 */
export function encodeMemcachedValue(fields: ReadonlyMap<string, string> | Readonly<Record<string, string>>): number {
  const entries: Iterable<[string, string]> =
    fields instanceof Map ? fields.entries() : Object.entries(fields as Record<string, string>);
  let n = 2; // { }
  let count = 0;
  for (const [name, value] of entries) {
    n += jsonStringBytes(name) + jsonStringBytes(value) + 5; // "name":"value"
    count++;
  }
  return n + Math.max(0, count - 1); // commas
}

/**
 * The memcached key the binding uses: `MessageFormat.format("{0}-{1}", table, key)`.
 *
 * @example
 * memcachedKey("user6284781860667377211"); // "usertable-user6284781860667377211"
 */
export function memcachedKey(key: string, table = "usertable"): string {
  return `${table}-${key}`;
}

/** One memcached text-protocol request sent by the YCSB binding. */
export interface MemcachedRequest {
  cmd: "get" | "add" | "replace";
  /** The key sent (ASCII), `table-key` (made when first read). */
  readonly key: string;
  /** The key's length, known without making it. */
  keyLength: number;
  /** Bytes of the data block (`set`-family commands); 0 for `get`. */
  valueBytes: number;
}

/** A {@link MemcachedRequest} whose key is made only when read (the models need its length). */
class BindingRequest implements MemcachedRequest {
  readonly keyLength: number;

  constructor(
    readonly cmd: MemcachedRequest["cmd"],
    private readonly operation: YcsbOperation,
    private readonly table: string,
    readonly valueBytes: number,
  ) {
    this.keyLength = table.length + 1 + operation.keyLength;
  }

  get key(): string {
    return memcachedKey(this.operation.key, this.table);
  }

  toJSON(): object {
    return { cmd: this.cmd, key: this.key, keyLength: this.keyLength, valueBytes: this.valueBytes };
  }
}

/**
 * The memcached requests the YCSB memcached binding issues for an operation, with the exact
 * encoded value sizes for random field contents drawn from `rng` (as RandomByteIterator):
 * read: get; update: replace (only the written fields); insert: add (all fields);
 * readmodifywrite: get then replace; scan: nothing (not implemented by the binding).
 *
 * @example
 * const content = new Rng(99);
 * for (const op of ycsbLoadPhase(spec)) for (const r of memcachedRequests(op, content)) send(r);
 * // each insert: { cmd: "add", key: "usertable-user...", valueBytes: about 1147 }
 */
export function memcachedRequests(op: YcsbOperation, rng: Rng, table = "usertable"): MemcachedRequest[] {
  switch (op.op) {
    case "read":
      return [new BindingRequest("get", op, table, 0)];
    case "scan":
      return [];
    case "insert":
      return [new BindingRequest("add", op, table, randomValueBytes(op.writeFields, op.fieldLength, rng))];
    case "update":
      return [new BindingRequest("replace", op, table, randomValueBytes(op.writeFields, op.fieldLength, rng))];
    case "readmodifywrite":
      return [new BindingRequest("get", op, table, 0), new BindingRequest("replace", op, table, randomValueBytes(op.writeFields, op.fieldLength, rng))];
  }
}

/**
 * Encoded size of a JSON object of `names` with random values of `fieldLength` bytes, as
 * {@link encodeMemcachedValue} of {@link randomFieldValue}s, without building strings.
 * Field values are drawn in the order of `names`.
 */
export function randomValueBytes(names: readonly string[], fieldLength: number, rng: Rng): number {
  let n = 2 + Math.max(0, names.length - 1);
  for (const name of names) {
    n += jsonStringBytes(name) + 5 + fieldLength;
    const bytes = randomFieldBytes(rng, fieldLength);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === 0x22 || b === 0x5c) n++;
    }
  }
  return n;
}
