/**
 * x86-64 guest page-table entries and EPT entries (docs/core.md section 2).
 *
 * An entry is kept as two unsigned 32-bit halves: `lo` holds bits 0..31, `hi` bits
 * 32..63. Numbers instead of BigInt keep the walk fast; every bit below is named.
 */

export const TWO32 = 4294967296;

/** An entry as its two halves. */
export interface Entry {
  lo: number;
  hi: number;
}

// ---- guest entries (SDM 3A 4.5) ----
export const G_P = 1 << 0;
export const G_RW = 1 << 1;
export const G_US = 1 << 2;
export const G_A = 1 << 5;
export const G_D = 1 << 6;
/** PS in a PDPTE or PDE; PAT in a PTE. */
export const G_PS = 1 << 7;
export const G_G = 1 << 8;
/** Bit 63 (XD) in the high half. */
export const G_XD_HI = 0x80000000;
/** Bits 59..62 (protection key) in the high half. */
export const G_KEY_SHIFT_HI = 27;

// ---- EPT entries (SDM 3C 29.3) ----
export const E_R = 1 << 0;
export const E_W = 1 << 1;
export const E_X = 1 << 2;
export const E_RWX = 7;
export const E_MEMTYPE_SHIFT = 3;
export const E_LARGE = 1 << 7;
export const E_A = 1 << 8;
export const E_D = 1 << 9;

/** Address bits 46..51 in the high half (bits 14..19): reserved with MAXPHYADDR 46. */
const HI_ADDR_RESERVED = 0x000fc000;
/** Address bits 32..45 in the high half. */
const HI_ADDR = 0x00003fff;

/** Shift of the region one entry maps at a level: PTE 12, PDE 21, PDPTE 30, PML4E 39. */
export function levelShift(level: number): number {
  return 12 + 9 * (level - 1);
}

/** The index (0..511) of an address in the table of a level. */
export function tableIndex(addr: number, level: number): number {
  return Math.floor(addr / 2 ** levelShift(level)) % 512;
}

/** Physical address in bits 12..45 of an entry, bits below `shift` cleared (12, 21 or 30). */
export function entryAddress(e: Entry, shift: number): number {
  const lowMask = shift === 12 ? 0xfffff000 : shift === 21 ? 0xffe00000 : 0xc0000000;
  return (e.hi & HI_ADDR) * TWO32 + ((e.lo & lowMask) >>> 0);
}

/** The halves of a physical address placed in an entry. */
export function addressBits(addr: number): Entry {
  return { lo: addr % TWO32 >>> 0, hi: Math.floor(addr / TWO32) >>> 0 };
}

export function toRaw(e: Entry): bigint {
  return (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
}

export function fromRaw(raw: bigint): Entry {
  const r = BigInt.asUintN(64, raw);
  return { lo: Number(r & 0xffffffffn), hi: Number(r >> 32n) };
}

// ---- guest entry predicates ----

export function guestPresent(e: Entry): boolean {
  return (e.lo & G_P) !== 0;
}

/** A leaf: any PTE, or a PDE/PDPTE with PS (PS in a PML4E is reserved, never a leaf). */
export function guestIsLeaf(e: Entry, level: number): boolean {
  return level === 1 || ((level === 2 || level === 3) && (e.lo & G_PS) !== 0);
}

export function guestKey(e: Entry): number {
  return (e.hi >>> G_KEY_SHIFT_HI) & 0xf;
}

/** Reserved bits of a present guest entry (docs/core.md section 2). */
export function guestReserved(e: Entry, level: number, nxe: boolean): boolean {
  if ((e.hi & HI_ADDR_RESERVED) !== 0) return true;
  if (!nxe && (e.hi & G_XD_HI) !== 0) return true;
  if (level === 4 && (e.lo & G_PS) !== 0) return true;
  if (level === 2 && (e.lo & G_PS) !== 0 && (e.lo & 0x001fe000) !== 0) return true; // 2 MiB: bits 13..20
  if (level === 3 && (e.lo & G_PS) !== 0 && (e.lo & 0x3fffe000) !== 0) return true; // 1 GiB: bits 13..29
  return false;
}

// ---- EPT entry predicates ----

export function eptPresent(e: Entry): boolean {
  return (e.lo & E_RWX) !== 0;
}

/** A leaf: any level-1 entry, or bit 7 at level 2 or 3 (bit 7 in a PML4E is a misconfiguration). */
export function eptIsLeaf(e: Entry, level: number): boolean {
  return level === 1 || ((level === 2 || level === 3) && (e.lo & E_LARGE) !== 0);
}

export function eptMemType(e: Entry): number {
  return (e.lo >>> E_MEMTYPE_SHIFT) & 7;
}

/** EPT misconfiguration of a present entry (docs/core.md section 2). */
export function eptMisconfigured(e: Entry, level: number): boolean {
  if ((e.lo & (E_R | E_W)) === E_W) return true;
  if (level === 4 && (e.lo & E_LARGE) !== 0) return true;
  if ((e.hi & HI_ADDR_RESERVED) !== 0) return true;
  if (eptIsLeaf(e, level)) {
    const t = eptMemType(e);
    if (t === 2 || t === 3 || t === 7) return true;
    if (level === 2 && (e.lo & 0x001ff000) !== 0) return true; // 2 MiB: bits 12..20
    if (level === 3 && (e.lo & 0x3ffff000) !== 0) return true; // 1 GiB: bits 12..29
  }
  return false;
}
