// The 2D page walk (docs/core.md section 5): a guest walk in which every guest table
// reference is a guest-physical address translated through the EPT, with paging-
// structure caches for the guest dimension and a nested TLB for guest table pages.
// Every entry read is one reference, charged to the tier of the table page holding it.
import { linesOn, walkRef } from "./cache";
import {
  VC_VM, VC_PCID, VC_CR3, VC_CTL, VC_PKRU, VC_PKRS, VM_EPT_ROOT, VM_EPTAD, VM_HAS_GLOBAL,
  S_ITLB4K, S_ITLB2M, S_DTLB4K, S_DTLB2M, S_DTLB1G, S_STLB, S_STLB1G, S_PSC4, S_PSC3, S_PSC2,
  S_NTLB, CFG_PSC_ON, CFG_NTLB_ON, F_W, F_U, F_XD, F_D, F_ER, F_EW, F_EX, F_KEY_SHIFT,
  F_TIER_SHIFT, F_GLOBAL, EV_CODE, EV_ERROR, EV_VA, EV_GPA, EV_PAGE_FAULT, EV_EPT_VIOLATION,
  EV_EPT_MISCONFIG, TR_HPA, TR_GPA, TR_FLAGS, TR_SIZE, TR_EXACT, KIND_FETCH, KIND_WRITE, SZ_2M, SZ_1G,
  SCRATCH, PF_GUEST, PF_EPT, PF_ENTRIES, REQ_BYTES,
} from "./layout";
import {
  bump, C_WALKS, C_REFS, C_REFS_G, C_REFS_E, C_REFS_TIER, C_PWC_HIT, C_PWC_MISS, C_NTLB_HIT,
  C_NTLB_MISS, C_PF, C_PROT, C_RSVD, C_PK, C_EPTV, C_EPTM, C_A, C_D, C_EPT_A, C_EPT_D,
} from "./counters";
import { lookup, fill, present, d0At, flagsAt } from "./tlb";
import {
  G_P, G_RW, G_US, G_A, G_D, G_PS, G_G, G_XD, G_KEY_SHIFT, E_R, E_W, E_X, E_RWX, E_LARGE,
  E_A, E_D, E_TYPE_SHIFT, ADDR_MASK, HIGH_ADDR_MASK, indexAt,
} from "./pagetable";
import { vmRec, tierOf } from "./state";
import { cachedSlotTier } from "./heap";
import {
  legacyDenies, keyDenies, errorCode, CTL_CPL3, CTL_NXE, CTL_SMEP, PF_W, PF_U, PF_RSVD, PF_ID,
  PF_P,
} from "./pkru";
import { ctxBits, globalBits, tlbKey, pscKey, ntlbKey, tlbDropVa, tlbDropVaUnprobed, pscDropVa, ntlbDrop } from "./flush";

/** EPT access types: the three kinds, and a guest paging-structure access. */
export const ACC_PS: u32 = 3;

// Results of eptWalk (module globals: no allocation, no multi-value returns).
let eHpa: u64 = 0;
let eSize: u32 = 0;
let eRights: u32 = 0; // F_ER | F_EW | F_EX
let eDirty: bool = false;

/** Counts an entry read from a table page of `tier`. */
// @ts-ignore: decorator
@inline function countRef(c: usize, tier: u32, guest: bool): void {
  bump(c, C_REFS);
  bump(c, guest ? C_REFS_G : C_REFS_E);
  bump(c, C_REFS_TIER + <i32>tier);
}

function eptViolation(c: usize, va: u64, gpa: u64, access: u32, ad: bool, rights: u32, final: bool): u32 {
  let q: u32 = 0;
  if (access == ACC_PS) q = ad ? 3 : 1;
  else q = access == KIND_FETCH ? 4 : access == KIND_WRITE ? 2 : 1;
  if (rights & F_ER) q |= 8;
  if (rights & F_EW) q |= 16;
  if (rights & F_EX) q |= 32;
  q |= 128;
  if (final) q |= 256;
  bump(c, C_EPTV);
  store<u32>(EV_CODE, EV_EPT_VIOLATION);
  store<u32>(EV_ERROR, q);
  store<u64>(EV_VA, va);
  store<u64>(EV_GPA, gpa);
  return EV_EPT_VIOLATION;
}

/** Whether EPT `rights` allow `access` (paging-structure accesses need W with A/D on). */
// @ts-ignore: decorator
@inline function eptAllows(rights: u32, access: u32, ad: bool): bool {
  if (access == ACC_PS) return (rights & F_ER) != 0 && (!ad || (rights & F_EW) != 0);
  if (access == KIND_FETCH) return (rights & F_EX) != 0;
  if (access == KIND_WRITE) return (rights & F_EW) != 0;
  return (rights & F_ER) != 0;
}

/**
 * Walks the EPT for `gpa`. On success sets eHpa (the address), eSize, eRights, eDirty
 * and returns 0; else writes the event and returns its code.
 */
function eptWalk(c: usize, p: usize, vm: u32, va: u64, gpa: u64, access: u32, final: bool): u32 {
  const vr = vmRec(vm);
  const ad = load<u32>(vr + VM_EPTAD) != 0;
  let t = load<u64>(vr + VM_EPT_ROOT);
  let rights: u32 = F_ER | F_EW | F_EX;
  // The common entries, told by one mask test each: a table link with R, W and X, not
  // large, no reserved address bits (and A with A/D on), which changes nothing; a 4 KiB
  // leaf as the hypervisor maps it (RWX, write-back, A and D with A/D on), which sets
  // nothing. Anything else takes the checks below.
  const adBits: u64 = ad ? E_A : 0;
  const linkMask: u64 = E_RWX | E_LARGE | HIGH_ADDR_MASK | adBits;
  const linkVal: u64 = E_RWX | adBits;
  const leafMask: u64 = E_RWX | (<u64>7 << E_TYPE_SHIFT) | HIGH_ADDR_MASK | (ad ? E_A | E_D : 0);
  const leafVal: u64 = E_RWX | (<u64>6 << E_TYPE_SHIFT) | (ad ? E_A | E_D : 0);
  for (let level: u32 = 4; level >= 1; level--) {
    const st = cachedSlotTier(t >> 12, level - 1);
    const slot = st & ~(<usize>0xFFF);
    const a = slot + (indexAt(gpa, level) << 3);
    const e: u64 = slot != 0 ? load<u64>(a) : 0;
    if (level == 1) store<u32>(eptHint(gpa), <u32>slot);
    const etier = slot != 0 ? <u32>(st & 7) : tierOf(t);
    countRef(c, etier, false);
    if (linesOn) walkRef(c, p, (t & ~(<u64>0xFFF)) + (indexAt(gpa, level) << 3), etier);
    if (level > 1) {
      if ((e & linkMask) == linkVal) {
        t = e & ADDR_MASK;
        continue;
      }
    } else if ((e & leafMask) == leafVal && eptAllows(rights, access, ad)) {
      eHpa = (e & ADDR_MASK & ~(<u64>0xFFF)) | (gpa & 0xFFF);
      eSize = 0;
      eRights = rights;
      eDirty = true;
      return 0;
    }
    if ((e & E_RWX) == 0) return eptViolation(c, va, gpa, access, ad, 0, final);
    const large = (level == 2 || level == 3) && (e & E_LARGE) != 0;
    const leaf = level == 1 || large;
    let bad = (e & (E_R | E_W)) == E_W || (e & HIGH_ADDR_MASK) != 0 || (level == 4 && (e & E_LARGE) != 0);
    if (leaf) {
      const mt = <u32>((e >> E_TYPE_SHIFT) & 7);
      if (mt == 2 || mt == 3 || mt == 7) bad = true;
      if (level == 2 && (e & 0x1FF000) != 0) bad = true;
      if (level == 3 && (e & 0x3FFFF000) != 0) bad = true;
    }
    if (bad) {
      bump(c, C_EPTM);
      store<u32>(EV_CODE, EV_EPT_MISCONFIG);
      store<u32>(EV_ERROR, 0);
      store<u64>(EV_VA, va);
      store<u64>(EV_GPA, gpa);
      return EV_EPT_MISCONFIG;
    }
    if ((e & E_R) == 0) rights &= ~F_ER;
    if ((e & E_W) == 0) rights &= ~F_EW;
    if ((e & E_X) == 0) rights &= ~F_EX;
    let ne = e;
    if (leaf) {
      // like the guest's leaf, A (and D) only once the rights check passes
      if (!eptAllows(rights, access, ad)) return eptViolation(c, va, gpa, access, ad, rights, final);
      if (ad && (e & E_A) == 0) {
        ne |= E_A;
        bump(c, C_EPT_A);
      }
      if (ad && (access == KIND_WRITE || access == ACC_PS) && (e & E_D) == 0) {
        ne |= E_D;
        bump(c, C_EPT_D);
      }
      if (ne != e) store<u64>(a, ne);
      const span: u64 = (<u64>1 << <u64>(3 + 9 * level)) - 1;
      eHpa = (e & ADDR_MASK & ~span) | (gpa & span);
      eSize = level - 1;
      eRights = rights;
      eDirty = !ad || (ne & E_D) != 0;
      return 0;
    }
    if (ad && (e & E_A) == 0) {
      store<u64>(a, e | E_A);
      bump(c, C_EPT_A);
    }
    t = e & ADDR_MASK;
  }
  return 0;
}

/**
 * Host address of a guest table page: nested TLB, else an EPT walk. `tgpa` is the
 * guest-physical address of the entry to read (a fault reports it, as the SDM does).
 */
function tableHpa(c: usize, p: usize, vm: u32, va: u64, tgpa: u64): u32 {
  const ntlb = load<u32>(CFG_NTLB_ON) != 0 && present(S_NTLB);
  const vpid = vm + 1;
  const ad = load<u32>(vmRec(vm) + VM_EPTAD) != 0;
  const f = tgpa >> 12;
  if (ntlb) {
    const slot = lookup(p, S_NTLB, f, ntlbKey(f, vpid));
    if (slot >= 0) {
      bump(c, C_NTLB_HIT);
      const rights = load<u32>(flagsAt(p, S_NTLB, <u32>slot));
      if (!eptAllows(rights, ACC_PS, ad)) {
        ntlbDrop(p, tgpa, vpid);
        return eptViolation(c, va, tgpa, ACC_PS, ad, rights, false);
      }
      eHpa = load<u64>(d0At(p, S_NTLB, <u32>slot)) | (tgpa & 0xFFF);
      return 0;
    }
    bump(c, C_NTLB_MISS);
  }
  const r = eptWalk(c, p, vm, va, tgpa, ACC_PS, false);
  if (r != 0) {
    if (r == EV_EPT_VIOLATION && ntlb) ntlbDrop(p, tgpa, vpid);
    return r;
  }
  if (ntlb) fill(p, S_NTLB, f, ntlbKey(f, vpid), eHpa & ~(<u64>0xFFF), 0, eRights);
  return 0;
}

function pageFault(c: usize, p: usize, vc: usize, va: u64, error: u32, counter: i32): u32 {
  bump(c, counter);
  const vpid = load<u32>(vc + VC_VM) + 1;
  tlbDropVa(p, va, ctxBits(vpid, load<u32>(vc + VC_PCID)));
  tlbDropVa(p, va, globalBits(vpid));
  pscDropVa(p, va, ctxBits(vpid, load<u32>(vc + VC_PCID)));
  store<u32>(EV_CODE, EV_PAGE_FAULT);
  store<u32>(EV_ERROR, error);
  store<u64>(EV_VA, va);
  store<u64>(EV_GPA, 0);
  return EV_PAGE_FAULT;
}

/** Handles a rights or key denial (from a walk or a TLB hit): #PF, or 0 if allowed. */
export function guestDenial(c: usize, p: usize, vc: usize, va: u64, flags: u32, kind: u32): u32 {
  const ctl = load<u32>(vc + VC_CTL);
  if (legacyDenies(flags, kind, ctl)) return pageFault(c, p, vc, va, errorCode(kind, ctl, false), C_PROT);
  if (keyDenies(flags, kind, ctl, load<u32>(vc + VC_PKRU), load<u32>(vc + VC_PKRS))) {
    return pageFault(c, p, vc, va, errorCode(kind, ctl, true), C_PK);
  }
  return 0;
}

/**
 * An EPT violation found on a TLB hit: the entry caches the EPT rights and the gPA of
 * its page, of size code `size`.
 */
export function eptDenialOnHit(c: usize, p: usize, vc: usize, va: u64, flags: u32, gpage: u64, size: u32, kind: u32): u32 {
  const gpa = gpage | (va & ((<u64>1 << <u64>(12 + 9 * size)) - 1));
  const vm = load<u32>(vc + VC_VM);
  const vpid = vm + 1;
  tlbDropVa(p, va, ctxBits(vpid, load<u32>(vc + VC_PCID)));
  tlbDropVa(p, va, globalBits(vpid));
  const ad = load<u32>(vmRec(vm) + VM_EPTAD) != 0;
  return eptViolation(c, va, gpa, kind, ad, flags & (F_ER | F_EW | F_EX), true);
}

// @ts-ignore: decorator
@inline function fetchIdBit(ctl: u32, kind: u32): u32 {
  return kind == KIND_FETCH && (ctl & (CTL_NXE | CTL_SMEP)) != 0 ? PF_ID : 0;
}

// Prefetching the next walks. Over page tables larger than the caches, a walk waits on
// three cache misses in a row (the EPT entry of the guest page table, the guest entry,
// the EPT entry of the data page), and a load cannot retire before its data comes, so
// one walk's misses overlap only loads issued close to them. So, when the inline run
// walks request i and i is a multiple of TOUCH_BATCH, the walk touches in one batch of
// independent loads what the walks of the next requests will read: the guest entries
// and the guest tables' EPT entries of requests i + B + 1 .. i + 2B, and (their guest
// entries being cached by the previous batch) the data pages' EPT entries of requests
// i + 1 .. i + B. The addresses come from hints (layout.ts PF_*); a wrong one costs a
// useless load. This doubled the default model's walk stream (2^20 pages).

// Loads of `touchWalks`, kept so that the engine cannot drop them.
let touched: u64 = 0;
/** The buffer address of the request being walked by the inline run, and the buffer's end (0: no prefetching). */
export let touchAt: usize = 0;
export let touchEnd: usize = 0;

// @ts-ignore: decorator
@inline function guestHint(va: u64): usize {
  return PF_GUEST + ((<usize>(va >> 21) & (PF_ENTRIES - 1)) << 3);
}

// @ts-ignore: decorator
@inline function eptHint(gpa: u64): usize {
  return PF_EPT + ((<usize>(gpa >> 21) & (PF_ENTRIES - 1)) << 2);
}

/** Where the EPT entry of `gpa` probably is (from its hint). */
// @ts-ignore: decorator
@inline function eptHintEntry(gpa: u64): usize {
  return <usize>load<u32>(eptHint(gpa)) + (indexAt(gpa, 1) << 3);
}

// A guest hint's slot has bit 0 set when its leaf is a 2 MiB PDE (OSv's linear map):
// the entry is then the PDE of `va`, and the data's gPA takes va's bits 12..20.

/** The address of the guest leaf entry of `va` by the hint `hs`. */
// @ts-ignore: decorator
@inline function hintLeaf(hs: u32, va: u64): usize {
  return <usize>(hs & ~1) + (indexAt(va, 1 + (hs & 1)) << 3);
}

/** Loads of the first stage for the request at buffer address `q`: its guest entry and its guest table's EPT entry. */
// @ts-ignore: decorator
@inline function touchGuest(q: usize): u64 {
  const va = load<u64>(q);
  const h = guestHint(va);
  return load<u64>(hintLeaf(load<u32>(h), va)) ^ load<u64>(eptHintEntry(<u64>load<u32>(h, 4) << 12));
}

/** Loads of the second stage for the request at `q`: its data page's EPT entry. */
// @ts-ignore: decorator
@inline function touchData(q: usize): u64 {
  const va = load<u64>(q);
  const hs = load<u32>(guestHint(va));
  const e = load<u64>(hintLeaf(hs, va));
  const gpa = select<u64>((e & ADDR_MASK & ~(<u64>0x1FFFFF)) | (va & 0x1FF000), e & ADDR_MASK, (hs & 1) != 0);
  return load<u64>(eptHintEntry(gpa));
}

/** Requests per prefetch batch. */
const TOUCH_BATCH: usize = 4;

/** Touches what the walks of the requests after the one at `q` will probably read. Reads only. */
function touchWalks(q: usize, end: usize): void {
  if ((q >> 4) % TOUCH_BATCH != 0 || q + (2 * TOUCH_BATCH + 1) * REQ_BYTES > end) return;
  let x: u64 = 0;
  for (let k: usize = 1; k <= TOUCH_BATCH; k++) {
    x ^= touchGuest(q + (TOUCH_BATCH + k) * REQ_BYTES) ^ touchData(q + k * REQ_BYTES);
  }
  touched ^= x;
}

/**
 * The 2D walk for `va`. On success fills the TLBs and writes TR_*; returns 0 or the
 * event code. Counts one walk. Called only when the TLBs an access of `kind` probes
 * miss `va` (or after they dropped it): an EPT violation drops only the others.
 */
export function walk(vc: usize, c: usize, p: usize, va: u64, kind: u32): u32 {
  bump(c, C_WALKS);
  const vm = load<u32>(vc + VC_VM);
  const vpid = vm + 1;
  const pcid = load<u32>(vc + VC_PCID);
  const ctl = load<u32>(vc + VC_CTL);
  const bits = ctxBits(vpid, pcid);
  const pscOn = load<u32>(CFG_PSC_ON) != 0;

  let level: u32 = 4;
  let tgpa = load<u64>(vc + VC_CR3) & ADDR_MASK;
  let rights: u32 = F_W | F_U; // accumulated: W and U are ANDed, XD ORed

  if (pscOn) {
    let slot = lookup(p, S_PSC2, va >> 21, pscKey(va >> 21, bits));
    if (slot >= 0) {
      level = 1;
      bump(c, C_PWC_HIT + 2);
      tgpa = load<u64>(d0At(p, S_PSC2, <u32>slot));
      rights = load<u32>(flagsAt(p, S_PSC2, <u32>slot));
    } else {
      slot = lookup(p, S_PSC3, va >> 30, pscKey(va >> 30, bits));
      if (slot >= 0) {
        level = 2;
        bump(c, C_PWC_HIT + 1);
        tgpa = load<u64>(d0At(p, S_PSC3, <u32>slot));
        rights = load<u32>(flagsAt(p, S_PSC3, <u32>slot));
      } else {
        slot = lookup(p, S_PSC4, va >> 39, pscKey(va >> 39, bits));
        if (slot >= 0) {
          level = 3;
          bump(c, C_PWC_HIT);
          tgpa = load<u64>(d0At(p, S_PSC4, <u32>slot));
          rights = load<u32>(flagsAt(p, S_PSC4, <u32>slot));
        } else {
          bump(c, C_PWC_MISS);
        }
      }
    }
  }

  // Non-leaf entries read in this walk, for the PSC fills: (next gPA, rights) per level.
  let readMask: u32 = 0;
  let gsize: u32 = 0;
  let gpa: u64 = 0;
  let flags: u32 = 0;
  let leafE: u64 = 0;
  const nxe = (ctl & CTL_NXE) != 0;
  const errBase: u32 = (kind == KIND_WRITE ? PF_W : 0) | ((ctl & CTL_CPL3) != 0 ? PF_U : 0) | fetchIdBit(ctl, kind);

  // once a walk, at its first table of level 2 or 1 (the leaf's, or the one above it)
  let touch = touchAt != 0;
  for (; level >= 1; level--) {
    const r = tableHpa(c, p, vm, va, tgpa + (indexAt(va, level) << 3));
    if (r != 0) return r;
    // the next requests' walks: their loads overlap this walk's wait for its table
    if (level <= 2 && touch) {
      touchWalks(touchAt, touchEnd);
      touch = false;
    }
    const thpa = eHpa & ~(<u64>0xFFF);
    const st = cachedSlotTier(thpa >> 12, level + 3);
    const slot = st & ~(<usize>0xFFF);
    const a = slot + (indexAt(va, level) << 3);
    const e: u64 = slot != 0 ? load<u64>(a) : 0;
    if (level == 1 || (level == 2 && (e & G_PS) != 0)) {
      const h = guestHint(va);
      store<u32>(h, <u32>slot | (level - 1));
      store<u32>(h, <u32>(tgpa >> 12), 4);
    }
    const gtier = slot != 0 ? <u32>(st & 7) : tierOf(thpa);
    countRef(c, gtier, true);
    if (linesOn) walkRef(c, p, thpa + (indexAt(va, level) << 3), gtier);
    if ((e & G_P) == 0) return pageFault(c, p, vc, va, errBase, C_PF);
    const large = (level == 2 || level == 3) && (e & G_PS) != 0;
    const leaf = level == 1 || large;
    let rsvd = (e & HIGH_ADDR_MASK) != 0 || (level == 4 && (e & G_PS) != 0) || (!nxe && (e & G_XD) != 0);
    if (level == 2 && large && (e & 0x1FE000) != 0) rsvd = true;
    if (level == 3 && large && (e & 0x3FFFE000) != 0) rsvd = true;
    if (rsvd) return pageFault(c, p, vc, va, errBase | PF_P | PF_RSVD, C_RSVD);
    if ((e & G_RW) == 0) rights &= ~F_W;
    if ((e & G_US) == 0) rights &= ~F_U;
    if ((e & G_XD) != 0) rights |= F_XD;
    if (!leaf) {
      if ((e & G_A) == 0) {
        store<u64>(a, e | G_A);
        bump(c, C_A);
      }
      tgpa = e & ADDR_MASK;
      if (level >= 2) {
        readMask |= 1 << level;
        store<u64>(SCRATCH + (<usize>level << 4), tgpa);
        store<u32>(SCRATCH + (<usize>level << 4) + 8, rights);
      }
      continue;
    }
    // the leaf
    flags = rights | (<u32>((e >> G_KEY_SHIFT) & 15) << F_KEY_SHIFT) | ((e & G_G) != 0 ? F_GLOBAL : 0);
    const denied = guestDenial(c, p, vc, va, flags, kind);
    if (denied != 0) return denied;
    let ne = e | G_A;
    if ((e & G_A) == 0) bump(c, C_A);
    if (kind == KIND_WRITE && (e & G_D) == 0) {
      ne |= G_D;
      bump(c, C_D);
    }
    if (ne != e) store<u64>(a, ne);
    leafE = ne;
    gsize = level - 1;
    const span: u64 = (<u64>1 << <u64>(3 + 9 * level)) - 1;
    gpa = (e & ADDR_MASK & ~span) | (va & span);
    break;
  }

  // The final translation of the data gPA.
  const r = eptWalk(c, p, vm, va, gpa, kind, true);
  if (r != 0) {
    if (r == EV_EPT_VIOLATION) {
      // (every caller walks after the probes of `kind` missed: see tlbDropVaUnprobed)
      tlbDropVaUnprobed(p, va, bits, kind);
      if (load<u32>(vmRec(vm) + VM_HAS_GLOBAL) != 0) tlbDropVaUnprobed(p, va, globalBits(vpid), kind);
    }
    return r;
  }
  const size = min<u32>(gsize, eSize);
  const span: u64 = (<u64>1 << <u64>(12 + 9 * size)) - 1;
  const hpa = eHpa & ~span;
  const gbase = gpa & ~span;
  if ((leafE & G_D) != 0 && eDirty) flags |= F_D;
  flags |= eRights | (tierOf(hpa) << F_TIER_SHIFT);

  if (pscOn) {
    for (let l: u32 = 4; l >= 2; l--) {
      if ((readMask & (1 << l)) == 0) continue;
      const s = l == 4 ? S_PSC4 : l == 3 ? S_PSC3 : S_PSC2;
      const tag = va >> <u64>(3 + 9 * l);
      if (present(s)) {
        fill(p, s, tag, pscKey(tag, bits), load<u64>(SCRATCH + (<usize>l << 4)), 0, load<u32>(SCRATCH + (<usize>l << 4) + 8));
      }
    }
  }

  // Fill the STLB and the L1 of the entry's size.
  const global = (flags & F_GLOBAL) != 0;
  if (global) store<u32>(vmRec(vm) + VM_HAS_GLOBAL, 1);
  const kb = global ? globalBits(vpid) : bits;
  let fsize = size;
  if (kind == KIND_FETCH && size == SZ_1G) fsize = SZ_2M; // the ITLB holds 1 GiB pages as 2 MiB pieces
  const fspan: u64 = (<u64>1 << <u64>(12 + 9 * fsize)) - 1;
  const vpn = va >> <u64>(12 + 9 * fsize);
  const key = tlbKey(vpn, kb, fsize);
  const fh = eHpa & ~fspan;
  const fg = gpa & ~fspan;
  if (fsize == SZ_1G) {
    if (present(S_STLB1G)) fill(p, S_STLB1G, vpn, key, fh, fg, flags);
    if (present(S_DTLB1G)) fill(p, S_DTLB1G, vpn, key, fh, fg, flags);
  } else {
    if (present(S_STLB)) fill(p, S_STLB, vpn, key, fh, fg, flags);
    const l1 = kind == KIND_FETCH ? (fsize == 0 ? S_ITLB4K : S_ITLB2M) : fsize == 0 ? S_DTLB4K : S_DTLB2M;
    if (present(l1)) fill(p, l1, vpn, key, fh, fg, flags);
  }
  store<u64>(TR_HPA, hpa);
  store<u64>(TR_EXACT, eHpa);
  store<u64>(TR_GPA, gbase);
  store<u32>(TR_FLAGS, flags);
  store<u32>(TR_SIZE, fsize);
  return 0;
}
