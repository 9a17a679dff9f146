/**
 * A key-value store model for YCSB that runs inside a guest process and updates fields in
 * place: records, a hash index for point operations and a B+-tree for scans, all at
 * guest-virtual addresses from the guest allocator (`process.malloc`), every operation
 * issuing the reads and writes a C implementation of these structures makes. No data
 * bytes are kept: only the metadata the model needs, in typed arrays on the host side.
 *
 * The store is a plain in-memory table of the kind YCSB's core workloads assume (fixed
 * schema: `fieldCount` fields of `fieldLength` bytes, field i at slot i). The layout
 * (docs/workloads.md has the rationale; sizes marked "guess" are ours):
 *
 * - Record, layout "record" (default): one allocation per record,
 *   `struct record { record *hnext; u64 hash; u32 keylen, nfields; u64 version;
 *   char key[keylen, padded to 8]; char fields[nfields][fieldlen]; }`, header 32 B (a
 *   guess: the fields a chained hash table and a record need). 10 x 100 B fields and a
 *   23-byte YCSB key give 32 + 24 + 1000 = 1056 B.
 * - Record, layout "fields": the record holds a field-pointer array instead
 *   (`char *fields[nfields]`, 32 + 24 + 80 = 136 B) and each field is its own
 *   allocation of `fieldLength` bytes, as stores that keep values as separate strings do
 *   (a Redis hash of sds strings, a `std::vector<std::string>`); 11 allocations a record.
 * - Hash index: chained, an array of 8-byte bucket pointers (2^16 at start, a guess as
 *   memcached's; doubling when records exceed the buckets, load factor 1 as Redis's dict,
 *   a guess): a new array is malloc'ed and zeroed, every record rehashed (bucket read,
 *   header read, hnext and bucket writes), the old array freed. A lookup reads the bucket,
 *   then per chained record its header (hnext, hash, key length) and, when the hashes are
 *   equal, its key bytes.
 * - Ordered index (option `orderedIndex`, default on: a store that answers YCSB's scan
 *   keeps one whatever the workload): a B+-tree keyed by the key string, nodes of 512 B
 *   (a guess), each a header (count, level; next-leaf or leftmost-child pointer, 16 B)
 *   and 15 slots of a 24-byte key (YCSB keys are at most 23 B) and an 8-byte pointer.
 *   A descent reads each node on the path (one read of its used slots); an insert shifts
 *   the leaf's slots after the new one (one write), a split allocates a node and copies
 *   half the slots. A scan descends to the start key, then reads each record in key
 *   order, following next-leaf pointers.
 * - Network (option `network`, default on): a 16 KiB request buffer and a 16 KiB response
 *   buffer (sizes as memcached's; a guess for this store): a request (its key and any
 *   written fields) is written into the request buffer and read from it; read fields are
 *   written into the response buffer.
 *
 * Operations: `read` looks the key up and reads all fields (one read of the field array)
 * or one field; `update` looks it up and writes the field(s) in place (the record never
 * moves); `insert` allocates and writes the record, links it into the hash index and the
 * B+-tree; `scan` walks the B+-tree; YCSB's read-modify-write is a read then an update
 * (two lookups, as CoreWorkload calls db.read then db.update).
 *
 * @example
 * const store = new KvStore(vm.process);
 * store.insert(0, "user6284781860667377211");
 * store.read(0, 23);              // true: all fields read
 * store.update(0, 23, 3);         // true: field3 written in place
 * store.scan("user6284781860667377211", 10); // 1: records read
 */
import type { WorkloadProcess } from "../drivers.js";
import { MeteredProcess } from "../metered.js";
import { mix32 } from "../memcached/server.js";
import { RecordTable } from "../records.js";
import { BPlusTree } from "./btree.js";

/**
 * Keys given by their numbers (YCSB's key names): a key's length, the packed head the
 * ordered index sorts by (btree.ts `packKey` of its name), and the name itself, which
 * is made only when something needs it (a tie of packed heads, a reader). Lets a load
 * phase insert records without making a string per key.
 */
export interface KeyNaming {
  /** The name of key number `keyNum`. */
  name(keyNum: number): string;
  /** `name(keyNum).length`. */
  length(keyNum: number): number;
  /** `packKey(name(keyNum), out)`. */
  pack(keyNum: number, out: Float64Array): void;
}

// A record's metadata in the store's RecordTable: guest address and key number (f64
// words 0, 1 of 4), hash-chain successor and hash (32-bit words 4, 5 of 8), key length
// (byte 24 of 32).
const R_VA = 0;
const R_KEYNUM = 1;
const R_HNEXT = 4;
const R_HV = 5;
const R_KEYLEN = 24;

/** CoreWorkload FIELD_COUNT_PROPERTY_DEFAULT "10". */
export const KV_DEFAULT_FIELD_COUNT = 10;
/** CoreWorkload FIELD_LENGTH_PROPERTY_DEFAULT "100". */
export const KV_DEFAULT_FIELD_LENGTH = 100;
/** Record header bytes (hnext, hash, key length, field count, version). A guess. */
export const KV_RECORD_HEADER_BYTES = 32;
/** Initial hash buckets: 2^16, as memcached's HASHPOWER_DEFAULT (a guess for this store). */
export const KV_DEFAULT_INITIAL_BUCKETS = 1 << 16;
/** Records per bucket before the index doubles: 1, as Redis's dict (a guess for this store). */
export const KV_DEFAULT_MAX_LOAD_FACTOR = 1;
/** B+-tree node bytes (a guess: 8 cache lines). */
export const KV_DEFAULT_NODE_BYTES = 512;
/** Key bytes per B+-tree slot: YCSB keys are "user" + at most 19 digits = 23 B. */
export const KV_DEFAULT_KEY_SLOT_BYTES = 24;
/** Request and response buffer bytes (as memcached's READ_BUFFER_SIZE; a guess for this store). */
export const KV_BUFFER_BYTES = 16384;

/** Options of {@link KvStore}. */
export interface KvStoreOptions {
  /** Fields per record (default 10, YCSB's). */
  fieldCount?: number;
  /** Bytes per field (default 100, YCSB's). */
  fieldLength?: number;
  /** "record": fields inline in one allocation (default); "fields": one allocation per field. */
  layout?: "record" | "fields";
  /** Initial hash buckets, a power of two (default 2^16). */
  initialBuckets?: number;
  /** Records per bucket that make the index double (default 1). */
  maxLoadFactor?: number;
  /** Keep a B+-tree for scans (default true). Without it, `scan` throws. */
  orderedIndex?: boolean;
  /** B+-tree node bytes (default 512). */
  nodeBytes?: number;
  /** Key bytes per B+-tree slot (default 24). */
  keySlotBytes?: number;
  /** Model request and response buffers (default true). */
  network?: boolean;
  /** Tier for records and fields (passed to malloc; default: the allocator's choice). */
  tier?: string;
  /** Tier for the hash index, B+-tree and buffers (default: the allocator's choice). */
  metadataTier?: string;
}

/** A {@link KvStore}'s index as {@link KvStore.coreIndex} lends it. */
export interface KvCoreIndex {
  buckets: Int32Array;
  records: Uint8Array;
  count: number;
  tableVa: number;
  network: boolean;
  requestBuffer: number;
  responseBuffer: number;
  responseOffset: number;
  maxLoadFactor: number;
  tree: BPlusTree | null;
}

/** Memory and activity of a {@link KvStore}. */
export interface KvStoreStats {
  records: number;
  /** Bytes malloc'ed for records (and their fields in layout "fields"). */
  recordBytes: number;
  /** Hash index: buckets, their bytes, and how often it doubled. */
  hashBuckets: number;
  hashBytes: number;
  hashExpansions: number;
  /** B+-tree nodes, their bytes, and its height (0 without an ordered index). */
  treeNodes: number;
  treeBytes: number;
  treeHeight: number;
  /** Bytes of request and response buffers. */
  bufferBytes: number;
  reads: number;
  updates: number;
  inserts: number;
  scans: number;
  /** Records read by scans. */
  scannedRecords: number;
  /** Lookups that found no record. */
  notFound: number;
  /** Accesses issued (reads, writes) and their bytes. */
  accesses: number;
  accessBytes: number;
  /** Guest mallocs and frees and the bytes malloc'ed. */
  mallocs: number;
  frees: number;
  mallocBytes: number;
}

/**
 * The in-place key-value store; see the module comment.
 *
 * Records are found by a key number (any integer below 2^53, unique per key: YCSB's
 * `keyNum`) and the key's length; the hash of the key is a 32-bit mix of the number, a
 * stand-in for a string hash (both spread keys uniformly). The B+-tree orders records by
 * the key string itself, so scans visit keys in the order a real ordered store would.
 */
export class KvStore {
  readonly fieldCount: number;
  readonly fieldLength: number;
  readonly layout: "record" | "fields";
  /** The process the model's traffic goes through, with its counts. */
  readonly meter: MeteredProcess;
  private readonly maxLoad: number;
  private readonly network: boolean;
  private readonly dataOpts: { tier?: string } | undefined;
  private readonly metaOpts: { tier?: string } | undefined;

  // Records (indexed by record id), their metadata in 32-byte records (offsets R_*).
  private n = 0;
  private readonly meta = new RecordTable(32);
  /** Layout "fields": address of field 0 of record r at fieldVa[r * fieldCount]. */
  private fieldVa: Float64Array = new Float64Array(0);

  // Hash index.
  private buckets: Int32Array;
  private tableVa: number;
  private hashExpansions = 0;

  /** The ordered index (B+-tree), or null without one. */
  private readonly tree: BPlusTree | null;
  /**
   * Each record's key, its name or how to name it from its key number, in runs: run i
   * holds records nameFrom[i] up to the next run's first, all keyed by nameBy[i] (a
   * string names one record). A load or a run phase names its many records alike: a
   * run each, not an entry per record.
   */
  private nameFrom: number[] = [];
  private nameBy: (string | KeyNaming)[] = [];

  // Buffers.
  private rbuf = 0;
  private wbuf = 0;
  private wOff = 0;

  private recordBytes = 0;
  private reads = 0;
  private updates = 0;
  private inserts = 0;
  private scans = 0;
  private scanned = 0;
  private notFound = 0;
  constructor(process: WorkloadProcess, options: KvStoreOptions = {}) {
    this.meter = new MeteredProcess(process);
    this.fieldCount = posInt(options.fieldCount ?? KV_DEFAULT_FIELD_COUNT, "fieldCount");
    this.fieldLength = posInt(options.fieldLength ?? KV_DEFAULT_FIELD_LENGTH, "fieldLength");
    const layout = options.layout ?? "record";
    if (layout !== "record" && layout !== "fields") {
      throw new RangeError(`layout: ${JSON.stringify(layout)} is not allowed; expected "record" or "fields"`);
    }
    this.layout = layout;
    const nb = options.initialBuckets ?? KV_DEFAULT_INITIAL_BUCKETS;
    if (!(Number.isInteger(nb) && nb >= 1 && nb <= 2 ** 28 && (nb & (nb - 1)) === 0)) {
      throw new RangeError(`initialBuckets: ${nb} is not allowed; expected a power of two in 1..2^28`);
    }
    this.maxLoad = options.maxLoadFactor ?? KV_DEFAULT_MAX_LOAD_FACTOR;
    if (!(this.maxLoad > 0 && Number.isFinite(this.maxLoad))) {
      throw new RangeError(`maxLoadFactor: ${this.maxLoad} is not allowed; expected a positive number`);
    }
    this.network = options.network ?? true;
    this.dataOpts = options.tier === undefined ? undefined : { tier: options.tier };
    this.metaOpts = options.metadataTier === undefined ? undefined : { tier: options.metadataTier };
    const nodeBytes = posInt(options.nodeBytes ?? KV_DEFAULT_NODE_BYTES, "nodeBytes");
    const keySlotBytes = posInt(options.keySlotBytes ?? KV_DEFAULT_KEY_SLOT_BYTES, "keySlotBytes");
    this.tree =
      options.orderedIndex ?? true
        ? new BPlusTree(this.meter, { nodeBytes, keySlotBytes, tier: options.metadataTier, nameOf: (r) => this.keyName(r) })
        : null;

    this.buckets = new Int32Array(nb).fill(-1);
    this.tableVa = this.meter.calloc(nb * 8, this.metaOpts);
    if (this.network) {
      this.rbuf = this.meter.malloc(KV_BUFFER_BYTES, this.metaOpts);
      this.wbuf = this.meter.malloc(KV_BUFFER_BYTES, this.metaOpts);
    }
  }

  /** Records stored. */
  get size(): number {
    return this.n;
  }

  /** Bytes of the record allocation for a key of `keyLen` bytes (one allocation; layout "fields" adds `fieldCount` of `fieldLength`). */
  recordSize(keyLen: number): number {
    const head = KV_RECORD_HEADER_BYTES + align8(keyLen);
    return this.layout === "record" ? head + this.fieldCount * this.fieldLength : head + this.fieldCount * 8;
  }

  /**
   * The store's index for a run phase in the core (src/workloads/ycsb/core-run.ts), or
   * null in layout "fields" (the core models layout "record"). Views, not copies: the
   * buckets (record id of each chain's head, -1 empty) and the records' metadata,
   * 32 B each (f64 address @0, f64 key number @8, i32 next in chain @16, i32 hash @20,
   * u8 key length @24), with the addresses and state the operations use.
   */
  coreIndex(): KvCoreIndex | null {
    if (this.layout !== "record") return null;
    return {
      buckets: this.buckets,
      records: this.meta.u8.subarray(0, this.n * 32),
      count: this.n,
      tableVa: this.tableVa,
      network: this.network,
      requestBuffer: this.rbuf,
      responseBuffer: this.wbuf,
      responseOffset: this.wOff,
      maxLoadFactor: this.maxLoad,
      tree: this.tree,
    };
  }

  /**
   * Takes back what the core did with a copy of the index: the records it added (their
   * metadata, `records` holding every record's, keyed by `naming`), the buckets (copied
   * back into `coreIndex().buckets` by the caller), its operations' counts and accesses,
   * and where the response buffer's cursor ended.
   */
  addCoreRun(r: {
    reads: number; updates: number; notFound: number; inserts: number; records: Uint8Array; recordBytes: number;
    accesses: number; accessBytes: number; responseOffset: number; scans: number; scanned: number; naming: KeyNaming;
  }): void {
    const n = r.records.length / 32;
    if (n > this.n) {
      this.growRecords(n);
      this.meta.u8.set(r.records.subarray(this.n * 32), this.n * 32);
      this.nameRecords(this.n, r.naming);
      this.n = n;
    }
    this.reads += r.reads;
    this.updates += r.updates;
    this.notFound += r.notFound;
    this.inserts += r.inserts;
    this.scans += r.scans;
    this.scanned += r.scanned;
    this.recordBytes += r.recordBytes;
    this.meter.accesses += r.accesses;
    this.meter.accessBytes += r.accessBytes;
    this.wOff = r.responseOffset;
  }

  /** Whether every record's key is named by `naming` (so its name follows from its key number). */
  allNamedBy(naming: KeyNaming): boolean {
    return this.nameBy.every((by) => by === naming);
  }

  /** Records from `first` on are keyed by `by` (a string: record `first` alone). */
  private nameRecords(first: number, by: string | KeyNaming): void {
    const last = this.nameBy.length - 1;
    if (last >= 0 && typeof by !== "string" && this.nameBy[last] === by) return; // the run goes on
    this.nameFrom.push(first);
    this.nameBy.push(by);
  }

  /** A malloc of the store's records (meta false) or metadata (meta true), as its operations make them. */
  mallocFor(bytes: number, meta: boolean): number {
    return this.meter.malloc(bytes, meta ? this.metaOpts : this.dataOpts);
  }

  /** Doubles the hash index if it is over its load factor, as an insert does after it. */
  expandIfFull(): void {
    if (this.n > this.buckets.length * this.maxLoad && this.buckets.length < 2 ** 28) this.expand();
  }

  // ---- operations -------------------------------------------------------------------

  /**
   * Inserts a record with every field; false (and nothing allocated) when the key exists.
   *
   * @example
   * store.insert(7, "user7"); // true
   */
  insert(keyNum: number, key: string): boolean {
    return this.insertRecord(keyNum, key.length, key);
  }

  /**
   * `insert` of the key number's name under `naming`, without making the name unless a
   * comparison of the ordered index needs it.
   *
   * @example
   * store.insertKey(7, ycsbKeyNaming(spec)); // as store.insert(7, buildKeyName(7))
   */
  insertKey(keyNum: number, naming: KeyNaming): boolean {
    return this.insertRecord(keyNum, naming.length(keyNum), naming);
  }

  /** The key of record `r`. */
  private keyName(r: number): string {
    // the last run that starts at or before r
    let lo = 0;
    let hi = this.nameFrom.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.nameFrom[mid]! <= r) lo = mid;
      else hi = mid - 1;
    }
    const n = this.nameBy[lo]!;
    return typeof n === "string" ? n : n.name(this.meta.f64[r * 4 + R_KEYNUM]!);
  }

  private insertRecord(keyNum: number, keyLen: number, key: string | KeyNaming): boolean {
    checkKey(keyLen);
    const fieldBytes = this.fieldCount * this.fieldLength;
    this.request(keyLen + fieldBytes);
    const hv = mix32(keyNum);
    if (this.lookup(keyNum, keyLen, hv) >= 0) {
      this.respond(8);
      return false;
    }
    const r = this.n;
    this.growRecords(r + 1);
    const size = this.recordSize(keyLen);
    const rec = this.meter.malloc(size, this.dataOpts);
    this.recordBytes += size;
    this.meta.f64[r * 4 + R_VA] = rec;
    this.meta.f64[r * 4 + R_KEYNUM] = keyNum;
    this.meta.u8[r * 32 + R_KEYLEN] = keyLen;
    this.meta.i32[r * 8 + R_HV] = hv;
    if (this.layout === "record") {
      this.meter.write(rec, size); // header, key and fields, copied from the request
    } else {
      this.meter.write(rec, size); // header, key and the field pointers
      const base = r * this.fieldCount;
      for (let f = 0; f < this.fieldCount; f++) {
        const fv = this.meter.malloc(this.fieldLength, this.dataOpts);
        this.recordBytes += this.fieldLength;
        this.fieldVa[base + f] = fv;
        this.meter.write(fv, this.fieldLength);
      }
    }
    // Hash insert at the bucket's head.
    const b = hv & (this.buckets.length - 1);
    this.meta.i32[r * 8 + R_HNEXT] = this.buckets[b]!;
    this.buckets[b] = r;
    this.meter.write(this.tableVa + b * 8, 8); // the record's hnext went with its header
    this.n++;
    this.nameRecords(r, key);
    if (this.tree) {
      if (typeof key === "string") this.tree.insert(key, r);
      else {
        key.pack(keyNum, head);
        this.tree.insertPacked(head[0]!, head[1]!, r);
      }
    }
    this.inserts++;
    this.respond(8);
    this.expandIfFull();
    return true;
  }

  /**
   * Reads field `field` (0-based), or every field when `field` is -1 (YCSB's
   * readallfields); false when the key is absent.
   *
   * @example
   * store.read(7, 5);     // all fields of "user7"
   * store.read(7, 5, 2);  // field2 only
   */
  read(keyNum: number, keyLen: number, field = -1): boolean {
    checkKey(keyLen);
    this.reads++;
    this.request(keyLen);
    const r = this.lookup(keyNum, keyLen, mix32(keyNum));
    if (r < 0) {
      this.notFound++;
      this.respond(8);
      return false;
    }
    this.respond(this.readFields(r, field));
    return true;
  }

  /**
   * Writes field `field` (or every field when -1) of a record in place; false when the key
   * is absent.
   *
   * @example
   * store.update(7, 5, 4); // field4 of "user7" rewritten
   */
  update(keyNum: number, keyLen: number, field = -1): boolean {
    checkKey(keyLen);
    this.updates++;
    const bytes = field < 0 ? this.fieldCount * this.fieldLength : this.fieldLength;
    this.request(keyLen + bytes);
    const r = this.lookup(keyNum, keyLen, mix32(keyNum));
    if (r < 0) {
      this.notFound++;
      this.respond(8);
      return false;
    }
    this.checkField(field);
    const rec = this.meta.f64[r * 4 + R_VA]!;
    const fieldsOff = KV_RECORD_HEADER_BYTES + align8(this.meta.u8[r * 32 + R_KEYLEN]!);
    if (this.layout === "record") {
      if (field < 0) this.meter.write(rec + fieldsOff, this.fieldCount * this.fieldLength);
      else this.meter.write(rec + fieldsOff + field * this.fieldLength, this.fieldLength);
    } else {
      const base = r * this.fieldCount;
      if (field < 0) {
        this.meter.read(rec + fieldsOff, this.fieldCount * 8);
        for (let f = 0; f < this.fieldCount; f++) this.meter.write(this.fieldVa[base + f]!, this.fieldLength);
      } else {
        this.meter.read(rec + fieldsOff + field * 8, 8);
        this.meter.write(this.fieldVa[base + field]!, this.fieldLength);
      }
    }
    this.respond(8);
    return true;
  }

  /**
   * Reads `count` records in key order from the first key >= `startKey`, each its field
   * `field` or every field (-1). Returns the records read (fewer at the end of the table).
   *
   * @example
   * store.scan("user5", 10); // up to 10 records from "user5" on
   */
  scan(startKey: string, count: number, field = -1): number {
    if (!this.tree) throw new Error("scan: this store has no ordered index (orderedIndex: false)");
    if (!(Number.isInteger(count) && count >= 0)) throw new RangeError(`count: ${count} is not allowed; expected an integer >= 0`);
    this.checkField(field);
    this.scans++;
    this.request(startKey.length + 8);
    if (this.tree.height === 0) {
      this.respond(8);
      return 0;
    }
    const done = this.tree.scan(startKey, count, (r) => {
      this.meter.read(this.meta.f64[r * 4 + R_VA]!, KV_RECORD_HEADER_BYTES); // the record's header (key length, field count)
      this.respond(this.readFields(r, field));
    });
    this.scanned += done;
    return done;
  }

  // ---- stats ------------------------------------------------------------------------

  stats(): KvStoreStats {
    return {
      records: this.n,
      recordBytes: this.recordBytes,
      hashBuckets: this.buckets.length,
      hashBytes: this.buckets.length * 8,
      hashExpansions: this.hashExpansions,
      treeNodes: this.tree?.nodes ?? 0,
      treeBytes: this.tree ? this.tree.nodes * this.tree.nodeBytes : 0,
      treeHeight: this.tree?.height ?? 0,
      bufferBytes: this.network ? 2 * KV_BUFFER_BYTES : 0,
      reads: this.reads,
      updates: this.updates,
      inserts: this.inserts,
      scans: this.scans,
      scannedRecords: this.scanned,
      notFound: this.notFound,
      ...this.meter.counts(),
    };
  }

  /** Guest address of a key's record, or -1 (no accesses; for tests and inspection). */
  addressOf(keyNum: number, keyLen: number): number {
    let r = this.buckets[mix32(keyNum) & (this.buckets.length - 1)]!;
    while (r >= 0 && !(this.meta.f64[r * 4 + R_KEYNUM] === keyNum && this.meta.u8[r * 32 + R_KEYLEN] === keyLen)) r = this.meta.i32[r * 8 + R_HNEXT]!;
    return r < 0 ? -1 : this.meta.f64[r * 4 + R_VA]!;
  }

  // ---- internals --------------------------------------------------------------------

  /** Bucket read, then per chained record a header read and, on an equal hash, a key read. */
  private lookup(keyNum: number, keyLen: number, hv: number): number {
    const b = hv & (this.buckets.length - 1);
    this.meter.read(this.tableVa + b * 8, 8);
    let r = this.buckets[b]!;
    while (r >= 0) {
      const rec = this.meta.f64[r * 4 + R_VA]!;
      this.meter.read(rec, KV_RECORD_HEADER_BYTES);
      if (this.meta.i32[r * 8 + R_HV] === hv && this.meta.u8[r * 32 + R_KEYLEN] === keyLen) {
        this.meter.read(rec + KV_RECORD_HEADER_BYTES, keyLen);
        if (this.meta.f64[r * 4 + R_KEYNUM] === keyNum) return r;
      }
      r = this.meta.i32[r * 8 + R_HNEXT]!;
    }
    return -1;
  }

  /** Reads a record's field(s); returns the bytes read. */
  private readFields(r: number, field: number): number {
    const rec = this.meta.f64[r * 4 + R_VA]!;
    const fieldsOff = KV_RECORD_HEADER_BYTES + align8(this.meta.u8[r * 32 + R_KEYLEN]!);
    if (this.layout === "record") {
      if (field < 0) {
        const bytes = this.fieldCount * this.fieldLength;
        this.meter.read(rec + fieldsOff, bytes);
        return bytes;
      }
      this.meter.read(rec + fieldsOff + field * this.fieldLength, this.fieldLength);
      return this.fieldLength;
    }
    const base = r * this.fieldCount;
    if (field < 0) {
      this.meter.read(rec + fieldsOff, this.fieldCount * 8);
      for (let f = 0; f < this.fieldCount; f++) this.meter.read(this.fieldVa[base + f]!, this.fieldLength);
      return this.fieldCount * this.fieldLength;
    }
    this.meter.read(rec + fieldsOff + field * 8, 8);
    this.meter.read(this.fieldVa[base + field]!, this.fieldLength);
    return this.fieldLength;
  }

  private checkField(field: number): void {
    if (!(Number.isInteger(field) && field >= -1 && field < this.fieldCount)) {
      throw new RangeError(`field: ${field} is not allowed; expected -1 (all) or 0..${this.fieldCount - 1}`);
    }
  }

  /** A request of `bytes` arrives in the request buffer and is parsed (copied out). */
  private request(bytes: number): void {
    if (!this.network) return;
    const n = Math.min(8 + bytes, KV_BUFFER_BYTES); // 8: a command word and lengths (a guess)
    this.meter.write(this.rbuf, n);
    this.meter.read(this.rbuf, n);
  }

  /** `bytes` of response go into the response buffer (cycling through it). */
  private respond(bytes: number): void {
    if (!this.network) return;
    const n = Math.min(bytes, KV_BUFFER_BYTES);
    if (this.wOff + n > KV_BUFFER_BYTES) this.wOff = 0;
    this.meter.write(this.wbuf + this.wOff, n);
    this.wOff += n;
    if (this.wOff >= KV_BUFFER_BYTES) this.wOff = 0;
  }

  /** Doubles the hash index: new array zeroed, every record moved, old array freed. */
  private expand(): void {
    const old = this.buckets;
    const oldVa = this.tableVa;
    const n = old.length * 2;
    const nb = new Int32Array(n).fill(-1);
    const newVa = this.meter.calloc(n * 8, this.metaOpts);
    const mask = n - 1;
    for (let b = 0; b < old.length; b++) {
      this.meter.read(oldVa + b * 8, 8);
      let r = old[b]!;
      while (r >= 0) {
        const nx = this.meta.i32[r * 8 + R_HNEXT]!;
        const rec = this.meta.f64[r * 4 + R_VA]!;
        this.meter.read(rec, KV_RECORD_HEADER_BYTES); // hnext and the stored hash
        const to = this.meta.i32[r * 8 + R_HV]! & mask;
        this.meta.i32[r * 8 + R_HNEXT] = nb[to]!;
        this.meter.write(rec, 8); // rec->hnext
        nb[to] = r;
        this.meter.write(newVa + to * 8, 8);
        r = nx;
      }
    }
    this.buckets = nb;
    this.tableVa = newVa;
    this.hashExpansions++;
    // Queued accesses to the old array must run before it goes back to the allocator.
    this.meter.flush();
    this.meter.free(oldVa);
  }

  private growRecords(need: number): void {
    this.meta.reserve(need);
    if (this.layout === "fields" && this.fieldVa.length < this.meta.capacity * this.fieldCount) {
      const fv = new Float64Array(this.meta.capacity * this.fieldCount);
      fv.set(this.fieldVa);
      this.fieldVa = fv;
    }
  }
}

const head = new Float64Array(2);

function align8(n: number): number {
  return (n + 7) & ~7;
}

function posInt(v: number, name: string): number {
  if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${name}: ${v} is not allowed; expected a positive integer`);
  return v;
}

function checkKey(keyLen: number): void {
  if (!(Number.isInteger(keyLen) && keyLen >= 1 && keyLen <= 255)) {
    throw new RangeError(`key length: ${keyLen} is not allowed; expected 1..255 bytes`);
  }
}
