/**
 * The key-value store's ordered index: a B+-tree of string keys in guest memory, each
 * node one allocation of `nodeBytes` from the guest allocator, every descent, insert and
 * split issuing the reads and writes a C B+-tree makes (the layout is in store.ts's
 * module comment). Only the structure lives on the host: node slots in typed arrays, no
 * object per node or key, so a YCSB load phase's inserts make no garbage.
 *
 * Keys are compared as JavaScript compares strings (UTF-16 code units). On the host a
 * slot holds its key's first 12 code units packed into two numbers (a monotone map:
 * when the packed pairs differ they order the keys, when they are equal the strings
 * decide; YCSB's keys, "user" and digits, rarely tie) and the id of the value it maps
 * to, through which the key string is found: remembered from `insert`, or asked of the
 * owner's `nameOf` (then `insertPacked` takes keys never made into strings).
 * Values are the caller's record ids: non-negative integers, one per key.
 *
 * @example
 * const tree = new BPlusTree(meter, { nodeBytes: 512, keySlotBytes: 24 });
 * tree.insert("user42", 0);
 * tree.insert("user7", 1);
 * tree.scan("user5", 10, (r) => visited.push(r)); // 1: record 1 ("user7")
 */
import type { MeteredProcess } from "../metered.js";

/** Node header: count and level (8 B), next-leaf or leftmost-child pointer (8 B). */
export const BTREE_NODE_HEADER_BYTES = 16;

/** Geometry of a {@link BPlusTree}. */
export interface BPlusTreeOptions {
  /** Bytes of a node (one guest allocation). */
  nodeBytes: number;
  /** Key bytes of a slot (a slot is these and an 8-byte pointer). */
  keySlotBytes: number;
  /** Tier for the nodes (passed to malloc; default: the allocator's choice). */
  tier?: string;
  /**
   * The key of a value, for the rare comparisons the packed heads leave equal. Without
   * it the tree remembers each key string `insert` is given; with it, `insertPacked` can
   * insert keys that were never made into strings (the owner makes them on demand).
   */
  nameOf?: (value: number) => string;
}

/** A {@link BPlusTree}'s arrays (node n's header at [n], its slots from n * (slotsPerNode + 1), its children from n * (slotsPerNode + 2)). */
export interface BPlusTreeArrays {
  count: Int32Array;
  isLeaf: Uint8Array;
  next: Int32Array;
  va: Float64Array;
  keyA: Float64Array;
  keyB: Float64Array;
  rid: Int32Array;
  kid: Int32Array;
  capacity: number;
  root: number;
  nodes: number;
  height: number;
}

export class BPlusTree {
  /** Slots of a node: as many as fit after its header. */
  readonly slotsPerNode: number;
  /** Bytes of a slot: the key and an 8-byte pointer. */
  readonly slotBytes: number;
  readonly nodeBytes: number;
  /** Nodes allocated, and the tree's height (0 while empty). */
  nodes = 0;
  height = 0;

  private readonly opts: { tier?: string } | undefined;
  private root = -1;
  // Node n: header fields at [n]; its slots at [n * span, n * span + count) of the slot
  // arrays (span = slotsPerNode + 1: a node holds one extra slot until it splits); an
  // inner node's children at [n * (span + 1), ...) of `kid`.
  private readonly span: number;
  private cap = 0;
  private count = new Int32Array(0);
  private isLeaf = new Uint8Array(0);
  private next = new Int32Array(0);
  private va = new Float64Array(0);
  private keyA = new Float64Array(0);
  private keyB = new Float64Array(0);
  private rid = new Int32Array(0);
  private kid = new Int32Array(0);
  /** The key string of each value (record id), for comparisons the packed pairs leave equal (without `nameOf`). */
  private readonly keyOf: string[] = [];
  private readonly nameOf: ((value: number) => string) | null;
  // The key being inserted or sought: its string when known, else its value (named on a tie).
  private probeKey: string | null = null;
  private probeValue = -1;
  // A descent's inner nodes and the child taken at each.
  private path = new Int32Array(16);
  private pathAt = new Int32Array(16);

  constructor(
    private readonly meter: MeteredProcess,
    options: BPlusTreeOptions,
  ) {
    this.nodeBytes = options.nodeBytes;
    this.slotBytes = options.keySlotBytes + 8;
    this.slotsPerNode = Math.floor((this.nodeBytes - BTREE_NODE_HEADER_BYTES) / this.slotBytes);
    if (this.slotsPerNode < 3) {
      throw new RangeError(`nodeBytes: ${this.nodeBytes} is not allowed; a node must hold at least 3 slots of ${this.slotBytes} B after its 16 B header`);
    }
    this.span = this.slotsPerNode + 1;
    this.opts = options.tier === undefined ? undefined : { tier: options.tier };
    this.nameOf = options.nameOf ?? null;
  }

  /**
   * Inserts `key` for `value` (a record id, unique per key): a read of each node on the
   * path, then the slot put into its leaf (one write from it to the end: the memmove
   * and the new slot) and the count. A full node splits first, as a C B+-tree does: a
   * new node is allocated, the upper half of the slots copied into it (a read and a
   * write), the old node's header rewritten, and the separator goes into the parent the
   * same way, up to a new root.
   */
  insert(key: string, value: number): void {
    packKey(key, packed);
    if (!this.nameOf) this.keyOf[value] = key;
    this.probeKey = key;
    this.insertAt(packed[0]!, packed[1]!, value);
  }

  /**
   * Inserts the key whose packed head ({@link packKey}) is (a, b) for `value`, the same
   * as `insert` with its string: the string is asked of `nameOf` only if a comparison
   * needs it. Requires the `nameOf` option.
   *
   * @example
   * packKey("user42", head);
   * tree.insertPacked(head[0], head[1], 0); // nameOf(0) must give "user42"
   */
  insertPacked(a: number, b: number, value: number): void {
    if (!this.nameOf) throw new Error("insertPacked: the tree has no nameOf option to name its keys with");
    this.probeKey = null;
    this.insertAt(a, b, value);
  }

  private insertAt(a: number, b: number, value: number): void {
    this.probeValue = value;
    if (this.root < 0) {
      this.root = this.newNode(true);
      this.height = 1;
    }
    let depth = 0;
    let node = this.root;
    while (this.isLeaf[node] === 0) {
      this.readNode(node);
      const i = this.search(node, a, b, true);
      if (depth === this.path.length) this.growPath();
      this.path[depth] = node;
      this.pathAt[depth++] = i;
      node = this.kid[node * (this.span + 1) + i]!;
    }
    this.readNode(node);
    let at = this.search(node, a, b, false);
    this.putSlot(node, at, a, b, value);
    let cur = node;
    const spn = this.slotsPerNode;
    const slot = this.slotBytes;
    const H = BTREE_NODE_HEADER_BYTES;
    while (this.count[cur]! > spn) {
      // Split: cur keeps [0, mid), the new node takes the rest (a leaf keeps the separator too).
      const right = this.newNode(this.isLeaf[cur] === 1);
      const n = this.count[cur]!;
      const mid = n >> 1;
      const cs = cur * this.span;
      const rs = right * this.span;
      let sep: number; // slot (of cur or right) holding the separator
      if (this.isLeaf[cur] === 1) {
        this.moveSlots(cs + mid, rs, n - mid);
        this.count[right] = n - mid;
        this.count[cur] = mid;
        this.next[right] = this.next[cur]!;
        this.next[cur] = right;
        sep = rs;
      } else {
        sep = cs + mid;
        this.moveSlots(cs + mid + 1, rs, n - mid - 1);
        this.kid.copyWithin(right * (this.span + 1), cur * (this.span + 1) + mid + 1, cur * (this.span + 1) + n + 1);
        this.count[right] = n - mid - 1;
        this.count[cur] = mid;
      }
      // The old node held slotsPerNode slots; the upper ones move (the new key's slot is
      // written wherever it lands: into the new node with the copy, or shifted in the old).
      const curVa = this.va[cur]!;
      this.meter.read(curVa + H + mid * slot, (spn - mid) * slot);
      this.meter.write(this.va[right]!, H + this.count[right]! * slot);
      if (at < this.count[cur]!) this.meter.write(curVa + H + at * slot, (this.count[cur]! - at) * slot);
      this.meter.write(curVa, H); // count and next-leaf pointer
      const sa = this.keyA[sep]!;
      const sb = this.keyB[sep]!;
      const sr = this.rid[sep]!;
      if (depth === 0) {
        const root = this.newNode(false);
        this.putSlot(root, 0, sa, sb, sr);
        this.kid[root * (this.span + 1)] = cur;
        this.kid[root * (this.span + 1) + 1] = right;
        this.meter.write(this.va[root]!, H + slot);
        this.root = root;
        this.height++;
        return;
      }
      const parent = this.path[--depth]!;
      at = this.pathAt[depth]!;
      this.putSlot(parent, at, sa, sb, sr);
      const pk = parent * (this.span + 1);
      this.kid.copyWithin(pk + at + 2, pk + at + 1, pk + this.count[parent]!);
      this.kid[pk + at + 1] = right;
      cur = parent;
    }
    this.meter.write(this.va[cur]! + H + at * slot, (this.count[cur]! - at) * slot); // memmove + new slot
    this.meter.write(this.va[cur]!, 8); // count
  }

  /**
   * Visits up to `count` values in key order from the first key >= `startKey`: a read
   * of each node on the path, then of each further leaf it steps into. Returns the
   * values visited (fewer at the end of the tree).
   */
  scan(startKey: string, count: number, visit: (value: number) => void): number {
    if (this.root < 0) return 0;
    packKey(startKey, packed);
    const a = packed[0]!;
    const b = packed[1]!;
    this.probeKey = startKey;
    let node = this.root;
    while (this.isLeaf[node] === 0) {
      this.readNode(node);
      node = this.kid[node * (this.span + 1) + this.search(node, a, b, true)]!;
    }
    this.readNode(node);
    let pos = this.search(node, a, b, false);
    let done = 0;
    while (done < count && node >= 0) {
      if (pos >= this.count[node]!) {
        node = this.next[node]!;
        pos = 0;
        if (node >= 0) this.readNode(node);
        continue;
      }
      visit(this.rid[node * this.span + pos++]!);
      done++;
    }
    return done;
  }

  /**
   * The tree's arrays and shape, for a copy in the core (src/workloads/ycsb/core-run.ts;
   * assembly/btree.ts has the same layout): views, valid until the tree grows.
   */
  coreArrays(): BPlusTreeArrays {
    return {
      count: this.count, isLeaf: this.isLeaf, next: this.next, va: this.va, keyA: this.keyA, keyB: this.keyB, rid: this.rid, kid: this.kid,
      capacity: this.cap, root: this.root, nodes: this.nodes, height: this.height,
    };
  }

  /** Makes room for `n` nodes (the arrays grow; views from `coreArrays` go stale). */
  reserveNodes(n: number): void {
    if (this.cap >= n) return;
    // the capacity doubling would reach, in one step (no arrays made and copied on the way)
    let cap = Math.max(64, this.cap * 2);
    while (cap < n) cap *= 2;
    this.grow(cap);
  }

  /** Takes the shape the core left after it inserted into copies of the arrays, now copied back. */
  setShape(root: number, nodes: number, height: number): void {
    if (!(nodes >= this.nodes && nodes <= this.cap)) throw new RangeError(`nodes: ${nodes} is not allowed; expected ${this.nodes}..${this.cap}`);
    this.root = root;
    this.nodes = nodes;
    this.height = height;
  }

  /** A descent's read of a node: its header and used slots. */
  private readNode(node: number): void {
    this.meter.read(this.va[node]!, BTREE_NODE_HEADER_BYTES + this.count[node]! * this.slotBytes);
  }

  private newNode(leaf: boolean): number {
    const va = this.meter.malloc(this.nodeBytes, this.opts);
    const n = this.nodes++;
    if (n === this.cap) this.grow();
    this.va[n] = va;
    this.isLeaf[n] = leaf ? 1 : 0;
    this.count[n] = 0;
    this.next[n] = -1;
    return n;
  }

  /** Shifts node `node`'s slots from `at` up by one and puts the key (a, b) for value `r` at `at`. */
  private putSlot(node: number, at: number, a: number, b: number, r: number): void {
    const s = node * this.span;
    const end = s + this.count[node]!;
    if (s + at < end) this.moveSlots(s + at, s + at + 1, end - s - at);
    this.keyA[s + at] = a;
    this.keyB[s + at] = b;
    this.rid[s + at] = r;
    this.count[node]++;
  }

  /** Moves `n` slots from `from` to `to` (overlapping ranges as memmove): a loop, as a node holds a few slots (three copyWithin calls cost more). */
  private moveSlots(from: number, to: number, n: number): void {
    const ka = this.keyA;
    const kb = this.keyB;
    const rid = this.rid;
    if (to > from) {
      for (let i = n - 1; i >= 0; i--) {
        ka[to + i] = ka[from + i]!;
        kb[to + i] = kb[from + i]!;
        rid[to + i] = rid[from + i]!;
      }
    } else {
      for (let i = 0; i < n; i++) {
        ka[to + i] = ka[from + i]!;
        kb[to + i] = kb[from + i]!;
        rid[to + i] = rid[from + i]!;
      }
    }
  }

  /** Slot `s`'s key against the probe's (packed head a, b): negative, 0 or positive. */
  private compare(s: number, a: number, b: number): number {
    const x = this.keyA[s]!;
    if (x !== a) return x < a ? -1 : 1;
    const y = this.keyB[s]!;
    if (y !== b) return y < b ? -1 : 1;
    return this.compareNames(this.rid[s]!);
  }

  /** The strings decide what the packed heads leave equal (rare for YCSB's keys). */
  private compareNames(value: number): number {
    const k = this.name(value);
    const key = (this.probeKey ??= this.name(this.probeValue));
    return k < key ? -1 : k > key ? 1 : 0;
  }

  private name(value: number): string {
    return this.nameOf ? this.nameOf(value) : this.keyOf[value]!;
  }

  /** First slot of `node` whose key is >= the probe, or with `after` > the probe (the child of an inner node that holds it). */
  private search(node: number, a: number, b: number, after: boolean): number {
    const s = node * this.span;
    let lo = 0;
    let hi = this.count[node]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compare(s + mid, a, b);
      if (c < 0 || (after && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(cap = Math.max(64, this.cap * 2)): void {
    const span = this.span;
    this.count = grown(this.count, new Int32Array(cap));
    this.isLeaf = grown(this.isLeaf, new Uint8Array(cap));
    this.next = grown(this.next, new Int32Array(cap));
    this.va = grown(this.va, new Float64Array(cap));
    this.keyA = grown(this.keyA, new Float64Array(cap * span));
    this.keyB = grown(this.keyB, new Float64Array(cap * span));
    this.rid = grown(this.rid, new Int32Array(cap * span));
    this.kid = grown(this.kid, new Int32Array(cap * (span + 1)));
    this.cap = cap;
  }

  private growPath(): void {
    this.path = grown(this.path, new Int32Array(this.path.length * 2));
    this.pathAt = grown(this.pathAt, new Int32Array(this.pathAt.length * 2));
  }
}

function grown<T extends Int32Array | Uint8Array | Float64Array>(old: T, to: T): T {
  to.set(old as never);
  return to;
}

/**
 * The first 12 code units of `key` packed base 256 into `out` (6 a number): c as
 * c + 1 for c < 254, a position past the end as 0. A code unit >= 254 packs as 255 and
 * so does every position after it (two keys clamped at the same place must tie, not be
 * ordered by what follows). The map is monotone in the string order: unequal packs
 * order their keys; equal ones need the strings.
 *
 * @example
 * const head = new Float64Array(2);
 * packKey("user42", head); // head[0] < the head of "user5"'s
 */
export function packKey(key: string, out: Float64Array): void {
  let v = 0;
  let head = 0;
  let saturated = false;
  const n = key.length;
  for (let j = 0; j < 12; j++) {
    let d: number;
    if (saturated) d = 255;
    else if (j >= n) d = 0;
    else {
      const c = key.charCodeAt(j);
      if (c < 254) d = c + 1;
      else {
        d = 255;
        saturated = true;
      }
    }
    v = v * 256 + d;
    if (j === 5) {
      head = v;
      v = 0;
    }
  }
  out[0] = head;
  out[1] = v;
}

const packed = new Float64Array(2);
