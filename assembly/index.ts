// Exports of the core. Fixed arity only (optional parameters trap when called from JS);
// addresses cross the boundary as f64 (exact below 2^53), never as BigInt; 64-bit
// entries and frame lists go through the IO block (layout.ts).
import {
  CFG_MODEL, CFG_POLICY, CFG_PCPUS, CFG_VCPUS, CFG_VMS, CFG_REPL, CFG_RNG, CFG_CLOCK,
  CFG_PCPU_BYTES, CFG_NTIERS, CFG_PSC_ON, CFG_NTLB_ON, CFG_VCPU_TAB, CFG_VM_TAB, CFG_CNT_TAB,
  CFG_PCPU_TAB, CFG_REQ_BUF, CFG_REQ_CAP, CFG_TIERS, MAX_TIERS, NSTRUCTS, SD_SETS, SD_WAYS,
  SD_WPAD, SD_KEYS, SD_D0, SD_D1, SD_FLAGS, SD_STAMP, VCPU_BYTES, VM_BYTES, VC_ACTIVE, VC_VM,
  VC_PCPU, VC_PCID, VC_CR3, VC_PKRU, VC_PKRS, VC_CTL, VC_OK, VM_ACTIVE, VM_EPTAD, VM_EPT_ROOT,
  VM_HAS_GLOBAL, CUR_INDEX, CUR_COUNT, CUR_RETRY, IO_RAW, IO_FRAMES, IO_NFRAMES, IO_USED, IO_LEVEL,
  IO_DONE, IO_MAX_FRAMES, SCRATCH,
  CFG_HEAP_TOP, CFG_SLOTS_USED, CFG_OOM, CFG_HASH, CFG_SLAB_HASH, CFG_SLAB_HEAPS, CFG_SLAB_MAXHEAPS,
  HOT_INC, S_LINES, S_PSC4, S_PSC3, S_PSC2, S_NTLB, SZ_4K, SZ_2M, SZ_1G,
} from "./layout";
import { COUNTER_BYTES, cnt } from "./counters";
import { heapInit, alloc } from "./heap";
import { hashInit } from "./hash";
import { setLines, linesLayout, linesBytes } from "./cache";
export { setLineSampling, lineBuffer, lineEmitFlush, lineEmitMark, consumeLines } from "./cache";
import { clock, sd, pcpuBase, scan, scanVa, scanTag, KEY_CTX_MASK, KEY_VPID_MASK } from "./tlb";
import { vmRec, vcRec, tierHolding } from "./state";
import { rebuildOk, CTL_CPL3, CTL_WP, CTL_PKE, CTL_NXE } from "./pkru";
import { confInit } from "./conform";
import {
  mapLeaf, leafAt, entryAt, entrySlotAt, newRoot, releaseTable, eptTranslate, eptLeafTable, eptLeaves, indexAt, E_R, E_W, E_X,
  E_LARGE, E_TYPE_SHIFT, E_RWX, G_P, G_RW, G_US, G_PS, G_G, G_XD, G_KEY_SHIFT, ADDR_MASK,
  ST_OK, ST_NOT_MAPPED, ST_UNBACKED, ST_OOM, ST_NO_FRAMES, NONE,
} from "./pagetable";
import { ctxBits, globalBits, tlbDropVa, dropPcid, dropVpid, dropVpidEverywhere } from "./flush";

export { run, skip } from "./engine";
export { bkRegion } from "./backing";
import { bkVmOff } from "./backing";
export { slabHeapCreate, slabCacheCreate, slabRemovePage, slabAlloc, slabFree } from "./slab";
import { HEAP_BYTES, slabAddPage as addPage, heapRec } from "./slab";

// ---- configuration ---------------------------------------------------------------

/** Sets structure `s`'s geometry (before `init`). entries 0 = absent. */
export function setGeometry(s: i32, entries: u32, ways: u32): void {
  const d = sd(s);
  store<u32>(d + SD_SETS, entries == 0 ? 0 : entries / ways);
  store<u32>(d + SD_WAYS, entries == 0 ? 0 : ways);
}

export function setTier(i: u32, base: f64, size: f64): void {
  if (i >= <u32>MAX_TIERS) return;
  store<u64>(CFG_TIERS + (<usize>i << 4), <u64>base);
  store<u64>(CFG_TIERS + (<usize>i << 4) + 8, <u64>base + <u64>size);
  if (i + 1 > load<u32>(CFG_NTIERS)) store<u32>(CFG_NTIERS, i + 1);
}

/**
 * Lays out every table and structure. Returns 0, or 1 when memory ran out.
 * model 0 full, 1 conformance; policy a page-size code; repl 0 lru, 1 fifo, 2 random;
 * lines 0 no line cache, 1 for walk references, 2 for walk references and data (its
 * geometry is structure S_LINES).
 */
export function init(model: u32, policy: u32, pcpus: u32, vcpus: u32, vms: u32, repl: u32, seed: u32, reqCap: u32, pscOn: u32, ntlbOn: u32, slabHeaps: u32, lines: u32): u32 {
  heapInit();
  store<u32>(CFG_MODEL, model);
  store<u32>(CFG_POLICY, policy);
  store<u32>(CFG_PCPUS, pcpus);
  store<u32>(CFG_VCPUS, vcpus);
  store<u32>(CFG_VMS, vms);
  store<u32>(CFG_REPL, repl);
  store<u32>(CFG_RNG, seed == 0 ? 0x9E3779B9 : seed);
  store<u32>(CFG_PSC_ON, pscOn);
  store<u32>(CFG_NTLB_ON, ntlbOn);
  if (pscOn == 0) for (let s = S_PSC4; s <= S_PSC2; s++) store<u32>(sd(s) + SD_SETS, 0);
  if (ntlbOn == 0) store<u32>(sd(S_NTLB) + SD_SETS, 0);
  if (lines == 0 || model == 1) store<u32>(sd(S_LINES) + SD_SETS, 0);
  setLines(lines != 0 && model == 0 && load<u32>(sd(S_LINES) + SD_SETS) != 0, lines == 2);
  clock = 1;
  for (let k: u32 = 0; k < 3; k++) store<u64>(HOT_INC + (<usize>k << 3), <u64>1 << (<u64>k * 21));
  // pCPU block layout
  let off: u32 = 0;
  for (let s = 0; s < NSTRUCTS; s++) {
    const d = sd(s);
    const sets = load<u32>(d + SD_SETS);
    const ways = load<u32>(d + SD_WAYS);
    const wpad = (ways + 1) & ~1;
    store<u32>(d + SD_WPAD, wpad);
    const n = sets * wpad;
    if (s == S_LINES) {
      // the line cache keeps each set's keys, ranks and dirty mask together (cache.ts)
      off = (off + 63) & ~63;
      store<u32>(d + SD_KEYS, off);
      store<u32>(d + SD_D0, off);
      store<u32>(d + SD_D1, off);
      store<u32>(d + SD_FLAGS, off);
      store<u32>(d + SD_STAMP, off);
      off += linesBytes(sets, wpad);
      continue;
    }
    off = (off + 15) & ~15;
    store<u32>(d + SD_KEYS, off);
    off += n * 8;
    store<u32>(d + SD_D0, off);
    off += n * 8;
    store<u32>(d + SD_D1, off);
    off += n * 8;
    store<u32>(d + SD_FLAGS, off);
    off += n * 4;
    store<u32>(d + SD_STAMP, off);
    off += n * 4;
  }
  off = (off + 63) & ~63;
  store<u32>(CFG_PCPU_BYTES, off);
  const vt = alloc(<usize>vcpus * VCPU_BYTES, 64);
  const ok = alloc(<usize>vcpus * 384, 64);
  const mt = alloc(<usize>vms * VM_BYTES, 64);
  const ct = alloc(<usize>vcpus * COUNTER_BYTES, 64);
  const pt = alloc(<usize>pcpus * <usize>off, 64);
  const rb = alloc(<usize>reqCap * 16, 64);
  const sh = alloc(<usize>slabHeaps * HEAP_BYTES + 8, 64);
  if (vt == 0 || ok == 0 || mt == 0 || ct == 0 || pt == 0 || rb == 0 || sh == 0) return 1;
  if (!hashInit(CFG_HASH, 1024) || !hashInit(CFG_SLAB_HASH, 1024)) return 1;
  store<u32>(CFG_SLAB_HEAPS, <u32>sh);
  store<u32>(CFG_SLAB_MAXHEAPS, slabHeaps);
  store<u32>(CFG_VCPU_TAB, <u32>vt);
  store<u32>(CFG_VM_TAB, <u32>mt);
  store<u32>(CFG_CNT_TAB, <u32>ct);
  store<u32>(CFG_PCPU_TAB, <u32>pt);
  store<u32>(CFG_REQ_BUF, <u32>rb);
  store<u32>(CFG_REQ_CAP, reqCap);
  store<u32>(CUR_INDEX, 0);
  store<u32>(CUR_COUNT, 0);
  store<u32>(CUR_RETRY, 0);
  for (let v: u32 = 0; v < vcpus; v++) store<u32>(vcRec(v) + VC_OK, <u32>(ok + <usize>v * 384));
  linesLayout();
  if (model == 1) {
    if (!confInit(12 + 9 * policy)) return 1;
    store<u32>(vmRec(0) + VM_ACTIVE, 1);
    vcpuCreate(0, 0, 0);
  }
  return 0;
}

/**
 * Moves the TLBs' replacement clock forward (never back), for tests of its
 * renormalisation, which run() does above 0xF0000000.
 */
export function advanceClock(to: u32): void {
  if (to > clock) clock = to;
}

export function requestBuffer(): u32 {
  return load<u32>(CFG_REQ_BUF);
}
export function countersBase(): u32 {
  return load<u32>(CFG_CNT_TAB);
}
export function heapTop(): u32 {
  return load<u32>(CFG_HEAP_TOP);
}
export function tableSlots(): u32 {
  return load<u32>(CFG_SLOTS_USED);
}
export function outOfMemory(): u32 {
  return load<u32>(CFG_OOM);
}

/** Queues `count` requests already written to the buffer. */
export function submit(count: u32): void {
  store<u32>(CUR_INDEX, 0);
  store<u32>(CUR_COUNT, count);
  store<u32>(CUR_RETRY, 0);
}

export function resetCounters(): void {
  memory.fill(<usize>load<u32>(CFG_CNT_TAB), 0, <usize>load<u32>(CFG_VCPUS) * COUNTER_BYTES);
}

// ---- VMs and vCPUs -------------------------------------------------------------------

/** Creates a VM; its EPT root takes the first offered frame (IO block). */
export function vmCreate(vm: u32, eptAD: u32): u32 {
  store<u32>(IO_USED, 0);
  if (load<u32>(IO_NFRAMES) < 1) return ST_NO_FRAMES;
  if (newRoot() == 0) return ST_OOM;
  const r = vmRec(vm);
  store<u64>(r + VM_EPT_ROOT, load<u64>(IO_FRAMES + 8));
  store<u32>(r + VM_EPTAD, eptAD);
  store<u32>(r + VM_HAS_GLOBAL, 0);
  store<u32>(r + VM_ACTIVE, 1);
  return ST_OK;
}

/** Forgets a VM: its cached translations everywhere and its vCPUs. Tables are released by the host. */
export function vmDestroy(vm: u32): void {
  bkVmOff(vm);
  dropVpidEverywhere(vm + 1, true);
  store<u32>(vmRec(vm) + VM_ACTIVE, 0);
  const n = load<u32>(CFG_VCPUS);
  for (let v: u32 = 0; v < n; v++) {
    const vc = vcRec(v);
    if (load<u32>(vc + VC_ACTIVE) != 0 && load<u32>(vc + VC_VM) == vm) store<u32>(vc + VC_ACTIVE, 0);
  }
}

export function tableRelease(hpa: f64): u32 {
  return releaseTable(<u64>hpa) ? 1 : 0;
}

export function vcpuCreate(vcpu: u32, vm: u32, pcpu: u32): void {
  const vc = vcRec(vcpu);
  store<u32>(vc + VC_VM, vm);
  store<u32>(vc + VC_PCPU, pcpu);
  store<u32>(vc + VC_PCID, 0);
  store<u64>(vc + VC_CR3, 0);
  store<u32>(vc + VC_PKRU, 0);
  store<u32>(vc + VC_PKRS, 0);
  store<u32>(vc + VC_CTL, CTL_CPL3 | CTL_WP | CTL_PKE | CTL_NXE);
  store<u32>(vc + VC_ACTIVE, 1);
  memory.fill(cnt(vcpu), 0, COUNTER_BYTES);
  rebuildOk(vc);
}

export function vcpuSetCr3(vcpu: u32, root: f64, pcid: u32, noflush: u32): void {
  const vc = vcRec(vcpu);
  store<u64>(vc + VC_CR3, <u64>root);
  store<u32>(vc + VC_PCID, pcid);
  if (noflush == 0) dropPcid(pcpuBase(load<u32>(vc + VC_PCPU)), load<u32>(vc + VC_VM) + 1, pcid);
}

export function vcpuSetPkru(vcpu: u32, v: u32): void {
  store<u32>(vcRec(vcpu) + VC_PKRU, v);
}
export function vcpuSetPkrs(vcpu: u32, v: u32): void {
  store<u32>(vcRec(vcpu) + VC_PKRS, v);
}
export function vcpuSetControl(vcpu: u32, ctl: u32): void {
  const vc = vcRec(vcpu);
  store<u32>(vc + VC_CTL, ctl);
  rebuildOk(vc);
}

// ---- flushes ---------------------------------------------------------------------------

function pscDropCtx(p: usize, bits: u64): void {
  for (let s = S_PSC4; s <= S_PSC2; s++) scan(p, s, KEY_CTX_MASK, bits, false);
}

export function invlpg(vcpu: u32, va: f64): void {
  const vc = vcRec(vcpu);
  const p = pcpuBase(load<u32>(vc + VC_PCPU));
  const vpid = load<u32>(vc + VC_VM) + 1;
  const bits = ctxBits(vpid, load<u32>(vc + VC_PCID));
  tlbDropVa(p, <u64>va, bits);
  tlbDropVa(p, <u64>va, globalBits(vpid));
  pscDropCtx(p, bits);
}

export function invpcid(vcpu: u32, type: u32, pcid: u32, va: f64): void {
  const vc = vcRec(vcpu);
  const p = pcpuBase(load<u32>(vc + VC_PCPU));
  const vpid = load<u32>(vc + VC_VM) + 1;
  if (type == 0) {
    const bits = ctxBits(vpid, pcid);
    tlbDropVa(p, <u64>va, bits);
    pscDropCtx(p, bits);
  } else if (type == 1) dropPcid(p, vpid, pcid);
  else dropVpid(p, vpid, type == 3);
}

export function invvpid(vm: u32, type: u32, va: f64): void {
  const vpid = vm + 1;
  const n = load<u32>(CFG_PCPUS);
  for (let c: u32 = 0; c < n; c++) {
    const p = pcpuBase(c);
    if (type == 0) {
      for (let s = 0; s < 7; s++) scanVa(p, s, vpid, <u64>va);
      scanTag(p, S_PSC4, vpid, <u64>va >> 39);
      scanTag(p, S_PSC3, vpid, <u64>va >> 30);
      scanTag(p, S_PSC2, vpid, <u64>va >> 21);
    } else dropVpid(p, vpid, type == 3);
  }
}

export function invept(vm: u32): void {
  dropVpidEverywhere(vm + 1, true);
}

// ---- page tables ------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function eptRoot(vm: u32): u64 {
  return load<u64>(vmRec(vm) + VM_EPT_ROOT);
}

/** rights: bit 0 R, 1 W, 2 X, bits 3..5 memory type. */
export function eptMap(vm: u32, gpa: f64, hpa: f64, size: u32, rights: u32): u32 {
  return eptMapRange(vm, gpa, hpa, size, 1, rights);
}

/**
 * Maps `count` consecutive pages of `size` from `gpa` to `hpa` onward. Stops at the
 * first page that fails; IO_DONE says how many were mapped, the result why it stopped.
 */
export function eptMapRange(vm: u32, gpa: f64, hpa: f64, size: u32, count: u32, rights: u32): u32 {
  store<u32>(IO_USED, 0);
  store<u32>(IO_DONE, 0);
  const step: u64 = <u64>1 << <u64>(12 + 9 * size);
  const root = eptRoot(vm);
  for (let i: u32 = 0; i < count; i++) {
    let leaf = ((<u64>hpa + <u64>i * step) & ADDR_MASK) | (<u64>rights & 0x3F);
    if (size != SZ_4K) leaf |= E_LARGE;
    const st = mapLeaf(vm, true, root, <u64>gpa + <u64>i * step, size + 1, leaf);
    if (st != ST_OK) return st;
    store<u32>(IO_DONE, i + 1);
  }
  return ST_OK;
}

export function eptUnmap(vm: u32, gpa: f64, size: u32): u32 {
  const a = leafAt(vm, true, eptRoot(vm), <u64>gpa, size + 1);
  if (a == 0) return ST_NOT_MAPPED;
  store<u64>(a, 0);
  return ST_OK;
}

export function eptProtect(vm: u32, gpa: f64, size: u32, rwx: u32): u32 {
  const a = leafAt(vm, true, eptRoot(vm), <u64>gpa, size + 1);
  if (a == 0) return ST_NOT_MAPPED;
  store<u64>(a, (load<u64>(a) & ~E_RWX) | (<u64>rwx & E_RWX));
  return ST_OK;
}

export function eptEntry(vm: u32, gpa: f64): u32 {
  return entryAt(vm, true, eptRoot(vm), <u64>gpa) ? 1 : 0;
}

export function eptWriteRaw(vm: u32, gpa: f64, level: u32): u32 {
  const a = entrySlotAt(vm, true, eptRoot(vm), <u64>gpa, level);
  if (a == 0) return ST_NOT_MAPPED;
  store<u64>(a, load<u64>(IO_RAW));
  return ST_OK;
}

/**
 * Lists up to 170 EPT leaves of `vm` from `gpa` on into the scratch block as
 * (gpa, hpa, level) u64 triples; returns the count. IO_RAW: where to continue, or all
 * ones when the list is complete. (For the host to free a VM's frames without keeping
 * a record per page.)
 */
export function eptLeavesFrom(vm: u32, gpa: f64): u32 {
  return eptLeaves(eptRoot(vm), <u64>gpa, SCRATCH, 170);
}

/** Host address of `gpa` by a silent EPT walk, or -1. */
export function eptLookup(vm: u32, gpa: f64): f64 {
  const h = eptTranslate(vm, <u64>gpa);
  return h == NONE ? -1 : <f64>h;
}

/**
 * The index of the tier (setTier) holding the page that backs `gpa`: -1 when none backs
 * it, -2 when its host address lies in no tier. For per-page statistics: no address
 * crosses to the host.
 */
export function eptTierIndex(vm: u32, gpa: f64): i32 {
  return tierIndexOf(vm, <u64>gpa);
}

function tierIndexOf(vm: u32, gpa: u64): i32 {
  return tierOfHpa(eptTranslate(vm, gpa));
}

/** The tier holding host address `h`: -1 for NONE, -2 when no tier holds it. */
function tierOfHpa(h: u64): i32 {
  if (h == NONE) return -1;
  const i = tierHolding(h);
  return i >= 0 ? i : -2;
}

/**
 * `eptTierIndex` of `n` (at most 4096) consecutive 4 KiB pages from `gpa`, as i8 into the
 * scratch block: per-page statistics over a run of pages in one call. A 2 MiB region
 * mapped by 4 KiB leaves is walked once and its entries read in a row.
 */
export function eptTierIndices(vm: u32, gpa: f64, n: u32): u32 {
  const k = min<u32>(n, 4096);
  const g0 = <u64>gpa;
  let region: u64 = U64.MAX_VALUE;
  let pt: usize = 0;
  for (let i: u32 = 0; i < k; i++) {
    const g = g0 + (<u64>i << 12);
    if (g >> 21 != region) {
      region = g >> 21;
      pt = eptLeafTable(vm, g);
    }
    let h: u64;
    if (pt != 0) {
      const e = load<u64>(pt + (indexAt(g, 1) << 3));
      h = (e & E_RWX) == 0 ? NONE : (e & ADDR_MASK) | (g & 0xFFF);
    } else h = eptTranslate(vm, g);
    store<i8>(SCRATCH + <usize>i, <i8>tierOfHpa(h));
  }
  return k;
}

/** A new guest root table from the first offered (gpa, hpa) frame. */
export function gptNewRoot(vm: u32): u32 {
  store<u32>(IO_USED, 0);
  if (load<u32>(IO_NFRAMES) < 1) return ST_NO_FRAMES;
  return newRoot() == 0 ? ST_OOM : ST_OK;
}

// @ts-ignore: decorator
@inline function guestRoot(vm: u32, root: f64): u64 {
  return eptTranslate(vm, <u64>root);
}

/** attrs: bit 0 W, 1 U, 2 XD, 3 G, bits 4..7 key. */
export function gptMap(vm: u32, root: f64, va: f64, gpa: f64, size: u32, attrs: u32): u32 {
  return gptMapRange(vm, root, va, gpa, size, 1, attrs);
}

/** `count` consecutive guest pages; like eptMapRange. */
export function gptMapRange(vm: u32, root: f64, va: f64, gpa: f64, size: u32, count: u32, attrs: u32): u32 {
  store<u32>(IO_USED, 0);
  store<u32>(IO_DONE, 0);
  const r = guestRoot(vm, root);
  if (r == NONE) return ST_UNBACKED;
  const step: u64 = <u64>1 << <u64>(12 + 9 * size);
  for (let i: u32 = 0; i < count; i++) {
    const st = mapLeaf(vm, false, r, <u64>va + <u64>i * step, size + 1, guestLeaf(<u64>gpa + <u64>i * step, size, attrs));
    if (st != ST_OK) return st;
    store<u32>(IO_DONE, i + 1);
  }
  return ST_OK;
}

function guestLeaf(gpa: u64, size: u32, attrs: u32): u64 {
  let e = (gpa & ADDR_MASK) | G_P;
  if (attrs & 1) e |= G_RW;
  if (attrs & 2) e |= G_US;
  if (attrs & 4) e |= G_XD;
  if (attrs & 8) e |= G_G;
  e |= <u64>((attrs >> 4) & 15) << G_KEY_SHIFT;
  if (size != SZ_4K) e |= G_PS;
  return e;
}

export function gptUnmap(vm: u32, root: f64, va: f64, size: u32): u32 {
  const r = guestRoot(vm, root);
  if (r == NONE) return ST_UNBACKED;
  const a = leafAt(vm, false, r, <u64>va, size + 1);
  if (a == 0) return ST_NOT_MAPPED;
  store<u64>(a, 0);
  return ST_OK;
}

export function gptProtect(vm: u32, root: f64, va: f64, size: u32, attrs: u32): u32 {
  const r = guestRoot(vm, root);
  if (r == NONE) return ST_UNBACKED;
  const a = leafAt(vm, false, r, <u64>va, size + 1);
  if (a == 0) return ST_NOT_MAPPED;
  const e = load<u64>(a);
  // rights and key change; address, P, A, D, PS, G, PWT and PCD stay
  const keep = e & (ADDR_MASK | G_P | 0x20 | 0x40 | G_PS | G_G | 0x18);
  const fresh = guestLeaf(0, size, attrs & ~8) & ~(G_PS | G_P);
  store<u64>(a, keep | fresh);
  return ST_OK;
}

export function gptEntry(vm: u32, root: f64, va: f64): u32 {
  const r = guestRoot(vm, root);
  if (r == NONE) return 0;
  return entryAt(vm, false, r, <u64>va) ? 1 : 0;
}

export function gptWriteRaw(vm: u32, root: f64, va: f64, level: u32): u32 {
  const r = guestRoot(vm, root);
  if (r == NONE) return ST_UNBACKED;
  const a = entrySlotAt(vm, false, r, <u64>va, level);
  if (a == 0) return ST_NOT_MAPPED;
  store<u64>(a, load<u64>(IO_RAW));
  return ST_OK;
}

/** The layout constants the host needs, by index (src/core/layout.ts checks them). */
export function layoutConstant(i: u32): u32 {
  switch (i) {
    case 0: return <u32>IO_RAW;
    case 1: return <u32>IO_LEVEL;
    case 2: return <u32>IO_NFRAMES;
    case 3: return <u32>IO_USED;
    case 4: return <u32>IO_FRAMES;
    case 5: return <u32>COUNTER_BYTES;
    case 6: return <u32>CFG_CLOCK;
    case 7: return <u32>IO_DONE;
    case 8: return IO_MAX_FRAMES;
    case 9: return <u32>SCRATCH;
    default: return 0;
  }
}

/** Adds a page at guest-virtual `base` to size class `cache` of slab heap `heap`. */
export function slabAddPage(heap: u32, cache: u32, base: f64): u32 {
  return addPage(heap, cache, <u64>base);
}

/** The address of slab heap `heap`'s record (src/core reads its counters and classes). */
export function slabHeapAddress(heap: u32): u32 {
  return <u32>heapRec(heap);
}

// ---- YCSB's run phase in the core (ycsb.ts) ---------------------------------------------
export {
  ycsbRegion, ycsbConfigure, ycsbSeed, ycsbRngWord, ycsbShare, ycsbCounter, ycsbQueued, ycsbRequeue, ycsbFailed, ycsbRun, ycsbDrawRegion, ycsbDraw, ycsbReplay, ycsbReplayFrom,
  ycsbLoad, ycsbStatus, ycsbNamesCheck, ycsbLatest, ycsbSetCounter,
} from "./ycsb";
export { kvConfigure, kvCounter, kvSetCounter } from "./kvstore";
export { treeConfigure, treeState } from "./btree";
export { keysCompare, keysPack } from "./keys";

// ---- the memcached server model in the core (memcached.ts) -------------------------------------
export {
  mcRegion, mcConfigure, mcQueueAt, mcQueued, mcRequeue, mcRunReset, mcRunCounter, mcServe, mcMemaslap, mcStatus,
} from "./memcached";

// ---- memaslap's request stream in the core (memaslap.ts) ------------------------------------
export { msRegion, msConfigure, msSeed, msRngWord, msState, msDraw } from "./memaslap";
