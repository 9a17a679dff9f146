// First-touch backing in the core (docs/core.md section 5d). The osv back-end fixes an
// EPT violation by backing the 4 KiB guest page with the next host frame of its tier
// order, after topping the VM's EPT table pool up to 3 frames, then resuming the access.
// Handled in JavaScript, that round trip cost more than the walks it interrupts. Here the
// core does the same thing where the violation is raised, from a stream of host frames
// that the host drew ahead from its allocator, in the order that allocator would have
// handed them out one fault at a time; the host settles the stream after the core's run
// (statistics, its record of table frames) and gives back what was not taken. Anything
// else (no stream left, a rights violation, a gPA past the VM's memory) stays an event.
//
// Region (heap.ts regionAt; BK_* offsets, mirrored in src/core/layout.ts BACKING):
//   u32 capacity, u32 taken (frames consumed since the host's start), u32 count
//   (frames the host wrote), u32 vms; then per VM (BK_VM_BYTES): u64 limit (the VM's
//   guest-physical bytes; 0: off), u32 pool count (0xFFFFFFFF: the pool stays on the
//   host), u32 pad, 3 x u64 pool frames (front first); then capacity x u64 frames; then
//   capacity x u32 log entries, one per frame taken: vm << 1 | 1 for a table frame.
import { EV_VCPU, EV_ERROR, EV_GPA, IO_FRAMES, IO_NFRAMES, IO_USED, VC_VM, VM_EPT_ROOT, SZ_4K } from "./layout";
import { vcRec, vmRec } from "./state";
import { regionAt } from "./heap";
import { eptTranslate, mapLeaf, NONE, ST_OK, ADDR_MASK } from "./pagetable";

export const BK_CAPACITY: usize = 0;
export const BK_TAKEN: usize = 4;
export const BK_COUNT: usize = 8;
export const BK_VMS: usize = 12;
export const BK_VM0: usize = 16;
export const BK_VM_BYTES: usize = 40;
export const BK_POOL_MAX: u32 = 3;
/** The EPT rights of a backed page: R, W, X, write-back (as the hypervisor maps it). */
const RWX_WB: u64 = 7 | (6 << 3);
/** EPT qualification bits 3..5: the rights the entry had (0: not present). */
const Q_RIGHTS: u32 = 8 | 16 | 32;

const region: usize = memory.data(8, 4);
let base: usize = 0;

/**
 * The stream's region for `vms` VMs and `capacity` frames (the last one reused when
 * large enough), every VM off. Returns its address (8-aligned), 0 when memory ran out.
 */
export function bkRegion(vms: u32, capacity: u32): u32 {
  const bytes = BK_VM0 + <usize>vms * BK_VM_BYTES + <usize>capacity * 12;
  const at = regionAt(region, bytes);
  base = at;
  if (at == 0) return 0;
  memory.fill(at, 0, BK_VM0 + <usize>vms * BK_VM_BYTES);
  store<u32>(at + BK_CAPACITY, capacity);
  store<u32>(at + BK_VMS, vms);
  return <u32>at;
}

// @ts-ignore: decorator
@inline function frameAt(b: usize, i: u32): usize {
  return b + BK_VM0 + <usize>load<u32>(b + BK_VMS) * BK_VM_BYTES + (<usize>i << 3);
}

// @ts-ignore: decorator
@inline function logAt(b: usize, i: u32): usize {
  return frameAt(b, load<u32>(b + BK_CAPACITY)) + (<usize>i << 2);
}

/** Takes the stream's next frame for `vm` (a table frame when `table`). */
function take(b: usize, vm: u32, table: bool): u64 {
  const i = load<u32>(b + BK_TAKEN);
  store<u32>(logAt(b, i), (vm << 1) | (table ? 1 : 0));
  store<u32>(b + BK_TAKEN, i + 1);
  return load<u64>(frameAt(b, i));
}

/**
 * Backs the page of the EPT violation just raised, as the host would, when the stream
 * allows it; true when the access can be retried.
 */
export function backInCore(): bool {
  const b = base;
  if (b == 0 || load<u32>(b + BK_COUNT) == 0) return false;
  const vm = load<u32>(vcRec(load<u32>(EV_VCPU)) + VC_VM);
  if (vm >= load<u32>(b + BK_VMS)) return false;
  const v = b + BK_VM0 + <usize>vm * BK_VM_BYTES;
  const limit = load<u64>(v);
  const pool = load<u32>(v, 8);
  const gpa = load<u64>(EV_GPA);
  if (limit == 0 || pool > BK_POOL_MAX || (load<u32>(EV_ERROR) & Q_RIGHTS) != 0 || gpa >= limit) return false;
  const taken = load<u32>(b + BK_TAKEN);
  if (load<u32>(b + BK_COUNT) - taken < 1 + BK_POOL_MAX - pool) return false;
  if (eptTranslate(vm, gpa) != NONE) return false;
  const data = take(b, vm, false);
  let n = pool;
  for (; n < BK_POOL_MAX; n++) store<u64>(v + 16 + (<usize>n << 3), take(b, vm, true));
  // the pool is offered as the host offers it (pagetable.ts takes frames from the front)
  for (let i: u32 = 0; i < n; i++) {
    store<u64>(IO_FRAMES + (<usize>i << 4), 0);
    store<u64>(IO_FRAMES + (<usize>i << 4) + 8, load<u64>(v + 16 + (<usize>i << 3)));
  }
  store<u32>(IO_NFRAMES, n);
  store<u32>(IO_USED, 0);
  const st = mapLeaf(vm, true, load<u64>(vmRec(vm) + VM_EPT_ROOT), gpa & ~(<u64>0xFFF), SZ_4K + 1, (data & ADDR_MASK) | RWX_WB);
  if (st != ST_OK) {
    // (the core's memory ran out) undone: the host's own map raises the error
    store<u32>(b + BK_TAKEN, taken);
    return false;
  }
  const used = load<u32>(IO_USED);
  for (let i: u32 = used; i < n; i++) store<u64>(v + 16 + (<usize>(i - used) << 3), load<u64>(v + 16 + (<usize>i << 3)));
  store<u32>(v + 8, n - used);
  return true;
}

/** Turns first-touch backing off for `vm` (a destroyed VM). */
export function bkVmOff(vm: u32): void {
  const b = base;
  if (b != 0 && vm < load<u32>(b + BK_VMS)) store<u64>(b + BK_VM0 + <usize>vm * BK_VM_BYTES, 0);
}
