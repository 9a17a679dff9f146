// Invalidation: by address, by PCID, by VPID (docs/core.md section 6).
import {
  S_ITLB4K, S_ITLB2M, S_DTLB4K, S_DTLB2M, S_DTLB1G, S_STLB, S_STLB1G, S_PSC4, S_PSC3, S_PSC2,
  S_NTLB, SZ_4K, SZ_2M, SZ_1G, KIND_FETCH,
} from "./layout";
import { invalidate, scan, scanAll, KEY_GLOBAL, KEY_CTX_MASK, KEY_VPID_MASK } from "./tlb";

// @ts-ignore: decorator
@inline export function ctxBits(vpid: u32, pcid: u32): u64 {
  return (<u64>vpid << 16) | (<u64>pcid << 4);
}
// @ts-ignore: decorator
@inline export function globalBits(vpid: u32): u64 {
  return (<u64>vpid << 16) | KEY_GLOBAL;
}
// @ts-ignore: decorator
@inline export function tlbKey(vpn: u64, bits: u64, size: u32): u64 {
  return (vpn << 28) | bits | (<u64>size << 1) | 1;
}
// @ts-ignore: decorator
@inline export function pscKey(tag: u64, bits: u64): u64 {
  return (tag << 28) | bits | 1;
}
// @ts-ignore: decorator
@inline export function ntlbKey(gpfn: u64, vpid: u32): u64 {
  return (gpfn << 28) | (<u64>vpid << 16) | 1;
}

function dropAt(p: usize, s: i32, va: u64, size: u32, bits: u64): void {
  const vpn = va >> <u64>(12 + 9 * size);
  invalidate(p, s, vpn, tlbKey(vpn, bits, size));
}

/** TLB entries for `va` tagged with `bits` (one ctx, or the VPID's globals), every TLB. */
export function tlbDropVa(p: usize, va: u64, bits: u64): void {
  dropAt(p, S_ITLB4K, va, SZ_4K, bits);
  dropAt(p, S_ITLB2M, va, SZ_2M, bits);
  dropAt(p, S_DTLB4K, va, SZ_4K, bits);
  dropAt(p, S_DTLB2M, va, SZ_2M, bits);
  dropAt(p, S_DTLB1G, va, SZ_1G, bits);
  dropAt(p, S_STLB, va, SZ_4K, bits);
  dropAt(p, S_STLB, va, SZ_2M, bits);
  dropAt(p, S_STLB1G, va, SZ_1G, bits);
}

/**
 * `tlbDropVa` for an EPT violation of a walk: the walk started only after the TLBs an
 * access of `kind` probes missed `va` (in its ctx and, when the VM has global entries,
 * as a global one), or after a dirty assist dropped `va`, and fills nothing before its
 * final translation; so only the TLBs of the other kind (the ITLBs for data; the DTLBs
 * and the 1 GiB STLB for a fetch) may hold `va`. The same entries go as with
 * `tlbDropVa`, without probing 16 sets that cannot hold them.
 */
export function tlbDropVaUnprobed(p: usize, va: u64, bits: u64, kind: u32): void {
  if (kind != KIND_FETCH) {
    dropAt(p, S_ITLB4K, va, SZ_4K, bits);
    dropAt(p, S_ITLB2M, va, SZ_2M, bits);
  } else {
    dropAt(p, S_DTLB4K, va, SZ_4K, bits);
    dropAt(p, S_DTLB2M, va, SZ_2M, bits);
    dropAt(p, S_DTLB1G, va, SZ_1G, bits);
    dropAt(p, S_STLB1G, va, SZ_1G, bits);
  }
}

/** PSC entries on the path of `va` for one ctx. */
export function pscDropVa(p: usize, va: u64, bits: u64): void {
  invalidate(p, S_PSC4, va >> 39, pscKey(va >> 39, bits));
  invalidate(p, S_PSC3, va >> 30, pscKey(va >> 30, bits));
  invalidate(p, S_PSC2, va >> 21, pscKey(va >> 21, bits));
}

export function ntlbDrop(p: usize, gpa: u64, vpid: u32): void {
  const f = gpa >> 12;
  invalidate(p, S_NTLB, f, ntlbKey(f, vpid));
}

const TLBS: StaticArray<i32> = [S_ITLB4K, S_ITLB2M, S_DTLB4K, S_DTLB2M, S_DTLB1G, S_STLB, S_STLB1G];

/** Every TLB and PSC entry of (vpid, pcid) on one pCPU; globals kept. */
export function dropPcid(p: usize, vpid: u32, pcid: u32): void {
  const m = ctxBits(vpid, pcid);
  for (let i = 0; i < 7; i++) scan(p, unchecked(TLBS[i]), KEY_CTX_MASK | KEY_GLOBAL, m, true);
  for (let s = S_PSC4; s <= S_PSC2; s++) scan(p, s, KEY_CTX_MASK, m, false);
}

/** Every TLB and PSC entry of a VPID on one pCPU, globals kept or not. */
export function dropVpid(p: usize, vpid: u32, keepGlobal: bool): void {
  const m = <u64>vpid << 16;
  for (let i = 0; i < 7; i++) scan(p, unchecked(TLBS[i]), KEY_VPID_MASK, m, keepGlobal);
  for (let s = S_PSC4; s <= S_PSC2; s++) scan(p, s, KEY_VPID_MASK, m, false);
}

/** INVEPT: everything of the VPID on every pCPU, nested TLB included. */
export function dropVpidEverywhere(vpid: u32, withNtlb: bool): void {
  const m = <u64>vpid << 16;
  for (let i = 0; i < 7; i++) scanAll(unchecked(TLBS[i]), KEY_VPID_MASK, m, false);
  for (let s = S_PSC4; s <= S_PSC2; s++) scanAll(s, KEY_VPID_MASK, m, false);
  if (withNtlb) scanAll(S_NTLB, KEY_VPID_MASK, m, false);
}
