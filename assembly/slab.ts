// The slab fast path: allocation and free of fixed-size objects from a size class's
// pages, for OSv's malloc pools (4 KiB pages, objects carved from the page end) and
// UCat's slabs (2 MiB pages). Like the page tables, this is metadata only: a page
// record with a bitmap of free objects (1 bit per object), never the objects' bytes.
// A free finds its page through a hash of (heap, page number). New pages come from
// the host (an EV_SLAB_EMPTY event, or slabAddPage ahead of time).
//
// Heap record (HEAP_BYTES): u32 active, u32 pageShift, u64 allocs, u64 frees,
//   u64 empties, u64 badFrees, then MAX_CACHES cache records (CACHE_BYTES):
//   u32 objSize, u32 perPage, u32 firstOff, u32 head (page record with free objects),
//   u32 pages, u32 freeObjs, u32 spare (a released page record for reuse), u32 magic
//   (ceil(2^32 / objSize), 0 for objSize 1: the object index of an offset without a
//   division, see `objectIndex`).
// Page record: u64 base, u32 heap, u32 cache, u32 nfree, u32 cursor (first word that
//   may have a free bit), u32 next (in the cache's list of pages with free objects),
//   u32 listed, then ceil(perPage / 64) u64 words of bits (1 = free).
import { CFG_SLAB_HEAPS, CFG_SLAB_MAXHEAPS, CFG_SLAB_HASH, CFG_REQ_BUF, REQ_BYTES, KIND_ALLOC, KIND_FREE } from "./layout";
import { alloc } from "./heap";
import { hashGet, hashFind, hashPut, hashRemove, hashMakeRoom } from "./hash";

export const MAX_CACHES: u32 = 64;
export const CACHE_BYTES: usize = 32;
export const HEAP_HDR: usize = 48;
export const HEAP_BYTES: usize = HEAP_HDR + <usize>MAX_CACHES * CACHE_BYTES;
export const PAGE_HDR: usize = 32;

// statuses of slab operations (returned to the host)
export const SL_OK: u32 = 0;
export const SL_EMPTY: u32 = 1; // the cache has no free object: add a page
export const SL_FOREIGN: u32 = 2; // the address is in no page of this heap
export const SL_MISALIGNED: u32 = 3; // inside a page, but not at an object's start
export const SL_DOUBLE: u32 = 4; // the object is already free
export const SL_BAD_ARG: u32 = 5;
export const SL_OOM: u32 = 6;
export const SL_BUSY: u32 = 7; // the page still has allocated objects

// @ts-ignore: decorator
@inline export function heapRec(heap: u32): usize {
  return <usize>load<u32>(CFG_SLAB_HEAPS) + <usize>heap * HEAP_BYTES;
}

// @ts-ignore: decorator
@inline function cacheRec(h: usize, cache: u32): usize {
  return h + HEAP_HDR + <usize>cache * CACHE_BYTES;
}

// @ts-ignore: decorator
@inline function pageKey(heap: u32, base: u64, shift: u32): u64 {
  return (<u64>heap << 40) | (base >> <u64>shift);
}

function validHeap(heap: u32): bool {
  return heap < load<u32>(CFG_SLAB_MAXHEAPS) && load<u32>(heapRec(heap)) != 0;
}

export function slabHeapCreate(heap: u32, pageShift: u32): u32 {
  if (heap >= load<u32>(CFG_SLAB_MAXHEAPS) || pageShift < 12 || pageShift > 30) return SL_BAD_ARG;
  const h = heapRec(heap);
  memory.fill(h, 0, HEAP_BYTES);
  store<u32>(h, 1);
  store<u32>(h, pageShift, 4);
  return SL_OK;
}

/**
 * Defines size class `cache` of a heap: objects of `objSize` bytes; each page keeps
 * `header` bytes for itself; objects are carved from the page's end (`fromEnd`, as
 * OSv's pools do) or from just after the header.
 */
export function slabCacheCreate(heap: u32, cache: u32, objSize: u32, header: u32, fromEnd: u32): u32 {
  if (!validHeap(heap) || cache >= MAX_CACHES || objSize == 0) return SL_BAD_ARG;
  const h = heapRec(heap);
  const pageSize: u32 = 1 << load<u32>(h, 4);
  if (header + objSize > pageSize) return SL_BAD_ARG;
  const n = (pageSize - header) / objSize;
  const c = cacheRec(h, cache);
  store<u32>(c, objSize);
  store<u32>(c, n, 4);
  store<u32>(c, fromEnd != 0 ? pageSize - n * objSize : header, 8);
  store<u32>(c, 0, 12);
  store<u32>(c, 0, 16);
  store<u32>(c, 0, 20);
  store<u32>(c, 0, 24);
  store<u32>(c, objSize == 1 ? 0 : <u32>(((<u64>1 << 32) + objSize - 1) / objSize), 28);
  return SL_OK;
}

/**
 * The index of the object at `off` bytes into a page's objects of cache record `c`, or
 * 0xFFFFFFFF when `off` is not an object's start. With magic M = ceil(2^32 / size),
 * floor(off * M / 2^32) is off / size exactly when size divides off (off < 2^32), and
 * a non-multiple never passes the check idx * size == off.
 */
// @ts-ignore: decorator
@inline function objectIndex(c: usize, off: u32): u32 {
  const size = load<u32>(c);
  const m = load<u32>(c, 28);
  const idx = m != 0 ? <u32>((<u64>off * <u64>m) >> 32) : off;
  return idx * size == off ? idx : 0xFFFFFFFF;
}

// @ts-ignore: decorator
@inline function pageBytes(perPage: u32): usize {
  return PAGE_HDR + (<usize>((perPage + 63) >> 6) << 3);
}

/** Adds a page (its guest-virtual base, aligned to the heap's page size) to a cache. */
export function slabAddPage(heap: u32, cache: u32, base: u64): u32 {
  if (!validHeap(heap) || cache >= MAX_CACHES) return SL_BAD_ARG;
  const h = heapRec(heap);
  const shift = load<u32>(h, 4);
  const c = cacheRec(h, cache);
  const n = load<u32>(c, 4);
  if (n == 0 || (base & ((<u64>1 << <u64>shift) - 1)) != 0) return SL_BAD_ARG;
  const key = pageKey(heap, base, shift);
  if (hashGet(CFG_SLAB_HASH, key) != 0) return SL_BAD_ARG;
  if (!hashMakeRoom(CFG_SLAB_HASH)) return SL_OOM;
  let pr = <usize>load<u32>(c, 24);
  if (pr != 0) store<u32>(c, load<u32>(pr, 20), 24); // reuse a released record
  else {
    pr = alloc(pageBytes(n), 8);
    if (pr == 0) return SL_OOM;
  }
  store<u64>(pr, base);
  store<u32>(pr, heap, 8);
  store<u32>(pr, cache, 12);
  store<u32>(pr, n, 16);
  store<u32>(pr, 0, 20); // cursor
  const words = (n + 63) >> 6;
  const bits = pr + PAGE_HDR;
  for (let w: u32 = 0; w < words; w++) {
    const left = n - (w << 6);
    store<u64>(bits + (<usize>w << 3), left >= 64 ? 0xFFFFFFFFFFFFFFFF : (<u64>1 << <u64>left) - 1);
  }
  // the new page goes to the front of the cache's list
  store<u32>(pr, load<u32>(c, 12), 24);
  store<u32>(pr, 1, 28);
  store<u32>(c, <u32>pr, 12);
  store<u32>(c, load<u32>(c, 16) + 1, 16);
  store<u32>(c, load<u32>(c, 20) + n, 20);
  hashPut(CFG_SLAB_HASH, key, <u32>pr);
  return SL_OK;
}

/** Takes a page whose objects are all free out of its cache; SL_BUSY otherwise. */
export function slabRemovePage(heap: u32, baseF: f64): u32 {
  const base = <u64>baseF;
  if (!validHeap(heap)) return SL_BAD_ARG;
  const h = heapRec(heap);
  const key = pageKey(heap, base, load<u32>(h, 4));
  const pr = <usize>hashGet(CFG_SLAB_HASH, key);
  if (pr == 0) return SL_FOREIGN;
  const c = cacheRec(h, load<u32>(pr, 12));
  const n = load<u32>(c, 4);
  if (load<u32>(pr, 16) != n) return SL_BUSY;
  // unlink from the list of pages with free objects (it is listed: all are free)
  let prev: usize = 0;
  let q = <usize>load<u32>(c, 12);
  while (q != 0 && q != pr) {
    prev = q;
    q = <usize>load<u32>(q, 24);
  }
  if (prev == 0) store<u32>(c, load<u32>(pr, 24), 12);
  else store<u32>(prev, load<u32>(pr, 24), 24);
  hashRemove(CFG_SLAB_HASH, key);
  store<u32>(c, load<u32>(c, 16) - 1, 16);
  store<u32>(c, load<u32>(c, 20) - n, 20);
  store<u32>(pr, load<u32>(c, 24), 20);
  store<u32>(c, <u32>pr, 24);
  return SL_OK;
}

// The result of the last slabTake.
export let slabAddr: u64 = 0;

/** Allocates from a cache: SL_OK with `slabAddr`, or SL_EMPTY. The heap must exist. */
// @ts-ignore: decorator
@inline export function slabTake(h: usize, cache: u32): u32 {
  const c = cacheRec(h, cache);
  const pr = <usize>load<u32>(c, 12);
  if (pr == 0) {
    store<u64>(h, load<u64>(h, 24) + 1, 24);
    return SL_EMPTY;
  }
  // the first free bit from the page's cursor
  let w = load<u32>(pr, 20);
  let a = pr + PAGE_HDR + (<usize>w << 3);
  let word = load<u64>(a);
  while (word == 0) {
    w++;
    a += 8;
    word = load<u64>(a);
  }
  const bit = <u32>ctz(word);
  store<u64>(a, word & (word - 1));
  store<u32>(pr, w, 20);
  const nfree = load<u32>(pr, 16) - 1;
  store<u32>(pr, nfree, 16);
  if (nfree == 0) {
    // full: off the list
    store<u32>(c, load<u32>(pr, 24), 12);
    store<u32>(pr, 0, 28);
  }
  store<u32>(c, load<u32>(c, 20) - 1, 20);
  store<u64>(h, load<u64>(h, 8) + 1, 8);
  slabAddr = load<u64>(pr) + <u64>load<u32>(c, 8) + <u64>(((w << 6) + bit) * load<u32>(c));
  return SL_OK;
}

/** Frees `addr` in heap record `h` of heap `heap`: SL_OK or why not. */
// @ts-ignore: decorator
@inline export function slabGive(heap: u32, h: usize, addr: u64): u32 {
  const shift = load<u32>(h, 4);
  const pr = <usize>hashGet(CFG_SLAB_HASH, pageKey(heap, addr, shift));
  if (pr == 0) return badFree(h, SL_FOREIGN);
  const c = cacheRec(h, load<u32>(pr, 12));
  const off = <u32>(addr - load<u64>(pr)) - load<u32>(c, 8);
  const idx = objectIndex(c, off);
  if (<i32>off < 0 || idx >= load<u32>(c, 4)) return badFree(h, SL_MISALIGNED);
  const w = idx >> 6;
  const a = pr + PAGE_HDR + (<usize>w << 3);
  const m = <u64>1 << <u64>(idx & 63);
  const word = load<u64>(a);
  if ((word & m) != 0) return badFree(h, SL_DOUBLE);
  giveAt(h, c, pr, a, word | m, w);
  return SL_OK;
}

/** Marks an object free: bitmap word `a` of page record `pr` becomes `word`; `w` is its index. */
// @ts-ignore: decorator
@inline function giveAt(h: usize, c: usize, pr: usize, a: usize, word: u64, w: u32): void {
  store<u64>(a, word);
  if (w < load<u32>(pr, 20)) store<u32>(pr, w, 20);
  store<u32>(pr, load<u32>(pr, 16) + 1, 16);
  if (load<u32>(pr, 28) == 0) {
    // it had no free object: back on the front of the list
    store<u32>(pr, load<u32>(c, 12), 24);
    store<u32>(pr, 1, 28);
    store<u32>(c, <u32>pr, 12);
  }
  store<u32>(c, load<u32>(c, 20) + 1, 20);
  store<u64>(h, load<u64>(h, 16) + 1, 16);
}

function badFree(h: usize, why: u32): u32 {
  store<u64>(h, load<u64>(h, 32) + 1, 32);
  return why;
}

/** One allocation from the host: the address, or -1 when the cache is empty (or bad). */
export function slabAlloc(heap: u32, cache: u32): f64 {
  if (!validHeap(heap) || cache >= MAX_CACHES) return -2;
  return slabTake(heapRec(heap), cache) == SL_OK ? <f64>slabAddr : -1;
}

/** One free from the host: a status. */
export function slabFree(heap: u32, addr: f64): u32 {
  if (!validHeap(heap)) return SL_BAD_ARG;
  return slabGive(heap, heapRec(heap), <u64>addr);
}

/** Whether heap `heap` exists (for the engine). */
export function slabHeapValid(heap: u32): bool {
  return validHeap(heap);
}

// ---- runs of slab operations in the request buffer ----------------------------------

/**
 * Runs the slab operations (request kinds 3 and 4) from request `start` on while each
 * succeeds, without a call; returns the index of the first request that is not one, or
 * that would fail (it changes nothing for that one: the engine's `slabOp` runs it and
 * raises its event), or `n`.
 */
export function slabRun(start: u32, n: u32): u32 {
  const buf = <usize>load<u32>(CFG_REQ_BUF);
  const end = buf + (<usize>n << 4);
  let r = buf + (<usize>start << 4);
  for (; r < end; r += REQ_BYTES) {
    const info = load<u32>(r, 8);
    const heap = info >> 8;
    if (heap >= load<u32>(CFG_SLAB_MAXHEAPS)) break;
    const h = heapRec(heap);
    if (load<u32>(h) == 0) break;
    const kind = info & 0xFF;
    if (kind == KIND_ALLOC) {
      const cache = load<u32>(r, 12);
      if (cache >= MAX_CACHES || load<u32>(cacheRec(h, cache), 12) == 0) break;
      slabTake(h, cache);
      store<u64>(r, slabAddr);
    } else if (kind == KIND_FREE) {
      if (!slabGiveFast(heap, h, load<u64>(r))) break;
    } else break;
  }
  return <u32>((r - buf) >> 4);
}

/** `slabGive` when it succeeds; false (nothing changed) when it would fail. */
// @ts-ignore: decorator
@inline function slabGiveFast(heap: u32, h: usize, addr: u64): bool {
  const pr = <usize>hashFind(CFG_SLAB_HASH, pageKey(heap, addr, load<u32>(h, 4)));
  if (pr == 0) return false;
  const c = cacheRec(h, load<u32>(pr, 12));
  const off = <u32>(addr - load<u64>(pr)) - load<u32>(c, 8);
  const idx = objectIndex(c, off);
  if (<i32>off < 0 || idx >= load<u32>(c, 4)) return false;
  const w = idx >> 6;
  const a = pr + PAGE_HDR + (<usize>w << 3);
  const m = <u64>1 << <u64>(idx & 63);
  const word = load<u64>(a);
  if ((word & m) != 0) return false;
  giveAt(h, c, pr, a, word | m, w);
  return true;
}