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
// The conformance model's runs find a set's ways by their 32-bit tags (tlb.ts): one
// 16-byte load and compare probes a 4-way set. Where a loop may probe a set soon after
// filling it, the fill writes the set's tags and stamps with one 16-byte store each, at
// the set's address: a narrower store there would make the next 16-byte loads of the
// set wait until it reached the cache (no store-to-load forwarding), and one at the
// victim's address, known late, would hold back loads that may alias it.
//
// Clock: every request of a run ticks the replacement clock by 16, so the stamp of the
// request at buffer address r is r + delta (one add), delta fixed between walks. Uses of
// different structures within one request may share a stamp: only the order within a
// set counts. (The clock renormalises long before it could wrap: run() checks it, and
// one buffer of 2^20 requests advances it by 2^24 at most, plus its walks' ticks.)
import {
  CFG_REQ_BUF, CFG_REPL, REQ_BYTES, HOT_GEOM, HOT_STLB, HOT_KINDS, HOT_VCPU, HOT_RUN_R,
  HOT_RUN_END, HOT_RUN_DELTA, HOT_RUN_FETCHES, HOT_RUN_DKINDS, HOT_RUN_WHO, HOT_BIG, HOT_KEYOK,
  HOT_RUN_COUNTED, HOT_RUN_EV, HOT_SETOFF, HOT_TAGS, HOT_LANES, HOT_LINES_P, KIND_FETCH, VC_PCPU, TR_FLAGS, TR_EXACT, LINES_Q, LINES_Q_CAP, HOT_LINES_N,
  SZ_4K, SZ_2M, F_U, F_KEY_SHIFT, F_TIER_SHIFT, S_ITLB2M, S_DTLB2M, S_DTLB1G, SD_FLAGS, SD_STAMP, SD_D0,
} from "./layout";
import { cnt, bump, add, C_L1MISS_F, C_L1MISS_D, C_STLB4K, C_STLB2M, C_DATA, C_HIT_I2M, C_HIT_D2M, C_HIT_D1G, C_WALKS, C_REFS, C_REFS_G, C_REFS_E, C_PF } from "./counters";
import { clock, matchMask, oldestWayK, victimK, pcpuBase, sd, TAG_NONE, tagShift } from "./tlb";
import { vcRec } from "./state";
import { walk, touchAt, touchEnd } from "./walk";
import { ctxBits } from "./flush";
import { confLeaf, CONF_LEAF_BITS } from "./conform";
import { linesData, dataLines, queuedLines, lineRecord } from "./cache";

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
 * Bit w set when way w of the set whose tags are at `a` has tag `tag` (tlb.ts). `W`
 * must be 4, 8, 12 or 16 (a constant).
 */
// @ts-ignore: decorator
@inline function matchTags(a: usize, W: u32, tag: u32): u32 {
  const t = i32x4.splat(tag);
  const e0 = i32x4.eq(v128.load(a), t);
  if (W == 4) return i32x4.bitmask(e0);
  const e1 = i32x4.eq(v128.load(a, 16), t);
  if (W == 8) return i32x4.bitmask(e0) | (i32x4.bitmask(e1) << 4);
  const e2 = i32x4.eq(v128.load(a, 32), t);
  const e3 = W >= 16 ? i32x4.eq(v128.load(a, 48), t) : e2;
  const m = i8x16.bitmask(i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(e0, e1), i16x8.narrow_i32x4_s(e2, e3)));
  return W >= 16 ? m : m & 0xFFF;
}

/**
 * The conformance model's mixed loop: L1 hits and misses (STLB hits and walks) handled
 * where they are found. Returns the address of the request it stopped at, plus 1 when
 * that request needs the generic path (else MIXED_HITS hits came in a row, or the end).
 * Its counts stay in two locals until it returns (per L1, the sum of the kinds of the
 * requests, plus the L1 misses times 2^32); its walks count themselves in C_WALKS, and
 * the STLB hits and walk references follow from that when it returns. An L1 set's
 * tags and stamps are `off` bytes from those of set 0, its keys twice that.
 */
// @ts-ignore: decorator
@inline function confMixed(r: usize, end: usize, delta: u32, z: u32, DW: u32, IW: u32, SW: u32): usize {
  let dc: u64 = 0;
  let fc: u64 = 0;
  let streak: u32 = 0;
  const walks0 = load<u64>(cnt(0) + (<usize>C_WALKS << 3));
  const sh = <u64>(12 + 9 * z);
  const tsh = sh + (z == SZ_4K ? 4 : 0);
  const bits = ctxBits(1, 0) | (<u64>z << 1) | 1;
  for (; r < end; r += REQ_BYTES) {
    const va = load<u64>(r);
    const kind = load<u32>(r, 8); // vcpu 0 and a valid kind leave just the kind
    const tag = <u32>(va >> tsh);
    if (crosses(va, r) || tag == TAG_NONE) {
      r |= 1;
      break;
    }
    if (kind - 1 <= 1) {
      const off = <usize>(<u32>(va >> (sh - (DW == 4 ? 4 : 5))) & (load<u32>(HOT_SETOFF, 4) >> 1));
      const stamps = <usize>load<u32>(HOT_GEOM + 32, 12) + off;
      const tags = <usize>load<u32>(HOT_TAGS, 4) + off;
      const tv = v128.load(tags);
      const ts = i32x4.splat(tag);
      const m = DW == 4 ? i32x4.bitmask(i32x4.eq(tv, ts)) : matchTags(tags, DW, tag);
      if (m != 0) {
        store<u32>(stamps + (<usize>ctz(m) << 2), <u32>r + delta);
        dc += kind;
        if (++streak == MIXED_HITS) {
          r += REQ_BYTES;
          break;
        }
        continue;
      }
      // a miss: the STLB, else a walk
      const sOff = <usize>((<u32>(va >> sh) & load<u32>(HOT_STLB)) * (SW << 2));
      const sm = matchTags(<usize>load<u32>(HOT_TAGS, 8) + sOff, SW, tag);
      if (sm != 0) store<u32>(<usize>load<u32>(HOT_STLB, 12) + sOff + (<usize>ctz(sm) << 2), <u32>r + delta);
      else if (!confWalk(va >> sh, bits, <u32>r + delta, z, SW)) {
        r |= 1;
        break;
      }
      // the L1 fill
      if (DW == 4) {
        // the set's tags and stamps in one store each (at addresses known before the
        // victim, of the width of the loads that may read them next)
        const sv = v128.load(stamps);
        let mn = i32x4.min_u(sv, v128.shuffle<u32>(sv, sv, 2, 3, 0, 1));
        mn = i32x4.min_u(mn, v128.shuffle<u32>(mn, mn, 1, 0, 3, 2));
        const v = ctz(i32x4.bitmask(i32x4.eq(sv, mn)));
        const lane = i32x4.eq(i32x4.splat(v), v128.load(HOT_LANES));
        store<u64>(<usize>load<u32>(HOT_GEOM + 32, 8) + (off << 1) + (<usize>v << 3), ((va >> sh) << 28) | bits);
        v128.store(tags, v128.bitselect(ts, tv, lane));
        v128.store(stamps, v128.bitselect(i32x4.splat(<u32>r + delta), sv, lane));
      } else {
        const v = oldestWayK(<usize>load<u32>(HOT_GEOM + 32, 8) + (off << 1), stamps, DW);
        store<u64>(<usize>load<u32>(HOT_GEOM + 32, 8) + (off << 1) + (<usize>v << 3), ((va >> sh) << 28) | bits);
        store<u32>(tags + (<usize>v << 2), tag);
        store<u32>(stamps + (<usize>v << 2), <u32>r + delta);
      }
      dc += <u64>kind | (<u64>1 << 32);
      streak = 0;
      continue;
    }
    if (kind != KIND_FETCH) {
      r |= 1;
      break;
    }
    const off = <usize>(<u32>(va >> (sh - (IW == 8 ? 5 : 4))) & (load<u32>(HOT_SETOFF) >> 1));
    const stamps = <usize>load<u32>(HOT_GEOM, 12) + off;
    const m = matchTags(<usize>load<u32>(HOT_TAGS) + off, IW, tag);
    if (m != 0) {
      store<u32>(stamps + (<usize>ctz(m) << 2), <u32>r + delta);
      fc += 1;
      if (++streak == MIXED_HITS) {
        r += REQ_BYTES;
        break;
      }
      continue;
    }
    const sOff = <usize>((<u32>(va >> sh) & load<u32>(HOT_STLB)) * (SW << 2));
    const sm = matchTags(<usize>load<u32>(HOT_TAGS, 8) + sOff, SW, tag);
    if (sm != 0) store<u32>(<usize>load<u32>(HOT_STLB, 12) + sOff + (<usize>ctz(sm) << 2), <u32>r + delta);
    else if (!confWalk(va >> sh, bits, <u32>r + delta, z, SW)) {
      r |= 1;
      break;
    }
    const v = oldestWayK(<usize>load<u32>(HOT_GEOM, 8) + (off << 1), stamps, IW);
    store<u64>(<usize>load<u32>(HOT_GEOM, 8) + (off << 1) + (<usize>v << 3), ((va >> sh) << 28) | bits);
    store<u32>(<usize>load<u32>(HOT_TAGS) + off + (<usize>v << 2), tag);
    store<u32>(stamps + (<usize>v << 2), <u32>r + delta);
    fc += 1 | (<u64>1 << 32);
    streak = 0;
  }
  addRunKinds(<u32>fc, <u32>dc);
  const c = cnt(0);
  const missD = dc >> 32;
  const missF = fc >> 32;
  add(c, C_L1MISS_D, missD);
  add(c, C_L1MISS_F, missF);
  const walks = load<u64>(c + (<usize>C_WALKS << 3)) - walks0;
  add(c, z == SZ_4K ? C_STLB4K : C_STLB2M, missD + missF - walks);
  add(c, C_REFS, walks * (z == SZ_4K ? 24 : 15));
  add(c, C_REFS_G, walks * (z == SZ_4K ? 4 : 3));
  add(c, C_REFS_E, walks * (z == SZ_4K ? 20 : 12));
  return r;
}

/**
 * The walk of an L1 and STLB miss of the conformance model (page `vpn`, key bits
 * `bits`) and the STLB fill; its references are left to `confMixed`. False (nothing
 * changed) when the page's touched-bitmap leaf is new.
 */
// @ts-ignore: decorator
@inline function confWalk(vpn: u64, bits: u64, stamp: u32, z: u32, SW: u32): bool {
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
  bump(c, C_WALKS);
  const sFirst = (<u32>vpn & load<u32>(HOT_STLB)) * SW;
  const sKeys = <usize>load<u32>(HOT_STLB, 8) + (<usize>sFirst << 3);
  const sStamps = <usize>load<u32>(HOT_STLB, 12) + (<usize>sFirst << 2);
  const v = oldestWayK(sKeys, sStamps, SW);
  const key = (vpn << 28) | bits;
  store<u64>(sKeys + (<usize>v << 3), key);
  store<u32>(sStamps + (<usize>v << 2), stamp);
  store<u32>(<usize>load<u32>(HOT_TAGS, 8) + (<usize>sFirst << 2) + (<usize>v << 2), <u32>(key >> tagShift));
  return true;
}

/**
 * L1 hits of the conformance model from request address `r` to `end`: the tightest
 * loop, data hits four at a time (no loop overhead between them), anything else one at
 * a time. Returns the address of the first request that is not a hit. Sets are found
 * by their tags; a set's tags and stamps are at one byte offset from those of set 0,
 * which comes from the address by one shift and the scaled mask (HOT_SETOFF).
 */
// @ts-ignore: decorator
@inline function confL1Hits(r: usize, end: usize, delta: u32, z: u32, DW: u32, IW: u32): usize {
  let dataKinds: u32 = 0;
  let fetches: u32 = 0;
  const sh = <u64>(12 + 9 * z);
  const tsh = sh + (z == SZ_4K ? 4 : 0);
  const soff = load<u32>(HOT_SETOFF, 4) >> 1;
  while (true) {
    // (four copies of one data hit: AssemblyScript has no macros, and a helper that
    // returned whether it hit would cost a test of its result)
    while (r + 3 * REQ_BYTES < end) {
      const rd = <u32>r + delta;
      const va0 = load<u64>(r, 0);
      const kind0 = load<u32>(r, 8);
      if ((va0 & 0xFFF) + <u64>load<u32>(r, 12) > 0x1000) break;
      if (kind0 - 1 > 1) break;
      const tag0 = <u32>(va0 >> tsh);
      if (tag0 == TAG_NONE) break;
      const off0 = <usize>(<u32>(va0 >> (sh - (DW == 4 ? 4 : 5))) & soff);
      const m0 = matchTags(<usize>load<u32>(HOT_TAGS, 4) + off0, DW, tag0);
      if (m0 == 0) break;
      store<u32>(<usize>load<u32>(HOT_GEOM + 32, 12) + off0 + (<usize>ctz(m0) << 2), rd);
      dataKinds += kind0;
      const va1 = load<u64>(r, 16);
      const kind1 = load<u32>(r, 24);
      if ((va1 & 0xFFF) + <u64>load<u32>(r, 28) > 0x1000) {
        r += 16;
        break;
      }
      if (kind1 - 1 > 1) {
        r += 16;
        break;
      }
      const tag1 = <u32>(va1 >> tsh);
      if (tag1 == TAG_NONE) {
        r += 16;
        break;
      }
      const off1 = <usize>(<u32>(va1 >> (sh - (DW == 4 ? 4 : 5))) & soff);
      const m1 = matchTags(<usize>load<u32>(HOT_TAGS, 4) + off1, DW, tag1);
      if (m1 == 0) {
        r += 16;
        break;
      }
      store<u32>(<usize>load<u32>(HOT_GEOM + 32, 12) + off1 + (<usize>ctz(m1) << 2), rd + 16);
      dataKinds += kind1;
      const va2 = load<u64>(r, 32);
      const kind2 = load<u32>(r, 40);
      if ((va2 & 0xFFF) + <u64>load<u32>(r, 44) > 0x1000) {
        r += 32;
        break;
      }
      if (kind2 - 1 > 1) {
        r += 32;
        break;
      }
      const tag2 = <u32>(va2 >> tsh);
      if (tag2 == TAG_NONE) {
        r += 32;
        break;
      }
      const off2 = <usize>(<u32>(va2 >> (sh - (DW == 4 ? 4 : 5))) & soff);
      const m2 = matchTags(<usize>load<u32>(HOT_TAGS, 4) + off2, DW, tag2);
      if (m2 == 0) {
        r += 32;
        break;
      }
      store<u32>(<usize>load<u32>(HOT_GEOM + 32, 12) + off2 + (<usize>ctz(m2) << 2), rd + 32);
      dataKinds += kind2;
      const va3 = load<u64>(r, 48);
      const kind3 = load<u32>(r, 56);
      if ((va3 & 0xFFF) + <u64>load<u32>(r, 60) > 0x1000) {
        r += 48;
        break;
      }
      if (kind3 - 1 > 1) {
        r += 48;
        break;
      }
      const tag3 = <u32>(va3 >> tsh);
      if (tag3 == TAG_NONE) {
        r += 48;
        break;
      }
      const off3 = <usize>(<u32>(va3 >> (sh - (DW == 4 ? 4 : 5))) & soff);
      const m3 = matchTags(<usize>load<u32>(HOT_TAGS, 4) + off3, DW, tag3);
      if (m3 == 0) {
        r += 48;
        break;
      }
      store<u32>(<usize>load<u32>(HOT_GEOM + 32, 12) + off3 + (<usize>ctz(m3) << 2), rd + 48);
      dataKinds += kind3;
      r += 4 * REQ_BYTES;
    }
    // one request of any kind
    if (r >= end) break;
    const va = load<u64>(r);
    const kind = load<u32>(r, 8); // vcpu 0 and a valid kind leave just the kind
    const tag = <u32>(va >> tsh);
    if (crosses(va, r) || tag == TAG_NONE) break;
    if (kind - 1 <= 1) {
      const off = <usize>(<u32>(va >> (sh - (DW == 4 ? 4 : 5))) & soff);
      const m = matchTags(<usize>load<u32>(HOT_TAGS, 4) + off, DW, tag);
      if (m == 0) break;
      store<u32>(<usize>load<u32>(HOT_GEOM + 32, 12) + off + (<usize>ctz(m) << 2), <u32>r + delta);
      dataKinds += kind;
    } else {
      if (kind != KIND_FETCH) break;
      const off = <usize>(<u32>(va >> (sh - (IW == 8 ? 5 : 4))) & (load<u32>(HOT_SETOFF) >> 1));
      const m = matchTags(<usize>load<u32>(HOT_TAGS) + off, IW, tag);
      if (m == 0) break;
      store<u32>(<usize>load<u32>(HOT_GEOM, 12) + off + (<usize>ctz(m) << 2), <u32>r + delta);
      fetches++;
    }
    r += REQ_BYTES;
  }
  addRunKinds(fetches, dataKinds);
  return r;
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
  const lru = load<u32>(CFG_REPL) == 0;
  if (linesData) return lru ? fullRunLruLines(start, n) : fullRunOtherLines(start, n);
  return lru ? fullRunLru(start, n) : fullRunOther(start, n);
}

function fullRunLru(start: u32, n: u32): u32 {
  return fullRunK(start, n, true, false);
}
function fullRunOther(start: u32, n: u32): u32 {
  return fullRunK(start, n, false, false);
}
function fullRunLruLines(start: u32, n: u32): u32 {
  return fullRunK(start, n, true, true);
}
function fullRunOtherLines(start: u32, n: u32): u32 {
  return fullRunK(start, n, false, true);
}

/**
 * The data lines of the successful request at `r` (one 4 KiB page, not crossing it) at
 * host address `hpa`, on a page of flags `fl`. A call: the loops keep nothing live across it.
 */
function runLines(r: usize, hpa: u64, kind: u32, fl: u32): void {
  const size = load<u32>(r, 12);
  dataLines(<usize>load<u32>(HOT_VCPU, 16), <usize>load<u32>(HOT_LINES_P), hpa, size == 0 ? 1 : <u64>size, kind, (fl >> F_TIER_SHIFT) & 7);
}

/** Queues the data lines of the successful request at `r` (as `runLines` would run them) as record `q` of LINES_Q. */
// @ts-ignore: decorator
@inline function queueLines(q: u32, r: usize, hpa: u64, kind: u32, fl: u32): void {
  const size = load<u32>(r, 12);
  store<u64>(LINES_Q + (<usize>q << 3), lineRecord(hpa, size == 0 ? 1 : <u64>size, <u64>kind, <u64>((fl >> F_TIER_SHIFT) & 7)));
}

/**
 * The data lines of a hit of the hit loop, whose queue holds `q`: queued under LRU (a
 * full queue runs), else run at once. Returns the queue's new length.
 */
// @ts-ignore: decorator
@inline function hitLines(q: u32, lru: bool, r: usize, hpa: u64, kind: u32, fl: u32): u32 {
  if (!lru) {
    runLines(r, hpa, kind, fl);
    return q;
  }
  queueLines(q, r, hpa, kind, fl);
  if (++q == LINES_Q_CAP) {
    runQueuedLines(q);
    q = 0;
  }
  return q;
}

/** `hitLines` for the miss path, the queue's length in memory (`repl`: the policy, LRU 0). */
// @ts-ignore: decorator
@inline function missLines(repl: u32, r: usize, hpa: u64, kind: u32, fl: u32): void {
  store<u32>(HOT_LINES_N, hitLines(load<u32>(HOT_LINES_N), repl == 0, r, hpa, kind, fl));
}

/** Runs the first `q` queued data accesses through the line cache, in order. */
function runQueuedLines(q: u32): void {
  queuedLines(<usize>load<u32>(HOT_VCPU, 16), <usize>load<u32>(HOT_LINES_P), LINES_Q, LINES_Q + (<usize>q << 3));
}

/** Runs the queued data accesses, if any: before a walk uses the line cache, and at the end of a run. */
// @ts-ignore: decorator
@inline function drainLines(): void {
  const q = load<u32>(HOT_LINES_N);
  if (q != 0) {
    runQueuedLines(q);
    store<u32>(HOT_LINES_N, 0);
  }
}

// @ts-ignore: decorator
@inline function fullRunK(start: u32, n: u32, lru: bool, lines: bool): u32 {
  beginRun(start, n);
  store<u32>(HOT_RUN_EV, 0);
  while (true) {
    const rd = fullL1Hits(<usize>load<u32>(HOT_RUN_R), <usize>load<u32>(HOT_RUN_END), load<u32>(HOT_RUN_DELTA), lru, lines, 4, 8);
    store<u32>(HOT_RUN_R, <u32>(rd & ~1));
    const r = <usize>load<u32>(HOT_RUN_R);
    if ((rd & 1) != 0 || r >= <usize>load<u32>(HOT_RUN_END)) break;
    const miss = fullMissAt(r, load<u32>(HOT_RUN_DELTA), load<u32>(CFG_REPL), lines, 4, 8, 12);
    if (miss == MISS_SLOW) break;
    store<u32>(HOT_RUN_R, <u32>(r + REQ_BYTES));
    if (miss == MISS_WALK) {
      if (lines) drainLines(); // the walk's references come after the queued lines
      if (!fullWalkAt(r)) break;
    }
  }
  if (lines) drainLines();
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
@inline function fullL1Hits(r: usize, end: usize, delta: u32, lru: bool, lines: bool, DW: u32, IW: u32): usize {
  const bits = load<u64>(HOT_VCPU + 24) | 1;
  let fetches: u32 = 0;
  let dataKinds: u32 = 0;
  // data accesses queued for the line cache; only under LRU (the presets'): under random
  // replacement line fills draw from the stream TLB fills draw from, so they must keep
  // their place among them (FIFO, rare, runs them at once too)
  let q: u32 = lines && lru ? load<u32>(HOT_LINES_N) : 0;
  for (; r < end; r += REQ_BYTES) {
    const va = load<u64>(r);
    const kind = load<u32>(r, 8) - load<u32>(HOT_RUN_WHO); // another vCPU or a slab operation gives > 2
    if (crosses(va, r)) break;
    const vpn = va >> 12;
    const key = (vpn << 28) | bits;
    if (kind - 1 <= 1) {
      const set = <u32>vpn & load<u32>(HOT_GEOM + 32);
      const m = matchMask(<usize>load<u32>(HOT_GEOM + 32, 8) + (<usize>(set * DW) << 3), DW, key);
      if (m == 0) {
        // a hit in the 2 MiB DTLB (the next structure the miss path probes, and every
        // access of a VM on 2 MiB pages) stays in the loop: the same use and counts
        const v2 = va >> 21;
        const f2 = (<u32>v2 & load<u32>(HOT_BIG + 8)) * 4;
        const m2 = matchMask(<usize>load<u32>(HOT_BIG + 8, 4) + (<usize>f2 << 3), 4, (v2 << 28) | bits | (<u64>SZ_2M << 1));
        if (m2 == 0) break;
        const slot2 = f2 + ctz(m2);
        const fl2 = bigHit(r, S_DTLB2M, slot2, kind, C_HIT_D2M, delta, lru);
        if (fl2 == DENIED) break; // the miss path finds the same hit and leaves it to the generic path
        dataKinds += kind;
        if (lines) q = hitLines(q, lru, r, bigHpa(S_DTLB2M, slot2, va & 0x1FFFFF), kind, fl2);
        continue;
      }
      const slot = set * DW + ctz(m);
      const fl = load<u32>(<usize>load<u32>(HOT_GEOM + 32, 20) + (<usize>slot << 2));
      if (!rightsAllow(fl, kind)) {
        r |= 1; // a hit the rights deny: the generic path finds out why
        break;
      }
      if (lru) store<u32>(<usize>load<u32>(HOT_GEOM + 32, 12) + (<usize>slot << 2), <u32>r + delta);
      countOtherTier(fl, kind);
      dataKinds += kind;
      if (lines) q = hitLines(q, lru, r, load<u64>(<usize>load<u32>(HOT_GEOM + 32, 24) + (<usize>slot << 3)) + (va & 0xFFF), kind, fl);
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
      if (lines) q = hitLines(q, lru, r, load<u64>(<usize>load<u32>(HOT_GEOM, 24) + (<usize>slot << 3)) + (va & 0xFFF), KIND_FETCH, fl);
    }
  }
  if (lines && lru) store<u32>(HOT_LINES_N, q);
  addRunKinds(fetches, dataKinds);
  return r;
}

/**
 * An L1 4 KiB miss of the full model at `r`: when the L1s of large pages miss too, the
 * 4 KiB STLB entry hits and its rights allow the access, the STLB use, the L1 fill and
 * the counts. False (and nothing changed) for anything else: the generic path runs it.
 */
// @ts-ignore: decorator
@inline function fullMissAt(r: usize, delta: u32, repl: u32, lines: bool, DW: u32, IW: u32, SW: u32): u32 {
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
    const f2 = (<u32>v2 & load<u32>(HOT_BIG + 8)) * 4;
    const m2 = matchMask(<usize>load<u32>(HOT_BIG + 8, 4) + (<usize>f2 << 3), 4, (v2 << 28) | bits | (<u64>SZ_2M << 1));
    if (m2 != 0) return bigL1Hit(r, S_DTLB2M, f2 + ctz(m2), kind, va & 0x1FFFFF, C_HIT_D2M, delta, repl, lines);
    const v1 = va >> 30;
    const f1 = (<u32>v1 & load<u32>(HOT_BIG + 16)) * 4;
    const m1 = matchMask(<usize>load<u32>(HOT_BIG + 16, 4) + (<usize>f1 << 3), 4, (v1 << 28) | bits | (<u64>2 << 1));
    if (m1 != 0) return bigL1Hit(r, S_DTLB1G, f1 + ctz(m1), kind, va & 0x3FFFFFFF, C_HIT_D1G, delta, repl, lines);
  } else {
    const v2 = va >> 21;
    const f2 = (<u32>v2 & load<u32>(HOT_BIG)) * 8;
    const m2 = matchMask(<usize>load<u32>(HOT_BIG, 4) + (<usize>f2 << 3), 8, (v2 << 28) | bits | (<u64>SZ_2M << 1));
    if (m2 != 0) return bigL1Hit(r, S_ITLB2M, f2 + ctz(m2), kind, va & 0x1FFFFF, C_HIT_I2M, delta, repl, lines);
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
  if (lines) missLines(repl, r, load<u64>(<usize>load<u32>(g, 24) + (<usize>slot << 3)) + (va & 0xFFF), kind, fl);
  return MISS_DONE;
}

/** What `bigHit` returns when the entry's rights deny the access (flags fit in 16 bits). */
const DENIED: u32 = 0xFFFFFFFF;

/**
 * The use of a hit of the request at `r` in the L1 of large pages `s` at `slot`: when
 * the rights allow it, its stamp (under LRU) and its counts but its kind's; returns
 * the entry's flags, or DENIED (nothing changed: the generic path runs it).
 */
// @ts-ignore: decorator
@inline function bigHit(r: usize, s: i32, slot: u32, kind: u32, counter: i32, delta: u32, lru: bool): u32 {
  const p = <usize>load<u32>(HOT_LINES_P);
  const d = sd(s);
  const fl = load<u32>(p + <usize>load<u32>(d + SD_FLAGS) + (<usize>slot << 2));
  if (!rightsAllow(fl, kind)) return DENIED;
  if (lru) store<u32>(p + <usize>load<u32>(d + SD_STAMP) + (<usize>slot << 2), <u32>r + delta);
  bump(<usize>load<u32>(HOT_VCPU, 16), counter);
  countOtherTier(fl, kind);
  return fl;
}

/** The host address of byte `off` of the page of the L1 of large pages `s` at `slot`. */
// @ts-ignore: decorator
@inline function bigHpa(s: i32, slot: u32, off: u64): u64 {
  return load<u64>(<usize>load<u32>(HOT_LINES_P) + <usize>load<u32>(sd(s) + SD_D0) + (<usize>slot << 3)) + off;
}

/**
 * A hit of the request at `r` in the L1 of large pages `s` at `slot` (`off`: the
 * offset in the page), from the miss path: `bigHit`, the request's kind counted and its
 * data lines.
 */
// @ts-ignore: decorator
@inline function bigL1Hit(r: usize, s: i32, slot: u32, kind: u32, off: u64, counter: i32, delta: u32, repl: u32, lines: bool): u32 {
  const fl = bigHit(r, s, slot, kind, counter, delta, repl == 0);
  if (fl == DENIED) return MISS_SLOW;
  countOne(kind);
  if (lines) missLines(repl, r, bigHpa(s, slot, off), kind, fl);
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
  if (ev == 0) {
    bump(c, C_DATA + <i32>(((load<u32>(TR_FLAGS) >> F_TIER_SHIFT) & 7) * 3 + kind));
    if (linesData) runLines(r, load<u64>(TR_EXACT), kind, load<u32>(TR_FLAGS));
  }
  // the next request's stamp comes after the walk's
  store<u32>(HOT_RUN_DELTA, clock - <u32>r);
  store<u32>(HOT_RUN_EV, ev);
  return ev == 0;
}
