// The line cache (docs/core.md section 5b): a per-pCPU model of the cache capacity
// page-table and data lines compete for, as set-associative 64-byte lines tagged by
// host-physical line address, with a dirty bit. It only counts: which references hit,
// which miss and in which tier, which dirty lines go back to memory. It is laid out as
// structure S_LINES and replaces like the TLBs (CFG_REPL), but
// keeps a replacement clock of its own: only the order of uses within a set counts, so
// a private clock gives the same victims, and the engine's inline runs can model data
// lines without disturbing the stamps they derive from request positions (fastpath.ts).
// A 16-way full-width geometry (every CPU preset's) folds to straight-line SIMD.
//
// Layout: unlike the TLBs' arrays (keys, stamps, flags each for all sets), a set's
// words are together, `wpad` u64 keys, then u32 stamps, then u32 flags (256 bytes for
// 16 ways, 64-byte aligned, at SD_KEYS + set * 16 * wpad): the lines model misses
// nearly always at random sets, and one block of adjacent host lines is fetched faster
// than three scattered ones.
import { S_LINES, SD_SETS, SD_WAYS, SD_WPAD, SD_KEYS, CFG_REPL, CFG_PCPUS } from "./layout";
import { bump, add, C_REFS_CACHED, C_REF_MISS_TIER, C_DLINE_HIT, C_DLINE_MISS, C_WRITEBACK } from "./counters";
import { sd, matchMask, probeSet, victimK, victimWay, pcpuBase, rankSet } from "./tlb";
import { tierOf } from "./state";

/** Whether walks use the line cache, and whether data accesses do too (set by init). */
export let linesOn = false;
export let linesData = false;

/** The line cache's replacement clock (one tick per use, as the TLBs' `clock`). */
export let lineClock: u32 = 1;

// the geometry, copied from S_LINES's descriptor once the pCPU blocks are laid out
let setMask: u32 = 0;
let wpad: u32 = 0;
let ways: u32 = 0;
let keysOff: usize = 0;
let wide16 = false;

export function setLines(on: bool, data: bool): void {
  linesOn = on;
  linesData = on && data;
  lineClock = 1;
}

/** Reads the line cache's geometry and layout (after init laid out the pCPU blocks). */
export function linesLayout(): void {
  const d = sd(S_LINES);
  setMask = load<u32>(d + SD_SETS) - 1;
  wpad = load<u32>(d + SD_WPAD);
  ways = load<u32>(d + SD_WAYS);
  keysOff = <usize>load<u32>(d + SD_KEYS);
  wide16 = ways == 16 && wpad == 16;
}

/** Ranks the line stamps when the line clock nears its end (run() calls it between buffers). */
export function linesRenormalise(): void {
  if (lineClock <= 0xF0000000 || !linesOn) return;
  const n = load<u32>(CFG_PCPUS);
  for (let c: u32 = 0; c < n; c++) {
    const base = pcpuBase(c) + keysOff;
    for (let st: u32 = 0; st <= setMask; st++) {
      const keys = base + (<usize>(st * wpad) << 4);
      rankSet(keys + (<usize>wpad << 3), keys, ways);
    }
  }
  lineClock = ways + 1;
}

const DIRTY: u32 = 1;

/**
 * One use of `line` on pCPU block `p`: a hit ticks the clock (LRU) and, for a write,
 * sets the dirty bit; a miss fills the policy's victim, counting the write-back of a
 * dirty one. True for a hit.
 */
// @ts-ignore: decorator
@inline function useLine(c: usize, p: usize, line: u64, write: bool): bool {
  const keys = p + keysOff + (<usize>((<u32>line & setMask) * wpad) << 4);
  const stamps = keys + (<usize>wpad << 3);
  const flags = stamps + (<usize>wpad << 2);
  const key = (line << 1) | 1;
  let w: i32;
  if (wide16) {
    const m = matchMask(keys, 16, key);
    w = m != 0 ? <i32>ctz(m) : -1;
  } else w = probeSet(keys, wpad, key);
  const repl = load<u32>(CFG_REPL);
  if (w >= 0) {
    if (repl == 0) store<u32>(stamps + (<usize>w << 2), ++lineClock);
    if (write) {
      const fa = flags + (<usize>w << 2);
      store<u32>(fa, load<u32>(fa) | DIRTY);
    }
    return true;
  }
  const v = wide16 ? victimK(keys, stamps, 16, repl) : victimWay(keys, stamps, ways, wpad);
  const ka = keys + (<usize>v << 3);
  const old = load<u64>(ka);
  const fa = flags + (<usize>v << 2);
  if (old != 0 && (load<u32>(fa) & DIRTY) != 0) bump(c, C_WRITEBACK + <i32>tierOf((old >> 1) << 6));
  store<u64>(ka, key);
  store<u32>(fa, write ? DIRTY : 0);
  store<u32>(stamps + (<usize>v << 2), ++lineClock);
  return false;
}

/** A walk reference to the entry at host address `hpa` in a table page of `tier`. */
export function refLine(c: usize, p: usize, hpa: u64, tier: u32): void {
  if (useLine(c, p, hpa >> 6, false)) bump(c, C_REFS_CACHED);
  else bump(c, C_REF_MISS_TIER + <i32>tier);
}

/** The lines of a successful page access of `len` bytes at host address `hpa` (one page, one tier). */
export function dataLines(c: usize, p: usize, hpa: u64, len: u64, kind: u32, tier: u32): void {
  const last = (hpa + len - 1) >> 6;
  const write = kind == 2;
  let hits: u64 = 0;
  let misses: u64 = 0;
  for (let line = hpa >> 6; line <= last; line++) {
    if (useLine(c, p, line, write)) hits++;
    else misses++;
  }
  if (hits != 0) add(c, C_DLINE_HIT + <i32>kind, hits);
  if (misses != 0) add(c, C_DLINE_MISS + <i32>(tier * 3 + kind), misses);
}
