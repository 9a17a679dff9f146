// The engine's inline runs for the commonest geometry (Skylake: 8-way ITLBs, 4-way
// DTLBs, 12-way STLB): call-free loops that run L1 hits, STLB hits and (conformance
// model) walks, and stop at the first request that needs the generic path
// (engine.ts), before changing anything for it. Their results are exactly those of
// `pageAccess` / `confAccess`; the way counts are constants, so set probes fold to
// straight-line SIMD compares.
//
// Why the shape: V8 keeps no register across a call and spills values that live across
// big code. So each run is an inner loop of L1 hits with few live values, and a miss
// path that reads what it needs from memory (HOT_* in layout.ts) and keeps nothing in
// locals across the two: the request address lives in HOT_RUN_R between them.
//
// Clock: every request of a run ticks the replacement clock by 16, so the stamp of the
// request at buffer address r is r + delta (one add), delta fixed between walks. Uses of
// different structures within one request may share a stamp: only the order within a
// set counts. (The clock renormalises long before it could wrap: run() checks it, and
// one buffer of 2^20 requests advances it by 2^24 at most, plus its walks' ticks.)
import {
  CFG_REQ_BUF, CFG_REPL, REQ_BYTES, HOT_GEOM, HOT_STLB, HOT_KINDS, HOT_VCPU, HOT_RUN_R,
  HOT_RUN_END, HOT_RUN_DELTA, HOT_RUN_FETCHES, HOT_RUN_DKINDS, HOT_RUN_WHO, HOT_BIG, HOT_KEYOK,
  HOT_RUN_COUNTED, HOT_RUN_EV, HOT_SETOFF, KIND_FETCH, VC_PCPU, TR_FLAGS,
  SZ_4K, SZ_2M, F_U, F_KEY_SHIFT, F_TIER_SHIFT,
} from "./layout";
import { cnt, bump, add, C_L1MISS_F, C_L1MISS_D, C_STLB4K, C_STLB2M, C_DATA, C_WALKS, C_REFS, C_REFS_G, C_REFS_E, C_PF } from "./counters";
import { clock, matchMask, oldestWayK, victimK, pcpuBase } from "./tlb";
import { vcRec } from "./state";
import { walk, touchAt, touchEnd } from "./walk";
import { ctxBits } from "./flush";
import { confLeaf, CONF_LEAF_BITS } from "./conform";

// ---- shared ------------------------------------------------------------------------

/** Adds request counts to HOT_KINDS: `total` requests, of which `fetches` fetches and data kinds summing to `dataKinds`. */
// @ts-ignore: decorator
@inline function countKinds(total: u32, fetches: u32, dataKinds: u32): void {
  // reads + writes = total - fetches; reads + 2 writes = dataKinds
  const writes = dataKinds - (total - fetches);
  store<u64>(HOT_KINDS, load<u64>(HOT_KINDS) + (<u64>fetches | (<u64>(total - fetches - writes) << 21) | (<u64>writes << 42)));
}

/** Starts an inline run at request `start` of `n`; the stamp delta follows the clock. */
// @ts-ignore: decorator
@inline function beginRun(start: u32, n: u32): void {
  const buf = <usize>load<u32>(CFG_REQ_BUF);
  const r0 = buf + (<usize>start << 4);
  store<u32>(HOT_RUN_R, <u32>r0);
  store<u32>(HOT_RUN_END, <u32>(buf + (<usize>n << 4)));
  store<u32>(HOT_RUN_DELTA, clock + <u32>REQ_BYTES - <u32>r0);
  store<u32>(HOT_RUN_FETCHES, 0);
  store<u32>(HOT_RUN_DKINDS, 0);
}

/**
 * Ends an inline run begun at `start`: the clock takes the last request's stamp, the
 * kinds are counted; returns the next request's index.
 */
// @ts-ignore: decorator
@inline function endRun(start: u32): u32 {
  const r = <usize>load<u32>(HOT_RUN_R);
  const i = <u32>((r - <usize>load<u32>(CFG_REQ_BUF)) >> 4);
  clock = <u32>r - <u32>REQ_BYTES + load<u32>(HOT_RUN_DELTA);
  countKinds(i - start, load<u32>(HOT_RUN_FETCHES), load<u32>(HOT_RUN_DKINDS));
  return i;
}

/** Adds an inner loop's counts to the run's. */
// @ts-ignore: decorator
@inline function addRunKinds(fetches: u32, dataKinds: u32): void {
  store<u32>(HOT_RUN_FETCHES, load<u32>(HOT_RUN_FETCHES) + fetches);
  store<u32>(HOT_RUN_DKINDS, load<u32>(HOT_RUN_DKINDS) + dataKinds);
}

/** Counts one request of `kind` run by a miss path. */
// @ts-ignore: decorator
@inline function countOne(kind: u32): void {
  if (kind == KIND_FETCH) store<u32>(HOT_RUN_FETCHES, load<u32>(HOT_RUN_FETCHES) + 1);
  else store<u32>(HOT_RUN_DKINDS, load<u32>(HOT_RUN_DKINDS) + kind);
}

/** Whether the request at `r` of `kind` (0..2 or more) crosses a 4 KiB page. */
// @ts-ignore: decorator
@inline function crosses(va: u64, r: usize): bool {
  return (va & 0xFFF) + <u64>load<u32>(r, 12) > 0x1000;
}
// ---- the conformance model -----------------------------------------------------------

/** `confRun` for each policy (the page size folds into the code). */
export function confRun4k(start: u32, n: u32): u32 {
  return confRun(start, n, SZ_4K, 4, 8, 12);
}
export function confRun2m(start: u32, n: u32): u32 {
  return confRun(start, n, SZ_2M, 4, 8, 12);
}

/**
 * The conformance model's inline run for constant way counts (data L1 `DW`, fetch L1
 * `IW`, STLB `SW`): L1 hits, STLB hits and walks of pages whose touched-bitmap leaf
 * exists. Returns the index of the first request it cannot run (another kind or vCPU,
 * a page-crossing access, a new bitmap leaf), or `n`.
 */
// @ts-ignore: decorator
@inline function confRun(start: u32, n: u32, z: u32, DW: u32, IW: u32, SW: u32): u32 {
  beginRun(start, n);
  while (true) {
    // hits in the tightest loop; after a miss, the mixed loop until hits come in a row
    store<u32>(HOT_RUN_R, <u32>confL1Hits(<usize>load<u32>(HOT_RUN_R), <usize>load<u32>(HOT_RUN_END), load<u32>(HOT_RUN_DELTA), z, DW, IW));
    if (load<u32>(HOT_RUN_R) >= load<u32>(HOT_RUN_END)) break;
    const rm = confMixed(<usize>load<u32>(HOT_RUN_R), <usize>load<u32>(HOT_RUN_END), load<u32>(HOT_RUN_DELTA), z, DW, IW, SW);
    store<u32>(HOT_RUN_R, <u32>(rm & ~1));
    if ((rm & 1) != 0 || load<u32>(HOT_RUN_R) >= load<u32>(HOT_RUN_END)) break;
  }
  return endRun(start);
}

/** Hits in a row after which the mixed loop hands over to the hit loop. */
const MIXED_HITS: u32 = 8;

/**
 * The conformance model's mixed loop: L1 hits and misses (STLB hits and walks) handled
 * where they are found. Returns the address of the request it stopped at, plus 1 when
 * that request needs the generic path (else MIXED_HITS hits came in a row, or the end).
 */
// @ts-ignore: decorator
@inline function confMixed(r: usize, end: usize, delta: u32, z: u32, DW: u32, IW: u32, SW: u32): usize {
  let kinds: u64 = 0; // see confHitAt
  let streak: u32 = 0;
  for (; r < end; r += REQ_BYTES) {
    const va = load<u64>(r);
    const kind = load<u32>(r, 8); // vcpu 0 and a valid kind leave just the kind
    if (crosses(va, r) || kind > 2) {
      r |= 1;
      break;
    }
    const vpn = va >> <u64>(12 + 9 * z);
    const key = (vpn << 28) | ctxBits(1, 0) | (<u64>z << 1) | 1;
    const g = HOT_GEOM + (kind != KIND_FETCH ? 32 : 0);
    const first = (<u32>vpn & load<u32>(g)) * (kind != KIND_FETCH ? DW : IW);
    const keys = <usize>load<u32>(g, 8) + (<usize>first << 3);
    const m = kind != KIND_FETCH ? matchMask(keys, DW, key) : matchMask(keys, IW, key);
    if (m != 0) {
      store<u32>(<usize>load<u32>(g, 12) + (<usize>(first + ctz(m)) << 2), <u32>r + delta);
      if (++streak == MIXED_HITS) {
        kinds += kind != KIND_FETCH ? <u64>kind : <u64>1 << 32;
        r += REQ_BYTES;
        break;
      }
    } else {
      if (!confStlbOrWalk(vpn, key, <u32>r + delta, z, SW)) {
        r |= 1;
        break;
      }
      bump(cnt(0), kind != KIND_FETCH ? C_L1MISS_D : C_L1MISS_F);
      const stamps = <usize>load<u32>(g, 12) + (<usize>first << 2);
      const v = kind != KIND_FETCH ? oldestWayK(keys, stamps, DW) : oldestWayK(keys, stamps, IW);
      store<u64>(keys + (<usize>v << 3), key);
      store<u32>(stamps + (<usize>v << 2), <u32>r + delta);
      streak = 0;
    }
    kinds += kind != KIND_FETCH ? <u64>kind : <u64>1 << 32;
  }
  addRunKinds(<u32>(kinds >> 32), <u32>kinds);
  return r;
}

/**
 * The STLB part of an L1 miss of the conformance model: a hit's use, or a walk and
 * the fill. False (nothing changed) when the page's touched-bitmap leaf is new.
 */
// @ts-ignore: decorator
@inline function confStlbOrWalk(vpn: u64, key: u64, stamp: u32, z: u32, SW: u32): bool {
  const sFirst = (<u32>vpn & load<u32>(HOT_STLB)) * SW;
  const sKeys = <usize>load<u32>(HOT_STLB, 8) + (<usize>sFirst << 3);
  const sStamps = <usize>load<u32>(HOT_STLB, 12) + (<usize>sFirst << 2);
  const sm = matchMask(sKeys, SW, key);
  if (sm != 0) {
    // the counter first: its load must not wait behind a store whose address comes late
    bump(cnt(0), z == SZ_4K ? C_STLB4K : C_STLB2M);
    store<u32>(sStamps + (<usize>ctz(sm) << 2), stamp);
    return true;
  }
  const leaf = confLeaf(vpn);
  if (leaf == 0) return false; // a new bitmap leaf: the generic path allocates it
  const bit = <u32>vpn & ((1 << <u32>CONF_LEAF_BITS) - 1);
  const a = leaf + <usize>(bit >> 3);
  const b = <u32>load<u8>(a);
  const mask: u32 = 1 << (bit & 7);
  const c = cnt(0);
  if ((b & mask) == 0) {
    store<u8>(a, <u8>(b | mask));
    bump(c, C_PF);
  }
  confWalkCount(c, z);
  const v = oldestWayK(sKeys, sStamps, SW);
  store<u64>(sKeys + (<usize>v << 3), key);
  store<u32>(sStamps + (<usize>v << 2), stamp);
  return true;
}

/**
 * L1 hits of the conformance model from request address `r` to `end`: the tightest
 * loop, four requests per turn. Returns the address of the first request that is not
 * a hit.
 */
// @ts-ignore: decorator
@inline function confL1Hits(r: usize, end: usize, delta: u32, z: u32, DW: u32, IW: u32): usize {
  let kinds: u64 = 0; // see confHitAt
  while (r + 3 * REQ_BYTES < end) {
    let k = confHitAt(r, delta, z, DW, IW);
    if (k == 0) break;
    kinds += k;
    k = confHitAt(r + REQ_BYTES, delta, z, DW, IW);
    if (k == 0) {
      r += REQ_BYTES;
      break;
    }
    kinds += k;
    k = confHitAt(r + 2 * REQ_BYTES, delta, z, DW, IW);
    if (k == 0) {
      r += 2 * REQ_BYTES;
      break;
    }
    kinds += k;
    k = confHitAt(r + 3 * REQ_BYTES, delta, z, DW, IW);
    if (k == 0) {
      r += 3 * REQ_BYTES;
      break;
    }
    kinds += k;
    r += 4 * REQ_BYTES;
  }
  if (r + 3 * REQ_BYTES >= end) {
    for (; r < end; r += REQ_BYTES) {
      const k = confHitAt(r, delta, z, DW, IW);
      if (k == 0) break;
      kinds += k;
    }
  }
  addRunKinds(<u32>(kinds >> 32), <u32>kinds);
  return r;
}

/**
 * The request at `r` if it is an L1 hit of the conformance model: its stamp, and 1
 * (read), 2 (write) or 2^32 (fetch), so that a sum of these counts fetches in its high
 * half and data kinds in its low half; else 0 and nothing changed. The set's byte
 * offset comes from the address by one shift and the scaled mask (HOT_SETOFF).
 */
// @ts-ignore: decorator
@inline function confHitAt(r: usize, delta: u32, z: u32, DW: u32, IW: u32): u64 {
  const va = load<u64>(r);
  const kind = load<u32>(r, 8); // vcpu 0 and a valid kind leave just the kind
  if (crosses(va, r)) return 0;
  const key = ((va >> <u64>(12 + 9 * z)) << 28) | ctxBits(1, 0) | (<u64>z << 1) | 1;
  if (kind - 1 <= 1) {
    const off = <u32>(va >> <u64>(12 + 9 * z - (DW == 4 ? 5 : 6))) & load<u32>(HOT_SETOFF, 4);
    const m = matchMask(<usize>load<u32>(HOT_GEOM + 32, 8) + <usize>off, DW, key);
    if (m == 0) return 0;
    store<u32>(<usize>load<u32>(HOT_GEOM + 32, 12) + <usize>(off >> 1) + (<usize>ctz(m) << 2), <u32>r + delta);
    return kind;
  }
  if (kind != KIND_FETCH) return 0;
  const off = <u32>(va >> <u64>(12 + 9 * z - (IW == 8 ? 6 : 5))) & load<u32>(HOT_SETOFF);
  const m = matchMask(<usize>load<u32>(HOT_GEOM, 8) + <usize>off, IW, key);
  if (m == 0) return 0;
  store<u32>(<usize>load<u32>(HOT_GEOM, 12) + <usize>(off >> 1) + (<usize>ctz(m) << 2), <u32>r + delta);
  return <u64>1 << 32;
}


/** The counters of one conformance walk (not its first-touch fault). */
// @ts-ignore: decorator
@inline export function confWalkCount(c: usize, z: u32): void {
  bump(c, C_WALKS);
  add(c, C_REFS, z == SZ_4K ? 24 : 15);
  add(c, C_REFS_G, z == SZ_4K ? 4 : 3);
  add(c, C_REFS_E, z == SZ_4K ? 20 : 12);
}

// ---- the full model --------------------------------------------------------------------

// What `fullMissAt` did: nothing (the generic path runs the request), all of it, or
// nothing but find that the request must walk.
const MISS_SLOW: u32 = 0;
const MISS_DONE: u32 = 1;
const MISS_WALK: u32 = 2;

/**
 * Whether an entry's `flags` let `kind` through for the current vCPU: its permission
 * table (legacy rights, EPT rights, dirty for writes) and its allowed keys (HOT_KEYOK).
 */
// @ts-ignore: decorator
@inline function rightsAllow(fl: u32, kind: u32): bool {
  const ok = <u32>load<u8>(<usize>load<u32>(HOT_VCPU) + (<usize>kind << 7) + <usize>(fl & 127));
  const keys = <u32>load<u16>(HOT_KEYOK + (<usize>kind << 2) + <usize>(fl & F_U));
  return (ok & (keys >> ((fl >> F_KEY_SHIFT) & 15))) != 0;
}

/**
 * Counts a successful access of the inline run on a page outside tier 0 in its tier
 * (tier 0's are counted in bulk from the run's request counts, see `countTier0`).
 */
// @ts-ignore: decorator
@inline function countOtherTier(fl: u32, kind: u32): void {
  if ((fl & (7 << F_TIER_SHIFT)) != 0) {
    bump(<usize>load<u32>(HOT_VCPU, 16), C_DATA + <i32>(((fl >> F_TIER_SHIFT) & 7) * 3 + kind));
    markCounted(kind);
  }
}

/** Leaves a request of `kind` of the inline run out of the bulk count of tier 0. */
// @ts-ignore: decorator
@inline function markCounted(kind: u32): void {
  const t = HOT_RUN_COUNTED + (<usize>kind << 2);
  store<u32>(t, load<u32>(t) + 1);
}

/** Counts `total` successful accesses of an inline run (`fetches` fetches, data kinds summing to `dataKinds`) in tier 0, less those counted in other tiers. */
// @ts-ignore: decorator
@inline function countTier0(total: u32, fetches: u32, dataKinds: u32): void {
  const c = <usize>load<u32>(HOT_VCPU, 16);
  const writes = dataKinds - (total - fetches);
  add(c, C_DATA, <u64>(fetches - load<u32>(HOT_RUN_COUNTED)));
  add(c, C_DATA + 1, <u64>(total - fetches - writes - load<u32>(HOT_RUN_COUNTED, 4)));
  add(c, C_DATA + 2, <u64>(writes - load<u32>(HOT_RUN_COUNTED, 8)));
  store<u64>(HOT_RUN_COUNTED, 0);
  store<u32>(HOT_RUN_COUNTED, 0, 8);
}

/**
 * The full model's inline run for the vCPU whose view HOT_VCPU and HOT_GEOM hold, for
 * the Skylake geometry: L1 4 KiB hits that the rights allow, L1 misses that hit a
 * 4 KiB STLB entry the rights allow, and walks for misses in every TLB (when the VM has
 * no global entry). Returns the index of the first request it did not run, or `n`;
 * when a walk raised an event (HOT_RUN_EV), the request before that index raised it.
 */
export function fullRun(start: u32, n: u32): u32 {
  return load<u32>(CFG_REPL) == 0 ? fullRunLru(start, n) : fullRunOther(start, n);
}

function fullRunLru(start: u32, n: u32): u32 {
  return fullRunK(start, n, true);
}
function fullRunOther(start: u32, n: u32): u32 {
  return fullRunK(start, n, false);
}

// @ts-ignore: decorator
@inline function fullRunK(start: u32, n: u32, lru: bool): u32 {
  beginRun(start, n);
  store<u32>(HOT_RUN_EV, 0);
  while (true) {
    const rd = fullL1Hits(<usize>load<u32>(HOT_RUN_R), <usize>load<u32>(HOT_RUN_END), load<u32>(HOT_RUN_DELTA), lru, 4, 8);
    store<u32>(HOT_RUN_R, <u32>(rd & ~1));
    const r = <usize>load<u32>(HOT_RUN_R);
    if ((rd & 1) != 0 || r >= <usize>load<u32>(HOT_RUN_END)) break;
    const miss = fullMissAt(r, load<u32>(HOT_RUN_DELTA), load<u32>(CFG_REPL), 4, 8, 12);
    if (miss == MISS_SLOW) break;
    store<u32>(HOT_RUN_R, <u32>(r + REQ_BYTES));
    if (miss == MISS_WALK && !fullWalkAt(r)) break;
  }
  const i = endRun(start);
  // every request of the run succeeded: tier 0's share of the data counts is the rest
  countTier0(i - start, load<u32>(HOT_RUN_FETCHES), load<u32>(HOT_RUN_DKINDS));
  return i;
}

/**
 * L1 4 KiB hits of the full model that the rights allow, from `r` to `end` (like
 * `confL1Hits`). Returns the address of the first request that is not one, plus 1
 * when that request hit an entry whose rights deny it (so it is no miss).
 */
// @ts-ignore: decorator
@inline function fullL1Hits(r: usize, end: usize, delta: u32, lru: bool, DW: u32, IW: u32): usize {
  const bits = load<u64>(HOT_VCPU + 24) | 1;
  let fetches: u32 = 0;
  let dataKinds: u32 = 0;
  for (; r < end; r += REQ_BYTES) {
    const va = load<u64>(r);
    const kind = load<u32>(r, 8) - load<u32>(HOT_RUN_WHO); // another vCPU or a slab operation gives > 2
    if (crosses(va, r)) break;
    const vpn = va >> 12;
    const key = (vpn << 28) | bits;
    if (kind - 1 <= 1) {
      const set = <u32>vpn & load<u32>(HOT_GEOM + 32);
      const m = matchMask(<usize>load<u32>(HOT_GEOM + 32, 8) + (<usize>(set * DW) << 3), DW, key);
      if (m == 0) break;
      const slot = set * DW + ctz(m);
      const fl = load<u32>(<usize>load<u32>(HOT_GEOM + 32, 20) + (<usize>slot << 2));
      if (!rightsAllow(fl, kind)) {
        r |= 1; // a hit the rights deny: the generic path finds out why
        break;
      }
      if (lru) store<u32>(<usize>load<u32>(HOT_GEOM + 32, 12) + (<usize>slot << 2), <u32>r + delta);
      countOtherTier(fl, kind);
      dataKinds += kind;
    } else {
      if (kind != KIND_FETCH) break;
      const set = <u32>vpn & load<u32>(HOT_GEOM);
      const m = matchMask(<usize>load<u32>(HOT_GEOM, 8) + (<usize>(set * IW) << 3), IW, key);
      if (m == 0) break;
      const slot = set * IW + ctz(m);
      const fl = load<u32>(<usize>load<u32>(HOT_GEOM, 20) + (<usize>slot << 2));
      if (!rightsAllow(fl, KIND_FETCH)) {
        r |= 1;
        break;
      }
      if (lru) store<u32>(<usize>load<u32>(HOT_GEOM, 12) + (<usize>slot << 2), <u32>r + delta);
      countOtherTier(fl, KIND_FETCH);
      fetches++;
    }
  }
  addRunKinds(fetches, dataKinds);
  return r;
}

/**
 * An L1 4 KiB miss of the full model at `r`: when the L1s of large pages miss too, the
 * 4 KiB STLB entry hits and its rights allow the access, the STLB use, the L1 fill and
 * the counts. False (and nothing changed) for anything else: the generic path runs it.
 */
// @ts-ignore: decorator
@inline function fullMissAt(r: usize, delta: u32, repl: u32, DW: u32, IW: u32, SW: u32): u32 {
  const va = load<u64>(r);
  const kind = load<u32>(r, 8) - load<u32>(HOT_RUN_WHO);
  if (kind > 2) return MISS_SLOW;
  if (crosses(va, r)) return MISS_SLOW;
  // global entries need a second probe of every structure: the generic path does it
  if (load<u32>(<usize>load<u32>(HOT_VCPU, 20)) != 0) return MISS_SLOW;
  const bits = load<u64>(HOT_VCPU + 24) | 1;
  // the L1s of large pages come before the STLB
  if (kind != KIND_FETCH) {
    const v2 = va >> 21;
    const k2 = <usize>load<u32>(HOT_BIG + 8, 4) + (<usize>((<u32>v2 & load<u32>(HOT_BIG + 8)) * 4) << 3);
    if (matchMask(k2, 4, (v2 << 28) | bits | (<u64>SZ_2M << 1)) != 0) return MISS_SLOW;
    const v1 = va >> 30;
    const k1 = <usize>load<u32>(HOT_BIG + 16, 4) + (<usize>((<u32>v1 & load<u32>(HOT_BIG + 16)) * 4) << 3);
    if (matchMask(k1, 4, (v1 << 28) | bits | (<u64>2 << 1)) != 0) return MISS_SLOW;
  } else {
    const v2 = va >> 21;
    const k2 = <usize>load<u32>(HOT_BIG, 4) + (<usize>((<u32>v2 & load<u32>(HOT_BIG)) * 8) << 3);
    if (matchMask(k2, 8, (v2 << 28) | bits | (<u64>SZ_2M << 1)) != 0) return MISS_SLOW;
  }
  const vpn = va >> 12;
  const key = (vpn << 28) | bits;
  const sFirst = (<u32>vpn & load<u32>(HOT_STLB)) * SW;
  const sm = matchMask(<usize>load<u32>(HOT_STLB, 8) + (<usize>sFirst << 3), SW, key);
  if (sm == 0) return stlbBigMiss(va, kind, bits, SW) ? MISS_WALK : MISS_SLOW;
  const s = sFirst + ctz(sm);
  const fl = load<u32>(<usize>load<u32>(HOT_STLB, 20) + (<usize>s << 2));
  if (!rightsAllow(fl, kind)) return MISS_SLOW;
  // commit: the STLB use, the L1 fill, the counts
  const stamp = <u32>r + delta;
  if (repl == 0) store<u32>(<usize>load<u32>(HOT_STLB, 12) + (<usize>s << 2), stamp);
  const g = HOT_GEOM + (kind != KIND_FETCH ? 32 : 0);
  let slot: u32;
  if (kind != KIND_FETCH) {
    const first = (<u32>vpn & load<u32>(g)) * DW;
    slot = first + victimK(<usize>load<u32>(g, 8) + (<usize>first << 3), <usize>load<u32>(g, 12) + (<usize>first << 2), DW, repl);
  } else {
    const first = (<u32>vpn & load<u32>(g)) * IW;
    slot = first + victimK(<usize>load<u32>(g, 8) + (<usize>first << 3), <usize>load<u32>(g, 12) + (<usize>first << 2), IW, repl);
  }
  store<u64>(<usize>load<u32>(g, 8) + (<usize>slot << 3), key);
  store<u64>(<usize>load<u32>(g, 24) + (<usize>slot << 3), load<u64>(<usize>load<u32>(HOT_STLB, 24) + (<usize>s << 3)));
  store<u64>(<usize>load<u32>(g, 28) + (<usize>slot << 3), load<u64>(<usize>load<u32>(HOT_STLB, 28) + (<usize>s << 3)));
  store<u32>(<usize>load<u32>(g, 20) + (<usize>slot << 2), fl);
  store<u32>(<usize>load<u32>(g, 12) + (<usize>slot << 2), stamp);
  const c = <usize>load<u32>(HOT_VCPU, 16);
  bump(c, kind == KIND_FETCH ? C_L1MISS_F : C_L1MISS_D);
  bump(c, C_STLB4K);
  countOtherTier(fl, kind);
  countOne(kind);
  return MISS_DONE;
}

/**
 * Whether the STLB's 2 MiB entries, and for data the 1 GiB STLB, miss `va` too (a hit
 * there is left to the generic path).
 */
// @ts-ignore: decorator
@inline function stlbBigMiss(va: u64, kind: u32, bits: u64, SW: u32): bool {
  const v2 = va >> 21;
  const first = (<u32>v2 & load<u32>(HOT_STLB)) * SW;
  if (matchMask(<usize>load<u32>(HOT_STLB, 8) + (<usize>first << 3), SW, (v2 << 28) | bits | (<u64>SZ_2M << 1)) != 0) return false;
  if (kind == KIND_FETCH) return true;
  const v1 = va >> 30;
  const k1 = <usize>load<u32>(HOT_BIG + 24, 4) + (<usize>((<u32>v1 & load<u32>(HOT_BIG + 24)) * 4) << 3);
  return matchMask(k1, 4, (v1 << 28) | bits | (<u64>2 << 1)) == 0;
}

/**
 * The walk of the request at `r`, which missed in every TLB (`fullMissAt`): the
 * generic walker, with the clock synchronised around it. False when it raised an
 * event (kept in HOT_RUN_EV).
 */
function fullWalkAt(r: usize): bool {
  const va = load<u64>(r);
  const who = load<u32>(HOT_RUN_WHO);
  const kind = load<u32>(r, 8) - who;
  const vc = vcRec(who >> 8);
  const c = <usize>load<u32>(HOT_VCPU, 16);
  // the request ticks the clock to its stamp; the walk's uses tick it further
  clock = <u32>r + load<u32>(HOT_RUN_DELTA);
  countOne(kind);
  markCounted(kind); // counted by the walk, or failed
  bump(c, kind == KIND_FETCH ? C_L1MISS_F : C_L1MISS_D);
  // the next requests are likely walks too: their memory traffic can start during this walk
  touchAt = r;
  touchEnd = <usize>load<u32>(HOT_RUN_END);
  const ev = walk(vc, c, pcpuBase(load<u32>(vc + VC_PCPU)), va, kind);
  touchAt = 0;
  if (ev == 0) bump(c, C_DATA + <i32>(((load<u32>(TR_FLAGS) >> F_TIER_SHIFT) & 7) * 3 + kind));
  // the next request's stamp comes after the walk's
  store<u32>(HOT_RUN_DELTA, clock - <u32>r);
  store<u32>(HOT_RUN_EV, ev);
  return ev == 0;
}
