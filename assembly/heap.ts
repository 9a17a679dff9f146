// The core's own memory: a bump allocator above the static data (nothing is ever
// allocated on the hot path), 4 KiB slots for page-table pages with a free list, and
// an open-addressing hash from host frame number to the slot that holds that table
// page's 512 entries. Page-table pages are the only guest memory the core stores:
// data pages are metadata only.
import {
  CFG_HEAP_TOP, CFG_FREE_SLOTS, CFG_SLOTS_USED, CFG_HASH, CFG_HASH_CAP, CFG_HASH_USED, CFG_OOM,
} from "./layout";

/** Starts the heap above the module's static data. */
export function heapInit(): void {
  store<u32>(CFG_HEAP_TOP, <u32>((__heap_base + 4095) & ~4095));
  store<u32>(CFG_FREE_SLOTS, 0);
  store<u32>(CFG_SLOTS_USED, 0);
  store<u32>(CFG_OOM, 0);
}

/** Allocates `bytes` (zeroed, aligned to `align`), growing memory; 0 when out of memory. */
export function alloc(bytes: usize, align: usize): usize {
  const top = <usize>load<u32>(CFG_HEAP_TOP);
  const start = (top + align - 1) & ~(align - 1);
  const end = <u64>start + <u64>bytes;
  if (end > 0xFFFF0000) {
    store<u32>(CFG_OOM, 1);
    return 0;
  }
  const have = <u64>memory.size() << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xFFFF) >> 16);
    if (memory.grow(pages) < 0) {
      store<u32>(CFG_OOM, 1);
      return 0;
    }
  }
  store<u32>(CFG_HEAP_TOP, <u32>end);
  // memory from grow is zero; memory reused after reset is not
  memory.fill(start, 0, bytes);
  return start;
}

/** A zeroed 4 KiB slot for a page-table page, or 0 when out of memory. */
export function slotAlloc(): usize {
  let s = <usize>load<u32>(CFG_FREE_SLOTS);
  if (s != 0) {
    store<u32>(CFG_FREE_SLOTS, load<u32>(s));
    memory.fill(s, 0, 4096);
  } else {
    s = alloc(4096, 4096);
    if (s == 0) return 0;
  }
  store<u32>(CFG_SLOTS_USED, load<u32>(CFG_SLOTS_USED) + 1);
  return s;
}

export function slotFree(s: usize): void {
  store<u32>(s, load<u32>(CFG_FREE_SLOTS));
  store<u32>(CFG_FREE_SLOTS, <u32>s);
  store<u32>(CFG_SLOTS_USED, load<u32>(CFG_SLOTS_USED) - 1);
}

// ---- host frame -> slot -------------------------------------------------------------
// Entries are (frame + 1, slot) u32 pairs; key 0 is empty. Linear probing with
// backward-shift deletion, load factor at most 1/2.

// @ts-ignore: decorator
@inline function hashOf(frame: u32): u32 {
  return (frame * 0x9E3779B1) ^ (frame >> 15);
}

export function hashInit(cap: u32): bool {
  const t = alloc(<usize>cap << 3, 8);
  if (t == 0) return false;
  store<u32>(CFG_HASH, <u32>t);
  store<u32>(CFG_HASH_CAP, cap);
  store<u32>(CFG_HASH_USED, 0);
  return true;
}

/** The slot holding the table page at host frame `frame`, or 0. */
export function slotOf(frame: u32): usize {
  const t = <usize>load<u32>(CFG_HASH);
  const mask = load<u32>(CFG_HASH_CAP) - 1;
  const k = frame + 1;
  let i = hashOf(frame) & mask;
  while (true) {
    const e = t + (<usize>i << 3);
    const key = load<u32>(e);
    if (key == k) return <usize>load<u32>(e, 4);
    if (key == 0) return 0;
    i = (i + 1) & mask;
  }
  return 0;
}

function hashPut(frame: u32, slot: usize): void {
  const t = <usize>load<u32>(CFG_HASH);
  const mask = load<u32>(CFG_HASH_CAP) - 1;
  const k = frame + 1;
  let i = hashOf(frame) & mask;
  while (true) {
    const e = t + (<usize>i << 3);
    const key = load<u32>(e);
    if (key == 0 || key == k) {
      if (key == 0) store<u32>(CFG_HASH_USED, load<u32>(CFG_HASH_USED) + 1);
      store<u32>(e, k);
      store<u32>(e, <u32>slot, 4);
      return;
    }
    i = (i + 1) & mask;
  }
}

/** Makes room for one more entry; false when memory ran out (nothing changed). */
export function hashReserve(): bool {
  const cap = load<u32>(CFG_HASH_CAP);
  if ((load<u32>(CFG_HASH_USED) + 1) * 2 <= cap) return true;
  const old = <usize>load<u32>(CFG_HASH);
  const t = alloc(<usize>cap << 4, 8);
  if (t == 0) return false;
  store<u32>(CFG_HASH, <u32>t);
  store<u32>(CFG_HASH_CAP, cap << 1);
  store<u32>(CFG_HASH_USED, 0);
  for (let i: u32 = 0; i < cap; i++) {
    const e = old + (<usize>i << 3);
    const key = load<u32>(e);
    if (key != 0) hashPut(key - 1, <usize>load<u32>(e, 4));
  }
  // The old table's whole 4 KiB pages become table slots.
  const first = (old + 4095) & ~4095;
  const end = (old + (<usize>cap << 3)) & ~4095;
  for (let s = first; s < end; s += 4096) {
    store<u32>(CFG_SLOTS_USED, load<u32>(CFG_SLOTS_USED) + 1);
    slotFree(s);
  }
  return true;
}

/** Registers a table page; the caller has called `hashReserve`. */
export function hashSet(frame: u32, slot: usize): void {
  hashPut(frame, slot);
}

export function hashDelete(frame: u32): void {
  const t = <usize>load<u32>(CFG_HASH);
  const mask = load<u32>(CFG_HASH_CAP) - 1;
  const k = frame + 1;
  let i = hashOf(frame) & mask;
  while (true) {
    const e = t + (<usize>i << 3);
    const key = load<u32>(e);
    if (key == 0) return;
    if (key == k) break;
    i = (i + 1) & mask;
  }
  // backward-shift: move later entries of the run into the hole
  let hole = i;
  let j = (i + 1) & mask;
  while (true) {
    const e = t + (<usize>j << 3);
    const key = load<u32>(e);
    if (key == 0) break;
    const home = hashOf(key - 1) & mask;
    // move if home is cyclically outside (hole, j]
    const outside = hole <= j ? home <= hole || home > j : home <= hole && home > j;
    if (outside) {
      const h = t + (<usize>hole << 3);
      store<u64>(h, load<u64>(e));
      hole = j;
    }
    j = (j + 1) & mask;
  }
  store<u64>(t + (<usize>hole << 3), 0);
  store<u32>(CFG_HASH_USED, load<u32>(CFG_HASH_USED) - 1);
}
