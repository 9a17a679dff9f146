// The line cache (docs/core.md section 5b): a per-pCPU model of the cache capacity
// page-table and data lines compete for, as set-associative 64-byte lines tagged by
// host-physical line address, with a dirty bit. It only counts: which references hit,
// which miss and in which tier, which dirty lines go back to memory. It uses the same
// set-associative machinery (and replacement policy) as the TLBs, as structure S_LINES.
import { S_LINES } from "./layout";
import { bump, C_REFS_CACHED, C_REF_MISS_TIER, C_DLINE_HIT, C_DLINE_MISS, C_WRITEBACK } from "./counters";
import { clock, lookup, victim, keyAt, flagsAt, stampAt } from "./tlb";
import { tierOf } from "./state";

/** Whether walks use the line cache, and whether data accesses do too (set by init). */
export let linesOn = false;
export let linesData = false;

export function setLines(on: bool, data: bool): void {
  linesOn = on;
  linesData = on && data;
}

const DIRTY: u32 = 1;

// @ts-ignore: decorator
@inline function lineKey(line: u64): u64 {
  return (line << 1) | 1;
}

/** Fills `line` (a miss), counting the write-back of a dirty victim. */
function fillLine(c: usize, p: usize, line: u64, dirty: bool): void {
  const slot = victim(p, S_LINES, line);
  const ka = keyAt(p, S_LINES, slot);
  const old = load<u64>(ka);
  const fa = flagsAt(p, S_LINES, slot);
  if (old != 0 && (load<u32>(fa) & DIRTY) != 0) bump(c, C_WRITEBACK + <i32>tierOf((old >> 1) << 6));
  store<u64>(ka, lineKey(line));
  store<u32>(fa, dirty ? DIRTY : 0);
  store<u32>(stampAt(p, S_LINES, slot), ++clock);
}

/** A walk reference to the entry at host address `hpa` in a table page of `tier`. */
export function refLine(c: usize, p: usize, hpa: u64, tier: u32): void {
  const line = hpa >> 6;
  if (lookup(p, S_LINES, line, lineKey(line)) >= 0) {
    bump(c, C_REFS_CACHED);
    return;
  }
  bump(c, C_REF_MISS_TIER + <i32>tier);
  fillLine(c, p, line, false);
}

/** The lines of a successful page access of `len` bytes at host address `hpa` (one page, one tier). */
export function dataLines(c: usize, p: usize, hpa: u64, len: u64, kind: u32, tier: u32): void {
  const last = (hpa + len - 1) >> 6;
  const write = kind == 2;
  for (let line = hpa >> 6; line <= last; line++) {
    const slot = lookup(p, S_LINES, line, lineKey(line));
    if (slot >= 0) {
      bump(c, C_DLINE_HIT + <i32>kind);
      if (write) {
        const fa = flagsAt(p, S_LINES, <u32>slot);
        store<u32>(fa, load<u32>(fa) | DIRTY);
      }
      continue;
    }
    bump(c, C_DLINE_MISS + <i32>(tier * 3 + kind));
    fillLine(c, p, line, write);
  }
}
