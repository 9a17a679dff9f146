// Open-addressing hash tables from u64 keys to nonzero u32 values, for the lookups off
// the hot path (host frame -> table slot, slab page -> page record). A table is named
// by its descriptor: u32 entries address, u32 capacity (a power of two), u32 used.
// Entries are 16 bytes: u64 key + 1 (0 = empty), u32 value. Linear probing with
// backward-shift deletion keeps lookups short without tombstones; load is at most 1/2.
import { alloc } from "./heap";

// @ts-ignore: decorator
@inline function hashOf(key: u64): u32 {
  const h = key * 0x9E3779B97F4A7C15;
  return <u32>(h >> 32);
}

export function hashInit(h: usize, cap: u32): bool {
  const t = alloc(<usize>cap << 4, 16);
  if (t == 0) return false;
  store<u32>(h, <u32>t);
  store<u32>(h, cap, 4);
  store<u32>(h, 0, 8);
  return true;
}

/** The value of `key`, or 0. */
export function hashGet(h: usize, key: u64): u32 {
  return hashFind(h, key);
}

/** `hashGet` inlined, for loops that must not call. */
// @ts-ignore: decorator
@inline export function hashFind(h: usize, key: u64): u32 {
  const t = <usize>load<u32>(h);
  const mask = load<u32>(h, 4) - 1;
  const k = key + 1;
  let i = hashOf(key) & mask;
  while (true) {
    const e = t + (<usize>i << 4);
    const x = load<u64>(e);
    if (x == k) return load<u32>(e, 8);
    if (x == 0) return 0;
    i = (i + 1) & mask;
  }
  return 0;
}

/** Sets `key` to `value`; the caller has made room with `hashMakeRoom`. */
export function hashPut(h: usize, key: u64, value: u32): void {
  const t = <usize>load<u32>(h);
  const mask = load<u32>(h, 4) - 1;
  const k = key + 1;
  let i = hashOf(key) & mask;
  while (true) {
    const e = t + (<usize>i << 4);
    const x = load<u64>(e);
    if (x == 0 || x == k) {
      if (x == 0) store<u32>(h, load<u32>(h, 8) + 1, 8);
      store<u64>(e, k);
      store<u32>(e, value, 8);
      return;
    }
    i = (i + 1) & mask;
  }
}

/** Grows the table if one more key would pass half full; false when memory ran out. */
export function hashMakeRoom(h: usize): bool {
  const cap = load<u32>(h, 4);
  if ((load<u32>(h, 8) + 1) * 2 <= cap) return true;
  const old = <usize>load<u32>(h);
  const t = alloc(<usize>cap << 5, 16);
  if (t == 0) return false;
  store<u32>(h, <u32>t);
  store<u32>(h, cap << 1, 4);
  store<u32>(h, 0, 8);
  for (let i: u32 = 0; i < cap; i++) {
    const e = old + (<usize>i << 4);
    const x = load<u64>(e);
    if (x != 0) hashPut(h, x - 1, load<u32>(e, 8));
  }
  // The old entries are not reused: tables only grow, and growth is rare.
  return true;
}

export function hashRemove(h: usize, key: u64): void {
  const t = <usize>load<u32>(h);
  const mask = load<u32>(h, 4) - 1;
  const k = key + 1;
  let i = hashOf(key) & mask;
  while (true) {
    const x = load<u64>(t + (<usize>i << 4));
    if (x == 0) return;
    if (x == k) break;
    i = (i + 1) & mask;
  }
  let hole = i;
  let j = (i + 1) & mask;
  while (true) {
    const e = t + (<usize>j << 4);
    const x = load<u64>(e);
    if (x == 0) break;
    const home = hashOf(x - 1) & mask;
    // move the entry back if its home is not cyclically inside (hole, j]
    const inside = hole <= j ? home > hole && home <= j : home > hole || home <= j;
    if (!inside) {
      const d = t + (<usize>hole << 4);
      store<u64>(d, x);
      store<u32>(d, load<u32>(e, 8), 8);
      hole = j;
    }
    j = (j + 1) & mask;
  }
  store<u64>(t + (<usize>hole << 4), 0);
  store<u32>(h, load<u32>(h, 8) - 1, 8);
}
