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
import { regionAt } from "./heap";
import { fnvHash64, packHead, packTail, mix32 } from "./keys";
import {
  queueAt, queued, kvRead, kvUpdate, kvInsertLookup, kvInsertRecord, kvInsertDone, recordSize,
  keyLength, nameValue, fieldBytes, longestChain, recordRoom, recordCount, bucketCount, kvFieldCount, touchBucket, touchRecord,
  kvScanRequest, kvScanned, kvRespond,
} from "./kvstore";
import { nextFloat, nextInt, rngSeed, rngWord } from "./rng";
import { treeInsert, treeRoom, treeAccessBound, treePresent, treeHeight, treeScan, hostMalloc } from "./btree";

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
const OP_INSERT: u32 = 3;
const OP_SCAN: u32 = 4;

// Flags of ycsbConfigure.
const F_READ_ALL: u32 = 1;
const F_WRITE_ALL: u32 = 2;
const F_UNIFORM: u32 = 16;
const F_LATEST: u32 = 32;

// Counters (ycsbCounter indices).
const C_READ = 0;
const C_UPDATE = 1;
const C_RMW = 2;
const C_HITS = 3;
const C_MISSES = 4;
const C_BYTES = 5;
const C_INSERT = 6;
const C_SCAN = 7;
const C_SCANNED = 8;
const NCOUNTERS = 9;

// ycsbLoad's and ycsbRun's reasons to stop (ycsbStatus).
const S_DONE = 0; // the operations asked for
const S_FULL = 1; // no room in the request buffer for another operation: run it
const S_TREE = 2; // the B+-tree's arrays may not hold another insert: the host grows them
const S_EXPAND = 3; // the hash index is over its load factor: the host doubles it
const S_RECORDS = 4; // no room for another record
// ycsbRun's batch (16: a guess, enough loads in flight; 67-77 -> 63-70 ms for the bench's
// YCSB-A run phase against 1, docs/performance.md): per operation 32 B (u32 op, f64 key number @8, u32 key length @16,
// i32 hash @20, i32 read field @24, i32 write field @28)
const BATCH = 16;
const stage: usize = memory.data(BATCH * 32, 8);
// what the batch's early loads read, stored so that the optimiser keeps them
const touched: usize = memory.data(8, 8);
// the first record of each drawn operation's bucket
const firsts: usize = memory.data(BATCH * 4, 8);

// f64 each, in static data (the core allocates nothing at start-up: its heap is its own)
const counters: usize = memory.data(NCOUNTERS * 8, 8);

// @ts-ignore: decorator
@inline function count(i: i32, by: f64): void {
  store<f64>(counters + (<usize>i << 3), load<f64>(counters + (<usize>i << 3)) + by);
}

// Region and state.
// the region ycsbRegion hands out (heap.ts regionAt), and its start (the memo)
const regionDesc: usize = memory.data(8, 4);
let region: usize = 0;
let flags: u32 = 0;
let failed: u32 = 0;
let status: u32 = 0;

// Operation chooser: up to 5 shares and their operations (f64 share, u32 operation each).
let nShares: i32 = 0;
const shares: usize = memory.data(5 * 16, 8);
let hasInsert = false;
let hasScan = false;

// Inserts (an acknowledged counter, acknowledged at once: the last inserted is the limit).
let insertNext: f64 = 0;

// Scan lengths: uniform in [scanLb, scanLb + scanInterval).
let scanLb: f64 = 0;
let scanInterval: f64 = 0;

// The latest distribution: a zipfian over the inserted keys whose zeta grows with them.
let lItems: f64 = 0;
let lZetan: f64 = 0;
let lCount: f64 = 0;
let lEta: f64 = 0;
let lTheta: f64 = 0;
let lZeta2: f64 = 0;
let lAlpha: f64 = 0;
let lSecond: f64 = 0;

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
// the hash index's maximum records per bucket (store.ts maxLoadFactor)
let loadFactor: f64 = 1;

/**
 * A region of at least `bytes` (after the memo) for the buckets, records, key-name lengths and tree (the last one reused
 * when large enough; a larger one replaces it, in place when it is the heap's last
 * allocation). Returns its address, 0 when memory ran out.
 */
export function ycsbRegion(bytes: u32): u32 {
  const had = load<u32>(regionDesc, 4);
  const at = regionAt(regionDesc, <usize>bytes + MEMO_BYTES);
  if (at == 0) return 0;
  region = at;
  if (load<u32>(regionDesc, 4) != had) memoClear(); // a new region
  return <u32>(at + MEMO_BYTES);
}

/**
 * Takes a run phase's generator parameters (kvConfigure took the store's). Returns the
 * most accesses one operation can make (from the longest hash chain).
 */
export function ycsbConfigure(
  flagBits: u32, lb: f64, interval: f64, items: f64, zetan: f64, eta: f64, alpha: f64, second: f64, min: f64, count: f64, limit: f64,
  scanMin: f64, scanCount: f64, maxLoad: f64,
): u32 {
  flags = flagBits;
  loadFactor = maxLoad;
  insertNext = limit + 1;
  scanLb = scanMin;
  scanInterval = scanCount;
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
  drawnEnd = drawNext = 0;
  memory.fill(counters, 0, NCOUNTERS * 8);
  memoClear();
  return opBound();
}

/** The latest distribution's zipfian (SkewedLatestGenerator's, ZipfianGenerator.ofItems(basis.lastValue())). */
export function ycsbLatest(items: f64, zetan: f64, countForZeta: f64, eta: f64, theta: f64, zeta2theta: f64, alpha: f64, second: f64): void {
  lItems = items;
  lZetan = zetan;
  lCount = countForZeta;
  lEta = eta;
  lTheta = theta;
  lZeta2 = zeta2theta;
  lAlpha = alpha;
  lSecond = second;
}

function memoClear(): void {
  for (let z: u32 = 0; z < MEMO; z++) store<i64>(region + (<usize>z << 3), i64.MIN_VALUE);
}

/**
 * The most accesses one operation can make now: a read-modify-write's two lookups
 * (request 2, bucket 1, 2 a record, fields 1, response 1 each); an insert's (request
 * 2, lookup, record and bucket 2, response 1, the tree's); a scan's (request 2, the
 * descent, a leaf per record at most, header, fields and response a record).
 */
function opBound(): u32 {
  const l = longestChain();
  let b = 2 * (5 + 2 * l);
  if (hasInsert) b = max(b, insertBound(treePresent()));
  if (hasScan) b = max(b, 4 + treeAccessBound() + 4 * <u32>(scanLb + scanInterval));
  return b;
}

/** The random stream's state (the host's Rng after the stream was made). */
export function ycsbSeed(a: u32, b: u32, c: u32, d: u32): void {
  rngSeed(a, b, c, d);
}

/** The random stream's state word `i` (0..3), to hand back to the host. */
export function ycsbRngWord(i: u32): u32 {
  return rngWord(i);
}

/** Operation chooser entry `i` (0..4): YCSB's weight / sum of weights, and the operation (0 read, 1 update, 2 read-modify-write, 3 insert, 4 scan). */
export function ycsbShare(i: u32, share: f64, op: u32): void {
  if (i >= 5) return;
  store<f64>(shares + (<usize>i << 4), share);
  store<u32>(shares + (<usize>i << 4), op, 8);
  nShares = <i32>i + 1;
  if (i == 0) hasInsert = hasScan = false;
  if (op == OP_INSERT) hasInsert = true;
  if (op == OP_SCAN) hasScan = true;
}

/** Counter `i` of the run phase so far (see C_*). */
export function ycsbCounter(i: u32): f64 {
  return i < <u32>NCOUNTERS ? load<f64>(counters + (<usize>i << 3)) : 0;
}

/** Sets counter `i` (see C_*): the state another core's generator left, taken over. */
export function ycsbSetCounter(i: u32, v: f64): void {
  if (i < <u32>NCOUNTERS) store<f64>(counters + (<usize>i << 3), v);
}

/** The request count after the last ycsbRun or ycsbLoad. */
export function ycsbQueued(): u32 {
  return queued();
}

/** The queue's length after the host ran or added to it (inside an allocation). */
export function ycsbRequeue(at: u32): void {
  queueAt(at);
}

/** Why the last ycsbLoad or ycsbRun stopped (S_*). */
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
  loadFactor = maxLoad;
  const tree = treePresent();
  let done: u32 = 0;
  status = S_DONE;
  while (done < ops) {
    // as ycsbRun: the batch's keys first, then their buckets and first records early
    // (pure loads: the inserts below link records in, in order)
    const k: u32 = min(<u32>BATCH, ops - done);
    for (let i: u32 = 0; i < k; i++) {
      const keyNum = keyStart + <f64>(done + i);
      const o = stage + (<usize>i << 5);
      store<u32>(o, keyLength(keyNum), 16);
      store<i32>(o, mix32(keyNum), 20);
    }
    for (let i: u32 = 0; i < k; i++) store<i32>(firsts + (<usize>i << 2), touchBucket(load<i32>(stage + (<usize>i << 5), 20)));
    let t: i32 = 0;
    for (let i: u32 = 0; i < k; i++) t ^= touchRecord(load<i32>(firsts + (<usize>i << 2)));
    store<i32>(touched, load<i32>(touched) ^ t);
    for (let i: u32 = 0; i < k; i++) {
      status = insertRoom(tree);
      if (status != S_DONE) return done;
      const bound = insertBound(tree);
      if (queued() + bound > capacity) {
        status = S_FULL;
        return done;
      }
      const o = stage + (<usize>i << 5);
      const keyNum = keyStart + <f64>done;
      done++;
      if (insert(keyNum, load<u32>(o, 16), load<i32>(o, 20), bound)) {
        status = S_EXPAND;
        return done;
      }
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
  status = S_DONE;
  // inserts change the store and may need the host after them: one operation at a time
  const batch: u32 = hasInsert ? 1 : BATCH;
  const tree = treePresent();
  let done: u32 = 0;
  while (done < ops) {
    if (hasInsert) {
      status = insertRoom(tree);
      if (status != S_DONE) break;
    }
    // a batch of operations that surely fits the buffer
    const room = (capacity - min(capacity, queued())) / opBound();
    const k = min(min(batch, ops - done), room);
    if (k == 0) {
      status = S_FULL;
      break;
    }
    // Draw the batch's operations first (CoreWorkload.doTransaction's order: the
    // operation, its key, a scan's length, its fields; the store's operations draw
    // nothing), then load each key's bucket, then each bucket's first record, in tight
    // loops: independent cache misses the processor overlaps (a load that misses holds
    // up the retirement of everything after it, so a miss in each draw's long body
    // would be waited for in turn). Then run them in order.
    // (or take them as drawn before: ycsbReplay)
    let n: u32 = 0;
    for (; n < k; n++) {
      const o = stage + (<usize>n << 5);
      if (drawNext < drawnEnd) {
        v128.store(o, v128.load(drawnAt + (<usize>drawNext << 5)));
        v128.store(o, v128.load(drawnAt + (<usize>drawNext << 5), 16), 16);
        // past the last one drawn before, the stream goes on from its state after it
        if (++drawNext == drawnEnd) seedAfter(drawNext);
        continue;
      }
      drawNext++;
      if (!drawOp(o)) {
        failed = 1;
        break;
      }
    }
    for (let i: u32 = 0; i < n; i++) store<i32>(firsts + (<usize>i << 2), touchBucket(load<i32>(stage + (<usize>i << 5), 20)));
    let t: i32 = 0;
    for (let i: u32 = 0; i < n; i++) t ^= touchRecord(load<i32>(firsts + (<usize>i << 2)));
    store<i32>(touched, load<i32>(touched) ^ t);
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
      } else if (op == OP_RMW) {
        count(C_RMW, 1);
        doRead(keyNum, keyLen, hv, load<i32>(o, 24));
        doUpdate(keyNum, keyLen, hv, load<i32>(o, 28));
      } else if (op == OP_INSERT) {
        count(C_INSERT, 1);
        count(C_BYTES, <f64>fieldBytes(-1));
        if (insert(keyNum, keyLen, hv, opBound())) status = S_EXPAND;
      } else {
        count(C_SCAN, 1);
        const field = load<i32>(o, 24);
        const visited = scan(keyNum, keyLen, load<u32>(o, 4), field);
        count(C_SCANNED, <f64>visited);
        count(C_BYTES, <f64>visited * <f64>fieldBytes(field));
      }
    }
    done += n;
    if (failed || status != S_DONE) break;
  }
  // replayed operations leave the stream where it was: it takes their state after the last
  if (drawNext < drawnEnd && drawNext > 0) seedAfter(drawNext);
  return done;
}

/**
 * Draws an operation into the stage entry at `o` (CoreWorkload.doTransaction's order:
 * the operation, its key, a scan's length, its fields; the store's operations draw
 * nothing). False when the chooser chose nothing.
 */
// @ts-ignore: decorator
@inline function drawOp(o: usize): bool {
  const op = chooseOp();
  if (op == NO_OP) return false;
  let keyNum: f64;
  if (op == OP_INSERT) {
    // AcknowledgedCounterGenerator: the next number, acknowledged at once
    keyNum = insertNext;
    insertNext += 1;
    keyLimit = keyNum;
  } else keyNum = nextKeyNum();
  const hv = mix32(keyNum);
  store<u32>(o, op);
  store<u32>(o, op == OP_SCAN ? <u32>(nextInt(scanInterval) + scanLb) : 0, 4);
  store<f64>(o, keyNum, 8);
  store<u32>(o, keyLength(keyNum), 16);
  store<i32>(o, hv, 20);
  // read and scan: their field; update: its field; read-modify-write: the read's, then the write's
  store<i32>(o, op == OP_UPDATE || op == OP_INSERT ? -1 : pickField(F_READ_ALL), 24);
  store<i32>(o, op == OP_READ || op == OP_SCAN || op == OP_INSERT ? -1 : pickField(F_WRITE_ALL), 28);
  return true;
}

// ---- operations drawn ahead (src/workloads/ycsb/run-thread.ts) --------------------------------
//
// A run phase without inserts draws its operations from the random stream alone, so
// they can be drawn before the phase, by another core, while it has nothing else to
// do: each as ycsbRun's stage entry (32 B) and the stream's state after it (16 B).
// ycsbRun takes the phase's operations [0, drawnEnd) from there instead of drawing
// them, and takes up the stream after them.

let drawnAt: usize = 0;
let drawnRng: usize = 0;
let drawnEnd: u32 = 0;
let drawNext: u32 = 0;
const drawDesc: usize = memory.data(8, 4);

/** A region (reused) for `ops` operations drawn ahead: their entries, then the stream's states. 0 when memory ran out. */
export function ycsbDrawRegion(ops: u32): u32 {
  return <u32>regionAt(drawDesc, <usize>ops * 48);
}

/**
 * Draws up to `ops` operations into entries from `entries` and the stream's state
 * after each from `states`; returns how many (fewer when the chooser chose nothing:
 * the stream is then past that draw, which ycsbRun would make again and fail on).
 */
export function ycsbDraw(entries: u32, states: u32, ops: u32): u32 {
  for (let i: u32 = 0; i < ops; i++) {
    if (!drawOp(<usize>entries + (<usize>i << 5))) return i;
    const p = <usize>states + (<usize>i << 4);
    for (let w: u32 = 0; w < 4; w++) store<u32>(p + (<usize>w << 2), rngWord(w));
  }
  return ops;
}

/** The phase's first `ops` operations, drawn ahead at `entries` and `states` (ycsbDraw): ycsbRun takes them from there. 0: none. */
export function ycsbReplay(entries: u32, states: u32, ops: u32): void {
  drawnAt = <usize>entries;
  drawnRng = <usize>states;
  drawnEnd = ops;
  drawNext = 0;
}

/** The phase's operations done before the next ycsbRun call (another core made the earlier ones). */
export function ycsbReplayFrom(done: u32): void {
  drawNext = done;
}

/** The stream takes its state after drawn operation `n` - 1. */
function seedAfter(n: u32): void {
  const p = drawnRng + (<usize>(n - 1) << 4);
  rngSeed(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<u32>(p, 12));
}

const NO_OP: u32 = 0xFFFFFFFF;

/** S_DONE when another insert has room (a record, the tree's arrays), else what the host must make. */
function insertRoom(tree: bool): u32 {
  if (recordRoom() == 0) return S_RECORDS;
  if (tree && !treeRoom()) return S_TREE;
  return S_DONE;
}

/** The most accesses an insert makes: request 2, lookup 1 + 2 a record, record 1, bucket 1, response 1, the tree's. */
function insertBound(tree: bool): u32 {
  return 8 + 2 * longestChain() + (tree ? treeAccessBound() : 0);
}

/** DiscreteGenerator.nextValue over the shares, in the order added. */
function chooseOp(): u32 {
  let val = nextFloat();
  for (let i = 0; i < nShares; i++) {
    const p = shares + (<usize>i << 4);
    const share = load<f64>(p);
    if (val < share) return load<u32>(p, 8);
    val -= share;
  }
  return NO_OP;
}

/**
 * store.ts insertRecord (a key of the workload's names): the request and lookup, then
 * for a new key the record (from the host's allocator), its bucket, its slot in the
 * tree, the response. True when the hash index is then over its load factor (the
 * host doubles it before anything else runs).
 */
function insert(keyNum: f64, keyLen: u32, hv: i32, bound: u32): bool {
  if (!kvInsertLookup(keyNum, keyLen, hv)) return false;
  const va = hostMalloc(recordSize(keyLen), 0, queued(), bound);
  const r = kvInsertRecord(keyNum, keyLen, hv, va);
  if (treePresent()) {
    const v = nameValue(keyNum);
    const digits = <i32>keyLen - 4;
    treeInsert(packHead(v, digits), packTail(v, digits), v, digits, r, bound);
  }
  kvInsertDone();
  const nb = bucketCount();
  return <f64>recordCount() > <f64>nb * loadFactor && nb < (1 << 28);
}

/** store.ts scan: the request, then up to `len` records in key order from the key's name on. */
function scan(keyNum: f64, keyLen: u32, len: u32, field: i32): u32 {
  kvScanRequest(keyLen);
  if (treeHeight() == 0) {
    kvRespond(8);
    return 0;
  }
  const v = nameValue(keyNum);
  const l = <i32>keyLen - 4;
  const visited = treeScan(packHead(v, l), packTail(v, l), v, l, len, field);
  kvScanned(visited);
  return visited;
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

/** CoreWorkload.nextKeynum: draws until the key is at most the last inserted one. */
function nextKeyNum(): f64 {
  let k: f64;
  do {
    k = (flags & F_UNIFORM) != 0 ? nextInt(uInterval) + uLb : (flags & F_LATEST) != 0 ? latest() : scrambledZipfian();
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

/**
 * SkewedLatestGenerator.nextValue: the last inserted key minus a zipfian over as many
 * items, whose zeta grows with them (ZipfianGenerator.nextLong: zetan extended term by
 * term, eta from the generator's first item count, as YCSB has it).
 */
function latest(): f64 {
  const max = keyLimit;
  if (max > lCount) {
    let sum = lZetan;
    for (let i = lCount; i < max; i++) sum += 1 / hostPow(i + 1, lTheta);
    lZetan = sum;
    lCount = max;
    lEta = (1 - hostPow(2.0 / lItems, 1 - lTheta)) / (1 - lZeta2 / lZetan);
  }
  return max - zipfDraw(max, lZetan, lEta, lSecond, lAlpha);
}

/** ZipfianGenerator.nextLong(items) of the scrambled zipfian's generator, for its own item count (base 0). */
function zipfian(): f64 {
  return zipfDraw(zItems, zZetan, zEta, zSecond, zAlpha);
}

/** ZipfianGenerator.nextLong's draw over `items` items (base 0), the generator's zetan, eta, 1 + 0.5^theta and alpha given. */
function zipfDraw(items: f64, zetan: f64, eta: f64, second: f64, alpha: f64): f64 {
  const u = nextFloat();
  const uz = u * zetan;
  if (uz < 1.0) return 0;
  if (uz < second) return 1;
  return truncTimesPow(items, eta * u - eta + 1, alpha);
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

