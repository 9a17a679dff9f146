// YCSB's load and run phases against the in-place key-value store, in the core: the
// operation stream (YCSB's generators, draw for draw as src/workloads/ycsb/generators.ts
// and workloads.ts, which stay the reference) and the store's operations (kvstore.ts,
// btree.ts), written straight into the request buffer. In JavaScript each access
// crossed five calls and boxed its address; here an operation is about 80 ns. The host
// copies the store's index in and takes it back (src/workloads/ycsb/core-run.ts).
//
// Region (ycsbRegion): a memo of scrambled draws (fnvhash64(z) % itemcount for zipfian
// z < MEMO, i64; I64.MIN: not yet), then the host's part: buckets, records, key-name
// lengths and the B+-tree's arrays, at addresses the host chooses (kvConfigure,
// treeConfigure). The generator's state lives in globals: the region is reused by the
// next phase.
import { allocRaw } from "./heap";
import { CFG_HEAP_TOP } from "./layout";
import { fnvHash64 } from "./keys";
import { packHead, packTail } from "./keys";
import {
  queueAt, queued, kvRead, kvUpdate, kvInsertLookup, kvInsertRecord, kvInsertDone, recordSize,
  keyLength, mix32, nameValue, fieldBytes, longestChain, recordRoom, recordCount, bucketCount, kvFieldCount, touchChain,
} from "./kvstore";
import { treeInsert, treeRoom, treeAccessBound, treePresent, hostMalloc } from "./btree";

// JavaScript's Math.pow, for the rare draws the squaring shortcut cannot decide: the
// reference's results depend on V8's pow to the last bit, so the core asks the same one.
// @ts-ignore: decorator
@external("env", "pow") declare function hostPow(x: f64, y: f64): f64;

const MEMO: u32 = 16384; // generators.ts SCRAMBLE_MEMO
const MEMO_BYTES: usize = <usize>MEMO << 3;

// Operation codes (the host's order of YCSB operation names).
const OP_READ: u32 = 0;
const OP_UPDATE: u32 = 1;
const OP_RMW: u32 = 2;

// Flags of ycsbConfigure.
const F_READ_ALL: u32 = 1;
const F_WRITE_ALL: u32 = 2;
const F_UNIFORM: u32 = 16;

// Counters (ycsbCounter indices).
const C_READ = 0;
const C_UPDATE = 1;
const C_RMW = 2;
const C_HITS = 3;
const C_MISSES = 4;
const C_BYTES = 5;
const NCOUNTERS = 6;

// ycsbLoad's reasons to stop (ycsbStatus).
const S_DONE = 0; // the operations asked for
const S_FULL = 1; // no room in the request buffer for another insert: run it
const S_TREE = 2; // the B+-tree's arrays may not hold another insert: the host grows them
const S_EXPAND = 3; // the hash index is over its load factor: the host doubles it
const S_RECORDS = 4; // no room for another record
// ycsbRun's batch: per operation 32 B (u32 op, f64 key number @8, u32 key length @16,
// i32 hash @20, i32 read field @24, i32 write field @28)
const BATCH = 16;
const stage: usize = memory.data(BATCH * 32, 8);
// what the batch's early loads read, stored so that the optimiser keeps them
const touched: usize = memory.data(8, 8);

// f64 each, in static data (the core allocates nothing at start-up: its heap is its own)
const counters: usize = memory.data(NCOUNTERS * 8, 8);

// @ts-ignore: decorator
@inline function count(i: i32, by: f64): void {
  store<f64>(counters + (<usize>i << 3), load<f64>(counters + (<usize>i << 3)) + by);
}

// Region and state.
let region: usize = 0;
let regionBytes: usize = 0;
let flags: u32 = 0;
let maxPerOp: u32 = 0;
let failed: u32 = 0;
let status: u32 = 0;

// The random stream (xoshiro128**, src/util/rng.ts).
let ra: u32 = 0;
let rb: u32 = 0;
let rc: u32 = 0;
let rd: u32 = 0;

// Operation chooser: up to 3 shares and their operations.
let nShares: i32 = 0;
let share0: f64 = 0;
let share1: f64 = 0;
let share2: f64 = 0;
let op0: u32 = 0;
let op1: u32 = 0;
let op2: u32 = 0;

// Key chooser: uniform (lb + int(interval)) or scrambled zipfian.
let uLb: f64 = 0;
let uInterval: f64 = 0;
let zItems: f64 = 0;
let zZetan: f64 = 0;
let zEta: f64 = 0;
let zAlpha: f64 = 0;
let zSecond: f64 = 0;
let sMin: f64 = 0;
let sCount: i64 = 1;
let keyLimit: f64 = 0;

/**
 * A region of at least `bytes` for the memo, buckets and records (the last one reused
 * when large enough; a larger one replaces it, in place when it is the heap's last
 * allocation). Returns its address, 0 when memory ran out.
 */
export function ycsbRegion(bytes: u32): u32 {
  const need = <usize>bytes + MEMO_BYTES;
  if (region != 0 && need <= regionBytes) return <u32>(region + MEMO_BYTES);
  if (region != 0 && region + regionBytes == <usize>load<u32>(CFG_HEAP_TOP)) store<u32>(CFG_HEAP_TOP, <u32>region);
  region = allocRaw(need, 8); // the host writes what it uses; the memo is set by ycsbConfigure
  regionBytes = region == 0 ? 0 : need;
  return region == 0 ? 0 : <u32>(region + MEMO_BYTES);
}

/**
 * Takes a run phase's generator parameters (kvConfigure took the store's). Returns the
 * most accesses one operation can make (from the longest hash chain).
 */
export function ycsbConfigure(
  flagBits: u32, lb: f64, interval: f64, items: f64, zetan: f64, eta: f64, alpha: f64, second: f64, min: f64, count: f64, limit: f64,
): u32 {
  flags = flagBits;
  uLb = lb;
  uInterval = interval;
  zItems = items;
  zZetan = zetan;
  zEta = eta;
  zAlpha = alpha;
  zSecond = second;
  sMin = min;
  sCount = <i64>count;
  keyLimit = limit;
  failed = 0;
  memory.fill(counters, 0, NCOUNTERS * 8);
  for (let z: u32 = 0; z < MEMO; z++) store<i64>(region + (<usize>z << 3), i64.MIN_VALUE);
  // a read-modify-write is two lookups: request 2, bucket 1, 2 a record, fields 1, response 1 each
  maxPerOp = 2 * (5 + 2 * longestChain());
  return maxPerOp;
}

/** The random stream's state (the host's Rng after the stream was made). */
export function ycsbSeed(a: u32, b: u32, c: u32, d: u32): void {
  ra = a;
  rb = b;
  rc = c;
  rd = d;
}

/** The random stream's state word `i` (0..3), to hand back to the host. */
export function ycsbRngWord(i: u32): u32 {
  return i == 0 ? ra : i == 1 ? rb : i == 2 ? rc : rd;
}

/** Operation chooser entry `i` (0..2): YCSB's weight / sum of weights, and the operation (0 read, 1 update, 2 read-modify-write). */
export function ycsbShare(i: u32, share: f64, op: u32): void {
  if (i == 0) {
    share0 = share;
    op0 = op;
  } else if (i == 1) {
    share1 = share;
    op1 = op;
  } else {
    share2 = share;
    op2 = op;
  }
  nShares = <i32>i + 1;
}

/** Counter `i` of the run phase so far (see C_*). */
export function ycsbCounter(i: u32): f64 {
  return i < <u32>NCOUNTERS ? load<f64>(counters + (<usize>i << 3)) : 0;
}

/** The request count after the last ycsbRun or ycsbLoad. */
export function ycsbQueued(): u32 {
  return queued();
}

/** The queue's length after the host ran or added to it (inside an allocation). */
export function ycsbRequeue(at: u32): void {
  queueAt(at);
}

/** Why the last ycsbLoad stopped (S_*). */
export function ycsbStatus(): u32 {
  return status;
}

/** 1 when a key in [start, start + count) has a name the core cannot order (a negative FNV hash: "-..."), else 0. */
export function ycsbNamesCheck(start: f64, count: f64): u32 {
  for (let k = start; k < start + count; k++) if (nameValue(k) < 0) return 1;
  return 0;
}

/**
 * The load phase: inserts of the key numbers from `keyStart`, up to `ops` of them,
 * writing their accesses from request `at`, the records and B+-tree nodes allocated
 * by the host's allocator (hostMalloc). Returns the inserts done; ycsbStatus says why
 * it stopped.
 */
export function ycsbLoad(at: u32, keyStart: f64, ops: u32, capacity: u32, maxLoad: f64): u32 {
  queueAt(at);
  const tree = treePresent();
  let done: u32 = 0;
  status = S_DONE;
  while (done < ops) {
    if (recordRoom() == 0) {
      status = S_RECORDS;
      break;
    }
    if (tree && !treeRoom()) {
      status = S_TREE;
      break;
    }
    // request 2, lookup 1 + 2 a record, record 1, bucket 1, response 1; the tree's
    const bound = 8 + 2 * longestChain() + (tree ? treeAccessBound() : 0);
    if (queued() + bound > capacity) {
      status = S_FULL;
      break;
    }
    const keyNum = keyStart + <f64>done;
    const keyLen = keyLength(keyNum);
    const hv = mix32(keyNum);
    done++;
    if (!kvInsertLookup(keyNum, keyLen, hv)) continue;
    const va = hostMalloc(recordSize(keyLen), 0, queued(), bound);
    const r = kvInsertRecord(keyNum, keyLen, hv, va);
    if (tree) {
      const v = nameValue(keyNum);
      treeInsert(packHead(v, <i32>keyLen - 4), packTail(v, <i32>keyLen - 4), r, bound);
    }
    kvInsertDone();
    const nb = bucketCount();
    if (<f64>recordCount() > <f64>nb * maxLoad && nb < (1 << 28)) {
      status = S_EXPAND;
      break;
    }
  }
  return done;
}

/** 1 when the operation chooser chose nothing (weights that do not sum to 1), else 0. */
export function ycsbFailed(): u32 {
  return failed;
}

/**
 * Runs up to `ops` operations, writing their accesses into the request buffer from
 * request `at`, while another operation surely fits below `capacity`. Returns the
 * operations done (fewer when the buffer is full: run it, then call again).
 */
export function ycsbRun(at: u32, ops: u32, capacity: u32): u32 {
  queueAt(at);
  let done: u32 = 0;
  while (done < ops) {
    // a batch of operations that surely fits the buffer
    const room = (capacity - min(capacity, queued())) / maxPerOp;
    const k = min(min(<u32>BATCH, ops - done), room);
    if (k == 0) break;
    // Draw the batch's operations first (CoreWorkload.doTransaction's order: the
    // operation, its key, its fields; the store's operations draw nothing), loading
    // each key's bucket and first record: independent cache misses the processor
    // overlaps, where one operation after another would wait for each in turn. Then
    // run them in order.
    let n: u32 = 0;
    for (; n < k; n++) {
      let val = nextFloat();
      let op: u32 = 0;
      if (val < share0) op = op0;
      else {
        val -= share0;
        if (nShares > 1 && val < share1) op = op1;
        else {
          val -= share1;
          if (nShares > 2 && val < share2) op = op2;
          else {
            failed = 1;
            break;
          }
        }
      }
      const keyNum = nextKeyNum();
      const hv = mix32(keyNum);
      const o = stage + (<usize>n << 5);
      store<u32>(o, op);
      store<f64>(o, keyNum, 8);
      store<u32>(o, keyLength(keyNum), 16);
      store<i32>(o, hv, 20);
      // read: its field; update: its field; read-modify-write: the read's, then the write's
      store<i32>(o, op == OP_UPDATE ? -1 : pickField(F_READ_ALL), 24);
      store<i32>(o, op == OP_READ ? -1 : pickField(F_WRITE_ALL), 28);
      store<i32>(touched, load<i32>(touched) ^ touchChain(hv));
    }
    for (let i: u32 = 0; i < n; i++) {
      const o = stage + (<usize>i << 5);
      const op = load<u32>(o);
      const keyNum = load<f64>(o, 8);
      const keyLen = load<u32>(o, 16);
      const hv = load<i32>(o, 20);
      if (op == OP_READ) {
        count(C_READ, 1);
        doRead(keyNum, keyLen, hv, load<i32>(o, 24));
      } else if (op == OP_UPDATE) {
        count(C_UPDATE, 1);
        doUpdate(keyNum, keyLen, hv, load<i32>(o, 28));
      } else {
        count(C_RMW, 1);
        doRead(keyNum, keyLen, hv, load<i32>(o, 24));
        doUpdate(keyNum, keyLen, hv, load<i32>(o, 28));
      }
    }
    done += n;
    if (failed) break;
  }
  return done;
}

// ---- the driver's counts (drivers.ts runYcsb) around the store's operations ----------------

function doRead(keyNum: f64, keyLen: u32, hv: i32, field: i32): void {
  if (kvRead(keyNum, keyLen, hv, field)) {
    count(C_HITS, 1);
    count(C_BYTES, <f64>fieldBytes(field));
  } else count(C_MISSES, 1);
}

function doUpdate(keyNum: f64, keyLen: u32, hv: i32, field: i32): void {
  // the driver counts an update's payload whether or not the key was found
  count(C_BYTES, <f64>fieldBytes(field));
  kvUpdate(keyNum, keyLen, hv, field);
}

// ---- the generators (generators.ts, workloads.ts) ------------------------------------------

// @ts-ignore: decorator
@inline function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

/** Rng.u32 */
function nextU32(): u32 {
  const result = rotl(rb * 5, 7) * 9;
  const t = rb << 9;
  rc ^= ra;
  rd ^= rb;
  rb ^= rc;
  ra ^= rd;
  rc ^= t;
  rd = rotl(rd, 11);
  return result;
}

/** Rng.float: 53 random bits, the high 27 first. */
function nextFloat(): f64 {
  const hi = <f64>(nextU32() >>> 5);
  const lo = <f64>(nextU32() >>> 6);
  return (hi * 67108864.0 + lo) / 9007199254740992.0;
}

/** Rng.int(n) for an integer n in 1..2^53. */
function nextInt(n: f64): f64 {
  if (n < 4294967296.0) {
    const m = <u64>n;
    let x = <u64>nextU32();
    if (x >= 0x100000000 - m) {
      const limit: u64 = 0x100000000 - (0x100000000 - m) % m;
      while (x >= limit) x = <u64>nextU32();
    }
    return <f64>(x % m);
  }
  if (n == 4294967296.0) return <f64>nextU32();
  return Math.floor(nextFloat() * n);
}

/** CoreWorkload.nextKeynum: draws until the key is at most the last inserted one. */
function nextKeyNum(): f64 {
  let k: f64;
  do {
    k = (flags & F_UNIFORM) != 0 ? nextInt(uInterval) + uLb : scrambledZipfian();
  } while (k > keyLimit);
  return k;
}

/** ScrambledZipfianGenerator.nextValue over [min, min + count). */
function scrambledZipfian(): f64 {
  const z = zipfian();
  let h: i64;
  if (z < <f64>MEMO) {
    const p = region + (<usize>(<u32>z) << 3);
    h = load<i64>(p);
    if (h == i64.MIN_VALUE) {
      h = modCount(fnvHash64(<u64>z));
      store<i64>(p, h);
    }
  } else h = modCount(fnvHash64(<u64>z));
  return sMin + <f64>h;
}

/**
 * h % sCount as Java's `%` on the long. For h >= 0 and a count of at least 2^12, the
 * quotient from doubles (h and the division each within 2^-53) is within 2 of the
 * true one, and the remainder is set right by adding or subtracting the count: a
 * double division instead of a 64-bit one, the costliest step of a scrambled draw.
 */
function modCount(h: i64): i64 {
  const n = sCount;
  if (h < 0 || n < 4096) return h % n;
  let r = h - <i64>Math.floor(<f64>h / <f64>n) * n;
  while (r < 0) r += n;
  while (r >= n) r -= n;
  return r;
}

/** ZipfianGenerator.nextLong(items) for its own item count (base 0). */
function zipfian(): f64 {
  const u = nextFloat();
  const uz = u * zZetan;
  if (uz < 1.0) return 0;
  if (uz < zSecond) return 1;
  return truncTimesPow(zItems, zEta * u - zEta + 1, zAlpha);
}

/** generators.ts truncTimesPow: trunc(n * x^alpha), by squarings when they decide it. */
function truncTimesPow(n: f64, x: f64, alpha: f64): f64 {
  const d = alpha - 100;
  if (d < -1e-9 || d > 1e-9 || !(x >= 0.001 && x <= 1)) return Math.trunc(n * hostPow(x, alpha));
  const x2 = x * x;
  const x4 = x2 * x2;
  const x16 = x4 * x4 * (x4 * x4);
  const x32 = x16 * x16;
  const y = n * (x32 * x32 * x32 * x4);
  const e = y * (2e-14 + Math.abs(d) * 6.92);
  const t = Math.trunc(y - e);
  return t == Math.trunc(y + e) ? t : Math.trunc(n * hostPow(x, alpha));
}

/** -1 (every field) when the flag is set, else a uniform field (-1 too when there is one field). */
function pickField(all: u32): i32 {
  if ((flags & all) != 0) return -1;
  const n = kvFieldCount();
  const f = <i32>nextInt(<f64>n);
  return n == 1 ? -1 : f;
}

