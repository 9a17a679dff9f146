// The line cache (docs/core.md section 5b): a per-pCPU model of the cache capacity
// page-table and data lines compete for, as set-associative 64-byte lines tagged by
// host-physical line address, with a dirty bit. It only counts: which references hit,
// which miss and in which tier, which dirty lines go back to memory. Its geometry is
// structure S_LINES's and it replaces like the TLBs (CFG_REPL), but it keeps its order
// as ranks, not stamps: it needs no clock, so the engine's inline runs model data lines
// without disturbing the stamps they derive from request positions (fastpath.ts).
//
// Ranks: a byte per way, 0 for the most recently used (LRU) or filled (FIFO) valid way,
// up to valid ways - 1; 0xFF for an invalid way (0xFE for padding, never chosen). The
// victim is the first invalid way, else the way ranked ways - 1: the victims stamps
// give (tlb.ts), which the reference model keeps. A 16-way set (every CPU preset's)
// updates its ranks in one i8x16 step.
//
// Layout: a set is one block, `wpad` u64 keys (line << 1 | 1; 0 invalid), then the
// ranks (`wpad` bytes rounded up to 16), then a u64 mask of dirty ways; 152 bytes at
// 16 ways. The modelled misses land on random sets: one block of adjacent host lines
// is fetched faster than scattered arrays. A 16-way LRU cache of at least 512 sets
// (every CPU preset's) keeps 32-bit keys instead, the line's tag (line >> log2(sets),
// below 2^31 as host addresses are below 2^46) << 1 | 1: 88 bytes a set (64 of keys,
// 16 of ranks, 8 of the dirty mask), compared in four SIMD steps instead of eight.
import { S_LINES, SD_SETS, SD_WAYS, SD_WPAD, SD_KEYS, CFG_REPL, CFG_PCPUS, CFG_VCPUS, CFG_CNT_TAB, CFG_PCPU_TAB, CFG_PCPU_BYTES } from "./layout";
import { bump, add, cnt, C_REFS_CACHED, C_REF_MISS_TIER, C_DLINE_HIT, C_DLINE_MISS, C_WRITEBACK, C_DLINE_ALL, COUNTERS, COUNTER_BYTES } from "./counters";
import { sd, matchMask, probeSet, drawRandom, pcpuBase } from "./tlb";
import { tierOf } from "./state";
import { alloc } from "./heap";

/** Whether walks use the line cache, and whether data accesses do too (set by init). */
export let linesOn = false;
export let linesData = false;

// the geometry, copied from S_LINES's descriptor once the pCPU blocks are laid out
let setMask: u32 = 0;
let wpad: u32 = 0;
let ways: u32 = 0;
let keysOff: usize = 0;
let ranksAt: usize = 0; // offset of the ranks in a set block
let dirtyAt: usize = 0; // offset of the dirty mask in a set block
let stride: usize = 0; // bytes of a set block
let wide16 = false;
let lru16 = false; // 16 ways under LRU, >= 512 sets (every CPU preset's): useLine16's compact, constant-geometry path
let tagShift: u64 = 0; // log2(sets): a line's tag is line >> tagShift

// Set sampling: with 1 set in K modelled (K > 1), a line's set is sampled when the top
// log2(K) bits of its index, multiplied by an odd constant modulo the set count, are
// zero. The product is a bijection on the set indices, so exactly sets / K are sampled,
// spread over every page offset (a plain `set % K` would sample the same offsets of
// every page: the headers of page-aligned objects). Sets are independent, so a sampled
// set holds exactly what it would in the whole cache; the host scales (src/core/sampling.ts).
let sampling = false;
let sampleShift: u32 = 0;
const SAMPLE_MUL: u32 = 0x9E3779B1;
// Bit s of this bitmap says whether set s is sampled; the first 64 bits repeat after
// the last set, so a run of consecutive sets that wraps reads on: a data access finds
// its sampled lines with one load and a bit scan instead of a test per line.
let sampleBits: usize = 0;

const INVALID: u8 = 0xFF;
const PADDING: u8 = 0xFE;

export function setLines(on: bool, data: bool): void {
  linesOn = on;
  linesData = on && data;
}

/** Bytes of the line cache of one pCPU with `sets` sets of `wp` (padded) ways (init stores the policy first). */
export function linesBytes(sets: u32, wp: u32): u32 {
  return sets * (compact(sets, wp) ? <u32>STRIDE16 : setStride(wp));
}

/** Whether a line cache of this geometry, under the configured policy, takes the compact 32-bit-key layout. */
function compact(sets: u32, wp: u32): bool {
  return wp == 16 && load<u32>(sd(S_LINES) + SD_WAYS) == 16 && load<u32>(CFG_REPL) == 0 && sets >= 512;
}

// @ts-ignore: decorator
@inline function setStride(wp: u32): u32 {
  return (wp << 3) + ((wp + 15) & ~15) + 8;
}

/**
 * Reads the line cache's geometry and layout (after init laid out the pCPU blocks) and
 * marks every way of every pCPU invalid (padding ways apart).
 */
export function linesLayout(): void {
  const d = sd(S_LINES);
  const sets = load<u32>(d + SD_SETS);
  setMask = sets - 1;
  wpad = load<u32>(d + SD_WPAD);
  ways = load<u32>(d + SD_WAYS);
  keysOff = <usize>load<u32>(d + SD_KEYS);
  wide16 = ways == 16 && wpad == 16;
  lru16 = compact(sets, wpad);
  tagShift = <u64>ctz(sets);
  ranksAt = lru16 ? 64 : <usize>wpad << 3;
  dirtyAt = ranksAt + <usize>((wpad + 15) & ~15);
  stride = lru16 ? STRIDE16 : <usize>setStride(wpad);
  if (!linesOn) return;
  const n = load<u32>(CFG_PCPUS);
  const rbytes = (wpad + 15) & ~15;
  for (let c: u32 = 0; c < n; c++) {
    const base = pcpuBase(c) + keysOff;
    for (let st: u32 = 0; st < sets; st++) {
      const r = base + <usize>st * stride + ranksAt;
      memory.fill(r, PADDING, rbytes);
      memory.fill(r, INVALID, ways);
    }
  }
}

/**
 * One use of `line` on pCPU block `p`: a hit is a use (LRU) and, for a write, makes
 * the line dirty; a miss fills the policy's victim, counting the write-back of a dirty
 * one. True for a hit.
 */
// @ts-ignore: decorator
@inline function useLine(c: usize, p: usize, line: u64, write: bool): bool {
  if (lru16) return useLine16(c, p + keysOff, setMask, line, write);
  const set = p + keysOff + <usize>(<u32>line & setMask) * stride;
  const ranks = set + ranksAt;
  const key = (line << 1) | 1;
  const repl = load<u32>(CFG_REPL);
  let w: i32;
  if (wide16) {
    const m = matchMask(set, 16, key);
    w = m != 0 ? <i32>ctz(m) : -1;
  } else w = probeSet(set, wpad, key);
  if (w >= 0) {
    if (repl == 0) promote(ranks, <u32>w, <u32>load<u8>(ranks + <usize>w));
    if (write) store<u64>(set + dirtyAt, load<u64>(set + dirtyAt) | (<u64>1 << <u64>w));
    return true;
  }
  // the victim: the first invalid way, else the policy's choice
  let v: i32;
  if (wide16) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(ranks), i8x16.splat(INVALID)));
    v = m != 0 ? <i32>ctz(m) : -1;
  } else v = firstInvalid(ranks);
  const wasValid = v < 0;
  if (wasValid) {
    if (repl == 2) v = <i32>(drawRandom() % ways);
    else if (wide16) v = <i32>ctz(i8x16.bitmask(i8x16.eq(v128.load(ranks), i8x16.splat(15))));
    else v = lastRanked(ranks);
  }
  const dirty = load<u64>(set + dirtyAt);
  const bit = <u64>1 << <u64>v;
  if (wasValid && (dirty & bit) != 0) bump(c, C_WRITEBACK + <i32>tierOf((load<u64>(set + (<usize>v << 3)) >> 1) << 6));
  store<u64>(set + (<usize>v << 3), key);
  store<u64>(set + dirtyAt, write ? dirty | bit : dirty & ~bit);
  // a fill is a use under LRU and FIFO; random needs the ranks only to tell valid ways
  if (repl == 2) store<u8>(ranks + <usize>v, 0);
  else promote(ranks, <u32>v, <u32>load<u8>(ranks + <usize>v));
  return false;
}

/** Makes way `w` (of rank `r`, INVALID for a fill of an invalid way) rank 0: valid ways ranked below `r` move down one. */
// @ts-ignore: decorator
@inline function promote(ranks: usize, w: u32, r: u32): void {
  if (wide16) {
    const R = v128.load(ranks);
    // lanes below r compare to all ones (-1): subtracting adds one
    v128.store(ranks, i8x16.sub(R, i8x16.lt_u(R, i8x16.splat(<u8>r))));
  } else {
    for (let i: u32 = 0; i < ways; i++) {
      const a = ranks + <usize>i;
      const x = <u32>load<u8>(a);
      if (x < r) store<u8>(a, <u8>(x + 1));
    }
  }
  store<u8>(ranks + <usize>w, 0);
}

/** The first invalid way, or -1 (any way count). */
function firstInvalid(ranks: usize): i32 {
  for (let i: u32 = 0; i < ways; i++) if (load<u8>(ranks + <usize>i) == INVALID) return <i32>i;
  return -1;
}

/** The way ranked ways - 1 (a full set's least recently used or first filled). */
function lastRanked(ranks: usize): i32 {
  for (let i: u32 = 0; i < ways; i++) if (<u32>load<u8>(ranks + <usize>i) == ways - 1) return <i32>i;
  return 0;
}

/**
 * Models 1 set in `k` (a power of two, 1..sets; 1: every set). Call after init; the
 * sampling counters count from here.
 */
export function setLineSampling(k: u32): bool {
  sampling = k > 1;
  sampleShift = <u32>ctz(setMask + 1) - <u32>ctz(k);
  if (!sampling) return true;
  const sets = setMask + 1;
  sampleBits = alloc(<usize>((sets + 64) >> 3) + 16, 8);
  if (sampleBits == 0) return false;
  for (let s: u32 = 0; s < sets + 64; s++) {
    if (sampledSet(<u64>(s & setMask))) {
      const a = sampleBits + <usize>(s >> 3);
      store<u8>(a, <u8>(<u32>load<u8>(a) | (<u32>1 << (s & 7))));
    }
  }
  return true;
}

/** Whether `line`'s set is modelled under sampling. */
// @ts-ignore: decorator
@inline function sampledSet(line: u64): bool {
  return (((<u32>line & setMask) * SAMPLE_MUL) & setMask) >> sampleShift == 0;
}

/** A walk reference to the entry at host address `hpa` in a table page of `tier`. */
export function refLine(c: usize, p: usize, hpa: u64, tier: u32): void {
  if (emitting) {
    emitUse(c, p, hpa, 8, <u32>KIND_REF, tier);
    return;
  }
  const line = hpa >> 6;
  if (sampling && !sampledSet(line)) return;
  if (useLine(c, p, line, false)) bump(c, C_REFS_CACHED);
  else bump(c, C_REF_MISS_TIER + <i32>tier);
}

/** The lines of a successful page access of `len` bytes at host address `hpa` (one page, one tier). */
export function dataLines(c: usize, p: usize, hpa: u64, len: u64, kind: u32, tier: u32): void {
  if (emitting) {
    emitUse(c, p, hpa, len, kind, tier);
    return;
  }
  const first = hpa >> 6;
  const last = (hpa + len - 1) >> 6;
  if (sampling) sampledLines(c, p, first, last, kind == 2, kind, tier);
  else if (lru16) exactLines(c, p, first, last, kind, tier, true);
  else exactLines(c, p, first, last, kind, tier, false);
}

// ---- line records ---------------------------------------------------------------------
//
// A use of the line cache as one u64 word: what the inline runs queue (LINES_Q) and
// what a core with a line thread records for it (below):
//   bits 0-2 the kind: 0-2 a data access of that kind, KIND_REF a walk reference (8
//     bytes at the entry), KIND_CTX and up the line thread's controls;
//   bits 3-5 the tier; bits 6-17 bytes - 1 (at most 4096: the engine cuts requests at
//     4 KiB page boundaries, slowRequest); bits 18-63 the host address (below 2^46).

const ADDR_SHIFT: u64 = 18;

/** The record of a use of `bytes` (1..4096) at `hpa` of `kind` and `tier`. */
// @ts-ignore: decorator
@inline export function lineRecord(hpa: u64, bytes: u64, kind: u64, tier: u64): u64 {
  assert(bytes >= 1 && bytes <= 4096);
  return (hpa << ADDR_SHIFT) | ((bytes - 1) << 6) | (tier << 3) | kind;
}

// @ts-ignore: decorator
@inline function recordFirst(w: u64): u64 {
  return w >> (ADDR_SHIFT + 6);
}

// @ts-ignore: decorator
@inline function recordLast(w: u64): u64 {
  return ((w >> ADDR_SHIFT) + ((w >> 6) & 0xFFF)) >> 6;
}

/**
 * `dataLines` of the queued data records from `q` to `end` (fastpath.ts), in order: a
 * loop per case, the case chosen once (no call per access).
 */
export function queuedLines(c: usize, p: usize, q: usize, end: usize): void {
  if (emitting) emitQueued(c, p, q, end);
  else if (sampling) {
    for (; q < end; q += 8) {
      const w = load<u64>(q);
      const kind = <u32>w & 7;
      sampledLines(c, p, recordFirst(w), recordLast(w), kind == 2, kind, <u32>(w >> 3) & 7);
    }
  } else if (lru16) {
    for (; q < end; q += 8) {
      const w = load<u64>(q);
      exactLines(c, p, recordFirst(w), recordLast(w), <u32>w & 7, <u32>(w >> 3) & 7, true);
    }
  } else {
    for (; q < end; q += 8) {
      const w = load<u64>(q);
      exactLines(c, p, recordFirst(w), recordLast(w), <u32>w & 7, <u32>(w >> 3) & 7, false);
    }
  }
}

/**
 * The lines `first`..`last` of one access of `kind` to a page of `tier`, every one
 * modelled; `lru16` (constant at each call) takes the presets' 16-way LRU path.
 */
// @ts-ignore: decorator
@inline function exactLines(c: usize, p: usize, first: u64, last: u64, kind: u32, tier: u32, lru16: bool): void {
  const write = kind == 2;
  if (last == first) {
    // one line, the commonest case: no loop
    const hit = lru16 ? useLine16(c, p + keysOff, setMask, first, write) : useLine(c, p, first, write);
    if (hit) bump(c, C_DLINE_HIT + <i32>kind);
    else bump(c, C_DLINE_MISS + <i32>(tier * 3 + kind));
    return;
  }
  let hits: u64 = 0;
  // a run in its own loop, the geometry's checks out of it
  if (lru16) hits = lruRun16(c, p + keysOff, first, last, write);
  else for (let line = first; line <= last; line++) if (useLine(c, p, line, write)) hits++;
  const n = last - first + 1;
  if (hits != 0) add(c, C_DLINE_HIT + <i32>kind, hits);
  if (hits != n) add(c, C_DLINE_MISS + <i32>(tier * 3 + kind), n - hits);
}

/** `dataLines` under set sampling: every line counted, only those of sampled sets modelled. */
// @ts-ignore: decorator
@inline function sampledLines(c: usize, p: usize, first: u64, last: u64, write: bool, kind: u32, tier: u32): void {
  const at = <i32>(tier * 3 + kind);
  add(c, C_DLINE_ALL + at, last - first + 1);
  let n: u64 = 0;
  let hits: u64 = 0;
  for (let line = first; line <= last; ) {
    // up to 57 sets from `line`'s on: an unaligned 8-byte load holds them past the bit offset
    const s = <u32>line & setMask;
    const span = min(last - line + 1, 57);
    let bits = (load<u64>(sampleBits + <usize>(s >> 3)) >> <u64>(s & 7)) & ((<u64>1 << span) - 1);
    while (bits != 0) {
      n++;
      if (useLine(c, p, line + ctz(bits), write)) hits++;
      bits &= bits - 1;
    }
    line += span;
  }
  if (n == 0) return;
  if (hits != 0) add(c, C_DLINE_HIT + <i32>kind, hits);
  if (hits != n) add(c, C_DLINE_MISS + at, n - hits);
}

/** Bytes of a compact 16-way set block: 64 of 32-bit keys, 16 of ranks, 8 of the dirty mask. */
const STRIDE16: usize = 88;

/**
 * `useLine` for a 16-way LRU line cache of at least 512 sets whose compact set blocks
 * start at `sets` (`mask`: sets - 1), with the geometry constant: the case of every CPU
 * preset, and most of the line cache's work.
 */
// @ts-ignore: decorator
@inline function useLine16(c: usize, sets: usize, mask: u32, line: u64, write: bool): bool {
  return useSet16(c, sets + <usize>(<u32>line & mask) * STRIDE16, <i32>(((line >> tagShift) << 1) | 1), line, mask, write);
}

/** `useLine16` with the line's set block and key (its tag << 1 | 1) given: what a run of lines shares, worked out once. */
// @ts-ignore: decorator
@inline function useSet16(c: usize, set: usize, key: i32, line: u64, mask: u32, write: bool): bool {
  const k = i32x4.splat(key);
  const lo = i16x8.narrow_i32x4_s(i32x4.eq(v128.load(set), k), i32x4.eq(v128.load(set, 16), k));
  const hi = i16x8.narrow_i32x4_s(i32x4.eq(v128.load(set, 32), k), i32x4.eq(v128.load(set, 48), k));
  const m = i8x16.bitmask(i8x16.narrow_i16x8_s(lo, hi));
  const R = v128.load(set, 64);
  let dirty = load<u64>(set, 80);
  let w: u32;
  if (m != 0) w = ctz(m);
  else {
    const inv = i8x16.bitmask(i8x16.eq(R, i8x16.splat(INVALID)));
    if (inv != 0) w = ctz(inv);
    else {
      w = ctz(i8x16.bitmask(i8x16.eq(R, i8x16.splat(15))));
      if ((dirty >> <u64>w) & 1) {
        // the victim's line: its tag and this set's index
        const victim = ((<u64>(load<u32>(set + (<usize>w << 2)) >> 1)) << tagShift) | (line & <u64>mask);
        bump(c, C_WRITEBACK + <i32>tierOf(victim << 6));
      }
    }
    store<u32>(set + (<usize>w << 2), <u32>key);
    dirty &= ~(<u64>1 << <u64>w);
  }
  const r = load<u8>(set + 64 + <usize>w);
  v128.store(set, i8x16.sub(R, i8x16.lt_u(R, i8x16.splat(r))), 64);
  store<u8>(set + 64 + <usize>w, 0);
  store<u64>(set, write ? dirty | (<u64>1 << <u64>w) : dirty, 80);
  return m != 0;
}

/** Lines `line`..`last` (consecutive, so each in its own set) through `useLine16`; returns the hits. */
function lruRun16(c: usize, sets: usize, line: u64, last: u64, write: bool): u64 {
  let hits: u64 = 0;
  const mask = setMask;
  while (line <= last) {
    // up to the last set, the lines share their tag and their set blocks follow each other
    const end = min(last, line | <u64>mask);
    const key = <i32>(((line >> tagShift) << 1) | 1);
    let set = sets + <usize>(<u32>line & mask) * STRIDE16;
    for (; line <= end; line++, set += STRIDE16) if (useSet16(c, set, key, line, mask, write)) hits++;
  }
  return hits;
}

// ---- the line cache on another thread -------------------------------------------------
//
// The line cache only counts: nothing else in the core reads what it holds. So its work
// can run on a second instance of the core (same configuration, so the same geometry)
// on another thread, in parallel with the translation and the host's models. With an
// emit ring (lineBuffer with a chunk), this instance records the line cache's uses in
// order instead of running them, as line records (above; docs/core.md section 5c), with
// controls: KIND_CTX "the following uses are vCPU bits 8-23's (its counters) on pCPU
// bits 24-39's", KIND_RESET and KIND_MARK. KIND_MARK and above stop consumeLines, so
// that its caller can read the counters at that point of the stream. Each chunk goes to
// the host (import `linesOut`) when it is full or flushed; the other instance reads it
// in place (this instance's memory is shared) and runs it through its consumeLines.

/**
 * The host takes the `bytes` of records at `at`: they stay there, unchanged, until the
 * ring comes round to them again (the host returns only when the ring's next chunk,
 * where the records go on, is free: the consumer has read what was there).
 */
@external("env", "linesOut") declare function linesOut(at: usize, bytes: u32): void;

const KIND_REF: u64 = 3;
const KIND_CTX: u64 = 4;
const KIND_RESET: u64 = 5;

let emitting = false;
// The emit ring [ringStart, ringEnd): records go in at emitAt; those from emitBuf are
// not handed over yet; emitEnd ends the chunk they are gathered in.
let ringStart: usize = 0;
let ringEnd: usize = 0;
let chunkBytes: usize = 0;
let emitBuf: usize = 0;
let emitAt: usize = 0;
let emitEnd: usize = 0;
let emitC: usize = 0; // the context of the last records
let emitP: usize = 0;

/**
 * Allocates a buffer of `records` line records (after init; a line cache must be on).
 * With `chunk` > 0 the buffer is a ring where this instance records the line cache's
 * uses instead of running them, handing them to the host `chunk` records at a time
 * (at most: a flush hands over what there is); with 0 it is for records to consume.
 * Returns its address, 0 when out of memory, without a line cache, or for a chunk not
 * smaller than the ring (the ring holds a chunk more than the records not yet run).
 */
export function lineBuffer(records: u32, chunk: u32): usize {
  if (!linesOn || records < 2 || chunk >= records) return 0;
  const buf = alloc(<usize>records << 3, 64);
  if (buf == 0 || chunk == 0) return buf;
  ringStart = emitBuf = emitAt = buf;
  ringEnd = buf + (<usize>records << 3);
  chunkBytes = <usize>chunk << 3;
  emitEnd = buf + chunkBytes;
  emitC = 0;
  emitP = 0;
  emitting = true;
  return buf;
}

/** Hands the recorded uses to the host, if any; the next ones go after them (from the ring's start past its end). */
export function lineEmitFlush(): void {
  if (emitAt != emitBuf) {
    linesOut(emitBuf, <u32>(emitAt - emitBuf));
    emitBuf = emitAt == ringEnd ? ringStart : emitAt;
    emitAt = emitBuf;
    emitEnd = min(emitBuf + chunkBytes, ringEnd);
  }
}

/** Records a control record (`kind` KIND_RESET or KIND_MARK) after the uses so far. */
export function lineEmitMark(kind: u32): void {
  emitWord(<u64>kind);
}

// @ts-ignore: decorator
@inline function emitWord(w: u64): void {
  if (emitAt == emitEnd) lineEmitFlush();
  store<u64>(emitAt, w);
  emitAt += 8;
}

// @ts-ignore: decorator
@inline function emitContext(c: usize, p: usize): void {
  if (c != emitC || p != emitP) {
    const vcpu = <u64>((c - <usize>load<u32>(CFG_CNT_TAB)) / COUNTER_BYTES);
    const pcpu = <u64>((p - <usize>load<u32>(CFG_PCPU_TAB)) / <usize>load<u32>(CFG_PCPU_BYTES));
    emitWord(KIND_CTX | (vcpu << 8) | (pcpu << 24));
    emitC = c;
    emitP = p;
  }
}

/**
 * A walk's reference to the line of the entry at `hpa`: `refLine`, with a line thread's
 * common case inline (the record goes in after the last one, in the same context, and
 * the buffer has room): the walker makes five to twenty-four of these a walk, and two
 * calls each cost more than the record.
 */
// @ts-ignore: decorator
@inline export function walkRef(c: usize, p: usize, hpa: u64, tier: u32): void {
  if (emitting && emitAt != emitEnd && c == emitC && p == emitP) {
    store<u64>(emitAt, lineRecord(hpa, 8, KIND_REF, <u64>tier));
    emitAt += 8;
  } else refLine(c, p, hpa, tier);
}

/** Records a use: a data access of `kind` (0-2) and `len` bytes, or a walk reference (KIND_REF, 8 bytes). */
function emitUse(c: usize, p: usize, hpa: u64, len: u64, kind: u32, tier: u32): void {
  emitContext(c, p);
  emitWord(lineRecord(hpa, len, <u64>kind, <u64>tier));
}

/** The queued records from `q` to `end`, copied as they are. */
function emitQueued(c: usize, p: usize, q: usize, end: usize): void {
  emitContext(c, p);
  while (q < end) {
    if (emitAt == emitEnd) lineEmitFlush();
    const n = min(end - q, emitEnd - emitAt);
    memory.copy(emitAt, q, n);
    emitAt += n;
    q += n;
  }
}

let useC: usize = 0; // the context of consumeLines, kept across calls
let useP: usize = 0;

/**
 * Runs `n` records from `at` through this instance's line cache, in order; returns the
 * records done: `n`, or fewer when it stopped after a KIND_MARK (or a higher kind).
 */
export function consumeLines(at: usize, n: u32): u32 {
  const end = at + (<usize>n << 3);
  for (let e = at; e < end; e += 8) {
    const w = load<u64>(e);
    const kind = w & 7;
    if (kind <= 2) dataLines(useC, useP, w >> ADDR_SHIFT, ((w >> 6) & 0xFFF) + 1, <u32>kind, <u32>(w >> 3) & 7);
    else if (kind == KIND_REF) refLine(useC, useP, w >> ADDR_SHIFT, <u32>(w >> 3) & 7);
    else if (kind == KIND_CTX) {
      useC = cnt(<u32>(w >> 8) & 0xFFFF);
      useP = pcpuBase(<u32>(w >> 24) & 0xFFFF);
    } else if (kind == KIND_RESET) resetLineCounters();
    else return <u32>((e + 8 - at) >> 3); // KIND_MARK and above
  }
  return n;
}

/** Zeroes every vCPU's line-cache counters (slots C_REFS_CACHED up to COUNTERS). */
function resetLineCounters(): void {
  const n = load<u32>(CFG_VCPUS);
  for (let v: u32 = 0; v < n; v++) memory.fill(cnt(v) + (<usize>C_REFS_CACHED << 3), 0, <usize>(COUNTERS - C_REFS_CACHED) << 3);
}
