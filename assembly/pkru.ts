// Access rights and protection keys (Intel SDM vol. 3A 4.6; REFERENCE.md section 4).
// The hit path asks one question per access: does a 128-entry table, indexed by the
// entry's rights bits, allow this kind of access for this vCPU's mode? And does the
// key register deny it? Only when either says no does the slow path below find out
// which fault (or dirty assist) it is. WRPKRU changes only the register: nothing is
// recomputed and nothing is flushed, as on real hardware.
import {
  F_W, F_U, F_XD, F_D, F_ER, F_EW, F_EX, F_KEY_SHIFT, VC_CTL, VC_PKRU, VC_PKRS, VC_OK,
  KIND_FETCH, KIND_WRITE,
} from "./layout";

// vCPU control bits (VC_CTL)
export const CTL_CPL3: u32 = 1;
export const CTL_WP: u32 = 2;
export const CTL_PKE: u32 = 4;
export const CTL_PKS: u32 = 8;
export const CTL_NXE: u32 = 16;
export const CTL_SMEP: u32 = 32;
export const CTL_SMAP: u32 = 64;
export const CTL_AC: u32 = 128;

// #PF error code bits
export const PF_P: u32 = 1;
export const PF_W: u32 = 2;
export const PF_U: u32 = 4;
export const PF_RSVD: u32 = 8;
export const PF_ID: u32 = 16;
export const PF_PK: u32 = 32;

/** Whether the legacy paging rights (no keys, no EPT) deny the access. */
export function legacyDenies(flags: u32, kind: u32, ctl: u32): bool {
  const user = (ctl & CTL_CPL3) != 0;
  const u = (flags & F_U) != 0;
  if (user && !u) return true;
  if (kind == KIND_FETCH) {
    if ((flags & F_XD) != 0) return true;
    if (!user && u && (ctl & CTL_SMEP) != 0) return true;
    return false;
  }
  if (!user && u && (ctl & CTL_SMAP) != 0 && (ctl & CTL_AC) == 0) return true;
  if (kind == KIND_WRITE && (flags & F_W) == 0 && (user || (ctl & CTL_WP) != 0)) return true;
  return false;
}

/** The key register that applies to a page (0 when keys do not apply). */
// @ts-ignore: decorator
@inline export function keyRegister(flags: u32, ctl: u32, pkru: u32, pkrs: u32): u32 {
  if ((flags & F_U) != 0) return (ctl & CTL_PKE) != 0 ? pkru : 0;
  return (ctl & CTL_PKS) != 0 ? pkrs : 0;
}

/** AD, plus WD for writes in user mode or with CR0.WP: the key bits that deny `kind`. */
// @ts-ignore: decorator
@inline export function keyMask(kind: u32, ctl: u32): u32 {
  if (kind == KIND_FETCH) return 0;
  if (kind == KIND_WRITE && ((ctl & CTL_CPL3) != 0 || (ctl & CTL_WP) != 0)) return 3;
  return 1;
}

/** Whether the protection key of the entry denies the access. */
export function keyDenies(flags: u32, kind: u32, ctl: u32, pkru: u32, pkrs: u32): bool {
  const reg = keyRegister(flags, ctl, pkru, pkrs);
  const k = (flags >> F_KEY_SHIFT) & 15;
  return ((reg >> (k << 1)) & keyMask(kind, ctl)) != 0;
}

/** Whether the EPT rights cached with the entry deny the access. */
export function eptDenies(flags: u32, kind: u32): bool {
  if (kind == KIND_FETCH) return (flags & F_EX) == 0;
  if (kind == KIND_WRITE) return (flags & F_EW) == 0;
  return (flags & F_ER) == 0;
}

/** The #PF error code for a rights or key fault of `kind`. */
export function errorCode(kind: u32, ctl: u32, pk: bool): u32 {
  let e: u32 = PF_P;
  if (kind == KIND_WRITE) e |= PF_W;
  if ((ctl & CTL_CPL3) != 0) e |= PF_U;
  if (kind == KIND_FETCH && (ctl & (CTL_NXE | CTL_SMEP)) != 0) e |= PF_ID;
  if (pk) e |= PF_PK;
  return e;
}

/**
 * Rebuilds the vCPU's permission tables: for each kind, byte `flags & 127` is 1 when
 * the legacy rights, the EPT rights and the dirty bit all let the access through.
 */
export function rebuildOk(vc: usize): void {
  const ctl = load<u32>(vc + VC_CTL);
  const t = <usize>load<u32>(vc + VC_OK);
  for (let kind: u32 = 0; kind < 3; kind++) {
    for (let f: u32 = 0; f < 128; f++) {
      let ok = !legacyDenies(f, kind, ctl) && !eptDenies(f, kind);
      if (kind == KIND_WRITE && (f & F_D) == 0) ok = false;
      store<u8>(t + (<usize>kind << 7) + <usize>f, ok ? 1 : 0);
    }
  }
}

/** Key bits that deny a kind for this vCPU, packed: fetch, read, write masks in bytes. */
export function keyMasks(vc: usize): u32 {
  const ctl = load<u32>(vc + VC_CTL);
  return keyMask(0, ctl) | (keyMask(1, ctl) << 8) | (keyMask(2, ctl) << 16);
}

/** The effective key registers for U=1 and U=0 pages. */
export function pkruEff(vc: usize): u32 {
  return (load<u32>(vc + VC_CTL) & CTL_PKE) != 0 ? load<u32>(vc + VC_PKRU) : 0;
}
export function pkrsEff(vc: usize): u32 {
  return (load<u32>(vc + VC_CTL) & CTL_PKS) != 0 ? load<u32>(vc + VC_PKRS) : 0;
}
