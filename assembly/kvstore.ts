// The in-place key-value store's metadata and operations (src/workloads/ycsb/store.ts,
// layout "record", is the reference), for the YCSB generators in the core (ycsb.ts):
// a chained hash index (i32 record id per bucket, -1 empty) over 32-byte records, the
// request and response buffers, and the accesses each operation makes, written into the
// request buffer (the layout of src/core/wasm.ts RequestWriter.put).
//
// Records, as store.ts's RecordTable: f64 va @0, f64 keyNum @8, i32 hnext @16,
// i32 hash @20, u8 key length @24. Key names are YCSB's ("user" and the decimal of the
// key number's FNV hash, or of the number itself when ordered, zero-padded), known by
// their length (remembered by key number) and, for the ordered index, by their digits.
import { put, requestsVcpu } from "./requests";
import { fnvHash64, decimalLength } from "./keys";

const BUFFER_BYTES: u32 = 16384; // store.ts KV_BUFFER_BYTES
export const HEADER_BYTES: u32 = 32; // store.ts KV_RECORD_HEADER_BYTES
export const KIND_READ: u32 = 1; // src/core/types.ts READ
export const KIND_WRITE: u32 = 2; // WRITE

// Store counters (kvCounter indices).
export const K_READS = 0;
export const K_UPDATES = 1;
export const K_NOT_FOUND = 2;
export const K_INSERTS = 3;
export const K_RECORDS = 4;
export const K_RECORD_BYTES = 5;
export const K_ACCESSES = 6;
export const K_ACCESS_BYTES = 7;
export const K_RESPONSE_OFFSET = 8;
export const K_SCANS = 9;
export const K_SCANNED = 10;

let buckets: usize = 0;
let bucketMask: u32 = 0;
let records: usize = 0;
let nRecords: u32 = 0;
let recordCap: u32 = 0;
let fieldCount: u32 = 0;
let fieldLength: u32 = 0;
let network = false;
let tableVa: u64 = 0;
let rbuf: u64 = 0;
let wbuf: u64 = 0;
let wOff: u32 = 0;
let lengths: usize = 0;
let lengthSlots: f64 = 0;
let zeroPadding: i32 = 0;
let ordered = false;
let longest: u32 = 0;
let reads: f64 = 0;
let updates: f64 = 0;
let notFound: f64 = 0;
let inserts: f64 = 0;
let recordBytes: f64 = 0;
let scans: f64 = 0;
let scanned: f64 = 0;
let nAccesses: f64 = 0;
let nAccessBytes: f64 = 0;

/**
 * Takes the store's index (already written at `bucketsAt` and `recordsAt`) and state.
 * `recordCapacity` records fit at `recordsAt`; `lengthSlots` key-name lengths at
 * `lengthsAt` (zeroed here). Counters start from 0.
 */
export function kvConfigure(
  vcpu: u32, bucketsAt: u32, nBuckets: u32, recordsAt: u32, count: u32, recordCapacity: u32,
  fCount: u32, fLength: u32, net: u32, table: f64, requestBuf: f64, responseBuf: f64, responseOff: u32,
  lengthsAt: u32, slots: u32, padding: u32, orderedKeys: u32,
): void {
  buckets = <usize>bucketsAt;
  bucketMask = nBuckets - 1;
  records = <usize>recordsAt;
  nRecords = count;
  recordCap = recordCapacity;
  requestsVcpu(vcpu);
  fieldCount = fCount;
  fieldLength = fLength;
  network = net != 0;
  tableVa = <u64>table;
  rbuf = <u64>requestBuf;
  wbuf = <u64>responseBuf;
  wOff = responseOff;
  lengths = <usize>lengthsAt;
  lengthSlots = <f64>slots;
  memory.fill(lengths, 0, slots);
  zeroPadding = <i32>padding;
  ordered = orderedKeys != 0;
  reads = updates = notFound = inserts = recordBytes = nAccesses = nAccessBytes = scans = scanned = 0;
  // the longest chain bounds an operation's header and key reads
  longest = 0;
  for (let b: u32 = 0; b < nBuckets; b++) {
    let n: u32 = 0;
    for (let r = load<i32>(buckets + (<usize>b << 2)); r >= 0 && n <= count; r = load<i32>(records + (<usize>r << 5) + 16)) n++;
    if (n > longest) longest = n;
  }
}

/** Store counter `i` (K_*). */
export function kvCounter(i: u32): f64 {
  switch (i) {
    case K_READS: return reads;
    case K_UPDATES: return updates;
    case K_NOT_FOUND: return notFound;
    case K_INSERTS: return inserts;
    case K_RECORDS: return <f64>nRecords;
    case K_RECORD_BYTES: return recordBytes;
    case K_ACCESSES: return nAccesses;
    case K_ACCESS_BYTES: return nAccessBytes;
    case K_RESPONSE_OFFSET: return <f64>wOff;
    case K_SCANS: return scans;
    case K_SCANNED: return scanned;
  }
  return 0;
}

/**
 * Sets the counters an operation without inserts or scans changes (reads, updates,
 * misses, accesses and their bytes, the response buffer's cursor) to `v`'s: the state
 * another core's generator left, taken over (src/workloads/ycsb/run-thread.ts).
 */
export function kvSetCounter(i: u32, v: f64): void {
  switch (i) {
    case K_READS: reads = v; break;
    case K_UPDATES: updates = v; break;
    case K_NOT_FOUND: notFound = v; break;
    case K_ACCESSES: nAccesses = v; break;
    case K_ACCESS_BYTES: nAccessBytes = v; break;
    case K_RESPONSE_OFFSET: wOff = <u32>v; break;
  }
}

// ---- the request buffer (requests.ts) --------------------------------------------------

export { queueAt, queued } from "./requests";

/** One request in the buffer, counted as the store's. */
// @ts-ignore: decorator
@inline export function access(va: u64, bytes: u32, kind: u32): void {
  put(va, bytes, kind);
  nAccesses += 1;
  nAccessBytes += <f64>bytes;
}

// ---- operations (store.ts KvStore.read / update / insert) ---------------------------------

/** The longest hash chain now (it bounds a lookup's accesses). */
export function longestChain(): u32 {
  return longest;
}

/** Records stored, and room for more. */
export function recordCount(): u32 {
  return nRecords;
}
export function recordRoom(): u32 {
  return recordCap - nRecords;
}

/** Fields per record. */
export function kvFieldCount(): u32 {
  return fieldCount;
}

/** Bucket count (a power of two). */
export function bucketCount(): u32 {
  return bucketMask + 1;
}

/** read: its field(s) into the response; true when the key was found. */
export function kvRead(keyNum: f64, keyLen: u32, hv: i32, field: i32): bool {
  reads += 1;
  request(keyLen);
  const r = lookup(keyNum, keyLen, hv);
  if (r < 0) {
    notFound += 1;
    respond(8);
    return false;
  }
  const bytes = readFields(r, field);
  respond(bytes);
  return true;
}

/** Reads record `r`'s field(s); returns the bytes read. */
function readFields(r: i32, field: i32): u32 {
  const rec = recordVa(r);
  const fieldsOff = <u64>(HEADER_BYTES + ((<u32>load<u8>(records + (<usize>r << 5) + 24) + 7) & ~7));
  if (field < 0) {
    const bytes = fieldCount * fieldLength;
    access(rec + fieldsOff, bytes, KIND_READ);
    return bytes;
  }
  access(rec + fieldsOff + <u64>(<u32>field * fieldLength), fieldLength, KIND_READ);
  return fieldLength;
}

/** scan's start: counted, the request (the start key and a count). */
export function kvScanRequest(keyLen: u32): void {
  scans += 1;
  request(keyLen + 8);
}

/** A scan's record: its header read, its field(s) read into the response. */
export function kvScanVisit(r: i32, field: i32): void {
  access(recordVa(r), HEADER_BYTES, KIND_READ); // the record's header (key length, field count)
  respond(readFields(r, field));
}

/** Records a scan visited. */
export function kvScanned(n: u32): void {
  scanned += <f64>n;
}

/** `bytes` of response (an empty scan's). */
export function kvRespond(bytes: u32): void {
  respond(bytes);
}

/** Field bytes of `field` (-1: every field). */
// @ts-ignore: decorator
@inline export function fieldBytes(field: i32): u32 {
  return field < 0 ? fieldCount * fieldLength : fieldLength;
}

/** update in place: true when found. */
export function kvUpdate(keyNum: f64, keyLen: u32, hv: i32, field: i32): bool {
  updates += 1;
  const bytes = fieldBytes(field);
  request(keyLen + bytes);
  const r = lookup(keyNum, keyLen, hv);
  if (r < 0) {
    notFound += 1;
    respond(8);
    return false;
  }
  const rec = recordVa(r);
  const fieldsOff = <u64>(HEADER_BYTES + ((<u32>load<u8>(records + (<usize>r << 5) + 24) + 7) & ~7));
  if (field < 0) access(rec + fieldsOff, bytes, KIND_WRITE);
  else access(rec + fieldsOff + <u64>(<u32>field * fieldLength), bytes, KIND_WRITE);
  respond(8);
  return true;
}

/** insert's first part: the request and the lookup; false (the response sent) when the key exists. */
export function kvInsertLookup(keyNum: f64, keyLen: u32, hv: i32): bool {
  request(keyLen + fieldCount * fieldLength);
  if (lookup(keyNum, keyLen, hv) >= 0) {
    respond(8);
    return false;
  }
  return true;
}

/** Bytes of a record with a key of `keyLen` bytes (store.ts recordSize, layout "record"). */
export function recordSize(keyLen: u32): u32 {
  return HEADER_BYTES + ((keyLen + 7) & ~7) + fieldCount * fieldLength;
}

/** Links a new record at `va` (after kvInsertLookup found no key) into its bucket; returns its id. */
export function kvInsertRecord(keyNum: f64, keyLen: u32, hv: i32, va: f64): i32 {
  const r = nRecords;
  const size = recordSize(keyLen);
  recordBytes += <f64>size;
  const p = records + (<usize>r << 5);
  store<f64>(p, va);
  store<f64>(p, keyNum, 8);
  store<u8>(p, <u8>keyLen, 24);
  store<i32>(p, hv, 20);
  access(<u64>va, size, KIND_WRITE); // header, key and fields, copied from the request
  const b = <u32>hv & bucketMask;
  const head = load<i32>(buckets + (<usize>b << 2));
  store<i32>(p, head, 16);
  store<i32>(buckets + (<usize>b << 2), <i32>r);
  access(tableVa + (<u64>b << 3), 8, KIND_WRITE); // the record's hnext went with its header
  // the chain grew by one: walk it for the bound (chains are short)
  let n: u32 = 0;
  for (let x = <i32>r; x >= 0; x = load<i32>(records + (<usize>x << 5) + 16)) n++;
  if (n > longest) longest = n;
  nRecords = r + 1;
  return <i32>r;
}

/** insert's last part: counted, the response. */
export function kvInsertDone(): void {
  inserts += 1;
  respond(8);
}

/** The key number of record `r`. */
// @ts-ignore: decorator
@inline export function recordKeyNum(r: i32): f64 {
  return load<f64>(records + (<usize>r << 5) + 8);
}

/** The first record of the bucket of hash `hv` (-1: none): a lookup's first cache miss, taken early. */
// @ts-ignore: decorator
@inline export function touchBucket(hv: i32): i32 {
  return load<i32>(buckets + (<usize>(<u32>hv & bucketMask) << 2));
}

/** Record `r`'s hash (`r` from `touchBucket`; 0 for none): a lookup's second cache miss, taken early. */
// @ts-ignore: decorator
@inline export function touchRecord(r: i32): i32 {
  return r < 0 ? 0 : load<i32>(records + (<usize>r << 5) + 20);
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
  if (!network) return;
  const n = min(8 + bytes, BUFFER_BYTES);
  access(rbuf, n, KIND_WRITE);
  access(rbuf, n, KIND_READ);
}

/** `bytes` of response go into the response buffer, cycling through it. */
function respond(bytes: u32): void {
  if (!network) return;
  const n = min(bytes, BUFFER_BYTES);
  if (wOff + n > BUFFER_BYTES) wOff = 0;
  access(wbuf + <u64>wOff, n, KIND_WRITE);
  wOff += n;
  if (wOff >= BUFFER_BYTES) wOff = 0;
}

// ---- key names ------------------------------------------------------------------------------

/** The number whose decimal a key's name holds: the key number's FNV hash, or the number itself when ordered. */
// @ts-ignore: decorator
@inline export function nameValue(keyNum: f64): i64 {
  return ordered ? <i64>keyNum : fnvHash64(<u64>keyNum);
}

/** The length of a key's name (workloads.ts keyNameLength), remembered by key number. */
export function keyLength(keyNum: f64): u32 {
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
  return <u32>(4 + max(zeroPadding, decimalLength(nameValue(keyNum))));
}
