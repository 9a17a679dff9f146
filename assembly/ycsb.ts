// YCSB's run phase against the in-place key-value store, in the core: the operation
// stream (YCSB's generators, draw for draw as src/workloads/ycsb/generators.ts and
// workloads.ts, which stay the reference) and the store's lookups and field accesses
// (src/workloads/ycsb/store.ts, layout "record"), written straight into the request
// buffer. In JavaScript each access crossed five calls and boxed its address; here an
// operation is about 80 ns. Reads, updates and read-modify-writes never change the
// store's index, so the host copies it in once per run phase and takes back only
// counters.
//
// Region (ycsbRegion; host-written, then ycsbConfigure):
//   +0               memo: fnvhash64(z) % itemcount for zipfian z < MEMO (i64; I64.MIN: not yet)
//   +MEMO_BYTES      buckets: i32 record id of each chain's head, -1 empty
//   +BUCKETS + 4 nb  records (8-aligned), 32 B each as store.ts's RecordTable:
//                    f64 va @0, f64 keyNum @8, i32 hnext @16, i32 hash @20, u8 key length @24
//   +RECORDS + 32 n  key name lengths by key number (u8, 0: not yet; the first lengthSlots numbers)
// The generator's state lives in globals: the region is reused by the next run phase.
import { alloc } from "./heap";
import { CFG_HEAP_TOP, CFG_REQ_BUF, REQ_BYTES } from "./layout";

// JavaScript's Math.pow, for the rare draws the squaring shortcut cannot decide: the
// reference's results depend on V8's pow to the last bit, so the core asks the same one.
// @ts-ignore: decorator
@external("env", "pow") declare function hostPow(x: f64, y: f64): f64;

const MEMO: u32 = 16384; // generators.ts SCRAMBLE_MEMO
const MEMO_BYTES: usize = <usize>MEMO << 3;
const BUFFER_BYTES: u32 = 16384; // store.ts KV_BUFFER_BYTES
const HEADER_BYTES: u32 = 32; // store.ts KV_RECORD_HEADER_BYTES
const KIND_READ: u32 = 1; // src/core/types.ts READ
const KIND_WRITE: u32 = 2; // WRITE

// Operation codes (the host's order of YCSB operation names).
const OP_READ: u32 = 0;
const OP_UPDATE: u32 = 1;
const OP_RMW: u32 = 2;

// Flags of ycsbConfigure.
const F_READ_ALL: u32 = 1;
const F_WRITE_ALL: u32 = 2;
const F_NETWORK: u32 = 4;
const F_ORDERED: u32 = 8;
const F_UNIFORM: u32 = 16;

// Counters (ycsbCounter indices).
const C_READ = 0;
const C_UPDATE = 1;
const C_RMW = 2;
const C_HITS = 3;
const C_MISSES = 4;
const C_BYTES = 5;
const C_ACCESSES = 6;
const C_ACCESS_BYTES = 7;
const C_STORE_READS = 8;
const C_STORE_UPDATES = 9;
const C_NOT_FOUND = 10;
const NCOUNTERS = 11;
// f64 each, in static data (the core allocates nothing at start-up: its heap is its own)
const counters: usize = memory.data(NCOUNTERS * 8, 8);

// @ts-ignore: decorator
@inline function count(i: i32, by: f64): void {
  store<f64>(counters + (<usize>i << 3), load<f64>(counters + (<usize>i << 3)) + by);
}

// Region and store.
let region: usize = 0;
let regionBytes: usize = 0;
let buckets: usize = 0;
let records: usize = 0;
let bucketMask: u32 = 0;
let tableVa: u64 = 0;
let rbuf: u64 = 0;
let wbuf: u64 = 0;
let wOff: u32 = 0;
let fieldCount: u32 = 0;
let fieldLength: u32 = 0;
let flags: u32 = 0;
let zeroPadding: i32 = 0;
let vcpuBits: u32 = 0;
let maxPerOp: u32 = 0;
let failed: u32 = 0;
let lengths: usize = 0;
let lengthSlots: f64 = 0;
// the two counters every access bumps, out of memory
let nAccesses: f64 = 0;
let nAccessBytes: f64 = 0;

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

// Request writing.
let reqAt: usize = 0;

/**
 * A region of at least `bytes` for the memo, buckets and records (the last one reused
 * when large enough; a larger one replaces it, in place when it is the heap's last
 * allocation). Returns its address, 0 when memory ran out.
 */
export function ycsbRegion(bytes: u32): u32 {
  const need = <usize>bytes + MEMO_BYTES;
  if (region != 0 && need <= regionBytes) return <u32>(region + MEMO_BYTES);
  if (region != 0 && region + regionBytes == <usize>load<u32>(CFG_HEAP_TOP)) store<u32>(CFG_HEAP_TOP, <u32>region);
  region = alloc(need, 8);
  regionBytes = region == 0 ? 0 : need;
  return region == 0 ? 0 : <u32>(region + MEMO_BYTES);
}

/**
 * Takes a run phase's parameters, the buckets and records already in the region.
 * Returns the most accesses one operation can make (from the longest hash chain).
 */
export function ycsbConfigure(
  vcpu: u32, nBuckets: u32, nRecords: u32, fCount: u32, fLength: u32, flagBits: u32, padding: u32,
  table: f64, requestBuf: f64, responseBuf: f64, responseOff: u32,
  lb: f64, interval: f64, items: f64, zetan: f64, eta: f64, alpha: f64, second: f64, min: f64, count: f64, limit: f64,
  lengthCount: u32,
): u32 {
  buckets = region + MEMO_BYTES;
  records = (buckets + (<usize>nBuckets << 2) + 7) & ~<usize>7;
  lengths = records + (<usize>nRecords << 5);
  lengthSlots = <f64>lengthCount;
  memory.fill(lengths, 0, lengthCount);
  nAccesses = 0;
  nAccessBytes = 0;
  bucketMask = nBuckets - 1;
  vcpuBits = vcpu << 8;
  fieldCount = fCount;
  fieldLength = fLength;
  flags = flagBits;
  zeroPadding = <i32>padding;
  tableVa = <u64>table;
  rbuf = <u64>requestBuf;
  wbuf = <u64>responseBuf;
  wOff = responseOff;
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
  // the longest chain bounds an operation's header and key reads
  let longest: u32 = 0;
  for (let b: u32 = 0; b < nBuckets; b++) {
    let n: u32 = 0;
    for (let r = load<i32>(buckets + (<usize>b << 2)); r >= 0 && n <= nRecords; r = load<i32>(records + (<usize>r << 5) + 16)) n++;
    if (n > longest) longest = n;
  }
  // a read-modify-write is two lookups: request 2, bucket 1, 2 a record, fields 1, response 1 each
  maxPerOp = 2 * (5 + 2 * longest);
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
  if (i == <u32>C_ACCESSES) return nAccesses;
  if (i == <u32>C_ACCESS_BYTES) return nAccessBytes;
  return i < <u32>NCOUNTERS ? load<f64>(counters + (<usize>i << 3)) : 0;
}

/** The response buffer's write offset, for the host's store. */
export function ycsbResponseOffset(): u32 {
  return wOff;
}

/** The request count after the last ycsbRun. */
export function ycsbQueued(): u32 {
  return <u32>((reqAt - <usize>load<u32>(CFG_REQ_BUF)) / REQ_BYTES);
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
  reqAt = <usize>load<u32>(CFG_REQ_BUF) + <usize>at * REQ_BYTES;
  if (capacity < maxPerOp) return 0;
  const end = <usize>load<u32>(CFG_REQ_BUF) + (<usize>capacity - <usize>maxPerOp) * REQ_BYTES;
  let done: u32 = 0;
  while (done < ops && reqAt <= end) {
    // CoreWorkload.doTransaction: the operation, then its key and fields
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
    const keyLen = keyLength(keyNum);
    const hv = mix32(keyNum);
    if (op == OP_READ) {
      count(C_READ, 1);
      doRead(keyNum, keyLen, hv, pickField(F_READ_ALL));
    } else if (op == OP_UPDATE) {
      count(C_UPDATE, 1);
      doUpdate(keyNum, keyLen, hv, pickField(F_WRITE_ALL));
    } else {
      count(C_RMW, 1);
      const rf = pickField(F_READ_ALL);
      const wf = pickField(F_WRITE_ALL);
      doRead(keyNum, keyLen, hv, rf);
      doUpdate(keyNum, keyLen, hv, wf);
    }
    done++;
  }
  return done;
}

// ---- the store (store.ts KvStore.read / update) ---------------------------------------

function doRead(keyNum: f64, keyLen: u32, hv: i32, field: i32): void {
  count(C_STORE_READS, 1);
  request(keyLen);
  const r = lookup(keyNum, keyLen, hv);
  if (r < 0) {
    count(C_NOT_FOUND, 1);
    count(C_MISSES, 1);
    respond(8);
    return;
  }
  const rec = recordVa(r);
  const fieldsOff = <u64>(HEADER_BYTES + ((<u32>load<u8>(records + (<usize>r << 5) + 24) + 7) & ~7));
  let bytes: u32;
  if (field < 0) {
    bytes = fieldCount * fieldLength;
    access(rec + fieldsOff, bytes, KIND_READ);
  } else {
    bytes = fieldLength;
    access(rec + fieldsOff + <u64>(<u32>field * fieldLength), bytes, KIND_READ);
  }
  count(C_HITS, 1);
  count(C_BYTES, <f64>bytes);
  respond(bytes);
}

function doUpdate(keyNum: f64, keyLen: u32, hv: i32, field: i32): void {
  count(C_STORE_UPDATES, 1);
  const bytes = field < 0 ? fieldCount * fieldLength : fieldLength;
  // the driver counts an update's payload whether or not the key was found
  count(C_BYTES, <f64>bytes);
  request(keyLen + bytes);
  const r = lookup(keyNum, keyLen, hv);
  if (r < 0) {
    count(C_NOT_FOUND, 1);
    respond(8);
    return;
  }
  const rec = recordVa(r);
  const fieldsOff = <u64>(HEADER_BYTES + ((<u32>load<u8>(records + (<usize>r << 5) + 24) + 7) & ~7));
  if (field < 0) access(rec + fieldsOff, bytes, KIND_WRITE);
  else access(rec + fieldsOff + <u64>(<u32>field * fieldLength), bytes, KIND_WRITE);
  respond(8);
}

/** Bucket read, then per chained record a header read and, on an equal hash and length, a key read. */
function lookup(keyNum: f64, keyLen: u32, hv: i32): i32 {
  const b = <u32>hv & bucketMask;
  access(tableVa + (<u64>b << 3), 8, KIND_READ);
  let r = load<i32>(buckets + (<usize>b << 2));
  while (r >= 0) {
    const p = records + (<usize>r << 5);
    const rec = <u64>load<f64>(p);
    access(rec, HEADER_BYTES, KIND_READ);
    if (load<i32>(p + 20) == hv && <u32>load<u8>(p + 24) == keyLen) {
      access(rec + HEADER_BYTES, keyLen, KIND_READ);
      if (load<f64>(p + 8) == keyNum) return r;
    }
    r = load<i32>(p + 16);
  }
  return -1;
}

// @ts-ignore: decorator
@inline function recordVa(r: i32): u64 {
  return <u64>load<f64>(records + (<usize>r << 5));
}

/** A request of `bytes` arrives in the request buffer and is parsed. */
function request(bytes: u32): void {
  if ((flags & F_NETWORK) == 0) return;
  const n = min(8 + bytes, BUFFER_BYTES);
  access(rbuf, n, KIND_WRITE);
  access(rbuf, n, KIND_READ);
}

/** `bytes` of response go into the response buffer, cycling through it. */
function respond(bytes: u32): void {
  if ((flags & F_NETWORK) == 0) return;
  const n = min(bytes, BUFFER_BYTES);
  if (wOff + n > BUFFER_BYTES) wOff = 0;
  access(wbuf + <u64>wOff, n, KIND_WRITE);
  wOff += n;
  if (wOff >= BUFFER_BYTES) wOff = 0;
}

/** One request in the buffer (the layout of src/core/wasm.ts RequestWriter.put). */
// @ts-ignore: decorator
@inline function access(va: u64, bytes: u32, kind: u32): void {
  const p = reqAt;
  store<u32>(p, <u32>va);
  store<u32>(p, <u32>(va >> 32), 4);
  store<u32>(p, kind | vcpuBits, 8);
  store<u32>(p, bytes, 12);
  reqAt = p + REQ_BYTES;
  nAccesses += 1;
  nAccessBytes += <f64>bytes;
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

/** YCSB Utils.fnvhash64: FNV-1a over the 8 little-endian bytes, then Java's Math.abs. */
function fnvHash64(v: u64): i64 {
  let h: u64 = 0xCBF29CE484222325;
  for (let i: u64 = 0; i < 64; i += 8) {
    h ^= (v >> i) & 0xff;
    h *= 1099511628211;
  }
  const s = <i64>h;
  return s < 0 ? -s : s;
}

/** -1 (every field) when the flag is set, else a uniform field (-1 too when there is one field). */
function pickField(all: u32): i32 {
  if ((flags & all) != 0) return -1;
  const f = <i32>nextInt(<f64>fieldCount);
  return fieldCount == 1 ? -1 : f;
}

/** keyNameLength: "user" and the key's decimal digits (of its FNV hash unless ordered), zero-padded. */
function keyLength(keyNum: f64): u32 {
  if (keyNum < lengthSlots) {
    const p = lengths + <usize>keyNum;
    let l = <u32>load<u8>(p);
    if (l == 0) {
      l = nameLength(keyNum);
      store<u8>(p, <u8>l);
    }
    return l;
  }
  return nameLength(keyNum);
}

function nameLength(keyNum: f64): u32 {
  const digits = (flags & F_ORDERED) != 0 ? decimalLength(<i64>keyNum) : decimalLength(fnvHash64(<u64>keyNum));
  return <u32>(4 + max(zeroPadding, digits));
}

/** Length of the decimal string of `v` (a '-' included). */
function decimalLength(v: i64): i32 {
  if (v < 0) return v == i64.MIN_VALUE ? 20 : 1 + decimalLength(-v);
  let n = 1;
  let p: i64 = 10;
  while (n < 19 && v >= p) {
    n++;
    p *= 10;
  }
  return n;
}

/** memcached/server.ts mix32: the store's stand-in for a key string's hash. */
function mix32(keyNum: f64): i32 {
  const lo = <u32>(<u64>keyNum);
  const hi = <u32>(<u64>keyNum >> 32);
  const h = (lo ^ fmix32(hi + 0x9e3779b9)) * 0x85ebca6b;
  return <i32>fmix32(h ^ (h >>> 15));
}

// @ts-ignore: decorator
@inline function fmix32(x: u32): u32 {
  let h = x;
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}
