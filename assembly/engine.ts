// The engine: runs the request buffer until it is done or an event needs the host
// (docs/core.md section 4). `pageAccess` is the whole semantics of one page access;
// `runFull` and `runConformance` short-cut its common cases with call-free inline runs
// (fastpath.ts for the Skylake geometry, `fullHits`/`confHits` here for any other) and
// call it for everything else; runs of slab operations go through `slabRun`.
import { linesData, dataLines } from "./cache";
import {
  CFG_MODEL, CFG_POLICY, CFG_REQ_BUF, CFG_VCPUS, CUR_INDEX, CUR_COUNT, CUR_RETRY, CUR_ADDR,
  EV_CODE, EV_INDEX, EV_VCPU, EV_VA, EV_BAD_VCPU, REQ_BYTES, VC_ACTIVE, VC_VM, VC_PCID, VC_PCPU,
  VC_OK, VM_HAS_GLOBAL, SD_SETS, SD_WPAD, SD_KEYS, SD_FLAGS, SD_STAMP, S_ITLB4K, S_ITLB2M,
  S_DTLB4K, S_DTLB2M, S_DTLB1G, S_STLB, S_STLB1G, F_U, F_D, F_KEY_SHIFT, F_TIER_SHIFT, SD_WAYS,
  KIND_FETCH, KIND_ALLOC, KIND_FREE, SZ_4K, SZ_2M, SZ_1G, TR_FLAGS, TR_EXACT, CFG_REPL, CFG_CLOCK, HOT_GEOM,
  HOT_STLB, HOT_INC, HOT_VCPU, EV_SLAB_EMPTY, EV_BAD_FREE, EV_ERROR, HOT_KINDS, HOT_BIG, HOT_RUN_WHO,
  HOT_KEYOK, HOT_RUN_EV, HOT_SETOFF, HOT_TAGS, HOT_LANES, HOT_LINES_P, SD_D0, SD_D1, EV_EPT_VIOLATION,
} from "./layout";
import {
  cnt, bump, add, C_REQ, C_RETRY, C_L1MISS_F, C_L1MISS_D, C_HIT_I2M, C_HIT_D2M, C_HIT_D1G,
  C_STLB4K, C_STLB2M, C_STLB1G, C_DATA, C_DASSIST, C_WALKS, C_REFS, C_REFS_G, C_REFS_E, C_PF,
} from "./counters";
import { clock, sd, pcpuBase, lookup, fill, present, keyAt, d0At, d1At, flagsAt, probeSet, oldestWay, renormalise, tagDelta, tagOf, TAG_NONE } from "./tlb";
import { vcRec, vmRec } from "./state";
import { ctxBits, globalBits, tlbKey, tlbDropVa } from "./flush";
import { walk, guestDenial, eptDenialOnHit } from "./walk";
import { pkruEff, pkrsEff, keyMasks } from "./pkru";
import { confMapped } from "./conform";
import { confRun4k, confRun2m, confWalkCount, fullRun } from "./fastpath";
import { backInCore } from "./backing";
import { MAX_CACHES, heapRec, slabTake, slabGive, slabAddr, slabHeapValid, slabRun, SL_OK } from "./slab";

// ---- the semantics of one page access --------------------------------------------

/** Counts a successful access by the tier of its data page. */
// @ts-ignore: decorator
@inline function countData(c: usize, flags: u32, kind: u32): void {
  bump(c, C_DATA + <i32>(((flags >> F_TIER_SHIFT) & 7) * 3 + kind));
}

/** Probes one TLB structure for `va` at page size `size` in ctx `bits`, then globals. */
function probeTlb(p: usize, s: i32, va: u64, size: u32, bits: u64, gbits: u64, globals: bool): i32 {
  if (!present(s)) return -1;
  const vpn = va >> <u64>(12 + 9 * size);
  const slot = lookup(p, s, vpn, tlbKey(vpn, bits, size));
  if (slot >= 0 || !globals) return slot;
  return lookup(p, s, vpn, tlbKey(vpn, gbits, size));
}

// which structure and size the last `probeL1`/`probeL2` hit
let hitS: i32 = 0;
let hitSize: u32 = 0;

function probeL1(p: usize, va: u64, kind: u32, bits: u64, gbits: u64, globals: bool): i32 {
  let slot: i32;
  if (kind == KIND_FETCH) {
    hitS = S_ITLB4K; hitSize = SZ_4K;
    slot = probeTlb(p, S_ITLB4K, va, SZ_4K, bits, gbits, globals);
    if (slot >= 0) return slot;
    hitS = S_ITLB2M; hitSize = SZ_2M;
    return probeTlb(p, S_ITLB2M, va, SZ_2M, bits, gbits, globals);
  }
  hitS = S_DTLB4K; hitSize = SZ_4K;
  slot = probeTlb(p, S_DTLB4K, va, SZ_4K, bits, gbits, globals);
  if (slot >= 0) return slot;
  hitS = S_DTLB2M; hitSize = SZ_2M;
  slot = probeTlb(p, S_DTLB2M, va, SZ_2M, bits, gbits, globals);
  if (slot >= 0) return slot;
  hitS = S_DTLB1G; hitSize = SZ_1G;
  return probeTlb(p, S_DTLB1G, va, SZ_1G, bits, gbits, globals);
}

function probeL2(p: usize, va: u64, kind: u32, bits: u64, gbits: u64, globals: bool): i32 {
  hitS = S_STLB; hitSize = SZ_4K;
  let slot = probeTlb(p, S_STLB, va, SZ_4K, bits, gbits, globals);
  if (slot >= 0) return slot;
  hitSize = SZ_2M;
  slot = probeTlb(p, S_STLB, va, SZ_2M, bits, gbits, globals);
  if (slot >= 0 || kind == KIND_FETCH) return slot;
  hitS = S_STLB1G; hitSize = SZ_1G;
  return probeTlb(p, S_STLB1G, va, SZ_1G, bits, gbits, globals);
}

function l1For(kind: u32, size: u32): i32 {
  if (kind == KIND_FETCH) return size == SZ_4K ? S_ITLB4K : S_ITLB2M;
  return size == SZ_4K ? S_DTLB4K : size == SZ_2M ? S_DTLB2M : S_DTLB1G;
}

/** Walks (a miss or a dirty assist) and counts the data access; 0 or an event. */
function walkAndCount(vc: usize, c: usize, p: usize, va: u64, kind: u32, len: u64): u32 {
  const r = walk(vc, c, p, va, kind);
  if (r != 0) return r;
  const flags = load<u32>(TR_FLAGS);
  countData(c, flags, kind);
  if (linesData) dataLines(c, p, load<u64>(TR_EXACT), len, kind, (flags >> F_TIER_SHIFT) & 7);
  return 0;
}

/** One page access of `len` bytes of the full model, from the L1 probe on; 0 or an event code. */
export function pageAccess(vc: usize, c: usize, p: usize, va: u64, kind: u32, len: u64): u32 {
  const vm = load<u32>(vc + VC_VM);
  const vpid = vm + 1;
  const bits = ctxBits(vpid, load<u32>(vc + VC_PCID));
  const gbits = globalBits(vpid);
  const globals = load<u32>(vmRec(vm) + VM_HAS_GLOBAL) != 0;

  let slot = probeL1(p, va, kind, bits, gbits, globals);
  if (slot >= 0) {
    if (hitS == S_ITLB2M) bump(c, C_HIT_I2M);
    else if (hitS == S_DTLB2M) bump(c, C_HIT_D2M);
    else if (hitS == S_DTLB1G) bump(c, C_HIT_D1G);
  } else {
    bump(c, kind == KIND_FETCH ? C_L1MISS_F : C_L1MISS_D);
    slot = probeL2(p, va, kind, bits, gbits, globals);
    if (slot < 0) return walkAndCount(vc, c, p, va, kind, len);
    bump(c, hitSize == SZ_4K ? C_STLB4K : hitSize == SZ_2M ? C_STLB2M : C_STLB1G);
    const l1 = l1For(kind, hitSize);
    if (present(l1)) {
      const s = hitS;
      const ns = <u32>slot;
      const vpn = va >> <u64>(12 + 9 * hitSize);
      fill(p, l1, vpn, load<u64>(keyAt(p, s, ns)), load<u64>(d0At(p, s, ns)), load<u64>(d1At(p, s, ns)), load<u32>(flagsAt(p, s, ns)));
    }
  }
  // check the entry's rights
  const flags = load<u32>(flagsAt(p, hitS, <u32>slot));
  const okTab = <usize>load<u32>(vc + VC_OK);
  if (load<u8>(okTab + (<usize>kind << 7) + <usize>(flags & 127)) != 0 && !keyDenied(vc, flags, kind)) {
    countData(c, flags, kind);
    if (linesData) {
      const span: u64 = (<u64>1 << <u64>(12 + 9 * hitSize)) - 1;
      dataLines(c, p, load<u64>(d0At(p, hitS, <u32>slot)) + (va & span), len, kind, (flags >> F_TIER_SHIFT) & 7);
    }
    return 0;
  }
  const denied = guestDenial(c, p, vc, va, flags, kind);
  if (denied != 0) return denied;
  if (load<u8>(okTab + (<usize>kind << 7) + <usize>((flags & 127) | F_D)) == 0) {
    const size = <u32>((load<u64>(keyAt(p, hitS, <u32>slot)) >> 1) & 3);
    return eptDenialOnHit(c, p, vc, va, flags, load<u64>(d1At(p, hitS, <u32>slot)), size, kind);
  }
  // a write to a clean entry: the walk sets D
  bump(c, C_DASSIST);
  tlbDropVa(p, va, bits);
  tlbDropVa(p, va, gbits);
  return walkAndCount(vc, c, p, va, kind, len);
}

// @ts-ignore: decorator
@inline function keyDenied(vc: usize, flags: u32, kind: u32): bool {
  const reg = (flags & F_U) != 0 ? pkruEff(vc) : pkrsEff(vc);
  const mask = (keyMasks(vc) >> (kind << 3)) & 3;
  return ((reg >> ((flags >> (F_KEY_SHIFT - 1)) & 30)) & mask) != 0;
}

// ---- the conformance model (REFERENCE.md section 9) -------------------------------

/** A walk of the conformance model: a first touch is a fault; 24 or 15 references. */
function confWalk(c: usize, vpn: u64, z: u32): void {
  if (!confMapped(vpn)) bump(c, C_PF);
  confWalkCount(c, z);
}

/** One page access of the conformance model. Never raises an event. */
export function confAccess(c: usize, p: usize, va: u64, kind: u32): void {
  const z = load<u32>(CFG_POLICY);
  const bits = ctxBits(1, 0);
  const vpn = va >> <u64>(12 + 9 * z);
  const key = tlbKey(vpn, bits, z);
  const l1 = kind == KIND_FETCH ? (z == SZ_4K ? S_ITLB4K : S_ITLB2M) : z == SZ_4K ? S_DTLB4K : S_DTLB2M;
  // L1 hits are not counted: every one is at the policy's page size (src/core derives them)
  if (present(l1) && lookup(p, l1, vpn, key) >= 0) return;
  bump(c, kind == KIND_FETCH ? C_L1MISS_F : C_L1MISS_D);
  if (present(S_STLB) && lookup(p, S_STLB, vpn, key) >= 0) {
    bump(c, z == SZ_4K ? C_STLB4K : C_STLB2M);
  } else {
    confWalk(c, vpn, z);
    if (present(S_STLB)) fill(p, S_STLB, vpn, key, 0, 0, 0);
  }
  if (present(l1)) fill(p, l1, vpn, key, 0, 0, 0);
}

// ---- requests ----------------------------------------------------------------------

function raise(code: u32, i: u32, vcpu: u32, va: u64): u32 {
  store<u32>(EV_CODE, code);
  store<u32>(EV_INDEX, i);
  store<u32>(EV_VCPU, vcpu);
  store<u32>(CUR_INDEX, i);
  store<u64>(CUR_ADDR, va);
  store<u32>(CUR_RETRY, code == EV_BAD_VCPU ? 0 : 1);
  if (code == EV_BAD_VCPU) store<u64>(EV_VA, va);
  return code;
}

function validVcpu(vcpu: u32): bool {
  return vcpu < load<u32>(CFG_VCPUS) && load<u32>(vcRec(vcpu) + VC_ACTIVE) != 0;
}

/**
 * Runs request `i` page by page from `from` (the request's address, or the page access
 * that raised the last event, which then counts as a retry). Returns 0 or an event.
 */
function slowRequest(i: u32, from: u64, retry: bool): u32 {
  const r = <usize>load<u32>(CFG_REQ_BUF) + <usize>i * REQ_BYTES;
  const addr = load<u64>(r);
  const info = load<u32>(r, 8);
  const size = load<u32>(r, 12);
  const vcpu = info >> 8;
  const kind = info & 0xFF;
  if (kind == KIND_ALLOC || kind == KIND_FREE) return slabOp(i, r, kind, vcpu);
  if (kind > KIND_FREE || !validVcpu(vcpu)) return raise(EV_BAD_VCPU, i, vcpu, addr);
  const vc = vcRec(vcpu);
  const c = cnt(vcpu);
  const p = pcpuBase(load<u32>(vc + VC_PCPU));
  const last = addr + <u64>(size == 0 ? 1 : size) - 1;
  const conf = load<u32>(CFG_MODEL) == 1;
  let va = from;
  let first = true;
  while (true) {
    bump(c, (first && retry ? C_RETRY : C_REQ) + <i32>kind);
    first = false;
    clock++;
    if (conf) confAccess(c, p, va, kind);
    else {
      const ev = pageAccess(vc, c, p, va, kind, min<u64>(last, va | 0xFFF) - va + 1);
      if (ev != 0) return raise(ev, i, vcpu, va);
    }
    const next = (va | 0xFFF) + 1;
    if (next > last) break;
    va = next;
  }
  return 0;
}

/** Runs the buffer from the cursor; returns EV_DONE or an event (docs/core.md 4). */
export function run(): u32 {
  // an EPT violation the core backs itself (backing.ts) resumes as the host's fix would
  let ev = runOnce();
  while (ev == EV_EPT_VIOLATION && backInCore()) ev = runOnce();
  return ev;
}

function runOnce(): u32 {
  store<u32>(EV_CODE, 0);
  if (clock > 0xF0000000) renormalise();
  let i = load<u32>(CUR_INDEX);
  const n = load<u32>(CUR_COUNT);
  if (load<u32>(CUR_RETRY) != 0 && i < n) {
    store<u32>(CUR_RETRY, 0);
    const ev = slowRequest(i, load<u64>(CUR_ADDR), true);
    if (ev != 0) return ev;
    i++;
  }
  store<u32>(CUR_INDEX, i);
  const ev = load<u32>(CFG_MODEL) == 1 ? runConformance(i, n) : runFull(i, n);
  if (ev == 0) store<u32>(CUR_INDEX, n);
  store<u32>(CFG_CLOCK, clock);
  return ev;
}

/** Drops the rest of the request that raised the last event. */
export function skip(): void {
  store<u32>(CUR_INDEX, load<u32>(CUR_INDEX) + 1);
  store<u32>(CUR_RETRY, 0);
}

// The inline paths count requests by kind in HOT_KINDS, packed 21 bits apart: enough
// for one buffer (at most 2^20 requests). This adds them to counters `c` and clears them.
// @ts-ignore: decorator
@inline function flushKinds(c: usize): void {
  const kc = load<u64>(HOT_KINDS);
  add(c, C_REQ, kc & 0x1FFFFF);
  add(c, C_REQ + 1, (kc >> 21) & 0x1FFFFF);
  add(c, C_REQ + 2, kc >> 42);
  store<u64>(HOT_KINDS, 0);
}

/** Runs one slab operation (kind 3 or 4) of request `i`; 0 or an event. */
function slabOp(i: u32, r: usize, kind: u32, heap: u32): u32 {
  if (!slabHeapValid(heap)) return raise(EV_BAD_VCPU, i, heap, load<u64>(r));
  const h = heapRec(heap);
  if (kind == KIND_ALLOC) {
    const cache = load<u32>(r, 12);
    // a class the heap cannot have is a bad request, not an empty class
    if (cache >= MAX_CACHES) return raise(EV_BAD_VCPU, i, heap, load<u64>(r));
    if (slabTake(h, cache) != SL_OK) {
      store<u32>(EV_ERROR, cache);
      return raise(EV_SLAB_EMPTY, i, heap, 0);
    }
    store<u64>(r, slabAddr);
    return 0;
  }
  const addr = load<u64>(r);
  const st = slabGive(heap, h, addr);
  if (st == SL_OK) return 0;
  store<u32>(EV_ERROR, st);
  store<u64>(EV_VA, addr);
  return raise(EV_BAD_FREE, i, heap, addr);
}

/** Loads the inline path's view of `vcpu`: its permission tables, keys, ctx and L1s. */
function setFullHot(vcpu: u32): void {
  const vc = vcRec(vcpu);
  const p = pcpuBase(load<u32>(vc + VC_PCPU));
  setHotGeom(HOT_GEOM, p, S_ITLB4K);
  setHotGeom(HOT_GEOM + 32, p, S_DTLB4K);
  setHotGeom(HOT_GEOM + 64, p, S_DTLB4K);
  setHotGeom(HOT_STLB, p, S_STLB);
  setHotBig(HOT_BIG, p, S_ITLB2M);
  setHotBig(HOT_BIG + 8, p, S_DTLB2M);
  setHotBig(HOT_BIG + 16, p, S_DTLB1G);
  setHotBig(HOT_BIG + 24, p, S_STLB1G);
  store<u32>(HOT_VCPU, load<u32>(vc + VC_OK));
  store<u32>(HOT_VCPU, pkruEff(vc), 4);
  store<u32>(HOT_VCPU, pkrsEff(vc), 8);
  store<u32>(HOT_VCPU, keyMasks(vc), 12);
  store<u32>(HOT_VCPU, <u32>cnt(vcpu), 16);
  store<u32>(HOT_VCPU, <u32>(vmRec(load<u32>(vc + VC_VM)) + VM_HAS_GLOBAL), 20);
  store<u64>(HOT_VCPU + 24, ctxBits(load<u32>(vc + VC_VM) + 1, load<u32>(vc + VC_PCID)));
  store<u32>(HOT_RUN_WHO, vcpu << 8);
  store<u32>(HOT_LINES_P, <u32>p);
  // the keys that let each kind through, for pages with U = 0 and U = 1
  const masks = keyMasks(vc);
  const pkru = pkruEff(vc);
  const pkrs = pkrsEff(vc);
  for (let kind: u32 = 0; kind < 3; kind++) {
    const m = (masks >> (kind << 3)) & 3;
    store<u16>(HOT_KEYOK + (<usize>kind << 2), keysOk(pkrs, m));
    store<u16>(HOT_KEYOK + (<usize>kind << 2) + 2, keysOk(pkru, m));
  }
}

/**
 * The keys (bit k for key k) a key register `reg` (AD at bit 2k, WD at 2k + 1) lets an
 * access through when the bits of `m` (1: AD, 2: WD) matter: all 16 at once, the
 * blocking bits gathered from the even positions.
 */
// @ts-ignore: decorator
@inline function keysOk(reg: u32, m: u32): u16 {
  let x = ((m & 1) != 0 ? reg : 0) | ((m & 2) != 0 ? reg >> 1 : 0);
  x &= 0x55555555;
  x = (x | (x >> 1)) & 0x33333333;
  x = (x | (x >> 2)) & 0x0F0F0F0F;
  x = (x | (x >> 4)) & 0x00FF00FF;
  x = (x | (x >> 8)) & 0x0000FFFF;
  return <u16>(~x & 0xFFFF);
}

/** The set mask and keys address of structure `s` of pCPU block `p`, for the full model's miss path. */
function setHotBig(g: usize, p: usize, s: i32): void {
  const d = sd(s);
  store<u32>(g, load<u32>(d + SD_SETS) - 1);
  store<u32>(g, <u32>(p + <usize>load<u32>(d + SD_KEYS)), 4);
}

function runFull(start: u32, n: u32): u32 {
  const buf = <usize>load<u32>(CFG_REQ_BUF);
  // of the inline runs, only Skylake's (fastpath.ts) models data lines
  const fast = present(S_ITLB4K) && present(S_DTLB4K);
  // Skylake's geometry has an inline run of its own (fastpath.ts)
  const spec =
    fullWays(S_ITLB4K, 8) && fullWays(S_DTLB4K, 4) && fullWays(S_STLB, 12) && fullWays(S_ITLB2M, 8) &&
    fullWays(S_DTLB2M, 4) && fullWays(S_DTLB1G, 4) && fullWays(S_STLB1G, 4);
  let cur: u32 = 0xFFFFFFFF; // the vCPU whose view the inline path holds
  let i = start;
  while (i < n) {
    if (cur != 0xFFFFFFFF && fast && (spec || !linesData)) {
      if (spec) {
        i = fullRun(i, n);
        const ev = load<u32>(HOT_RUN_EV);
        if (ev != 0) {
          // a walk of the run raised it, at the request before i
          flushKinds(cnt(cur));
          return raise(ev, i - 1, cur, load<u64>(<usize>load<u32>(CFG_REQ_BUF) + (<usize>(i - 1) << 4)));
        }
      } else i = fullHits(i, n, cur);
      if (i >= n) break;
    }
    const r = buf + <usize>i * REQ_BYTES;
    const va = load<u64>(r);
    const info = load<u32>(r, 8);
    const kind = info & 0xFF;
    const who = info >> 8;
    let ev: u32 = 0;
    if (kind == KIND_ALLOC || kind == KIND_FREE) {
      // a run of slab operations goes call-free; the one that fails raises its event here
      const j = slabRun(i, n);
      if (j > i) {
        i = j;
        continue;
      }
      ev = slabOp(i, r, kind, who);
    } else if (who != cur) {
      if (cur != 0xFFFFFFFF) flushKinds(cnt(cur));
      if (!validVcpu(who)) return raise(EV_BAD_VCPU, i, who, va);
      cur = who;
      if (fast) setFullHot(cur);
      continue;
    } else ev = slowRequest(i, va, false);
    if (ev != 0) {
      if (cur != 0xFFFFFFFF) flushKinds(cnt(cur));
      return ev;
    }
    i++;
  }
  if (cur != 0xFFFFFFFF) flushKinds(cnt(cur));
  return 0;
}

/**
 * Runs requests of `vcpu` from `start` while each is a hit in a 4 KiB L1 that its
 * rights allow; returns the index of the first that is not (or `n`).
 */
function fullHits(start: u32, n: u32, vcpu: u32): u32 {
  const buf = <usize>load<u32>(CFG_REQ_BUF);
  const lru = load<u32>(CFG_REPL) == 0;
  const okTab = <usize>load<u32>(HOT_VCPU);
  const c = <usize>load<u32>(HOT_VCPU, 16);
  const bits = load<u64>(HOT_VCPU + 24) | 1;
  let kc: u64 = 0;
  let clk = clock;
  let i = start;
  for (; i < n; i++) {
    const r = buf + <usize>i * REQ_BYTES;
    const va = load<u64>(r);
    const info = load<u32>(r, 8);
    const size = load<u32>(r, 12);
    const kind = info & 0xFF;
    if ((info >> 8) != vcpu || kind > 2 || (va & 0xFFF) + <u64>size > 0x1000) break;
    const vpn = va >> 12;
    const g = HOT_GEOM + (<usize>kind << 5);
    const wpad = load<u32>(g, 4);
    const first = (<u32>vpn & load<u32>(g)) * wpad;
    const w = probeSet(<usize>load<u32>(g, 8) + (<usize>first << 3), wpad, (vpn << 28) | bits);
    if (w < 0) break;
    const e = first + <u32>w;
    const fl = load<u32>(<usize>load<u32>(g, 20) + (<usize>e << 2));
    const reg = select<u32>(load<u32>(HOT_VCPU, 4), load<u32>(HOT_VCPU, 8), (fl & F_U) != 0);
    const denied = (reg >> ((fl >> (F_KEY_SHIFT - 1)) & 30)) & (load<u32>(HOT_VCPU, 12) >> (kind << 3)) & 3;
    if (load<u8>(okTab + (<usize>kind << 7) + <usize>(fl & 127)) == 0 || denied != 0) break;
    clk++;
    kc += load<u64>(HOT_INC + (<usize>kind << 3));
    if (lru) store<u32>(<usize>load<u32>(g, 12) + (<usize>e << 2), clk);
    countData(c, fl, kind);
  }
  clock = clk;
  store<u64>(HOT_KINDS, load<u64>(HOT_KINDS) + kc);
  return i;
}

function setHotGeom(g: usize, p: usize, s: i32): void {
  const d = sd(s);
  store<u32>(g, load<u32>(d + SD_SETS) - 1);
  store<u32>(g, load<u32>(d + SD_WPAD), 4);
  store<u32>(g, <u32>(p + <usize>load<u32>(d + SD_KEYS)), 8);
  store<u32>(g, <u32>(p + <usize>load<u32>(d + SD_STAMP)), 12);
  store<u32>(g, load<u32>(d + SD_WAYS), 16);
  store<u32>(g, <u32>(p + <usize>load<u32>(d + SD_FLAGS)), 20);
  store<u32>(g, <u32>(p + <usize>load<u32>(d + SD_D0)), 24);
  store<u32>(g, <u32>(p + <usize>load<u32>(d + SD_D1)), 28);
  if (g < HOT_STLB) store<u32>(HOT_SETOFF + ((g - HOT_GEOM) >> 3), (load<u32>(d + SD_SETS) - 1) * load<u32>(d + SD_WPAD) * 8);
}

/** Writes the hot geometry of the L1s of size `z` (per kind) and the STLB of pCPU block `p`. */
function setHot(p: usize, z: u32): void {
  for (let kind: u32 = 0; kind < 3; kind++) {
    const s = kind == KIND_FETCH ? (z == SZ_4K ? S_ITLB4K : S_ITLB2M) : z == SZ_4K ? S_DTLB4K : S_DTLB2M;
    setHotGeom(HOT_GEOM + (<usize>kind << 5), p, s);
  }
  setHotGeom(HOT_STLB, p, S_STLB);
  // the tags of the L1s (fetch, data) and of the STLB
  store<u32>(HOT_TAGS, load<u32>(HOT_GEOM, 12) + <u32>tagDelta);
  store<u32>(HOT_TAGS, load<u32>(HOT_GEOM + 32, 12) + <u32>tagDelta, 4);
  store<u32>(HOT_TAGS, load<u32>(HOT_STLB, 12) + <u32>tagDelta, 8);
  for (let i: u32 = 0; i < 4; i++) store<u32>(HOT_LANES + (<usize>i << 2), i);
}

/** An L1 miss of the conformance model: the STLB, else a walk; then the L1 fill. */
function confMiss(c: usize, p: usize, vpn: u64, key: u64, kind: u32, z: u32, clk: u32): void {
  bump(c, kind == KIND_FETCH ? C_L1MISS_F : C_L1MISS_D);
  const ss = sd(S_STLB);
  const sW = load<u32>(ss + SD_WPAD);
  const sFirst = (<u32>vpn & (load<u32>(ss + SD_SETS) - 1)) * sW;
  const sk = p + <usize>load<u32>(ss + SD_KEYS) + (<usize>sFirst << 3);
  const ssp = p + <usize>load<u32>(ss + SD_STAMP) + (<usize>sFirst << 2);
  const lru = load<u32>(CFG_REPL) == 0;
  const sw = probeSet(sk, sW, key);
  if (sw >= 0) {
    bump(c, z == SZ_4K ? C_STLB4K : C_STLB2M);
    if (lru) store<u32>(ssp + (<usize>sw << 2), clk);
  } else {
    confWalk(c, vpn, z);
    const v = oldestWay(sk, ssp, load<u32>(ss + SD_WAYS), sW);
    store<u64>(sk + (<usize>v << 3), key);
    store<u32>(ssp + (<usize>v << 2), clk);
    store<u32>(ssp + (<usize>v << 2) + tagDelta, tagOf(key));
  }
  const g = HOT_GEOM + (<usize>kind << 5);
  const wpad = load<u32>(g, 4);
  const first = (<u32>vpn & load<u32>(g)) * wpad;
  const keys = <usize>load<u32>(g, 8) + (<usize>first << 3);
  const stamps = <usize>load<u32>(g, 12) + (<usize>first << 2);
  const v = oldestWay(keys, stamps, load<u32>(g, 16), wpad);
  store<u64>(keys + (<usize>v << 3), key);
  store<u32>(stamps + (<usize>v << 2), clk);
  store<u32>(stamps + (<usize>v << 2) + tagDelta, tagOf(key));
}

function runConformance(start: u32, n: u32): u32 {
  if (!validVcpu(0)) return raise(EV_BAD_VCPU, start, 0, 0);
  const z = load<u32>(CFG_POLICY);
  const p = pcpuBase(0);
  const c = cnt(0);
  const buf = <usize>load<u32>(CFG_REQ_BUF);
  const fast =
    present(z == SZ_4K ? S_ITLB4K : S_ITLB2M) && present(z == SZ_4K ? S_DTLB4K : S_DTLB2M) && present(S_STLB) && load<u32>(CFG_REPL) != 2;
  if (fast) setHot(p, z);
  // Skylake's geometry (8-way ITLBs, 4-way DTLBs, 12-way STLB) has a loop of its own
  // (at 4 KiB pages, their tags need 16 sets at least: tlb.ts)
  const spec =
    fast && fullWays(z == SZ_4K ? S_ITLB4K : S_ITLB2M, 8) && fullWays(z == SZ_4K ? S_DTLB4K : S_DTLB2M, 4) && fullWays(S_STLB, 12) &&
    (z != SZ_4K || (load<u32>(sd(S_ITLB4K) + SD_SETS) >= 16 && load<u32>(sd(S_DTLB4K) + SD_SETS) >= 16 && load<u32>(sd(S_STLB) + SD_SETS) >= 16));
  let i = start;
  while (i < n) {
    // The inline path runs L1 hits until something else comes; a call-free loop
    // keeps its state in registers (V8 saves no register across a Wasm call).
    if (fast) {
      i = spec ? (z == SZ_4K ? confRun4k(i, n) : confRun2m(i, n)) : z == SZ_4K ? confHits4k(i, n) : confHits2m(i, n);
      if (i >= n) break;
    }
    const r = buf + <usize>i * REQ_BYTES;
    const va = load<u64>(r);
    const info = load<u32>(r, 8);
    const size = load<u32>(r, 12);
    // (the inline run stops at a page whose tag is TAG_NONE too: it may be an L1 hit)
    if (!fast || info > 2 || (va & 0xFFF) + <u64>size > 0x1000 || (spec && <u32>(va >> (z == SZ_4K ? 16 : 21)) == TAG_NONE)) {
      const ev = slowRequest(i, va, false);
      if (ev != 0) {
        flushKinds(c);
        return ev;
      }
    } else {
      // an L1 miss
      clock++;
      store<u64>(HOT_KINDS, load<u64>(HOT_KINDS) + load<u64>(HOT_INC + (<usize>info << 3)));
      const vpn = va >> <u64>(12 + 9 * z);
      confMiss(c, p, vpn, (vpn << 28) | ctxBits(1, 0) | (<u64>z << 1) | 1, info, z, clock);
    }
    i++;
  }
  flushKinds(c);
  return 0;
}

/** Whether structure `s` has exactly `ways` ways (so no padding way). */
function fullWays(s: i32, ways: u32): bool {
  return load<u32>(sd(s) + SD_WAYS) == ways && load<u32>(sd(s) + SD_WPAD) == ways;
}

function confHits4k(start: u32, n: u32): u32 {
  return confHits(start, n, SZ_4K);
}
function confHits2m(start: u32, n: u32): u32 {
  return confHits(start, n, SZ_2M);
}

/**
 * Runs requests from `start` while each hits in the L1 or the STLB of the conformance
 * model; returns the index of the first that does not (a walk, a page-crossing access
 * or another vCPU), or `n`. Page size `z` is a constant at each use, so shifts fold.
 */
// @ts-ignore: decorator
@inline function confHits(start: u32, n: u32, z: u32): u32 {
  const buf = <usize>load<u32>(CFG_REQ_BUF);
  const lru = load<u32>(CFG_REPL) == 0;
  const bits = ctxBits(1, 0) | (<u64>z << 1) | 1;
  let kc: u64 = 0;
  let missF: u64 = 0, missD: u64 = 0;
  let clk = clock;
  let i = start;
  for (; i < n; i++) {
    const r = buf + <usize>i * REQ_BYTES;
    const va = load<u64>(r);
    const kind = load<u32>(r, 8); // vcpu 0 and a valid kind leave just the kind
    const size = load<u32>(r, 12);
    if (kind > 2 || (va & 0xFFF) + <u64>size > 0x1000) break;
    const vpn = va >> <u64>(12 + 9 * z);
    const key = (vpn << 28) | bits;
    const g = HOT_GEOM + (<usize>kind << 5);
    const wpad = load<u32>(g, 4);
    const first = (<u32>vpn & load<u32>(g)) * wpad;
    const keys = <usize>load<u32>(g, 8) + (<usize>first << 3);
    const stamps = <usize>load<u32>(g, 12) + (<usize>first << 2);
    const w = probeSet(keys, wpad, key);
    if (w >= 0) {
      clk++;
      kc += load<u64>(HOT_INC + (<usize>kind << 3));
      if (lru) store<u32>(stamps + (<usize>w << 2), clk);
      continue;
    }
    // L1 miss: an STLB hit fills the L1 here; a walk leaves the loop
    const sW = load<u32>(HOT_STLB, 4);
    const sFirst = (<u32>vpn & load<u32>(HOT_STLB)) * sW;
    const sw = probeSet(<usize>load<u32>(HOT_STLB, 8) + (<usize>sFirst << 3), sW, key);
    if (sw < 0) break;
    clk++;
    kc += load<u64>(HOT_INC + (<usize>kind << 3));
    if (kind == KIND_FETCH) missF++;
    else missD++;
    if (lru) store<u32>(<usize>load<u32>(HOT_STLB, 12) + (<usize>(sFirst + <u32>sw) << 2), clk);
    const v = oldestWay(keys, stamps, load<u32>(g, 16), wpad);
    store<u64>(keys + (<usize>v << 3), key);
    store<u32>(stamps + (<usize>v << 2), clk);
    store<u32>(stamps + (<usize>v << 2) + tagDelta, tagOf(key));
  }
  clock = clk;
  store<u64>(HOT_KINDS, load<u64>(HOT_KINDS) + kc);
  if (missF + missD != 0) {
    const c = cnt(0);
    add(c, C_L1MISS_F, missF);
    add(c, C_L1MISS_D, missD);
    add(c, z == SZ_4K ? C_STLB4K : C_STLB2M, missF + missD);
  }
  return i;
}
