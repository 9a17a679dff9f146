// The key-value store's ordered index, a B+-tree (src/workloads/ycsb/btree.ts is the
// reference, insert for insert): its arrays in the core's memory in the host tree's
// layout, so the host copies them in and back. Node n: count, leaf flag, next leaf and
// guest address at [n]; slots (packed heads A and B, value) at [n * span, ...), span =
// slots per node + 1 (a node holds one extra slot until it splits); an inner node's
// children at [n * (span + 1), ...). Values are record ids; a tie of packed heads is
// decided by the records' key names (keys.ts compareDigits).
import { access, queued, KIND_READ, KIND_WRITE, recordKeyNum, nameValue, keyLength, kvScanVisit } from "./kvstore";
import { compareDigits } from "./keys";

const NODE_HEADER: u32 = 16; // btree.ts BTREE_NODE_HEADER_BYTES
const MAX_DEPTH = 64;

// The guest allocator, through the host: (bytes, 1 for the store's metadata tier, the
// requests queued, the requests the operation may still write) -> guest address.
// @ts-ignore: decorator
@external("env", "kvMalloc") export declare function hostMalloc(bytes: u32, meta: u32, queued: u32, room: u32): f64;

let on = false;
let countA: usize = 0;
let leafA: usize = 0;
let nextA: usize = 0;
let vaA: usize = 0;
let keyAA: usize = 0;
let keyBA: usize = 0;
let ridA: usize = 0;
let kidA: usize = 0;
let cap: i32 = 0;
let span: i32 = 0;
let spn: i32 = 0;
let slotBytes: u32 = 0;
let nodeBytes: u32 = 0;
let root: i32 = -1;
let nodes: i32 = 0;
let height: i32 = 0;
const path: usize = memory.data(MAX_DEPTH * 4, 4);
const pathAt: usize = memory.data(MAX_DEPTH * 4, 4);
// the probe: the key being inserted (its record's key number, name value and length)
let probeValue: i64 = 0;
let probeLen: i32 = 0;

/** Takes the host tree's arrays (capacity `capacity` nodes) and state; `present` 0 for a store without one. */
export function treeConfigure(
  present: u32, count: u32, leaf: u32, next: u32, va: u32, keyA: u32, keyB: u32, rid: u32, kid: u32,
  capacity: i32, slotsPerNode: i32, slotSize: u32, nodeSize: u32, rootNode: i32, nodeCount: i32, treeHeight: i32,
): void {
  on = present != 0;
  countA = count;
  leafA = leaf;
  nextA = next;
  vaA = va;
  keyAA = keyA;
  keyBA = keyB;
  ridA = rid;
  kidA = kid;
  cap = capacity;
  spn = slotsPerNode;
  span = slotsPerNode + 1;
  slotBytes = slotSize;
  nodeBytes = nodeSize;
  root = rootNode;
  nodes = nodeCount;
  height = treeHeight;
}

/** 0 root, 1 nodes, 2 height. */
export function treeState(i: u32): i32 {
  return i == 0 ? root : i == 1 ? nodes : height;
}

export function treePresent(): bool {
  return on;
}

/** Whether an insert surely fits the arrays (a split per level and a new root) and the descent's path. */
export function treeRoom(): bool {
  return nodes + height + 2 <= cap && height + 1 < MAX_DEPTH;
}

/** The most accesses an insert makes: a read per level, four writes per split, a new root's, the leaf's two. */
export function treeAccessBound(): u32 {
  return <u32>(height + 1) * 5 + 4;
}

// @ts-ignore: decorator
@inline function count(n: i32): i32 {
  return load<i32>(countA + (<usize>n << 2));
}
// @ts-ignore: decorator
@inline function setCount(n: i32, v: i32): void {
  store<i32>(countA + (<usize>n << 2), v);
}
// @ts-ignore: decorator
@inline function isLeaf(n: i32): bool {
  return load<u8>(leafA + <usize>n) != 0;
}
// @ts-ignore: decorator
@inline function nodeVa(n: i32): u64 {
  return <u64>load<f64>(vaA + (<usize>n << 3));
}
// @ts-ignore: decorator
@inline function kid(i: i32): i32 {
  return load<i32>(kidA + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function setKid(i: i32, v: i32): void {
  store<i32>(kidA + (<usize>i << 2), v);
}

/**
 * Inserts record `value` (already in the store) by its name's packed head (a, b), and
 * `v` padded to `digits` (its name's number): a read of each node on the path, the slot
 * put into its leaf, splits up to a new root (btree.ts insertAt). `room` is passed to
 * the allocator (see hostMalloc).
 */
export function treeInsert(a: f64, b: f64, v: i64, digits: i32, value: i32, room: u32): void {
  probeValue = v;
  probeLen = digits;
  if (root < 0) {
    root = newNode(true, room);
    height = 1;
  }
  let depth = 0;
  let node = root;
  while (!isLeaf(node)) {
    readNode(node);
    const i = search(node, a, b, true);
    store<i32>(path + (<usize>depth << 2), node);
    store<i32>(pathAt + (<usize>depth << 2), i);
    depth++;
    node = kid(node * (span + 1) + i);
  }
  readNode(node);
  let at = search(node, a, b, false);
  putSlot(node, at, a, b, value);
  let cur = node;
  const H = <u64>NODE_HEADER;
  const slot = <u64>slotBytes;
  while (count(cur) > spn) {
    // split: cur keeps [0, mid), the new node takes the rest (a leaf keeps the separator too)
    const right = newNode(isLeaf(cur), room);
    const n = count(cur);
    const mid = n >> 1;
    const cs = cur * span;
    const rs = right * span;
    let sep: i32;
    if (isLeaf(cur)) {
      moveSlots(cs + mid, rs, n - mid);
      setCount(right, n - mid);
      setCount(cur, mid);
      store<i32>(nextA + (<usize>right << 2), load<i32>(nextA + (<usize>cur << 2)));
      store<i32>(nextA + (<usize>cur << 2), right);
      sep = rs;
    } else {
      sep = cs + mid;
      moveSlots(cs + mid + 1, rs, n - mid - 1);
      const from = cur * (span + 1) + mid + 1;
      const to = right * (span + 1);
      for (let k = 0; k < n - mid; k++) setKid(to + k, kid(from + k));
      setCount(right, n - mid - 1);
      setCount(cur, mid);
    }
    const curVa = nodeVa(cur);
    access(curVa + H + <u64>mid * slot, <u32>(spn - mid) * slotBytes, KIND_READ);
    access(nodeVa(right), NODE_HEADER + <u32>count(right) * slotBytes, KIND_WRITE);
    if (at < count(cur)) access(curVa + H + <u64>at * slot, <u32>(count(cur) - at) * slotBytes, KIND_WRITE);
    access(curVa, NODE_HEADER, KIND_WRITE); // count and next-leaf pointer
    const sa = load<f64>(keyAA + (<usize>sep << 3));
    const sb = load<f64>(keyBA + (<usize>sep << 3));
    const sr = load<i32>(ridA + (<usize>sep << 2));
    if (depth == 0) {
      const nr = newNode(false, room);
      putSlot(nr, 0, sa, sb, sr);
      setKid(nr * (span + 1), cur);
      setKid(nr * (span + 1) + 1, right);
      access(nodeVa(nr), NODE_HEADER + slotBytes, KIND_WRITE);
      root = nr;
      height++;
      return;
    }
    depth--;
    const parent = load<i32>(path + (<usize>depth << 2));
    at = load<i32>(pathAt + (<usize>depth << 2));
    putSlot(parent, at, sa, sb, sr);
    const pk = parent * (span + 1);
    // children after `at` move up one (copyWithin(pk + at + 2, pk + at + 1, pk + count))
    for (let k = count(parent); k >= at + 2; k--) setKid(pk + k, kid(pk + k - 1));
    setKid(pk + at + 1, right);
    cur = parent;
  }
  access(nodeVa(cur) + H + <u64>at * slot, <u32>(count(cur) - at) * slotBytes, KIND_WRITE); // memmove + new slot
  access(nodeVa(cur), 8, KIND_WRITE); // count
}

/** The tree's height (0: empty). */
export function treeHeight(): i32 {
  return height;
}

/**
 * btree.ts scan: up to `len` values in key order from the first key >= the name (v
 * padded to `digits`; packed head a, b), each visited as a scan's record: a read of
 * each node on the path, then of each further leaf. Returns the values visited.
 */
export function treeScan(a: f64, b: f64, v: i64, digits: i32, len: u32, field: i32): u32 {
  if (root < 0) return 0;
  probeValue = v;
  probeLen = digits;
  let node = root;
  while (!isLeaf(node)) {
    readNode(node);
    node = kid(node * (span + 1) + search(node, a, b, true));
  }
  readNode(node);
  let pos = search(node, a, b, false);
  let done: u32 = 0;
  while (done < len && node >= 0) {
    if (pos >= count(node)) {
      node = load<i32>(nextA + (<usize>node << 2));
      pos = 0;
      if (node >= 0) readNode(node);
      continue;
    }
    kvScanVisit(load<i32>(ridA + (<usize>(node * span + pos) << 2)), field);
    pos++;
    done++;
  }
  return done;
}

/** A descent's read of a node: its header and used slots. */
function readNode(node: i32): void {
  access(nodeVa(node), NODE_HEADER + <u32>count(node) * slotBytes, KIND_READ);
}

function newNode(leaf: bool, room: u32): i32 {
  const va = hostMalloc(nodeBytes, 1, queued(), room);
  const n = nodes++;
  store<f64>(vaA + (<usize>n << 3), va);
  store<u8>(leafA + <usize>n, leaf ? 1 : 0);
  setCount(n, 0);
  store<i32>(nextA + (<usize>n << 2), -1);
  return n;
}

/** Shifts node `node`'s slots from `at` up by one and puts (a, b, r) at `at`. */
function putSlot(node: i32, at: i32, a: f64, b: f64, r: i32): void {
  const s = node * span;
  const end = s + count(node);
  if (s + at < end) moveSlots(s + at, s + at + 1, end - s - at);
  store<f64>(keyAA + (<usize>(s + at) << 3), a);
  store<f64>(keyBA + (<usize>(s + at) << 3), b);
  store<i32>(ridA + (<usize>(s + at) << 2), r);
  setCount(node, count(node) + 1);
}

function moveSlots(from: i32, to: i32, n: i32): void {
  memory.copy(keyAA + (<usize>to << 3), keyAA + (<usize>from << 3), <usize>n << 3);
  memory.copy(keyBA + (<usize>to << 3), keyBA + (<usize>from << 3), <usize>n << 3);
  memory.copy(ridA + (<usize>to << 2), ridA + (<usize>from << 2), <usize>n << 2);
}

/**
 * First slot of `node` whose key is >= the probe, or with `after` > the probe: the
 * slots whose key is below it, counted two at a time. Why not a binary search: its
 * loads depend on each other and its branches go either way; these loads are
 * independent (the processor overlaps their cache misses) and branch-free. A tie of
 * both packed heads (rare for YCSB's hashed names, common for long zero-padded ordered
 * ones) needs the names: then the binary search, which compares fewer of them.
 */
function search(node: i32, a: f64, b: f64, after: bool): i32 {
  const s = node * span;
  const n = count(node);
  const va = f64x2.splat(a);
  const vb = f64x2.splat(b);
  let below = i64x2.splat(0);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const x = v128.load(keyAA + (<usize>(s + i) << 3));
    const y = v128.load(keyBA + (<usize>(s + i) << 3));
    const sameA = f64x2.eq(x, va);
    if (v128.any_true(v128.and(sameA, f64x2.eq(y, vb)))) return bisect(s, n, a, b, after);
    // a lane below is all ones (-1): subtracting it counts it
    below = i64x2.sub(below, v128.or(f64x2.lt(x, va), v128.and(sameA, f64x2.lt(y, vb))));
  }
  let at = <i32>(i64x2.extract_lane(below, 0) + i64x2.extract_lane(below, 1));
  if (i < n) {
    const x = load<f64>(keyAA + (<usize>(s + i) << 3));
    const y = load<f64>(keyBA + (<usize>(s + i) << 3));
    if (x == a && y == b) return bisect(s, n, a, b, after);
    if (x < a || (x == a && y < b)) at++;
  }
  return at;
}

/** search's binary search over the `n` slots from slot `s`. */
function bisect(s: i32, n: i32, a: f64, b: f64, after: bool): i32 {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare(s + mid, a, b);
    if (c < 0 || (after && c == 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Slot `s`'s key against the probe's: negative, 0 or positive. */
function compare(s: i32, a: f64, b: f64): i32 {
  const x = load<f64>(keyAA + (<usize>s << 3));
  if (x != a) return x < a ? -1 : 1;
  const y = load<f64>(keyBA + (<usize>s << 3));
  if (y != b) return y < b ? -1 : 1;
  const k = recordKeyNum(load<i32>(ridA + (<usize>s << 2)));
  return compareDigits(nameValue(k), <i32>keyLength(k) - 4, probeValue, probeLen);
}
