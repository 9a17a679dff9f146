// The memcached server model in the core: the same slab classes, items, hash table,
// segmented LRU and connection buffers as src/workloads/memcached/server.ts (the
// reference; its module comment has the model and its sources), the same accesses in
// the same order, written straight into the request buffer. The host copies the
// server's state in and takes it back (src/workloads/memcached/core-run.ts); guest
// allocations and frees go to the host's allocator through imports.
//
// State, at addresses the host gives (mcConfigure), in the host's layouts:
// - chunks: 40-byte records (server.ts C_*): f64 va @0, f64 key id @8, i32 next @16,
//   prev @20, h_next @24, nbytes @28, hash @32, u8 key length @36, flags @37, LRU @38,
//   class @39; -1 ends a list.
// - classes (n = largest class id + 1): f64 lruBytes[4n], then per class f64 getHits,
//   cmdSet, evicted, outOfMemory, movesToCold, movesToWarm, movesWithinLru,
//   directReclaims (n each); then i32 chunkSize, perSlab, pages, freeHead, freeCount
//   (n each), lruHead, lruTail, lruCount (4n each).
// - buckets: i32 chunk per bucket (2^hashPower), with room for the doubled table.
// - connections: f64 read and response buffer addresses (-1: not open yet).
// - totals: f64 counters (T_*).
import { put, queueAt, requestsVcpu } from "./requests";
import { regionAt } from "./heap";
import { mix32 } from "./keys";
import { KIND_FETCH, KIND_READ, KIND_WRITE } from "./layout";
import { msNext, msOp, msConn, msKeyId, msKeySize, msValueSize, MS_GET } from "./memaslap";

// The guest allocator (`kind` 0: the server's metadata; c >= 1: a slab page of class c).
// Returns the address, or -1 when the guest is out of memory. The queue is the host's
// during the call (the allocator may map pages); the call returns where it stands after.
// @ts-ignore: decorator
@external("env", "mcMalloc") declare function hostMalloc(bytes: u32, kind: u32, queued: u32): f64;
// Runs the queued requests, then frees a block; returns the queue's length after.
// @ts-ignore: decorator
@external("env", "mcFree") declare function hostFree(va: f64, queued: u32): u32;
// The queue is full: run it (events and all); returns the queue's length after.
// @ts-ignore: decorator
@external("env", "queueFull") declare function hostQueueFull(queued: u32): u32;

const HEADER: u32 = 48; // slabs.ts ITEM_HEADER_BYTES
const CAS: u32 = 8; // slabs.ts CAS_BYTES
const READ_BUFFER: u32 = 16384; // server.ts MEMCACHED_READ_BUFFER_SIZE
const HASHPOWER_MAX: u32 = 32;
const ALLOC_PULL_TRIES: u32 = 10;
const JUGGLE_MAX: u32 = 500;

// item header offsets (memcached.h struct _stritem)
const IT_PREV: u64 = 8;
const IT_HNEXT: u64 = 16;
const IT_TIME: u64 = 24;
const IT_REFCOUNT: u64 = 36;
const IT_FLAGS: u64 = 38;
const IT_CLSID: u64 = 40;

const ITEM_LINKED: u8 = 1;
const ITEM_SLABBED: u8 = 4;
const ITEM_FETCHED: u8 = 8;
const ITEM_ACTIVE: u8 = 16;

const HOT: u32 = 0;
const WARM: u32 = 1;
const COLD: u32 = 2;

// Store commands and results (server.ts StoreCommand, StoreResult).
export const CMD_SET: u32 = 0;
export const CMD_ADD: u32 = 1;
export const CMD_REPLACE: u32 = 2;
export const STORED: u32 = 0;
export const NOT_STORED: u32 = 1;
export const OUT_OF_MEMORY: u32 = 2;

// Totals (f64 slots at totalsAt; core-run.ts names them, the first 14 in server.ts coreState order).
const T_MALLOCED = 0;
const T_CURR_ITEMS = 1;
const T_TOTAL_ITEMS = 2;
const T_CURR_BYTES = 3;
const T_CMD_GET = 4;
const T_GET_HITS = 5;
const T_GET_MISSES = 6;
const T_CMD_SET = 7;
const T_NOT_STORED = 8;
const T_EVICTIONS = 9;
const T_OUT_OF_MEMORY = 10;
const T_MAINTAINER = 11;
const T_EXPANSIONS = 12;
const T_CONNECTION_BYTES = 13;
const T_ACCESSES = 14;
const T_ACCESS_BYTES = 15;
const T_HASH_POWER = 16;
const T_TABLE_VA = 17;
const T_CHUNKS = 18;
const T_BUCKETS_AT = 19; // where the table is now (it moves into the spare room when it doubles)

// per-class f64 statistics (after lruBytes)
const ST_GET_HITS = 0;
const ST_CMD_SET = 1;
const ST_EVICTED = 2;
const ST_OUT_OF_MEMORY = 3;
const ST_MOVES_TO_COLD = 4;
const ST_MOVES_TO_WARM = 5;
const ST_MOVES_WITHIN = 6;
const ST_DIRECT_RECLAIMS = 7;

// state addresses
let chunks: usize = 0;
let chunkCap: u32 = 0;
let nCls: u32 = 0;
let lruBytesAt: usize = 0;
let statsAt: usize = 0;
let chunkSizeAt: usize = 0;
let perSlabAt: usize = 0;
let pagesAt: usize = 0;
let freeHeadAt: usize = 0;
let freeCountAt: usize = 0;
let lruHeadAt: usize = 0;
let lruTailAt: usize = 0;
let lruCountAt: usize = 0;
let classSizesAt: usize = 0; // i32 chunk size by class index 0..nClasses-1 (ids from firstId)
let nClasses: u32 = 0;
let firstId: u32 = 0;
let bucketsAt: usize = 0;
let spareAt: usize = 0;
let spareCap: u32 = 0;
let bucketMask: u32 = 0;
let rbufAt: usize = 0;
let wbufAt: usize = 0;
let connCap: u32 = 0;
let totals: usize = 0;

// configuration
let keyOffset: u32 = HEADER + CAS;
let useCas = true;
let hotPct: f64 = 20;
let warmPct: f64 = 40;
let network = true;
let inlineMaintainer = false;
let memoryLimit: f64 = 0;
let slabPageSize: u32 = 0;
let codeVa: u64 = 0;
let codeBytes: u32 = 0;
let codeFetches: u32 = 0;
let codeFetchBytes: u32 = 0;

let quiet = false;
let reqEnd: u32 = 0; // the queue's capacity
let nQueued: u32 = 0;

// The region mcRegion hands out (heap.ts regionAt).
const region: usize = memory.data(8, 4);

/** A region of at least `bytes` for the server's state (reused; see heap.ts regionAt); 0 when memory ran out. */
export function mcRegion(bytes: u32): u32 {
  return <u32>regionAt(region, <usize>bytes);
}

/**
 * Takes the server's state (written by the host at these addresses) and configuration.
 * `spare` points at room for `spareBuckets` buckets (the table doubles into it).
 */
export function mcConfigure(
  chunksAt: u32, chunkCapacity: u32, classesAt: u32, n: u32, sizesAt: u32, classCount: u32, firstClass: u32,
  table: u32, spare: u32, spareBuckets: u32, rbuf: u32, wbuf: u32, connections: u32, totalsAt: u32,
  cas: u32, hot: u32, warm: u32, net: u32, inline: u32, limit: f64, pageSize: u32,
  code: f64, codeRegion: u32, fetches: u32, fetchBytes: u32, vcpu: u32,
): void {
  requestsVcpu(vcpu);
  chunks = <usize>chunksAt;
  chunkCap = chunkCapacity;
  nCls = n;
  const c = <usize>classesAt;
  const n8 = <usize>n << 3;
  const n4 = <usize>n << 2;
  lruBytesAt = c;
  statsAt = c + 4 * n8;
  const i32s = statsAt + 8 * n8;
  chunkSizeAt = i32s;
  perSlabAt = i32s + n4;
  pagesAt = i32s + 2 * n4;
  freeHeadAt = i32s + 3 * n4;
  freeCountAt = i32s + 4 * n4;
  lruHeadAt = i32s + 5 * n4;
  lruTailAt = lruHeadAt + 4 * n4;
  lruCountAt = lruTailAt + 4 * n4;
  classSizesAt = <usize>sizesAt;
  nClasses = classCount;
  firstId = firstClass;
  bucketsAt = <usize>table;
  spareAt = <usize>spare;
  spareCap = spareBuckets;
  rbufAt = <usize>rbuf;
  wbufAt = <usize>wbuf;
  connCap = connections;
  totals = <usize>totalsAt;
  bucketMask = (<u32>1 << <u32>load<f64>(totals + (T_HASH_POWER << 3))) - 1;
  store<f64>(totals + (T_BUCKETS_AT << 3), <f64>table);
  useCas = cas != 0;
  keyOffset = HEADER + (useCas ? CAS : 0);
  hotPct = <f64>hot;
  warmPct = <f64>warm;
  network = net != 0;
  inlineMaintainer = inline != 0;
  memoryLimit = limit;
  slabPageSize = pageSize;
  codeVa = <u64>code;
  codeBytes = codeRegion;
  codeFetches = fetches;
  codeFetchBytes = fetchBytes;
  quiet = false;
}


// ---- small accessors ---------------------------------------------------------------------

// @ts-ignore: decorator
@inline function rec(it: i32): usize {
  return chunks + (<usize>it * 40);
}
// @ts-ignore: decorator
@inline function va(it: i32): u64 {
  return <u64>load<f64>(rec(it));
}
// @ts-ignore: decorator
@inline function nextOf(it: i32): i32 {
  return load<i32>(rec(it), 16);
}
// @ts-ignore: decorator
@inline function prevOf(it: i32): i32 {
  return load<i32>(rec(it), 20);
}
// @ts-ignore: decorator
@inline function hnextOf(it: i32): i32 {
  return load<i32>(rec(it), 24);
}
// @ts-ignore: decorator
@inline function keyLenOf(it: i32): u32 {
  return <u32>load<u8>(rec(it), 36);
}
// @ts-ignore: decorator
@inline function flagsOf(it: i32): u8 {
  return load<u8>(rec(it), 37);
}
// @ts-ignore: decorator
@inline function lruOf(it: i32): u32 {
  return <u32>load<u8>(rec(it), 38);
}
// @ts-ignore: decorator
@inline function clsOf(it: i32): u32 {
  return <u32>load<u8>(rec(it), 39);
}
// @ts-ignore: decorator
@inline function total(i: i32): f64 {
  return load<f64>(totals + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline function addTotal(i: i32, v: f64): void {
  const p = totals + (<usize>i << 3);
  store<f64>(p, load<f64>(p) + v);
}
// @ts-ignore: decorator
@inline function addStat(c: u32, k: i32, v: f64): void {
  const p = statsAt + (((<usize>k * <usize>nCls) + <usize>c) << 3);
  store<f64>(p, load<f64>(p) + v);
}
// @ts-ignore: decorator
@inline function i32At(base: usize, i: u32): i32 {
  return load<i32>(base + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function setI32(base: usize, i: u32, v: i32): void {
  store<i32>(base + (<usize>i << 2), v);
}
// @ts-ignore: decorator
@inline function bucketOf(hv: i32): usize {
  return bucketsAt + (<usize>(<u32>hv & bucketMask) << 2);
}
// @ts-ignore: decorator
@inline function tableVa(): u64 {
  return <u64>total(T_TABLE_VA);
}

// ---- the process ---------------------------------------------------------------------

/** The queue's length and capacity at the start of a run. */
export function mcQueueAt(at: u32, capacity: u32): void {
  queueAt(at);
  nQueued = at;
  reqEnd = capacity;
}

/** The queue's length now. */
export function mcQueued(): u32 {
  return nQueued;
}

// @ts-ignore: decorator
@inline function access(a: u64, bytes: u32, kind: u32): void {
  if (quiet) {
    addTotal(T_MAINTAINER, 1);
    return;
  }
  put(a, bytes, kind);
  addTotal(T_ACCESSES, 1);
  addTotal(T_ACCESS_BYTES, <f64>bytes);
  // as the host's queue: a full queue runs at once
  if (++nQueued == reqEnd) {
    nQueued = hostQueueFull(nQueued);
    queueAt(nQueued);
  }
}

// @ts-ignore: decorator
@inline function read(a: u64, bytes: u32): void {
  access(a, bytes, KIND_READ);
}

// @ts-ignore: decorator
@inline function write(a: u64, bytes: u32): void {
  access(a, bytes, KIND_WRITE);
}

// the host says where the queue stands after it (mcRequeue)
function malloc(bytes: u32, kind: u32): f64 {
  return hostMalloc(bytes, kind, nQueued);
}

function calloc(bytes: u32): f64 {
  const a = malloc(bytes, 0);
  if (a >= 0) write(<u64>a, bytes);
  return a;
}

/** The queue's length after the host ran or added to it (inside an allocation). */
export function mcRequeue(at: u32): void {
  queueAt(at);
  nQueued = at;
}

// ---- hashing and sizes ------------------------------------------------------------------

/** server.ts decimalDigits. */
function decimalDigits(n: u32): u32 {
  let d: u32 = 1;
  while (n >= 10) {
    n /= 10;
    d++;
  }
  return d;
}

/** slabs.ts classFor: the first class whose chunks hold `size` bytes (the largest otherwise). */
function classFor(size: u32): u32 {
  let lo: u32 = 0;
  let hi: u32 = nClasses - 1;
  if (size > <u32>i32At(classSizesAt, hi)) return firstId + hi;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (<u32>i32At(classSizesAt, mid) >= size) hi = mid;
    else lo = mid + 1;
  }
  return firstId + lo;
}

// @ts-ignore: decorator
@inline function ntotal(it: i32): f64 {
  return <f64>(keyOffset + keyLenOf(it) + 1 + <u32>load<i32>(rec(it), 28));
}

// ---- room -----------------------------------------------------------------------------

/**
 * Whether the state has room for one more command of these sizes on `conn`: a new slab
 * page's chunks, the doubled hash table, the connection's buffers. If not, the host
 * makes room (mcRoom's answer says which) and configures again.
 */
function mcHasRoom(keyLen: u32, valueBytes: u32, conn: u32, store: bool): bool {
  if (conn >= connCap) return false;
  if (!store) return true;
  const c = classFor(keyOffset + keyLen + 1 + valueBytes + 2);
  if (<u32>total(T_CHUNKS) + <u32>i32At(perSlabAt, c) > chunkCap) return false;
  // the table may double at this insert
  const nb = <f64>(bucketMask + 1);
  if (total(T_CURR_ITEMS) + 1 > (nb * 3) / 2 && <u32>total(T_HASH_POWER) < HASHPOWER_MAX && spareCap < 2 * (bucketMask + 1)) return false;
  return true;
}

// ---- the commands --------------------------------------------------------------------

/** server.ts get: the value's bytes on a hit, -1 on a miss. */
export function mcGet(keyId: f64, keyLen: u32, conn: u32): i32 {
  addTotal(T_CMD_GET, 1);
  if (codeFetches != 0) code(0);
  const reqLen = 4 + keyLen + 2;
  let wb: u64 = 0;
  if (network) {
    let rb = load<f64>(rbufAt + (<usize>conn << 3));
    if (!(rb >= 0)) rb = openConn(conn);
    wb = <u64>load<f64>(wbufAt + (<usize>conn << 3));
    write(<u64>rb, reqLen);
    read(<u64>rb, reqLen);
  }
  const hv = mix32(keyId);
  const it = find(keyId, keyLen, hv);
  if (it < 0) {
    addTotal(T_GET_MISSES, 1);
    if (network) write(wb, 5);
    return -1;
  }
  const base = va(it);
  write(base + IT_REFCOUNT, 2);
  bump(it);
  const nb = <u32>load<i32>(rec(it), 28);
  if (network) write(wb, 6 + keyLen + 3 + decimalDigits(nb - 2) + 2 + 5);
  read(base + keyOffset + keyLen + 1, nb);
  write(base + IT_REFCOUNT, 2);
  addTotal(T_GET_HITS, 1);
  addStat(clsOf(it), ST_GET_HITS, 1);
  return <i32>(nb - 2);
}

/** server.ts store: STORED, NOT_STORED or OUT_OF_MEMORY. The caller checked the item fits slab_chunk_max. */
export function mcStore(cmd: u32, keyId: f64, keyLen: u32, valueBytes: u32, conn: u32): u32 {
  const nb = valueBytes + 2;
  const nt = keyOffset + keyLen + 1 + nb;
  const c = classFor(nt);
  addTotal(T_CMD_SET, 1);
  if (codeFetches != 0) code(1);
  const cmdLen: u32 = cmd == CMD_SET ? 3 : cmd == CMD_ADD ? 3 : 7;
  const lineLen = cmdLen + 1 + keyLen + 5 + decimalDigits(valueBytes) + 2;
  let rb: u64 = 0;
  let wb: u64 = 0;
  if (network) {
    let r = load<f64>(rbufAt + (<usize>conn << 3));
    if (!(r >= 0)) r = openConn(conn);
    rb = <u64>r;
    wb = <u64>load<f64>(wbufAt + (<usize>conn << 3));
    write(rb, min(lineLen + nb, READ_BUFFER));
    read(rb, lineLen);
  }
  const it = itemAlloc(c);
  if (it < 0) {
    addTotal(T_OUT_OF_MEMORY, 1);
    addStat(c, ST_OUT_OF_MEMORY, 1);
    if (network) write(wb, 36);
    return OUT_OF_MEMORY;
  }
  addStat(c, ST_CMD_SET, 1);
  const base = va(it);
  const r = rec(it);
  store<f64>(r, keyId, 8);
  store<u8>(r, <u8>keyLen, 36);
  store<i32>(r, <i32>nb, 28);
  const hv = mix32(keyId);
  store<i32>(r, hv, 32);
  store<u8>(r, 0, 37);
  store<u8>(r, <u8>HOT, 38);
  write(base, HEADER);
  write(base + keyOffset, keyLen + 1);
  if (network) {
    // lines are far shorter than the buffer
    const inBuf = min(nb, READ_BUFFER - lineLen);
    if (inBuf > 0) read(rb + lineLen, inBuf);
  }
  write(base + keyOffset + keyLen + 1, nb);
  const old = find(keyId, keyLen, hv);
  if (old >= 0) write(va(old) + IT_REFCOUNT, 2);
  let result = STORED;
  if (cmd == CMD_ADD && old >= 0) {
    update(old);
    result = NOT_STORED;
  } else if (cmd == CMD_REPLACE && old < 0) {
    result = NOT_STORED;
  } else {
    if (old >= 0) unlink(old);
    link(it);
  }
  if (old >= 0) {
    write(va(old) + IT_REFCOUNT, 2);
    if ((flagsOf(old) & ITEM_LINKED) == 0) slabsFree(old);
  }
  if (result == STORED) write(base + IT_REFCOUNT, 2);
  else {
    addTotal(T_NOT_STORED, 1);
    slabsFree(it);
  }
  if (network) write(wb, result == STORED ? 8 : 12);
  if (result == STORED) juggle(c);
  return result;
}

// ---- slabs ------------------------------------------------------------------------------

function itemAlloc(c: u32): i32 {
  let it: i32 = -1;
  let i: u32 = 0;
  for (; i < ALLOC_PULL_TRIES; i++) {
    it = slabsAlloc(c);
    if (it >= 0) break;
    if (pullTail(c, COLD, 0, true) <= 0) pullTail(c, HOT, 0, false);
  }
  if (i > 0) addStat(c, ST_DIRECT_RECLAIMS, <f64>i);
  return it;
}

function slabsAlloc(c: u32): i32 {
  if (i32At(freeHeadAt, c) < 0) newSlab(c);
  const it = i32At(freeHeadAt, c);
  if (it < 0) return -1;
  const base = va(it);
  read(base, HEADER);
  const nx = nextOf(it);
  setI32(freeHeadAt, c, nx);
  if (nx >= 0) {
    store<i32>(rec(nx), -1, 20);
    write(va(nx) + IT_PREV, 8);
  }
  const r = rec(it);
  store<i32>(r, -1, 16);
  store<i32>(r, -1, 20);
  store<u8>(r, 0, 37);
  write(base + IT_REFCOUNT, 4);
  setI32(freeCountAt, c, i32At(freeCountAt, c) - 1);
  return it;
}

function newSlab(c: u32): bool {
  const len = slabPageSize;
  if (memoryLimit != 0 && total(T_MALLOCED) + <f64>len > memoryLimit && i32At(pagesAt, c) > 0) return false;
  const pageF = malloc(len, c);
  if (pageF < 0) return false;
  const page = <u64>pageF;
  addTotal(T_MALLOCED, <f64>len);
  setI32(pagesAt, c, i32At(pagesAt, c) + 1);
  write(page, len);
  const size = <u64>i32At(chunkSizeAt, c);
  const per = <u32>i32At(perSlabAt, c);
  let head = i32At(freeHeadAt, c);
  let n = <i32>total(T_CHUNKS);
  for (let x: u32 = 0; x < per; x++) {
    const it = n++;
    const a = page + <u64>x * size;
    const r = rec(it);
    store<f64>(r, <f64>a);
    store<f64>(r, 0, 8);
    store<i32>(r, head, 16);
    store<i32>(r, -1, 20);
    store<i32>(r, -1, 24);
    store<i32>(r, 0, 28);
    store<i32>(r, 0, 32);
    store<u32>(r, 0, 36);
    store<u8>(r, <u8>c, 39);
    store<u8>(r, ITEM_SLABBED, 37);
    write(a, HEADER);
    if (head >= 0) {
      store<i32>(rec(head), it, 20);
      write(va(head) + IT_PREV, 8);
    }
    head = it;
  }
  store<f64>(totals + (T_CHUNKS << 3), <f64>n);
  setI32(freeHeadAt, c, head);
  setI32(freeCountAt, c, i32At(freeCountAt, c) + <i32>per);
  return true;
}

function slabsFree(it: i32): void {
  const c = clsOf(it);
  const head = i32At(freeHeadAt, c);
  const r = rec(it);
  store<u8>(r, ITEM_SLABBED, 37);
  store<i32>(r, -1, 20);
  store<i32>(r, head, 16);
  write(va(it), HEADER);
  if (head >= 0) {
    store<i32>(rec(head), it, 20);
    write(va(head) + IT_PREV, 8);
  }
  setI32(freeHeadAt, c, it);
  setI32(freeCountAt, c, i32At(freeCountAt, c) + 1);
}

// ---- items, hash table, LRU ---------------------------------------------------------------

function find(keyId: f64, keyLen: u32, hv: i32): i32 {
  const b = <u64>(<u32>hv & bucketMask);
  read(tableVa() + (b << 3), 8);
  let it = load<i32>(bucketOf(hv));
  while (it >= 0) {
    const base = va(it);
    read(base, HEADER);
    if (keyLenOf(it) == keyLen) {
      read(base + keyOffset, keyLen);
      if (load<f64>(rec(it), 8) == keyId) return it;
    }
    it = hnextOf(it);
  }
  return -1;
}

function link(it: i32): void {
  const base = va(it);
  const r = rec(it);
  store<u8>(r, flagsOf(it) | ITEM_LINKED, 37);
  write(base + IT_TIME, 4);
  if (useCas) write(base + HEADER, CAS);
  const hv = load<i32>(r, 32);
  const bp = bucketOf(hv);
  store<i32>(r, load<i32>(bp), 24);
  write(base + IT_HNEXT, 8);
  store<i32>(bp, it);
  write(tableVa() + (<u64>(<u32>hv & bucketMask) << 3), 8);
  linkQ(it, clsOf(it) * 4 + HOT);
  write(base + IT_REFCOUNT, 2);
  addTotal(T_CURR_ITEMS, 1);
  addTotal(T_TOTAL_ITEMS, 1);
  addTotal(T_CURR_BYTES, ntotal(it));
  if (total(T_CURR_ITEMS) > (<f64>(bucketMask + 1) * 3) / 2 && <u32>total(T_HASH_POWER) < HASHPOWER_MAX) expand();
}

function unlink(it: i32): void {
  store<u8>(rec(it), flagsOf(it) & ~ITEM_LINKED, 37);
  addTotal(T_CURR_ITEMS, -1);
  addTotal(T_CURR_BYTES, -ntotal(it));
  hashDelete(it);
  unlinkQ(it);
  write(va(it) + IT_REFCOUNT, 2);
}

function hashDelete(target: i32): void {
  const hv = load<i32>(rec(target), 32);
  const bp = bucketOf(hv);
  const b = <u64>(<u32>hv & bucketMask);
  read(tableVa() + (b << 3), 8);
  let before: i32 = -1;
  let it = load<i32>(bp);
  const kl = keyLenOf(target);
  while (it >= 0) {
    const base = va(it);
    read(base, HEADER);
    if (keyLenOf(it) == kl) {
      read(base + keyOffset, kl);
      if (it == target) break;
    }
    before = it;
    it = hnextOf(it);
  }
  if (it < 0) unreachable(); // the reference throws: the item is in its chain
  const nx = hnextOf(target);
  if (before < 0) {
    store<i32>(bp, nx);
    write(tableVa() + (b << 3), 8);
  } else {
    store<i32>(rec(before), nx, 24);
    write(va(before) + IT_HNEXT, 8);
  }
  store<i32>(rec(target), -1, 24);
  write(va(target) + IT_HNEXT, 8);
}

function linkQ(it: i32, q: u32): void {
  const head = i32At(lruHeadAt, q);
  const r = rec(it);
  store<i32>(r, -1, 20);
  store<i32>(r, head, 16);
  write(va(it), 16);
  if (head >= 0) {
    store<i32>(rec(head), it, 20);
    write(va(head) + IT_PREV, 8);
  } else {
    setI32(lruTailAt, q, it);
  }
  setI32(lruHeadAt, q, it);
  store<u8>(r, <u8>(q & 3), 38);
  setI32(lruCountAt, q, i32At(lruCountAt, q) + 1);
  const p = lruBytesAt + (<usize>q << 3);
  store<f64>(p, load<f64>(p) + ntotal(it));
}

function unlinkQ(it: i32): void {
  const q = clsOf(it) * 4 + lruOf(it);
  const nx = nextOf(it);
  const pv = prevOf(it);
  if (i32At(lruHeadAt, q) == it) setI32(lruHeadAt, q, nx);
  if (i32At(lruTailAt, q) == it) setI32(lruTailAt, q, pv);
  if (nx >= 0) {
    store<i32>(rec(nx), pv, 20);
    write(va(nx) + IT_PREV, 8);
  }
  if (pv >= 0) {
    store<i32>(rec(pv), nx, 16);
    write(va(pv), 8); // IT_NEXT
  }
  setI32(lruCountAt, q, i32At(lruCountAt, q) - 1);
  const p = lruBytesAt + (<usize>q << 3);
  store<f64>(p, load<f64>(p) - ntotal(it));
}

function moveTo(it: i32, lru: u32): void {
  unlinkQ(it);
  write(va(it) + IT_CLSID, 1);
  linkQ(it, clsOf(it) * 4 + lru);
}

function bump(it: i32): void {
  const f = flagsOf(it);
  if ((f & ITEM_ACTIVE) != 0) return;
  const base = va(it);
  if ((f & ITEM_FETCHED) == 0) {
    store<u8>(rec(it), f | ITEM_FETCHED, 37);
    write(base + IT_FLAGS, 2);
    return;
  }
  store<u8>(rec(it), f | ITEM_ACTIVE, 37);
  write(base + IT_FLAGS, 2);
  if (lruOf(it) != COLD) {
    write(base + IT_TIME, 4);
  } else {
    quiet = !inlineMaintainer;
    update(it);
    quiet = false;
  }
}

function update(it: i32): void {
  const base = va(it);
  write(base + IT_TIME, 4);
  if (lruOf(it) == COLD && (flagsOf(it) & ITEM_ACTIVE) != 0) {
    store<u8>(rec(it), flagsOf(it) & ~ITEM_ACTIVE, 37);
    write(base + IT_FLAGS, 2);
    moveTo(it, WARM);
    addStat(clsOf(it), ST_MOVES_TO_WARM, 1);
  }
}

// @ts-ignore: decorator
@inline function share(totalBytes: f64, pct: f64): f64 {
  return Math.floor((totalBytes * pct) / 100);
}

function pullTail(c: u32, lru: u32, totalBytes: f64, evict: bool): u32 {
  const q = c * 4 + lru;
  const it = i32At(lruTailAt, q);
  if (it < 0) return 0;
  const base = va(it);
  read(base, HEADER);
  read(base + keyOffset, keyLenOf(it));
  write(base + IT_REFCOUNT, 2);
  let removed: u32 = 0;
  if (lru == COLD) {
    if (evict) {
      addStat(c, ST_EVICTED, 1);
      addTotal(T_EVICTIONS, 1);
      unlink(it);
      write(base + IT_REFCOUNT, 2);
      slabsFree(it);
      return 1;
    }
    if ((flagsOf(it) & ITEM_ACTIVE) != 0) {
      store<u8>(rec(it), flagsOf(it) & ~ITEM_ACTIVE, 37);
      write(base + IT_FLAGS, 2);
      moveTo(it, WARM);
      addStat(c, ST_MOVES_TO_WARM, 1);
      removed = 1;
    }
  } else {
    let limit: f64;
    if (lru == HOT) {
      limit = share(totalBytes, hotPct);
      if (limit == 0) limit = share(totalBytes, warmPct);
    } else limit = share(totalBytes, warmPct);
    if ((flagsOf(it) & ITEM_ACTIVE) != 0) {
      store<u8>(rec(it), flagsOf(it) & ~ITEM_ACTIVE, 37);
      write(base + IT_FLAGS, 2);
      if (lru == WARM) {
        addStat(c, ST_MOVES_WITHIN, 1);
        unlinkQ(it);
        linkQ(it, q);
      } else {
        addStat(c, ST_MOVES_TO_WARM, 1);
        moveTo(it, WARM);
      }
      removed = 1;
    } else if (load<f64>(lruBytesAt + (<usize>q << 3)) > limit) {
      addStat(c, ST_MOVES_TO_COLD, 1);
      moveTo(it, COLD);
      removed = 1;
    }
  }
  write(base + IT_REFCOUNT, 2);
  return removed;
}

function juggle(c: u32): void {
  quiet = !inlineMaintainer;
  const o = lruBytesAt + (<usize>(c * 4) << 3);
  for (let i: u32 = 0; i < JUGGLE_MAX; i++) {
    const hot = load<f64>(o);
    const warm = load<f64>(o, 8);
    const all = hot + warm + load<f64>(o, 16);
    const hotOver = hot > share(all, hotPct);
    const warmOver = warm > share(all, warmPct);
    let moved: u32 = 0;
    if (hotOver) moved = pullTail(c, HOT, all, false);
    if (moved == 0 && warmOver) moved = pullTail(c, WARM, all, false);
    if (moved == 0) break;
  }
  quiet = false;
}

/** server.ts expand: into the spare room (mcHasRoom made sure of it); the old room becomes the spare. */
function expand(): void {
  const oldVa = tableVa();
  const oldAt = bucketsAt;
  const oldN = bucketMask + 1;
  const n = oldN * 2;
  const newVa = calloc(n * 8);
  const to = spareAt;
  for (let b: u32 = 0; b < n; b++) store<i32>(to + (<usize>b << 2), -1);
  const mask = n - 1;
  for (let b: u32 = 0; b < oldN; b++) {
    read(oldVa + (<u64>b << 3), 8);
    let it = load<i32>(oldAt + (<usize>b << 2));
    while (it >= 0) {
      const base = va(it);
      const nx = hnextOf(it);
      read(base, HEADER);
      read(base + keyOffset, keyLenOf(it));
      const t = <u32>load<i32>(rec(it), 32) & mask;
      const tp = to + (<usize>t << 2);
      store<i32>(rec(it), load<i32>(tp), 24);
      write(base + IT_HNEXT, 8);
      store<i32>(tp, it);
      write(<u64>newVa + (<u64>t << 3), 8);
      it = nx;
    }
    write(oldVa + (<u64>b << 3), 8);
  }
  spareAt = oldAt;
  spareCap = oldN;
  bucketsAt = to;
  bucketMask = mask;
  store<f64>(totals + (T_BUCKETS_AT << 3), <f64>to);
  store<f64>(totals + (T_TABLE_VA << 3), newVa);
  addTotal(T_HASH_POWER, 1);
  addTotal(T_EXPANSIONS, 1);
  nQueued = hostFree(<f64>oldVa, nQueued);
  queueAt(nQueued);
}

// ---- connections and code ------------------------------------------------------------------

function openConn(conn: u32): f64 {
  const r = malloc(READ_BUFFER, 0);
  const w = malloc(READ_BUFFER, 0);
  store<f64>(rbufAt + (<usize>conn << 3), r);
  store<f64>(wbufAt + (<usize>conn << 3), w);
  addTotal(T_CONNECTION_BYTES, <f64>(2 * READ_BUFFER));
  return r;
}

function code(kind: u32): void {
  const lines = max<u32>(1, codeBytes / 64);
  const maxAt = codeBytes - codeFetchBytes;
  for (let i: u32 = 0; i < codeFetches; i++) {
    const line = ((kind * 64 + i) * 0x9e3779b1) % lines;
    access(codeVa + <u64>min(line * 64, maxAt), codeFetchBytes, KIND_FETCH);
  }
}

// ---- a driver's requests ----------------------------------------------------------------------

// What the requests served so far did (mcRunCounter indices): the driver's counts.
const R_GETS = 0;
const R_SETS = 1;
const R_HITS = 2;
const R_MISSES = 3;
const R_BYTES = 4;
const NRUN = 5;
// static data (not the runtime's heap, which the core's own heap overlays)
const runCounts: usize = memory.data(NRUN * 8, 8);

/** Zeroes the run counters. */
export function mcRunReset(): void {
  memory.fill(runCounts, 0, NRUN * 8);
  stagedN = stagedAt = 0;
  ended = false;
}

/** Run counter `i` (R_*). */
export function mcRunCounter(i: u32): f64 {
  return i < <u32>NRUN ? load<f64>(runCounts + (<usize>i << 3)) : 0;
}

// @ts-ignore: decorator
@inline function count(i: i32, v: f64): void {
  const p = runCounts + (<usize>i << 3);
  store<f64>(p, load<f64>(p) + v);
}

/**
 * One request as the drivers issue it (op 0 get, 1 set, 2 add, 3 replace), counted:
 * a get's hit or miss and value bytes, a store's value bytes.
 */
export function serve(op: u32, keyId: f64, keyLen: u32, valueBytes: u32, conn: u32): void {
  if (op == 0) {
    count(R_GETS, 1);
    const v = mcGet(keyId, keyLen, conn);
    if (v >= 0) {
      count(R_HITS, 1);
      count(R_BYTES, <f64>v);
    } else count(R_MISSES, 1);
  } else {
    count(R_SETS, 1);
    mcStore(op - 1, keyId, keyLen, valueBytes, conn);
    count(R_BYTES, <f64>valueBytes);
  }
}

/**
 * Serves up to `n` requests of 24 bytes from `at` (f64 key id, u32 op, key length, value
 * bytes, connection). Returns how many it served: fewer when the next one needs room the
 * state does not have (the host makes room and calls again from there).
 */
export function mcServe(at: u32, n: u32): u32 {
  for (let i: u32 = 0; i < n; i++) {
    const p = <usize>at + <usize>i * 24;
    const op = load<u32>(p, 8);
    const keyLen = load<u32>(p, 12);
    const valueBytes = load<u32>(p, 16);
    const conn = load<u32>(p, 20);
    if (!mcHasRoom(keyLen, valueBytes, conn, op != 0)) return i;
    serve(op, load<f64>(p), keyLen, valueBytes, conn);
  }
  return n;
}

// ---- memslap: memaslap's stream and the server, both in the core ------------------------------

// mcMemaslap's reasons to stop (mcStatus)
const S_DONE: u32 = 0; // the requests asked for
const S_ROOM: u32 = 1; // the next request needs room the state does not have: the host makes it
const S_END: u32 = 2; // memaslap's operations are exhausted
let status: u32 = S_DONE;
// Requests drawn ahead and not served yet (the next waits for room, or they all wait for
// the next call): 24 bytes each, f64 key id, u32 op, key size, value size, connection.
// 8: a guess at enough misses in flight (YCSB's batch holds 16).
const AHEAD: u32 = 8;
const staged: usize = memory.data(AHEAD * 24, 8);
let stagedN: u32 = 0;
let stagedAt: u32 = 0;
/** memaslap's stream ended (its next draw gave nothing). */
let ended = false;
// each staged request's bucket's first item, and what the early loads read (kept so the optimiser keeps them)
const firsts: usize = memory.data(AHEAD * 4, 8);
const touched: usize = memory.data(8, 8);

/**
 * Draws memaslap's next requests (memaslap.ts) and serves them, up to `n`; returns how
 * many it served (mcStatus says why it stopped).
 */
export function mcMemaslap(n: u32): u32 {
  for (let i: u32 = 0; i < n; i++) {
    if (stagedAt == stagedN && !drawAhead(min(AHEAD, n - i))) {
      status = S_END;
      return i;
    }
    const s = staged + <usize>stagedAt * 24;
    const set = load<u32>(s, 8) != MS_GET;
    const keySize = load<u32>(s, 12);
    const valueSize = load<u32>(s, 16);
    const conn = load<u32>(s, 20);
    if (!mcHasRoom(keySize, valueSize, conn, set)) {
      status = S_ROOM;
      return i;
    }
    stagedAt++;
    serve(set ? 1 : 0, load<f64>(s), keySize, valueSize, conn);
  }
  status = S_DONE;
  return n;
}

/**
 * Draws up to `k` requests (never more than the call serves, so none is left at its
 * end), then loads each one's bucket, then each bucket's first item, in tight loops:
 * independent cache misses the processor overlaps (a load that misses holds up the
 * retirement of everything after it, so a miss inside each request's serving would be
 * waited for in turn). False when the stream has ended.
 */
function drawAhead(k: u32): bool {
  stagedN = 0;
  stagedAt = 0;
  while (!ended && stagedN < k) {
    if (!msNext()) {
      ended = true;
      break;
    }
    const s = staged + <usize>stagedN * 24;
    store<f64>(s, msKeyId);
    store<u32>(s, msOp, 8);
    store<u32>(s, msKeySize, 12);
    store<u32>(s, msValueSize, 16);
    store<u32>(s, msConn, 20);
    stagedN++;
  }
  for (let i: u32 = 0; i < stagedN; i++) store<i32>(firsts + (<usize>i << 2), load<i32>(bucketOf(mix32(load<f64>(staged + <usize>i * 24)))));
  let t: i32 = 0;
  for (let i: u32 = 0; i < stagedN; i++) {
    const it = load<i32>(firsts + (<usize>i << 2));
    if (it >= 0) t ^= load<i32>(rec(it), 32);
  }
  store<i32>(touched, load<i32>(touched) ^ t);
  return stagedN > 0;
}

/** Why the last mcMemaslap stopped (S_*). */
export function mcStatus(): u32 {
  return status;
}
