// Set-associative structures: the TLBs, the paging-structure caches and the nested TLB
// share this code. Each structure of a pCPU block is five arrays laid out set by set:
//   keys  u64 x wpad   tag; 0 = invalid (every valid key has bit 0 set)
//   d0    u64 x wpad   host-physical page (TLB), next table gPA (PSC), host frame (NTLB)
//   d1    u64 x wpad   guest-physical page (TLB, for EPT-violation reports)
//   flags u32 x wpad   rights, key, tier (layout.ts F_*)
//   stamp u32 x wpad   replacement clock at the last use (LRU) or fill (FIFO)
// Ways are padded to an even count so that a set is probed with i64x2 compares;
// padding ways keep key 0 and are never chosen as victims.
//
// Invariant: a way's stamp is 0 exactly when its key is 0 (invalid), so that the
// smallest stamp of a full-width set is its first invalid way if it has one, else its
// LRU/FIFO victim (`oldestWayK`): every write of key 0 writes stamp 0 (`clearWay`),
// and every stamp written with a key is at least 1.
//
// Key layout (64 bits): vpn << 28 | vpid << 16 | pcid << 4 | global << 3 | size << 1 | 1
// (vpn is the tag: the address shifted by the entry's page size, or a PSC tag, or a gPFN).
import {
  STRUCTS, SD_BYTES, SD_SETS, SD_WAYS, SD_WPAD, SD_KEYS, SD_D0, SD_D1, SD_FLAGS, SD_STAMP,
  CFG_REPL, CFG_RNG, CFG_PCPU_TAB, CFG_PCPU_BYTES, CFG_PCPUS, NSTRUCTS, SCRATCH, S_LINES,
} from "./layout";

/** The replacement clock: one tick per use of a structure (a page access is at least one). */
export let clock: u32 = 1;

// Tags (the conformance model only): a u32 per slot beside the keys, `tagOf(key)`, at
// `tagDelta` from the slot's stamp (a shadow of the pCPU blocks), so that the inline
// runs probe a 4-way set with one 16-byte load. In that model every key of a structure
// is `vpn << 28` plus the same low bits, so a tag (vpn >> 4 at 4 KiB pages, where
// every structure the runs probe has at least 16 sets: the set gives the low bits;
// the whole vpn at 2 MiB) tells the keys of a set apart; 0xFFFFFFFF marks an invalid
// way (at 4 KiB pages, the tag of the top 64 KiB of the address space too: those
// requests take the generic path).
export let tagsOn = false;
export let tagDelta: usize = 0;
export let tagShift: u64 = 32;
export const TAG_NONE: u32 = 0xFFFFFFFF;

export function tagsInit(delta: usize, shift: u64): void {
  tagsOn = true;
  tagDelta = delta;
  tagShift = shift;
}

/** The tag of `key` (TAG_NONE for an invalid way). */
// @ts-ignore: decorator
@inline export function tagOf(key: u64): u32 {
  return key == 0 ? TAG_NONE : <u32>(key >> tagShift);
}

export const KEY_VPN_SHIFT: u64 = 28;
export const KEY_GLOBAL: u64 = 8;
export const KEY_CTX_MASK: u64 = 0x0FFFFFF0; // vpid and pcid
export const KEY_VPID_MASK: u64 = 0x0FFF0000;

// @ts-ignore: decorator
@inline export function sd(s: i32): usize {
  return STRUCTS + <usize>s * SD_BYTES;
}

// @ts-ignore: decorator
@inline export function pcpuBase(pcpu: u32): usize {
  return <usize>load<u32>(CFG_PCPU_TAB) + <usize>pcpu * <usize>load<u32>(CFG_PCPU_BYTES);
}

// @ts-ignore: decorator
@inline export function present(s: i32): bool {
  return load<u32>(sd(s) + SD_SETS) != 0;
}

/** Index of the first way of the set for `tag`: slot numbers are set * wpad + way. */
// @ts-ignore: decorator
@inline export function setSlot(s: i32, tag: u64): u32 {
  const d = sd(s);
  return (<u32>tag & (load<u32>(d + SD_SETS) - 1)) * load<u32>(d + SD_WPAD);
}

// @ts-ignore: decorator
@inline export function keyAt(p: usize, s: i32, slot: u32): usize {
  return p + <usize>load<u32>(sd(s) + SD_KEYS) + (<usize>slot << 3);
}
// @ts-ignore: decorator
@inline export function d0At(p: usize, s: i32, slot: u32): usize {
  return p + <usize>load<u32>(sd(s) + SD_D0) + (<usize>slot << 3);
}
// @ts-ignore: decorator
@inline export function d1At(p: usize, s: i32, slot: u32): usize {
  return p + <usize>load<u32>(sd(s) + SD_D1) + (<usize>slot << 3);
}
// @ts-ignore: decorator
@inline export function flagsAt(p: usize, s: i32, slot: u32): usize {
  return p + <usize>load<u32>(sd(s) + SD_FLAGS) + (<usize>slot << 2);
}
// @ts-ignore: decorator
@inline export function stampAt(p: usize, s: i32, slot: u32): usize {
  return p + <usize>load<u32>(sd(s) + SD_STAMP) + (<usize>slot << 2);
}

/** Way of `key` in a set of `wpad` keys at `keys`, or -1; 4- and 8-way sets unrolled. */
// @ts-ignore: decorator
@inline export function probeSet(keys: usize, wpad: u32, key: u64): i32 {
  const k = i64x2.splat(key);
  if (wpad == 4) {
    const m = i64x2.bitmask(i64x2.eq(v128.load(keys), k)) | (i64x2.bitmask(i64x2.eq(v128.load(keys, 16), k)) << 2);
    return m ? ctz(m) : -1;
  }
  if (wpad == 8) {
    const m =
      i64x2.bitmask(i64x2.eq(v128.load(keys), k)) |
      (i64x2.bitmask(i64x2.eq(v128.load(keys, 16), k)) << 2) |
      (i64x2.bitmask(i64x2.eq(v128.load(keys, 32), k)) << 4) |
      (i64x2.bitmask(i64x2.eq(v128.load(keys, 48), k)) << 6);
    return m ? ctz(m) : -1;
  }
  if (wpad == 12) {
    const m =
      i64x2.bitmask(i64x2.eq(v128.load(keys), k)) |
      (i64x2.bitmask(i64x2.eq(v128.load(keys, 16), k)) << 2) |
      (i64x2.bitmask(i64x2.eq(v128.load(keys, 32), k)) << 4) |
      (i64x2.bitmask(i64x2.eq(v128.load(keys, 48), k)) << 6) |
      (i64x2.bitmask(i64x2.eq(v128.load(keys, 64), k)) << 8) |
      (i64x2.bitmask(i64x2.eq(v128.load(keys, 80), k)) << 10);
    return m ? ctz(m) : -1;
  }
  return probeKeys(keys, wpad, key);
}

/**
 * Bit w set when way w of the set at `keys` holds `key`. `W` must be a constant
 * multiple of 4 up to 16 (the specialised loops' way counts): it folds to straight-line
 * i64x2 compares whose results are packed (one i32 lane per way, then narrowed) so that
 * one movemask gives the mask.
 */
// @ts-ignore: decorator
@inline export function matchMask(keys: usize, W: u32, key: u64): u32 {
  const k = i64x2.splat(key);
  const a = v128.shuffle<u32>(i64x2.eq(v128.load(keys), k), i64x2.eq(v128.load(keys, 16), k), 0, 2, 4, 6);
  if (W == 4) return i32x4.bitmask(a);
  const b = v128.shuffle<u32>(i64x2.eq(v128.load(keys, 32), k), i64x2.eq(v128.load(keys, 48), k), 0, 2, 4, 6);
  const ab = i16x8.narrow_i32x4_s(a, b);
  if (W == 8) return i16x8.bitmask(ab);
  const c = v128.shuffle<u32>(i64x2.eq(v128.load(keys, 64), k), i64x2.eq(v128.load(keys, 80), k), 0, 2, 4, 6);
  const d = W >= 16 ? v128.shuffle<u32>(i64x2.eq(v128.load(keys, 96), k), i64x2.eq(v128.load(keys, 112), k), 0, 2, 4, 6) : c;
  const m = i8x16.bitmask(i8x16.narrow_i16x8_s(ab, i16x8.narrow_i32x4_s(c, d)));
  return W >= 16 ? m : m & 0xFFF;
}

/**
 * `oldestWay` for a full-width set of constant `W` ways (a multiple of 4, no padding):
 * the first invalid way, else the smallest stamp; by the stamp invariant (above), the
 * first smallest stamp is both.
 */
// @ts-ignore: decorator
@inline export function oldestWayK(keys: usize, stamps: usize, W: u32): u32 {
  let m = v128.load(stamps);
  if (W >= 8) m = i32x4.min_u(m, v128.load(stamps, 16));
  if (W >= 12) m = i32x4.min_u(m, v128.load(stamps, 32));
  if (W >= 16) m = i32x4.min_u(m, v128.load(stamps, 48));
  m = i32x4.min_u(m, v128.shuffle<u32>(m, m, 2, 3, 0, 1));
  m = i32x4.min_u(m, v128.shuffle<u32>(m, m, 1, 0, 3, 2));
  // the first lane equal to the minimum
  let b = i32x4.bitmask(i32x4.eq(v128.load(stamps), m));
  if (W >= 8) b |= i32x4.bitmask(i32x4.eq(v128.load(stamps, 16), m)) << 4;
  if (W >= 12) b |= i32x4.bitmask(i32x4.eq(v128.load(stamps, 32), m)) << 8;
  if (W >= 16) b |= i32x4.bitmask(i32x4.eq(v128.load(stamps, 48), m)) << 12;
  return ctz(b);
}

/** Way of `key` among `wpad` keys at `keys`, or -1. */
// @ts-ignore: decorator
@inline export function probeKeys(keys: usize, wpad: u32, key: u64): i32 {
  const k = i64x2.splat(key);
  for (let w: u32 = 0; w < wpad; w += 2) {
    const m = i64x2.bitmask(i64x2.eq(v128.load(keys + (<usize>w << 3)), k));
    if (m) return <i32>w + ctz(m);
  }
  return -1;
}

/**
 * Looks `key` up in structure `s` of pCPU block `p`; returns the slot or -1.
 * A hit is a use for LRU.
 */
export function lookup(p: usize, s: i32, tag: u64, key: u64): i32 {
  const d = sd(s);
  const sets = load<u32>(d + SD_SETS);
  if (sets == 0) return -1;
  const wpad = load<u32>(d + SD_WPAD);
  const first = (<u32>tag & (sets - 1)) * wpad;
  const w = probeSet(p + <usize>load<u32>(d + SD_KEYS) + (<usize>first << 3), wpad, key);
  if (w < 0) return -1;
  const slot = first + <u32>w;
  // every use ticks the clock: one walk can use a structure several times
  if (load<u32>(CFG_REPL) == 0) store<u32>(p + <usize>load<u32>(d + SD_STAMP) + (<usize>slot << 2), ++clock);
  return <i32>slot;
}

/** Like `lookup` but neither a use nor a miss: for invalidation. */
export function find(p: usize, s: i32, tag: u64, key: u64): i32 {
  const d = sd(s);
  const sets = load<u32>(d + SD_SETS);
  if (sets == 0) return -1;
  const wpad = load<u32>(d + SD_WPAD);
  const first = (<u32>tag & (sets - 1)) * wpad;
  const w = probeSet(p + <usize>load<u32>(d + SD_KEYS) + (<usize>first << 3), wpad, key);
  return w < 0 ? -1 : <i32>(first + <u32>w);
}

/** Draws the next xorshift32 number of the core's replacement stream. */
export function nextRandom(): u32 {
  return drawRandom();
}

// @ts-ignore: decorator
@inline export function drawRandom(): u32 {
  let x = load<u32>(CFG_RNG);
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  store<u32>(CFG_RNG, x);
  return x;
}

/**
 * `victim` for a full-width set of constant `W` ways at `keys` and `stamps` under
 * replacement policy `repl` (CFG_REPL): the way a fill goes to.
 */
// @ts-ignore: decorator
@inline export function victimK(keys: usize, stamps: usize, W: u32, repl: u32): u32 {
  if (repl == 2) {
    const z = matchMask(keys, W, 0);
    return z != 0 ? ctz(z) : drawRandom() % W;
  }
  return oldestWayK(keys, stamps, W);
}

/**
 * The way of a set a fill goes to under LRU or FIFO: the first invalid way, else the
 * smallest stamp (stamps only grow between renormalisations, so it is unique).
 */
// @ts-ignore: decorator
@inline export function oldestWay(keys: usize, stamps: usize, ways: u32, wpad: u32): u32 {
  const z = probeSet(keys, wpad, 0);
  if (z >= 0 && <u32>z < ways) return <u32>z;
  if ((ways & 3) == 0) {
    let m = v128.load(stamps);
    for (let w: u32 = 4; w < ways; w += 4) m = i32x4.min_u(m, v128.load(stamps + (<usize>w << 2)));
    m = i32x4.min_u(m, v128.shuffle<u32>(m, m, 2, 3, 0, 1));
    m = i32x4.min_u(m, v128.shuffle<u32>(m, m, 1, 0, 3, 2));
    const k = i32x4.splat(i32x4.extract_lane(m, 0));
    for (let w: u32 = 0; w < ways; w += 4) {
      const b = i32x4.bitmask(i32x4.eq(v128.load(stamps + (<usize>w << 2)), k));
      if (b) return w + ctz(b);
    }
  }
  let best: u32 = 0;
  let bestStamp = load<u32>(stamps);
  for (let w: u32 = 1; w < ways; w++) {
    const t = load<u32>(stamps + (<usize>w << 2));
    if (t < bestStamp) {
      bestStamp = t;
      best = w;
    }
  }
  return best;
}

/** The slot a fill of `tag` goes to: the first invalid way, else the policy's victim. */
export function victim(p: usize, s: i32, tag: u64): u32 {
  const d = sd(s);
  const wpad = load<u32>(d + SD_WPAD);
  const first = (<u32>tag & (load<u32>(d + SD_SETS) - 1)) * wpad;
  return first + victimWay(p + <usize>load<u32>(d + SD_KEYS) + (<usize>first << 3), p + <usize>load<u32>(d + SD_STAMP) + (<usize>first << 2), load<u32>(d + SD_WAYS), wpad);
}

/** The way of the set at `keys`/`stamps` a fill goes to; common way counts take straight-line code. */
// @ts-ignore: decorator
@inline export function victimWay(keys: usize, stamps: usize, ways: u32, wpad: u32): u32 {
  const repl = load<u32>(CFG_REPL);
  if (ways == wpad) {
    if (ways == 4) return victimK(keys, stamps, 4, repl);
    if (ways == 12) return victimK(keys, stamps, 12, repl);
    if (ways == 8) return victimK(keys, stamps, 8, repl);
  }
  if (repl == 2) {
    const w0 = probeSet(keys, wpad, 0);
    if (w0 >= 0 && <u32>w0 < ways) return <u32>w0;
    return drawRandom() % ways;
  }
  return oldestWay(keys, stamps, ways, wpad);
}

/** Fills `key` into structure `s` (which must be present); returns the slot. */
export function fill(p: usize, s: i32, tag: u64, key: u64, d0: u64, d1: u64, flags: u32): u32 {
  const d = sd(s);
  const wpad = load<u32>(d + SD_WPAD);
  const first = (<u32>tag & (load<u32>(d + SD_SETS) - 1)) * wpad;
  const keys = p + <usize>load<u32>(d + SD_KEYS) + (<usize>first << 3);
  const stamps = p + <usize>load<u32>(d + SD_STAMP) + (<usize>first << 2);
  const w = victimWay(keys, stamps, load<u32>(d + SD_WAYS), wpad);
  const slot = first + w;
  store<u64>(keys + (<usize>w << 3), key);
  store<u64>(p + <usize>load<u32>(d + SD_D0) + (<usize>slot << 3), d0);
  store<u64>(p + <usize>load<u32>(d + SD_D1) + (<usize>slot << 3), d1);
  store<u32>(p + <usize>load<u32>(d + SD_FLAGS) + (<usize>slot << 2), flags);
  store<u32>(stamps + (<usize>w << 2), ++clock);
  if (tagsOn) store<u32>(stamps + (<usize>w << 2) + tagDelta, tagOf(key));
  return slot;
}

/** Invalidates `key` in structure `s` if present. */
export function invalidate(p: usize, s: i32, tag: u64, key: u64): void {
  const slot = find(p, s, tag, key);
  if (slot >= 0) clearWay(p, s, <u32>slot);
}

/** Makes the way at `slot` of structure `s` invalid: key 0, stamp 0. */
// @ts-ignore: decorator
@inline function clearWay(p: usize, s: i32, slot: u32): void {
  store<u64>(keyAt(p, s, slot), 0);
  store<u32>(stampAt(p, s, slot), 0);
  if (tagsOn) store<u32>(stampAt(p, s, slot) + tagDelta, TAG_NONE);
}

/**
 * Invalidates every entry of structure `s` on pCPU block `p` whose key, masked with
 * `mask`, equals `match`, except global entries when `keepGlobal`.
 */
export function scan(p: usize, s: i32, mask: u64, match: u64, keepGlobal: bool): void {
  const d = sd(s);
  const sets = load<u32>(d + SD_SETS);
  if (sets == 0) return;
  const n = sets * load<u32>(d + SD_WPAD);
  const keys = p + <usize>load<u32>(d + SD_KEYS);
  for (let i: u32 = 0; i < n; i++) {
    const a = keys + (<usize>i << 3);
    const k = load<u64>(a);
    if (k != 0 && (k & mask) == match && !(keepGlobal && (k & KEY_GLOBAL) != 0)) clearWay(p, s, i);
  }
}

/** `scan` over every pCPU. */
export function scanAll(s: i32, mask: u64, match: u64, keepGlobal: bool): void {
  const n = load<u32>(CFG_PCPUS);
  for (let c: u32 = 0; c < n; c++) scan(pcpuBase(c), s, mask, match, keepGlobal);
}

/**
 * Keeps LRU/FIFO order exact when the 32-bit clock nears its end: each set's stamps
 * are replaced by their ranks (1..ways) and the clock restarts above every rank.
 */
export function renormalise(): void {
  const n = load<u32>(CFG_PCPUS);
  let maxWays: u32 = 0;
  for (let c: u32 = 0; c < n; c++) {
    const p = pcpuBase(c);
    for (let s = 0; s < NSTRUCTS; s++) {
      // the line cache keeps ranks, not stamps (cache.ts)
      if (s == S_LINES) continue;
      const ways = renormaliseStruct(p, s);
      if (ways > maxWays) maxWays = ways;
    }
  }
  clock = maxWays + 1;
}

/**
 * Replaces the stamps of each set of structure `s` on pCPU block `p` by their ranks
 * (`rankSet`). Returns the structure's ways.
 */
function renormaliseStruct(p: usize, s: i32): u32 {
  const d = sd(s);
  const sets = load<u32>(d + SD_SETS);
  const wpad = load<u32>(d + SD_WPAD);
  const ways = load<u32>(d + SD_WAYS);
  const base = p + <usize>load<u32>(d + SD_STAMP);
  const kbase = p + <usize>load<u32>(d + SD_KEYS);
  for (let st: u32 = 0; st < sets; st++) rankSet(base + (<usize>(st * wpad) << 2), kbase + (<usize>(st * wpad) << 3), ways);
  return ways;
}

/**
 * Replaces the `ways` stamps at `stamps` (of the keys at `keys`) by their ranks: valid
 * ways get their rank among the valid ways (1..), invalid ones keep 0.
 */
function rankSet(stamps: usize, keys: usize, ways: u32): void {
  for (let w: u32 = 0; w < ways; w++) {
    const t = load<u32>(stamps + (<usize>w << 2));
    let rank: u32 = 0;
    if (load<u64>(keys + (<usize>w << 3)) != 0) {
      rank = 1;
      for (let v: u32 = 0; v < ways; v++) {
        if (load<u64>(keys + (<usize>v << 3)) == 0) continue;
        const u = load<u32>(stamps + (<usize>v << 2));
        if (u < t || (u == t && v < w)) rank++;
      }
    }
    store<u32>(SCRATCH + (<usize>w << 2), rank);
  }
  memory.copy(stamps, SCRATCH, <usize>ways << 2);
}

export function structureCount(): i32 {
  return NSTRUCTS;
}

/**
 * Invalidates every entry of structure `s` on `p` tagged with `vpid` (any PCID, global
 * or not) whose page contains `va`: INVVPID's individual-address type.
 */
export function scanVa(p: usize, s: i32, vpid: u32, va: u64): void {
  const d = sd(s);
  const sets = load<u32>(d + SD_SETS);
  if (sets == 0) return;
  const n = sets * load<u32>(d + SD_WPAD);
  const keys = p + <usize>load<u32>(d + SD_KEYS);
  for (let i: u32 = 0; i < n; i++) {
    const a = keys + (<usize>i << 3);
    const k = load<u64>(a);
    if (k == 0 || ((k & KEY_VPID_MASK) >> 16) != <u64>vpid) continue;
    const size = <u32>((k >> 1) & 3);
    if ((k >> KEY_VPN_SHIFT) == (va >> <u64>(12 + 9 * size))) clearWay(p, s, i);
  }
}

/** Invalidates the entries of PSC structure `s` on `p` tagged with `vpid` and `tag`, in every PCID. */
export function scanTag(p: usize, s: i32, vpid: u32, tag: u64): void {
  const d = sd(s);
  const sets = load<u32>(d + SD_SETS);
  if (sets == 0) return;
  const n = sets * load<u32>(d + SD_WPAD);
  const keys = p + <usize>load<u32>(d + SD_KEYS);
  for (let i: u32 = 0; i < n; i++) {
    const a = keys + (<usize>i << 3);
    const k = load<u64>(a);
    if (k != 0 && ((k & KEY_VPID_MASK) >> 16) == <u64>vpid && (k >> KEY_VPN_SHIFT) == tag) clearWay(p, s, i);
  }
}
