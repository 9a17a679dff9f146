// Page tables in real x86-64 formats (Intel SDM vol. 3A 4.5, vol. 3C 29.3): guest
// tables whose links hold guest-physical addresses, and EPT tables whose links hold
// host-physical ones. Each table page lives in a 4 KiB slot found through the host
// frame hash (heap.ts). Map operations are host calls: they are never counted as walk
// references and never flush anything.
import {
  VM_EPT_ROOT, IO_FRAMES, IO_NFRAMES, IO_USED, IO_RAW, IO_LEVEL,
} from "./layout";
import { slotAlloc, slotOf, hashReserve, hashSet, hashDelete, slotFree } from "./heap";
import { vmRec } from "./state";

// Guest entry bits
export const G_P: u64 = 1;
export const G_RW: u64 = 2;
export const G_US: u64 = 4;
export const G_A: u64 = 0x20;
export const G_D: u64 = 0x40;
export const G_PS: u64 = 0x80;
export const G_G: u64 = 0x100;
export const G_KEY_SHIFT: u64 = 59;
export const G_XD: u64 = 1 << 63;
// EPT entry bits
export const E_R: u64 = 1;
export const E_W: u64 = 2;
export const E_X: u64 = 4;
export const E_RWX: u64 = 7;
export const E_TYPE_SHIFT: u64 = 3;
export const E_LARGE: u64 = 0x80;
export const E_A: u64 = 0x100;
export const E_D: u64 = 0x200;
/** Address bits 12..45 (MAXPHYADDR 46). */
export const ADDR_MASK: u64 = 0x00003FFFFFFFF000;
/** Address bits 46..51: reserved below MAXPHYADDR 52. */
export const HIGH_ADDR_MASK: u64 = 0x000FC00000000000;

export const ST_OK: u32 = 0;
export const ST_CONFLICT: u32 = 1;
export const ST_NO_FRAMES: u32 = 2;
export const ST_UNBACKED: u32 = 3;
export const ST_NOT_MAPPED: u32 = 4;
export const ST_OOM: u32 = 5;

export const NONE: u64 = 0xFFFFFFFFFFFFFFFF;

// @ts-ignore: decorator
@inline export function indexAt(addr: u64, level: u32): usize {
  return <usize>((addr >> (<u64>(3 + 9 * level))) & 511);
}

/** The slot of the table page at host address `hpa`, or 0. */
// @ts-ignore: decorator
@inline export function tableSlot(hpa: u64): usize {
  return slotOf(hpa >> 12);
}

/** EPT leaf test at `level` (4..1). */
// @ts-ignore: decorator
@inline export function eptIsLeaf(e: u64, level: u32): bool {
  return level == 1 || ((level == 2 || level == 3) && (e & E_LARGE) != 0);
}

// @ts-ignore: decorator
@inline export function guestIsLeaf(e: u64, level: u32): bool {
  return level == 1 || ((level == 2 || level == 3) && (e & G_PS) != 0);
}

/**
 * Silent EPT translation (no counting, no A/D): the host address of `gpa`, or NONE
 * when a level is not present.
 */
export function eptTranslate(vm: u32, gpa: u64): u64 {
  let t = load<u64>(vmRec(vm) + VM_EPT_ROOT);
  for (let level: u32 = 4; level >= 1; level--) {
    const slot = tableSlot(t);
    if (slot == 0) return NONE;
    const e = load<u64>(slot + (indexAt(gpa, level) << 3));
    if ((e & E_RWX) == 0) return NONE;
    if (eptIsLeaf(e, level)) {
      const span: u64 = (<u64>1 << (<u64>(3 + 9 * level))) - 1;
      return (e & ADDR_MASK & ~span) | (gpa & span);
    }
    t = e & ADDR_MASK;
  }
  return NONE;
}

/**
 * The slot of the EPT's last-level table over `gpa`'s 2 MiB region, or 0 when the walk
 * stops above it (not present, or a 2 MiB / 1 GiB leaf): for runs of pages, which then
 * read their leaf entries without a walk each.
 */
export function eptLeafTable(vm: u32, gpa: u64): usize {
  let t = load<u64>(vmRec(vm) + VM_EPT_ROOT);
  for (let level: u32 = 4; level >= 2; level--) {
    const slot = tableSlot(t);
    if (slot == 0) return 0;
    const e = load<u64>(slot + (indexAt(gpa, level) << 3));
    if ((e & E_RWX) == 0 || eptIsLeaf(e, level)) return 0;
    t = e & ADDR_MASK;
  }
  return tableSlot(t);
}

// ---- new table pages from the frames the host offered (IO_FRAMES) -----------------

/** Takes the next offered frame and gives it a slot; returns the slot (0: out of memory). */
function takeFrame(): usize {
  const used = load<u32>(IO_USED);
  const hpa = load<u64>(IO_FRAMES + (<usize>used << 4) + 8);
  if (!hashReserve()) return 0;
  const slot = slotAlloc();
  if (slot == 0) return 0;
  hashSet(hpa >> 12, slot);
  store<u32>(IO_USED, used + 1);
  return slot;
}

function offeredLink(ept: bool): u64 {
  // The link written into the parent: the frame's host address (EPT) or guest one.
  const used = load<u32>(IO_USED);
  return load<u64>(IO_FRAMES + (<usize>used << 4) + (ept ? 8 : 0));
}

/** Registers an offered frame as a root table; returns its slot or 0. */
export function newRoot(): usize {
  store<u32>(IO_USED, 0);
  if (load<u32>(IO_NFRAMES) < 1) return 0;
  return takeFrame();
}

export function releaseTable(hpa: u64): bool {
  const slot = tableSlot(hpa);
  if (slot == 0) return false;
  hashDelete(hpa >> 12);
  slotFree(slot);
  return true;
}

// ---- generic map / unmap / protect over one tree ----------------------------------

/** Host address of the table a link points to (guest links go through the EPT). */
// @ts-ignore: decorator
@inline function follow(vm: u32, ept: bool, link: u64): u64 {
  return ept ? link : eptTranslate(vm, link);
}

// @ts-ignore: decorator
@inline function present(ept: bool, e: u64): bool {
  return ept ? (e & E_RWX) != 0 : (e & G_P) != 0;
}

// @ts-ignore: decorator
@inline function isLeaf(ept: bool, e: u64, level: u32): bool {
  return ept ? eptIsLeaf(e, level) : guestIsLeaf(e, level);
}

/**
 * Installs `leaf` for `addr` at `target` level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB) in the
 * tree at host address `rootHpa`, creating missing tables from the offered frames.
 * Checks first, then changes, so an error leaves the tree as it was.
 */
export function mapLeaf(vm: u32, ept: bool, rootHpa: u64, addr: u64, target: u32, leaf: u64): u32 {
  // The caller resets IO_USED: a range of maps shares the offered frames.
  // pass 1: check
  let t = rootHpa;
  let missing: u32 = 0;
  for (let level: u32 = 4; level > target; level--) {
    if (t == NONE) return ST_UNBACKED;
    const slot = tableSlot(t);
    if (slot == 0) return ST_UNBACKED;
    const e = load<u64>(slot + (indexAt(addr, level) << 3));
    if (!present(ept, e)) {
      missing = level - target;
      break;
    }
    if (isLeaf(ept, e, level)) return ST_CONFLICT;
    t = follow(vm, ept, e & ADDR_MASK);
  }
  if (missing == 0) {
    if (t == NONE || tableSlot(t) == 0) return ST_UNBACKED;
    const e = load<u64>(tableSlot(t) + (indexAt(addr, target) << 3));
    if (present(ept, e)) return ST_CONFLICT;
  }
  if (missing > load<u32>(IO_NFRAMES) - load<u32>(IO_USED)) return ST_NO_FRAMES;
  // pass 2: change
  t = rootHpa;
  for (let level: u32 = 4; level > target; level--) {
    const slot = tableSlot(t);
    const a = slot + (indexAt(addr, level) << 3);
    const e = load<u64>(a);
    if (present(ept, e)) {
      t = follow(vm, ept, e & ADDR_MASK);
      continue;
    }
    const link = offeredLink(ept);
    const hpa = load<u64>(IO_FRAMES + (<usize>load<u32>(IO_USED) << 4) + 8);
    if (takeFrame() == 0) return ST_OOM;
    store<u64>(a, link | (ept ? E_RWX : G_P | G_RW | G_US));
    t = hpa;
  }
  store<u64>(tableSlot(t) + (indexAt(addr, target) << 3), leaf);
  return ST_OK;
}

/** Address of the leaf entry of exactly `target` level for `addr`, or 0. */
export function leafAt(vm: u32, ept: bool, rootHpa: u64, addr: u64, target: u32): usize {
  let t = rootHpa;
  for (let level: u32 = 4; level >= target; level--) {
    if (t == NONE) return 0;
    const slot = tableSlot(t);
    if (slot == 0) return 0;
    const a = slot + (indexAt(addr, level) << 3);
    const e = load<u64>(a);
    if (!present(ept, e)) return 0;
    const leaf = isLeaf(ept, e, level);
    if (level == target) return leaf ? a : 0;
    if (leaf) return 0;
    t = follow(vm, ept, e & ADDR_MASK);
  }
  return 0;
}

/**
 * Reads back the entry that maps `addr`: the leaf, or the first non-present entry.
 * Writes IO_RAW and IO_LEVEL; returns false when a table could not be found.
 */
export function entryAt(vm: u32, ept: bool, rootHpa: u64, addr: u64): bool {
  let t = rootHpa;
  for (let level: u32 = 4; level >= 1; level--) {
    if (t == NONE) return false;
    const slot = tableSlot(t);
    if (slot == 0) return false;
    const e = load<u64>(slot + (indexAt(addr, level) << 3));
    store<u64>(IO_RAW, e);
    store<u32>(IO_LEVEL, level);
    if (!present(ept, e) || isLeaf(ept, e, level)) return true;
    t = follow(vm, ept, e & ADDR_MASK);
  }
  return true;
}

/** Address of the entry at `level` for `addr` (the path above must exist), or 0. */
export function entrySlotAt(vm: u32, ept: bool, rootHpa: u64, addr: u64, level: u32): usize {
  let t = rootHpa;
  for (let l: u32 = 4; l >= 1; l--) {
    if (t == NONE) return 0;
    const slot = tableSlot(t);
    if (slot == 0) return 0;
    const a = slot + (indexAt(addr, l) << 3);
    if (l == level) return a;
    const e = load<u64>(a);
    if (!present(ept, e) || isLeaf(ept, e, l)) return 0;
    t = follow(vm, ept, e & ADDR_MASK);
  }
  return 0;
}

export function sizeLevel(size: u32): u32 {
  return size + 1;
}

/**
 * Lists the leaves of the EPT at host address `rootHpa` with gPA >= `from`, in
 * address order, into `out` as (gpa, hpa, level) u64 triples, at most `max` of them.
 * Returns how many were written; IO_RAW holds the gPA to continue from (NONE: done).
 */
export function eptLeaves(rootHpa: u64, from: u64, out: usize, max: u32): u32 {
  let n: u32 = 0;
  let next: u64 = NONE;
  // an explicit descent per level keeps it allocation-free (no recursion state)
  const s4 = tableSlot(rootHpa);
  if (s4 == 0) {
    store<u64>(IO_RAW, NONE);
    return 0;
  }
  for (let i4 = <u32>indexAt(from, 4); i4 < 512 && next == NONE; i4++) {
    const e4 = load<u64>(s4 + (<usize>i4 << 3));
    if ((e4 & E_RWX) == 0) continue;
    const b4 = <u64>i4 << 39;
    const s3 = tableSlot(e4 & ADDR_MASK);
    if (s3 == 0) continue;
    const f3 = b4 == (from & ~((<u64>1 << 39) - 1)) ? <u32>indexAt(from, 3) : 0;
    for (let i3 = f3; i3 < 512 && next == NONE; i3++) {
      const e3 = load<u64>(s3 + (<usize>i3 << 3));
      if ((e3 & E_RWX) == 0) continue;
      const b3 = b4 | (<u64>i3 << 30);
      if ((e3 & E_LARGE) != 0) {
        if (b3 < (from & ~((<u64>1 << 30) - 1))) continue;
        if (n == max) { next = b3; break; }
        leafOut(out, n++, b3, e3 & ADDR_MASK, 3);
        continue;
      }
      const s2 = tableSlot(e3 & ADDR_MASK);
      if (s2 == 0) continue;
      const f2 = b3 == (from & ~((<u64>1 << 30) - 1)) ? <u32>indexAt(from, 2) : 0;
      for (let i2 = f2; i2 < 512 && next == NONE; i2++) {
        const e2 = load<u64>(s2 + (<usize>i2 << 3));
        if ((e2 & E_RWX) == 0) continue;
        const b2 = b3 | (<u64>i2 << 21);
        if ((e2 & E_LARGE) != 0) {
          if (b2 < (from & ~((<u64>1 << 21) - 1))) continue;
          if (n == max) { next = b2; break; }
          leafOut(out, n++, b2, e2 & ADDR_MASK, 2);
          continue;
        }
        const s1 = tableSlot(e2 & ADDR_MASK);
        if (s1 == 0) continue;
        const f1 = b2 == (from & ~((<u64>1 << 21) - 1)) ? <u32>indexAt(from, 1) : 0;
        for (let i1 = f1; i1 < 512; i1++) {
          const e1 = load<u64>(s1 + (<usize>i1 << 3));
          if ((e1 & E_RWX) == 0) continue;
          const b1 = b2 | (<u64>i1 << 12);
          if (n == max) { next = b1; break; }
          leafOut(out, n++, b1, e1 & ADDR_MASK, 1);
        }
      }
    }
  }
  store<u64>(IO_RAW, next);
  return n;
}

// @ts-ignore: decorator
@inline function leafOut(out: usize, i: u32, gpa: u64, hpa: u64, level: u32): void {
  const a = out + <usize>i * 24;
  store<u64>(a, gpa);
  store<u64>(a, hpa, 8);
  store<u64>(a, <u64>level, 16);
}
