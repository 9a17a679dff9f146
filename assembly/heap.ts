// The core's own memory: a bump allocator above the static data (nothing is ever
// allocated on the hot path), 4 KiB slots for page-table pages with a free list, and
// a hash (hash.ts) from host frame number to the slot that holds that table page's
// 512 entries. Page-table pages are the only guest memory the core stores:
// data pages are metadata only.
import { CFG_HEAP_TOP, CFG_FREE_SLOTS, CFG_SLOTS_USED, CFG_HASH, CFG_OOM } from "./layout";
import { hashGet, hashPut, hashRemove, hashMakeRoom } from "./hash";

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

/** The slot holding the table page at host frame `frame`, or 0. */
export function slotOf(frame: u32): usize {
  return <usize>hashGet(CFG_HASH, <u64>frame);
}

/** Makes room for one more table page; false when memory ran out (nothing changed). */
export function hashReserve(): bool {
  return hashMakeRoom(CFG_HASH);
}

/** Registers a table page; the caller has called `hashReserve`. */
export function hashSet(frame: u32, slot: usize): void {
  hashPut(CFG_HASH, <u64>frame, <u32>slot);
}

export function hashDelete(frame: u32): void {
  hashRemove(CFG_HASH, <u64>frame);
}
