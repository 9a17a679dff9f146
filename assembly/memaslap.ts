// memaslap's request stream in the core, draw for draw as src/workloads/memcached/
// memaslap.ts (class Memaslap, nextShared), which stays the reference: the warmup, the
// round-robin or random schedule, ms_select_opt/ms_adjust_opt, kick-outs, overwrites
// and the get/set-too-fast checks. The server loop calls msNext and reads the request
// from the ms* globals below; the host copies the stream's state in and back
// (src/workloads/memcached/core-memaslap.ts).
//
// State at addresses the host gives (msConfigure), in the host's flat layout:
//   keyIds   f64[concurrency * windowSize]  connection c's window at c * windowSize
//   conns    f64[concurrency * 8]           per connection (the C_* offsets below)
//   keySize  i32[windowSize]                 sizes per window slot (read only)
//   valSize  i32[windowSize]
//   active   u32[concurrency]                connections still running, in order
//   stored   u8[concurrency * windowSize]    1: the slot's key is stored
// The scalars live in globals (msState reads them back); the random stream is rng.ts's.
import { regionAt } from "./heap";
import { nextInt, rngSeed, rngWord } from "./rng";

// Per-connection f64 slots (memaslap.ts MEMASLAP_CONN_*), byte offsets.
const C_SET_CURSOR: usize = 0;
const C_GET_OPT: usize = 8;
const C_SET_OPT: usize = 16;
const C_UNDO_GET: usize = 24;
const C_UNDO_SET: usize = 32;
const C_OVERWRITE_SET: usize = 40;
const C_REMAIN_EXEC: usize = 48;
const C_REMAIN_WARMUP: usize = 56;
const CONN_BYTES: usize = 64;

// ms_setting.h PROP_ERROR, ms_task.c CMD_DISTR_ADJUST_CYCLE and DISADJUST_FACTOR
const PROP_ERROR: f64 = 0.001;
const CMD_DISTR_ADJUST_CYCLE: f64 = 1000;
const DISADJUST_FACTOR: f64 = 0.03;

/** msOp values. */
export const MS_GET: u32 = 0;
export const MS_SET: u32 = 1;

// ---- the request msNext drew (read by the server loop) ---------------------------------

/** MS_GET or MS_SET. */
export let msOp: u32 = 0;
/** Connection (0 .. concurrency-1). */
export let msConn: u32 = 0;
/** The key's id (memaslapKeyBytes names it). */
export let msKeyId: f64 = 0;
export let msKeySize: u32 = 0;
export let msValueSize: u32 = 0;
/** On a set that kicked a key out of its window: that key's id (never asked for again); -1: none. */
export let msRetired: f64 = -1;
/** A warmup set (a mix without sets stores every window first). */
export let msWarmup: bool = false;

// ---- configuration and state ------------------------------------------------------------

let keysAt: usize = 0;
let storedAt: usize = 0;
let connsAt: usize = 0;
let activeAt: usize = 0;
let keySizeAt: usize = 0;
let valueSizeAt: usize = 0;
let conc: u32 = 1;
let win: u32 = 1;
let winF: f64 = 1;
let setProp: f64 = 0;
let getProp: f64 = 0;
let overwrite: f64 = 0;
let randomSchedule = false;
// memaslap's constants, computed once as it computes them at each use
let setsOn = false; // ms_select_opt: set_prop > PROP_ERROR
let setTooFastOn = false; // ms_is_set_too_fast: !(set_prop < PROP_ERROR)
let getTooFastOn = false; // ms_is_get_too_fast: !(get_prop < PROP_ERROR)
let undoGetCycle: f64 = 0;
let undoSetCycle: f64 = 0;
let maxUndoSetPerGet: f64 = 0; // (int)(set_prop / get_prop * (1 + DISADJUST_FACTOR))
let maxUndoGetPerSet: f64 = 0; // get_prop / set_prop * (1 + DISADJUST_FACTOR), times cycle_undo_set, truncated

let nextKeyId: f64 = 0;
// below concurrency * (windowSize + 1): a u32
let turn: u32 = 0;
let warmingUp = false;
let activeCount: u32 = 0;
let gets: f64 = 0;
let sets: f64 = 0;
let retired: f64 = 0;

// The region msRegion hands out (heap.ts regionAt).
const region: usize = memory.data(8, 4);

/**
 * A region of at least `bytes` for the stream's state (the last one reused when large
 * enough; a larger one replaces it, in place when it is the heap's last allocation).
 * Returns its address (8-aligned), 0 when memory ran out.
 */
export function msRegion(bytes: u32): u32 {
  return <u32>regionAt(region, <usize>bytes);
}

/**
 * Takes the stream: the arrays' addresses (the layout above), its parameters (schedule
 * 0 round-robin, 1 random) and its scalars (Memaslap.scalars; warmingUp 0 or 1).
 */
export function msConfigure(
  keyIds: u32, stored: u32, conns: u32, active: u32, keySizes: u32, valueSizes: u32,
  concurrency: u32, windowSize: u32, setP: f64, getP: f64, overwriteP: f64, schedule: u32,
  nextKey: f64, turnAt: f64, warmup: u32, running: u32, getCount: f64, setCount: f64, retiredCount: f64,
): void {
  keysAt = <usize>keyIds;
  storedAt = <usize>stored;
  connsAt = <usize>conns;
  activeAt = <usize>active;
  keySizeAt = <usize>keySizes;
  valueSizeAt = <usize>valueSizes;
  conc = concurrency;
  win = windowSize;
  winF = <f64>windowSize;
  setProp = setP;
  getProp = getP;
  overwrite = overwriteP;
  randomSchedule = schedule == 1;
  setsOn = setP > PROP_ERROR;
  setTooFastOn = !(setP < PROP_ERROR);
  getTooFastOn = !(getP < PROP_ERROR);
  undoGetCycle = Math.trunc(CMD_DISTR_ADJUST_CYCLE * getP);
  undoSetCycle = Math.trunc(CMD_DISTR_ADJUST_CYCLE * setP);
  maxUndoSetPerGet = Math.trunc((setP / getP) * (1.0 + DISADJUST_FACTOR));
  maxUndoGetPerSet = (getP / setP) * (1.0 + DISADJUST_FACTOR);
  nextKeyId = nextKey;
  turn = <u32>turnAt;
  warmingUp = warmup != 0;
  activeCount = running;
  gets = getCount;
  sets = setCount;
  retired = retiredCount;
}

/** The random stream's state (the host's Rng.getState). */
export function msSeed(a: u32, b: u32, c: u32, d: u32): void {
  rngSeed(a, b, c, d);
}

/** The random stream's state word `i` (0..3), for the host's Rng.setState. */
export function msRngWord(i: u32): u32 {
  return rngWord(i);
}

/** Scalar `i`: 0 nextKeyId, 1 turn, 2 warmingUp (0/1), 3 active connections, 4 gets, 5 sets, 6 retired keys. */
export function msState(i: u32): f64 {
  switch (i) {
    case 0: return nextKeyId;
    case 1: return <f64>turn;
    case 2: return warmingUp ? 1 : 0;
    case 3: return <f64>activeCount;
    case 4: return gets;
    case 5: return sets;
    case 6: return retired;
    default: return 0;
  }
}

// ---- the stream --------------------------------------------------------------------------

/**
 * Draws the next request into msOp, msConn, msKeyId, msKeySize, msValueSize, msRetired
 * and msWarmup (Memaslap.nextShared); false when the operations are exhausted.
 */
export function msNext(): bool {
  if (warmingUp) {
    if (warmup()) return true;
    warmingUp = false;
    turn = 0;
  }
  while (activeCount > 0) {
    const idx: u32 = randomSchedule ? <u32>nextInt(<f64>activeCount) : turn % activeCount;
    const c = load<u32>(activeAt + (<usize>idx << 2));
    const p = connsAt + <usize>c * CONN_BYTES;
    const remain = load<f64>(p, C_REMAIN_EXEC);
    if (remain <= 0) {
      // the connection is done: drop it, the others keep their order
      const at = activeAt + (<usize>idx << 2);
      memory.copy(at, at + 4, <usize>(activeCount - idx - 1) << 2);
      activeCount--;
      continue;
    }
    store<f64>(p, remain - 1, C_REMAIN_EXEC);
    turn = idx + 1;
    runTask(c, p);
    return true;
  }
  return false;
}

/** Draws up to `n` requests into 32-byte records at `out` (f64 key id, f64 retired key or -1, u32 connection, key size, value size, flags: 1 set, 2 warmup); returns how many. For tests. */
export function msDraw(n: u32, out: u32): u32 {
  let p = <usize>out;
  let i: u32 = 0;
  while (i < n && msNext()) {
    store<f64>(p, msKeyId);
    store<f64>(p, msRetired, 8);
    store<u32>(p, msConn, 16);
    store<u32>(p, msKeySize, 20);
    store<u32>(p, msValueSize, 24);
    store<u32>(p, msOp | (msWarmup ? 2 : 0), 28);
    p += 32;
    i++;
  }
  return i;
}

/** cursor % windowSize (a double remainder is a software loop in Wasm). */
// @ts-ignore: decorator
@inline function slotOf(cursor: f64): u32 {
  return cursor < 4294967296.0 ? <u32>cursor % win : <u32>(<u64>cursor % <u64>win);
}

/** The request: window slot `item` of connection c. */
// @ts-ignore: decorator
@inline function emit(op: u32, c: u32, item: u32, old: f64, warm: bool): void {
  msOp = op;
  msConn = c;
  msKeyId = load<f64>(keysAt + ((<usize>c * <usize>win + <usize>item) << 3));
  msKeySize = load<u32>(keySizeAt + (<usize>item << 2));
  msValueSize = load<u32>(valueSizeAt + (<usize>item << 2));
  msRetired = old;
  msWarmup = warm;
}

/** The warmup's next set, connections in turn; false when every window is stored. */
function warmup(): bool {
  for (let tries: u32 = 0; tries < conc; tries++) {
    const c = turn % conc;
    turn++;
    const p = connsAt + <usize>c * CONN_BYTES;
    const remain = load<f64>(p, C_REMAIN_WARMUP);
    if (remain > 0) {
      store<f64>(p, remain - 1, C_REMAIN_WARMUP);
      const cursor = load<f64>(p, C_SET_CURSOR);
      const item = slotOf(cursor);
      store<u8>(storedAt + <usize>c * <usize>win + <usize>item, 1);
      store<f64>(p, cursor + 1, C_SET_CURSOR);
      sets += 1;
      emit(MS_SET, c, item, -1, true);
      return true;
    }
  }
  return false;
}

/** ms_get_next_get_item. */
// @ts-ignore: decorator
@inline function nextGetItem(cursor: f64): u32 {
  if (cursor <= 0) return 0;
  if (cursor < winF) return <u32>nextInt(cursor);
  return <u32>nextInt(winF);
}

/** ms_kick_out_item: a fresh key in the slot at `slot` (flat index), not stored yet; returns the old key. */
// @ts-ignore: decorator
@inline function kickOut(slot: usize): f64 {
  const at = keysAt + (slot << 3);
  const old = load<f64>(at);
  store<f64>(at, nextKeyId);
  nextKeyId += 1;
  store<u8>(storedAt + slot, 0);
  retired += 1;
  return old;
}

// @ts-ignore: decorator
@inline function isGetTooFast(getOpt: f64, setOpt: f64, undoGet: f64, undoSet: f64): bool {
  return getTooFastOn && getOpt * setProp > setOpt * getProp && undoSet > maxUndoSetPerGet * undoGet;
}

// @ts-ignore: decorator
@inline function isSetTooFast(getOpt: f64, setOpt: f64, undoGet: f64, undoSet: f64): bool {
  return setTooFastOn && getOpt * setProp < setOpt * getProp && undoGet > Math.trunc(maxUndoGetPerSet * undoSet);
}

/**
 * ms_get_task (not warmup) + the set or get it issues + ms_update_set_result, for
 * connection c whose counters are at p (Memaslap.runTask; its comments say why).
 */
function runTask(c: u32, p: usize): void {
  const w = <usize>c * <usize>win;
  let cursor = load<f64>(p, C_SET_CURSOR);
  const getOpt = load<f64>(p, C_GET_OPT);
  const setOpt = load<f64>(p, C_SET_OPT);
  let undoGet = load<f64>(p, C_UNDO_GET);
  let undoSet = load<f64>(p, C_UNDO_SET);
  let overwriteSet = load<f64>(p, C_OVERWRITE_SET);
  let isSet: bool;
  let item: u32;
  let old: f64;
  while (true) {
    // ms_select_opt
    if (undoGet == 0 || undoSet == 0) {
      undoGet += undoGetCycle;
      undoSet += undoSetCycle;
    }
    if (setsOn && getOpt * setProp >= setOpt * getProp) {
      isSet = true;
      item = slotOf(cursor);
    } else {
      isSet = false;
      item = nextGetItem(cursor);
    }
    // ms_adjust_opt
    old = -1;
    if (isSet) {
      if (isSetTooFast(getOpt, setOpt, undoGet, undoSet) && load<u8>(storedAt + w + <usize>item) != 0) {
        isSet = false;
        break;
      }
      if (load<u8>(storedAt + w + <usize>item) != 0) {
        if (overwriteSet < setOpt * overwrite) overwriteSet += 1;
        else old = kickOut(w + <usize>item);
      } else if (overwriteSet < setOpt * overwrite) {
        cursor -= 1;
        item = nextGetItem(cursor);
        if (load<u8>(storedAt + w + <usize>item) != 0) overwriteSet += 1;
      }
      break;
    }
    if (load<u8>(storedAt + w + <usize>item) == 0) {
      isSet = true;
      break;
    }
    if (isGetTooFast(getOpt, setOpt, undoGet, undoSet)) {
      if (!isSetTooFast(getOpt, setOpt, undoGet, undoSet)) {
        old = kickOut(w + <usize>item);
        isSet = true;
        break;
      }
      continue; // ms_adjust_opt returned false: select again
    }
    break;
  }
  if (isSet) {
    store<u8>(storedAt + w + <usize>item, 1);
    store<f64>(p, cursor + 1, C_SET_CURSOR);
    store<f64>(p, setOpt + 1, C_SET_OPT);
    store<f64>(p, undoGet, C_UNDO_GET);
    store<f64>(p, undoSet - 1, C_UNDO_SET);
    store<f64>(p, overwriteSet, C_OVERWRITE_SET);
    sets += 1;
    emit(MS_SET, c, item, old, false);
  } else {
    store<f64>(p, getOpt + 1, C_GET_OPT);
    store<f64>(p, undoGet - 1, C_UNDO_GET);
    store<f64>(p, undoSet, C_UNDO_SET); // refilled perhaps; overwriteSet changes only on a set
    gets += 1;
    emit(MS_GET, c, item, -1, false);
  }
}
