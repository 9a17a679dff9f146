// The core's own memory: a bump allocator above the static data (nothing is ever
// allocated on the hot path), 4 KiB slots for page-table pages with a free list, and
// a hash table from host frame number to the slot that holds that table page's 512
// entries. Page-table pages are the only guest memory the core stores: data pages are
// metadata only.
import { CFG_HEAP_TOP, CFG_FREE_SLOTS, CFG_SLOTS_USED, CFG_HASH, CFG_OOM } from "./layout";
import { tierOf } from "./state";

/** Starts the heap above the module's static data. */
export function heapInit(): void {
  store<u32>(CFG_HEAP_TOP, <u32>((__heap_base + 4095) & ~4095));
  store<u32>(CFG_FREE_SLOTS, 0);
  store<u32>(CFG_SLOTS_USED, 0);
  store<u32>(CFG_OOM, 0);
  forgetSlots();
}

// Every byte at or above this address is as memory.grow made it, zero: no allocation has
// reached it since the instance began (heapInit moves the bump pointer back, not this).
let untouched: usize = 0;

/** Allocates `bytes` (zeroed, aligned to `align`), growing memory; 0 when out of memory. */
export function alloc(bytes: usize, align: usize): usize {
  const clean = untouched;
  const start = allocRaw(bytes, align);
  // memory reused after a reset is not zero; memory past `clean` is, and filling it
  // would only make the system commit pages nothing may use (a queue's spare capacity)
  if (start != 0 && start < clean) memory.fill(start, 0, min(bytes, clean - start));
  return start;
}

/** `alloc` without zeroing: for a region its user overwrites (ycsb.ts). */
export function allocRaw(bytes: usize, align: usize): usize {
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
  if (<usize>end > untouched) untouched = <usize>end;
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
//
// An open-addressing table (linear probing, backward-shift deletion, load at most 1/2)
// of u64 entries (frame + 1) << 23 | tier << 20 | slot >> 12, 0 = empty: one 8-byte
// load per probe gives the slot and the tier of the frame (tiers are fixed at init), and
// the table is half the size of a generic hash.ts table, so walks miss the cache less.
// Its descriptor is CFG_HASH (u32 entries address, u32 capacity, u32 used), first
// allocated by hashInit with room to spare. Frames are 34 bits (MAXPHYADDR 46).

const ENTRY_TIER_SHIFT: u64 = 20;
const ENTRY_KEY_SHIFT: u64 = 23;

// @ts-ignore: decorator
@inline function frameHome(frame: u64, mask: u32): u32 {
  return <u32>((frame * 0x9E3779B97F4A7C15) >> 32) & mask;
}

/** The slot (4 KiB aligned) of the table page at host frame `frame` with its tier in bits 0..2, or 0. */
// @ts-ignore: decorator
@inline export function slotTierOf(frame: u64): usize {
  const t = <usize>load<u32>(CFG_HASH);
  const mask = load<u32>(CFG_HASH, 4) - 1;
  const k = frame + 1;
  let i = frameHome(frame, mask);
  while (true) {
    const e = load<u64>(t + (<usize>i << 3));
    if ((e >> ENTRY_KEY_SHIFT) == k) return (<usize>(e & 0xFFFFF) << 12) | <usize>((e >> ENTRY_TIER_SHIFT) & 7);
    if (e == 0) return 0;
    i = (i + 1) & mask;
  }
  return 0;
}

// A one-entry cache of slotTierOf per walk level (EPT levels 1-4 at 0-3, guest levels
// 1-4 at 4-7): frame + 1 (u64), then its slot and tier. A walk's upper tables are few,
// so their lookups nearly always hit it; the cache empties whenever the map changes.
const SLOT_CACHE: usize = memory.data(8 * 16, 16);

/** `slotTierOf(frame)` through the cache's entry `which` (0..7). */
// @ts-ignore: decorator
@inline export function cachedSlotTier(frame: u64, which: u32): usize {
  const a = SLOT_CACHE + (<usize>which << 4);
  if (load<u64>(a) == frame + 1) return <usize>load<u64>(a, 8);
  const st = slotTierOf(frame);
  store<u64>(a, frame + 1);
  store<u64>(a, <u64>st, 8);
  return st;
}

// @ts-ignore: decorator
@inline function forgetSlots(): void {
  memory.fill(SLOT_CACHE, 0, 8 * 16);
}

/** The slot holding the table page at host frame `frame`, or 0. */
export function slotOf(frame: u64): usize {
  return slotTierOf(frame) & ~(<usize>0xFFF);
}

/** Makes room for one more table page; false when memory ran out (nothing changed). */
export function hashReserve(): bool {
  const cap = load<u32>(CFG_HASH, 4);
  if ((load<u32>(CFG_HASH, 8) + 1) * 2 <= cap) return true;
  const old = <usize>load<u32>(CFG_HASH);
  const t = alloc(<usize>cap << 4, 16);
  if (t == 0) return false;
  store<u32>(CFG_HASH, <u32>t);
  store<u32>(CFG_HASH, cap << 1, 4);
  const mask = (cap << 1) - 1;
  for (let j: u32 = 0; j < cap; j++) {
    const e = load<u64>(old + (<usize>j << 3));
    if (e == 0) continue;
    let i = frameHome((e >> ENTRY_KEY_SHIFT) - 1, mask);
    while (load<u64>(t + (<usize>i << 3)) != 0) i = (i + 1) & mask;
    store<u64>(t + (<usize>i << 3), e);
  }
  // The old entries are not reused: the table only grows, and growth is rare.
  return true;
}

/** Registers a table page; the caller has called `hashReserve`. */
export function hashSet(frame: u64, slot: usize): void {
  const t = <usize>load<u32>(CFG_HASH);
  const mask = load<u32>(CFG_HASH, 4) - 1;
  const k = frame + 1;
  const e = (k << ENTRY_KEY_SHIFT) | (<u64>tierOf(frame << 12) << ENTRY_TIER_SHIFT) | <u64>(slot >> 12);
  forgetSlots();
  let i = frameHome(frame, mask);
  while (true) {
    const a = t + (<usize>i << 3);
    const x = load<u64>(a);
    if (x == 0 || (x >> ENTRY_KEY_SHIFT) == k) {
      if (x == 0) store<u32>(CFG_HASH, load<u32>(CFG_HASH, 8) + 1, 8);
      store<u64>(a, e);
      return;
    }
    i = (i + 1) & mask;
  }
}

export function hashDelete(frame: u64): void {
  forgetSlots();
  const t = <usize>load<u32>(CFG_HASH);
  const mask = load<u32>(CFG_HASH, 4) - 1;
  const k = frame + 1;
  let i = frameHome(frame, mask);
  while (true) {
    const x = load<u64>(t + (<usize>i << 3));
    if (x == 0) return;
    if ((x >> ENTRY_KEY_SHIFT) == k) break;
    i = (i + 1) & mask;
  }
  // backward-shift deletion: move later entries of the run into the hole when their
  // home is not cyclically inside (hole, j]
  let hole = i;
  let j = (i + 1) & mask;
  while (true) {
    const x = load<u64>(t + (<usize>j << 3));
    if (x == 0) break;
    const home = frameHome((x >> ENTRY_KEY_SHIFT) - 1, mask);
    const inside = hole <= j ? home > hole && home <= j : home > hole || home <= j;
    if (!inside) {
      store<u64>(t + (<usize>hole << 3), x);
      hole = j;
    }
    j = (j + 1) & mask;
  }
  store<u64>(t + (<usize>hole << 3), 0);
  store<u32>(CFG_HASH, load<u32>(CFG_HASH, 8) - 1, 8);
}

/**
 * A region its user reuses (the state of a workload model in the core: ycsb.ts,
 * memaslap.ts, memcached.ts), described at `desc` (u32 address, u32 bytes): the same
 * one when it holds `bytes`, else a larger one, in place when it is the heap's last
 * allocation. Its contents are the user's to write. Returns its address (8-aligned),
 * 0 when memory ran out.
 */
export function regionAt(desc: usize, bytes: usize): usize {
  const at = <usize>load<u32>(desc);
  const have = <usize>load<u32>(desc, 4);
  if (at != 0 && bytes <= have) return at;
  if (at != 0 && at + have == <usize>load<u32>(CFG_HEAP_TOP)) store<u32>(CFG_HEAP_TOP, <u32>at);
  const r = allocRaw(bytes, 8);
  store<u32>(desc, <u32>r);
  store<u32>(desc, r == 0 ? 0 : <u32>bytes, 4);
  return r;
}
