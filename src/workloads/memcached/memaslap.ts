/**
 * memaslap, libmemcached's memcached load generator, as a seeded stream of get/set
 * requests. Ported from awesomized/libmemcached `contrib/bin/memaslap/` (ms_task.c: task
 * selection; ms_conn.c: task windows and key prefixes; ms_setting.c/.h: defaults and the
 * key/value size distribution; docs/source/bin/memaslap.rst).
 *
 * How memaslap loads a server (what the sources say):
 *
 * - Each of the `concurrency` connections owns a task window of `windowSize` objects
 *   (default 16 x 10240 = 163,840). Objects only get keys and sizes at start; nothing is
 *   stored beforehand (unless the mix has no sets: then each connection first sets its whole
 *   window, the "warmup").
 * - Gets and sets interleave from the first operation: a connection issues a set whenever
 *   gets/sets >= get_prop/set_prop, so with 9:1 the pattern is S, 9 G, S, 9 G, ...
 * - A set stores the object at `set_cursor % windowSize` and advances the cursor, so the
 *   window fills only after windowSize sets, about 10 x windowSize operations per connection.
 * - A get picks an object at random among those already set (`random() % set_cursor`), or
 *   among the whole window once full. A get that lands on an object not yet stored (only the
 *   very first operation can) is turned into a set. So memaslap never asks for a key it has
 *   not stored: every get miss it reports comes from the server having dropped the item.
 * - Once the window is full, a set lands on an object already stored; with the default
 *   overwrite proportion 0 it is "kicked out": the slot gets a brand-new key (a fresh 8-byte
 *   prefix) of the same sizes, and that new key is stored. The old key is never accessed
 *   again but stays in memcached until evicted. So every set stores a new key, forever:
 *   the live set is the windows (163,840 objects), but the server receives one new key per
 *   set. `retiredKeyId` on a set names the key it made dead.
 * - With an overwrite proportion p > 0, about p of the sets rewrite an existing key instead.
 *
 * Inferred or simplified (documented choices):
 * - Connections are served round-robin (one request each in turn), a model of libevent
 *   answering 16 sockets to one server; `schedule: "random"` picks a random connection.
 * - Every set succeeds (memcached with LRU eviction answers STORED).
 * - glibc `random()` is replaced by the project's Rng (`rng.int(n)` for `random() % n`).
 * - Key bytes: memaslap's key is the 8-byte prefix (unique per key) then key_size - 8 chars
 *   from a 10 MiB random character table; {@link memaslapKeyBytes} builds the prefix exactly
 *   and a deterministic stand-in for the suffix.
 * - Multi-get (`--division`), UDP, binary protocol, expiry and verification are not modelled.
 *
 * @example
 * const ms = new Memaslap(1);                 // defaults: 16 conns, 10240 window, 64 B keys, 1 KiB values, 9:1
 * for (let i = 0; i < 5; i++) console.log(ms.next());
 * // { op: "set", conn: 0, keyId: 0, keySize: 64, valueSize: 1024 }, { op: "set", conn: 1, keyId: 10240, ... }, ...
 */
import { Rng } from "../../util/rng.js";
import { formatIssue, formatValue, type PresetIssue } from "../../cost/schema.js";
import { YCSB_MAX_COUNT } from "../ycsb/workloads.js";

/** ms_setting.c `DEFAULT_CONNS_NUM 16` ("default each thread with 16 connections"). */
export const MEMASLAP_DEFAULT_CONCURRENCY = 16;
/** ms_setting.c `DEFAULT_WINDOW_SIZE (10 * UNIT_ITEMS_COUNT)`; ms_task.h `UNIT_ITEMS_COUNT 1024`. */
export const MEMASLAP_UNIT_ITEMS_COUNT = 1024;
export const MEMASLAP_DEFAULT_WINDOW_SIZE = 10 * MEMASLAP_UNIT_ITEMS_COUNT;
/** ms_setting.h `DEFAULT_CONGIF_STR`: "key\n64 64 1". */
export const MEMASLAP_DEFAULT_KEY_SIZE = 64;
/** ms_setting.h `DEFAULT_CONGIF_STR`: "value\n1024 1024 1". */
export const MEMASLAP_DEFAULT_VALUE_SIZE = 1024;
/** ms_setting.h `DEFAULT_CONGIF_STR`: "cmd\n0 0.1\n1 0.9" (command 0 set 0.1, command 1 get 0.9). */
export const MEMASLAP_DEFAULT_SET_PROP = 0.1;
export const MEMASLAP_DEFAULT_GET_PROP = 0.9;
/** ms_setting.c `DEFAULT_OVERWRITE_RATE 0.0`. */
export const MEMASLAP_DEFAULT_OVERWRITE = 0;
/** ms_setting.h `MIN_KEY_SIZE 16`, `MAX_KEY_SIZE 250`, `MAX_VALUE_SIZE (1024 * 1024)`. */
export const MEMASLAP_MIN_KEY_SIZE = 16;
export const MEMASLAP_MAX_KEY_SIZE = 250;
export const MEMASLAP_MAX_VALUE_SIZE = 1024 * 1024;
/** The most connections: the memcached model takes connections 0..65535 (server.ts, and its commands in the core). */
export const MEMASLAP_MAX_CONCURRENCY = 65536;
/**
 * The most objects in all windows (concurrency x windowSize): the stream keeps 9 bytes
 * of each (its key id and whether it is stored) on the host, and a copy in the core's
 * 4 GiB Wasm memory beside the simulator's own structures; 2^27 objects take 1.1 GiB
 * in each (memaslap's default is 163,840).
 */
export const MEMASLAP_MAX_OBJECTS = 2 ** 27;
/** ms_task.h `KEY_PREFIX_SIZE (sizeof(uint64_t))`. */
export const MEMASLAP_KEY_PREFIX_SIZE = 8;

/** ms_setting.h `PROP_ERROR 0.001`. */
const PROP_ERROR = 0.001;
/** ms_task.c `CMD_DISTR_ADJUST_CYCLE 1000`. */
const CMD_DISTR_ADJUST_CYCLE = 1000;
/** ms_task.c `DISADJUST_FACTOR 0.03`. */
const DISADJUST_FACTOR = 0.03;

/** A size range as memaslap's configuration file gives it ("start end proportion", one range). */
export interface SizeRange {
  min: number;
  max: number;
}

/** Options of {@link Memaslap}; every default is memaslap's. */
export interface MemaslapOptions {
  /** `--concurrency`: connections (default 16). */
  concurrency?: number;
  /** `--win_size`: objects per connection's window, a multiple of 1024 (default 10240). */
  windowSize?: number;
  /**
   * Objects in all windows (concurrency x windowSize); an alternative to `windowSize`
   * (must give a window that is a multiple of 1024, as memaslap requires).
   */
  objects?: number;
  /** Key size in bytes, fixed or a range (default 64; 16..250). */
  keySize?: number | SizeRange;
  /** Value size in bytes, fixed (`--fixed_size`) or a range (default 1024; 1..1 MiB). */
  valueSize?: number | SizeRange;
  /** get:set ratio (default 9:1). */
  ratio?: { get: number; set: number };
  /** `--overwrite`: proportion of sets that rewrite an existing key (default 0). */
  overwrite?: number;
  /**
   * `--execute_number`: total operations, split evenly over connections (each runs
   * floor(operations / concurrency)). Default: unbounded (memaslap runs for 600 s by default).
   */
  operations?: number;
  /** Order in which connections issue requests (default "round-robin"; inferred). */
  schedule?: "round-robin" | "random";
}

/** One request memaslap sends. */
export interface MemaslapRequest {
  op: "get" | "set";
  /** Connection (0 .. concurrency-1). */
  conn: number;
  /** Unique id of the key (the order memaslap generated its prefix in); see {@link memaslapKeyBytes}. */
  keyId: number;
  /** Key length in bytes. */
  keySize: number;
  /** Value length in bytes (stored by a set; expected back by a get). */
  valueSize: number;
  /** On a set that kicked an object out of the window: the key made dead (never accessed again). */
  retiredKeyId?: number;
  /** True for the warmup sets (only when the mix has no sets). */
  warmup?: boolean;
}

/**
 * Per-connection counters as {@link Memaslap.connState} packs them: connection c's are
 * at c * MEMASLAP_CONN_SLOTS + one of these (ms_conn's task counters).
 */
export const MEMASLAP_CONN_SET_CURSOR = 0;
export const MEMASLAP_CONN_GET_OPT = 1;
export const MEMASLAP_CONN_SET_OPT = 2;
export const MEMASLAP_CONN_CYCLE_UNDO_GET = 3;
export const MEMASLAP_CONN_CYCLE_UNDO_SET = 4;
export const MEMASLAP_CONN_OVERWRITE_SET = 5;
/** Operations the connection has left (Infinity: unbounded). */
export const MEMASLAP_CONN_REMAIN_EXEC = 6;
export const MEMASLAP_CONN_REMAIN_WARMUP = 7;
export const MEMASLAP_CONN_SLOTS = 8;

/**
 * The stream's window arrays, flat so that they copy into the core and back in one go
 * (core-memaslap.ts). Live views: writing them changes the stream.
 *
 * @example
 * const { keyIds, stored } = ms.arrays();
 * keyIds[c * ms.windowSize + item]; // the key in connection c's window slot `item`
 */
export interface MemaslapArrays {
  /** Key of each window slot, connection c's window at c * windowSize. */
  keyIds: Float64Array;
  /** 1 when the slot's key is stored (the layout of keyIds). */
  stored: Uint8Array;
}

/** The stream's small state: its scalars and the connections still running (see {@link Memaslap.scalars}). */
export interface MemaslapScalars {
  /** The next fresh key id. */
  nextKeyId: number;
  /** Where the schedule resumes. */
  turn: number;
  /** True while the warmup sets run (a mix without sets). */
  warmingUp: boolean;
  /** Connections still running, in schedule order. */
  active: number[];
  gets: number;
  sets: number;
  retired: number;
}

/**
 * A connection: its window (views of the flat arrays) and its counters, which stay
 * fields of an object: V8 reads and writes those faster than a typed array's elements,
 * and the stream touches them on every request ({@link Memaslap.connState} packs them).
 */
interface Conn {
  keyId: Float64Array;
  stored: Uint8Array;
  setCursor: number;
  getOpt: number;
  setOpt: number;
  cycleUndoGet: number;
  cycleUndoSet: number;
  overwriteSet: number;
  remainExec: number;
  remainWarmup: number;
}

const CMD_SET = 0;
const CMD_GET = 1;

/**
 * memaslap's request stream (see the module comment for the model).
 *
 * @example
 * const ms = new Memaslap(7, { concurrency: 1, windowSize: 1024, operations: 20_000 });
 * for (const r of ms) if (r.op === "set") store(r.keyId, r.keySize, r.valueSize);
 */
export class Memaslap implements Iterable<MemaslapRequest> {
  readonly concurrency: number;
  readonly windowSize: number;
  readonly setProp: number;
  readonly getProp: number;
  readonly overwrite: number;
  /** Key size of each window slot (shared by all connections, as ms_setting.distr). */
  readonly slotKeySize: Int32Array;
  /** Value size of each window slot. */
  readonly slotValueSize: Int32Array;
  /** Order in which connections issue requests. */
  readonly schedule: "round-robin" | "random";
  private readonly source: Rng;
  private readonly conns: Conn[];
  private readonly keyIds: Float64Array;
  private readonly stored: Uint8Array;
  private nextKeyIdValue = 0;
  private turn = 0;
  private warmingUp: boolean;
  /** Connections still running, in schedule order (a packed array: faster here than a typed one). */
  private active: number[];
  private counts = { gets: 0, sets: 0, retired: 0 };
  /** The request `nextShared` fills; `next` copies it. */
  private readonly shared: MemaslapRequest = { op: "get", conn: 0, keyId: 0, keySize: 0, valueSize: 0, retiredKeyId: undefined, warmup: false };

  constructor(seed: number, options: MemaslapOptions = {}) {
    this.source = new Rng(seed);
    const problem = memaslapIssues(options)[0];
    if (problem) throw new RangeError(formatIssue(problem));
    const concurrency = options.concurrency ?? MEMASLAP_DEFAULT_CONCURRENCY;
    const windowSize = options.objects !== undefined ? options.objects / concurrency : (options.windowSize ?? MEMASLAP_DEFAULT_WINDOW_SIZE);
    this.concurrency = concurrency;
    this.windowSize = windowSize;
    const ratio = options.ratio ?? { get: 9, set: 1 };
    this.setProp = ratio.set / (ratio.get + ratio.set);
    this.getProp = ratio.get / (ratio.get + ratio.set);
    this.overwrite = options.overwrite ?? MEMASLAP_DEFAULT_OVERWRITE;
    this.schedule = options.schedule ?? "round-robin";

    const keySize = options.keySize ?? MEMASLAP_DEFAULT_KEY_SIZE;
    const valueSize = options.valueSize ?? MEMASLAP_DEFAULT_VALUE_SIZE;
    // ms_build_distr: sizes per window slot.
    this.slotKeySize = this.buildSizes(keySize, false);
    this.slotValueSize = this.buildSizes(valueSize, typeof valueSize === "number");
    this.shuffleSizes();

    // ms_item_win_init, connection by connection: every object gets a key prefix now.
    const execPerConn =
      options.operations === undefined ? Infinity : Math.floor(options.operations / concurrency);
    this.warmingUp = this.setProp < PROP_ERROR; // ms_warmup_num_init
    this.keyIds = new Float64Array(concurrency * windowSize);
    this.stored = new Uint8Array(concurrency * windowSize);
    this.conns = [];
    for (let c = 0; c < concurrency; c++) {
      const keyId = this.keyIds.subarray(c * windowSize, (c + 1) * windowSize);
      for (let i = 0; i < windowSize; i++) keyId[i] = this.nextKeyIdValue++;
      this.conns.push({
        keyId,
        stored: this.stored.subarray(c * windowSize, (c + 1) * windowSize),
        setCursor: 0,
        getOpt: 0,
        setOpt: 0,
        cycleUndoGet: 0,
        cycleUndoSet: 0,
        overwriteSet: 0,
        remainExec: execPerConn,
        remainWarmup: this.warmingUp ? windowSize : 0,
      });
    }
    this.active = this.conns.map((_, i) => i);
  }

  /** Gets issued so far. */
  get gets(): number {
    return this.counts.gets;
  }
  /** Sets issued so far (warmup included). */
  get sets(): number {
    return this.counts.sets;
  }
  /** Keys made dead by kick-outs so far. */
  get retiredKeys(): number {
    return this.counts.retired;
  }
  /** Objects currently stored in the windows (at most concurrency x windowSize). */
  get liveObjects(): number {
    return countStored(this.stored);
  }
  /** True once every connection has stored its whole window. */
  get windowsFull(): boolean {
    return this.conns.every((c) => c.setCursor >= this.windowSize);
  }

  /**
   * The random stream the requests draw from (live), so that another generator can
   * continue it (Rng.getState) and hand it back (Rng.setState).
   *
   * @example
   * const words = ms.rng().getState();
   */
  rng(): Rng {
    return this.source;
  }

  /**
   * The window arrays, live (see {@link MemaslapArrays}).
   *
   * @example
   * const { stored } = ms.arrays();
   * stored.reduce((a, b) => a + b, 0) === ms.liveObjects; // true
   */
  arrays(): MemaslapArrays {
    return { keyIds: this.keyIds, stored: this.stored };
  }

  /**
   * The connections' counters packed in one array, MEMASLAP_CONN_SLOTS per connection
   * (MEMASLAP_CONN_* give the order; remaining operations may be Infinity);
   * {@link setConnState} takes them back.
   *
   * @example
   * ms.connState()[c * MEMASLAP_CONN_SLOTS + MEMASLAP_CONN_SET_CURSOR]; // connection c's sets so far
   */
  connState(out: Float64Array = new Float64Array(this.concurrency * MEMASLAP_CONN_SLOTS)): Float64Array {
    for (let c = 0; c < this.concurrency; c++) {
      const n = this.conns[c]!;
      const b = c * MEMASLAP_CONN_SLOTS;
      out[b + MEMASLAP_CONN_SET_CURSOR] = n.setCursor;
      out[b + MEMASLAP_CONN_GET_OPT] = n.getOpt;
      out[b + MEMASLAP_CONN_SET_OPT] = n.setOpt;
      out[b + MEMASLAP_CONN_CYCLE_UNDO_GET] = n.cycleUndoGet;
      out[b + MEMASLAP_CONN_CYCLE_UNDO_SET] = n.cycleUndoSet;
      out[b + MEMASLAP_CONN_OVERWRITE_SET] = n.overwriteSet;
      out[b + MEMASLAP_CONN_REMAIN_EXEC] = n.remainExec;
      out[b + MEMASLAP_CONN_REMAIN_WARMUP] = n.remainWarmup;
    }
    return out;
  }

  /**
   * Sets the connections' counters from an array in {@link connState}'s layout (after
   * another generator continued the stream).
   *
   * @example
   * ms.setConnState(ms.connState()); // changes nothing
   */
  setConnState(a: ArrayLike<number>): void {
    if (a.length < this.concurrency * MEMASLAP_CONN_SLOTS) {
      throw new RangeError(`connection state: ${a.length} numbers; expected ${this.concurrency * MEMASLAP_CONN_SLOTS}`);
    }
    for (let c = 0; c < this.concurrency; c++) {
      const n = this.conns[c]!;
      const b = c * MEMASLAP_CONN_SLOTS;
      n.setCursor = small(a[b + MEMASLAP_CONN_SET_CURSOR]!);
      n.getOpt = small(a[b + MEMASLAP_CONN_GET_OPT]!);
      n.setOpt = small(a[b + MEMASLAP_CONN_SET_OPT]!);
      n.cycleUndoGet = small(a[b + MEMASLAP_CONN_CYCLE_UNDO_GET]!);
      n.cycleUndoSet = small(a[b + MEMASLAP_CONN_CYCLE_UNDO_SET]!);
      n.overwriteSet = small(a[b + MEMASLAP_CONN_OVERWRITE_SET]!);
      n.remainExec = small(a[b + MEMASLAP_CONN_REMAIN_EXEC]!);
      n.remainWarmup = small(a[b + MEMASLAP_CONN_REMAIN_WARMUP]!);
    }
  }

  /**
   * A copy of the scalar state; {@link setScalars} takes it back.
   *
   * @example
   * const s = ms.scalars();
   * s.gets + s.sets; // requests so far
   */
  scalars(): MemaslapScalars {
    return {
      nextKeyId: this.nextKeyIdValue,
      turn: this.turn,
      warmingUp: this.warmingUp,
      active: this.active.slice(),
      gets: this.counts.gets,
      sets: this.counts.sets,
      retired: this.counts.retired,
    };
  }

  /**
   * Restores the scalar state (after another generator continued the stream on copies
   * of the arrays, which the caller writes back into {@link arrays}).
   *
   * @example
   * ms.setScalars(ms.scalars()); // changes nothing
   */
  setScalars(s: MemaslapScalars): void {
    if (s.active.length > this.concurrency || !s.active.every((c) => Number.isInteger(c) && c >= 0 && c < this.concurrency)) {
      throw new RangeError(`active: ${JSON.stringify(s.active)} is not a list of connections (0..${this.concurrency - 1})`);
    }
    this.nextKeyIdValue = small(s.nextKeyId);
    this.turn = small(s.turn);
    this.warmingUp = s.warmingUp;
    this.active = s.active.map(small);
    this.counts.gets = small(s.gets);
    this.counts.sets = small(s.sets);
    this.counts.retired = small(s.retired);
  }

  /** The next request, or undefined when `operations` are exhausted. */
  next(): MemaslapRequest | undefined {
    const r = this.nextShared();
    if (!r) return undefined;
    const copy: MemaslapRequest = { op: r.op, conn: r.conn, keyId: r.keyId, keySize: r.keySize, valueSize: r.valueSize };
    if (r.retiredKeyId !== undefined) copy.retiredKeyId = r.retiredKeyId;
    if (r.warmup) copy.warmup = true;
    return copy;
  }

  /**
   * The next request, the same draws as `next()`, in one object the stream reuses: the
   * following call overwrites it. For drivers that are done with a request before they
   * draw the next (no garbage per request).
   *
   * @example
   * for (let r = ms.nextShared(); r; r = ms.nextShared()) serve(r);
   */
  nextShared(): MemaslapRequest | undefined {
    if (this.warmingUp) {
      const r = this.nextWarmup();
      if (r) return r;
      this.warmingUp = false;
      this.turn = 0;
    }
    while (this.active.length > 0) {
      let idx: number;
      if (this.schedule === "random") idx = this.source.int(this.active.length);
      else idx = this.turn % this.active.length;
      const c = this.active[idx]!;
      const conn = this.conns[c]!;
      if (conn.remainExec <= 0) {
        this.active.splice(idx, 1);
        continue;
      }
      conn.remainExec--;
      this.turn = idx + 1;
      return this.runTask(c, conn);
    }
    return undefined;
  }

  *[Symbol.iterator](): Iterator<MemaslapRequest> {
    for (;;) {
      const r = this.next();
      if (!r) return;
      yield r;
    }
  }

  private nextWarmup(): MemaslapRequest | undefined {
    for (let tries = 0; tries < this.concurrency; tries++) {
      const c = this.turn % this.concurrency;
      this.turn++;
      const conn = this.conns[c]!;
      if (conn.remainWarmup > 0) {
        conn.remainWarmup--;
        const item = conn.setCursor % this.windowSize;
        const r = this.set(c, conn, item, undefined);
        r.warmup = true;
        return r;
      }
    }
    return undefined;
  }

  /** ms_get_task (not warmup) + the set/get it issues + ms_update_set_result. */
  private runTask(c: number, conn: Conn): MemaslapRequest {
    let cmd: number;
    let item: number;
    let retired: number | undefined;
    for (;;) {
      // ms_select_opt
      if (conn.cycleUndoGet === 0 || conn.cycleUndoSet === 0) {
        conn.cycleUndoGet += Math.trunc(CMD_DISTR_ADJUST_CYCLE * this.getProp);
        conn.cycleUndoSet += Math.trunc(CMD_DISTR_ADJUST_CYCLE * this.setProp);
      }
      if (this.setProp > PROP_ERROR && conn.getOpt * this.setProp >= conn.setOpt * this.getProp) {
        cmd = CMD_SET;
        item = conn.setCursor % this.windowSize;
      } else {
        cmd = CMD_GET;
        item = this.nextGetItem(conn);
      }
      // ms_adjust_opt
      retired = undefined;
      if (cmd === CMD_SET) {
        if (this.isSetTooFast(conn) && conn.stored[item]) {
          cmd = CMD_GET;
          break;
        }
        if (conn.stored[item]) {
          if (this.needOverwrite(conn)) conn.overwriteSet++;
          else retired = this.kickOut(conn, item);
        } else if (this.needOverwrite(conn)) {
          // Overwrite does not use the item at the set cursor: revert the cursor.
          conn.setCursor--;
          item = this.nextGetItem(conn);
          if (conn.stored[item]) conn.overwriteSet++;
        }
        break;
      }
      if (!conn.stored[item]) {
        cmd = CMD_SET;
        break;
      }
      if (this.isGetTooFast(conn)) {
        if (!this.isSetTooFast(conn)) {
          retired = this.kickOut(conn, item);
          cmd = CMD_SET;
          break;
        }
        continue; // ms_adjust_opt returned false: select again
      }
      break;
    }
    if (cmd === CMD_GET) {
      conn.getOpt++;
      conn.cycleUndoGet--;
      this.counts.gets++;
      return this.fill("get", c, conn.keyId[item]!, item, undefined);
    }
    const r = this.set(c, conn, item, retired);
    conn.setOpt++;
    conn.cycleUndoSet--;
    return r;
  }

  /** Issue a set of window slot `item` and apply its STORED result. */
  private set(c: number, conn: Conn, item: number, retired: number | undefined): MemaslapRequest {
    conn.stored[item] = 1;
    conn.setCursor++;
    this.counts.sets++;
    return this.fill("set", c, conn.keyId[item]!, item, retired);
  }

  /** The shared request, filled with window slot `item`'s sizes (not a warmup set). */
  private fill(op: "get" | "set", c: number, keyId: number, item: number, retired: number | undefined): MemaslapRequest {
    const r = this.shared;
    r.op = op;
    r.conn = c;
    r.keyId = keyId;
    r.keySize = this.slotKeySize[item]!;
    r.valueSize = this.slotValueSize[item]!;
    r.retiredKeyId = retired;
    r.warmup = false;
    return r;
  }

  /** ms_get_next_get_item. */
  private nextGetItem(conn: Conn): number {
    if (conn.setCursor <= 0) return 0;
    if (conn.setCursor < this.windowSize) return this.source.int(conn.setCursor);
    return this.source.int(this.windowSize);
  }

  /** ms_kick_out_item: a new key (new prefix) in the slot, not stored yet. Returns the old key. */
  private kickOut(conn: Conn, item: number): number {
    const old = conn.keyId[item]!;
    conn.keyId[item] = this.nextKeyIdValue++;
    conn.stored[item] = 0;
    this.counts.retired++;
    return old;
  }

  /** ms_need_overwrite_item. */
  private needOverwrite(conn: Conn): boolean {
    return conn.overwriteSet < conn.setOpt * this.overwrite;
  }

  /** ms_is_get_too_fast. */
  private isGetTooFast(conn: Conn): boolean {
    if (this.getProp < PROP_ERROR) return false;
    const maxUndoSet = Math.trunc((this.setProp / this.getProp) * (1.0 + DISADJUST_FACTOR)) * conn.cycleUndoGet;
    return conn.getOpt * this.setProp > conn.setOpt * this.getProp && conn.cycleUndoSet > maxUndoSet;
  }

  /** ms_is_set_too_fast. */
  private isSetTooFast(conn: Conn): boolean {
    if (this.setProp < PROP_ERROR) return false;
    const maxUndoGet = Math.trunc((this.getProp / this.setProp) * (1.0 + DISADJUST_FACTOR) * conn.cycleUndoSet);
    return conn.getOpt * this.setProp < conn.setOpt * this.getProp && conn.cycleUndoGet > maxUndoGet;
  }

  /**
   * ms_build_distr for one size range with proportion 1: per unit of 1024 slots, sizes
   * alternate avg + r % diff and avg - r % diff (avg = (min+max)/2, diff = (max-min)/2,
   * integer division), one random() per slot. A fixed value size (`--fixed_size`) skips it.
   */
  private buildSizes(size: number | SizeRange, fixed: boolean): Int32Array {
    const out = new Int32Array(this.windowSize);
    if (fixed) return out.fill(size as number);
    const min = typeof size === "number" ? size : size.min;
    const max = typeof size === "number" ? size : size.max;
    const avg = Math.floor((min + max) / 2);
    const diff = Math.floor((max - min) / 2);
    for (let m = 0; m < this.windowSize / MEMASLAP_UNIT_ITEMS_COUNT; m++) {
      for (let k = 0; k < MEMASLAP_UNIT_ITEMS_COUNT; k++) {
        const rnd = this.random();
        const v = diff === 0 ? avg : k % 2 === 0 ? avg + (rnd % diff) : avg - (rnd % diff);
        out[m * MEMASLAP_UNIT_ITEMS_COUNT + k] = v;
      }
    }
    return out;
  }

  /** ms_shuffle_distr, 4 passes per unit; each step swaps the key size, the key offset (not modelled) or the value size. */
  private shuffleSizes(): void {
    const n = MEMASLAP_UNIT_ITEMS_COUNT;
    for (let u = 0; u < this.windowSize / n; u++) {
      const base = u * n;
      for (let pass = 0; pass < 4; pass++) {
        for (let i = 0; i < n; i++) {
          const rnd = this.random();
          const j = (rnd % (n - i)) + i;
          const which = rnd % 3;
          const arr = which === 0 ? this.slotKeySize : which === 2 ? this.slotValueSize : undefined;
          if (arr) {
            const t = arr[base + j]!;
            arr[base + j] = arr[base + i]!;
            arr[base + i] = t;
          }
        }
      }
    }
  }

  /** glibc random(): 31 random bits. */
  private random(): number {
    return this.source.u32() >>> 1;
  }
}

/** An int32 as an int32 (the counters' fields stay small integers for V8), anything else as it is. */
function small(v: number): number {
  return (v | 0) === v ? v | 0 : v;
}

function countStored(a: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += a[i]!;
  return n;
}

/**
 * The problem of a key or value size (a number, or a range) outside lo..hi, or null.
 * What it expects follows the form given: a scenario file gives numbers only, so a
 * number hears of numbers; a range (the API's) of ranges. `why` says where hi comes from.
 *
 * @example
 * sizeIssue("keySize", 8, 16, 250)?.allowed; // "expected an integer in 16..250"
 */
export function sizeIssue(path: string, size: unknown, lo: number, hi: number, why = ""): PresetIssue | null {
  const range = typeof size === "object" && size !== null;
  const [a, b] = range ? [(size as SizeRange).min, (size as SizeRange).max] : [size, size];
  if (Number.isInteger(a) && Number.isInteger(b) && (a as number) >= lo && (b as number) <= hi && (a as number) <= (b as number)) return null;
  const allowed = typeof size === "number" ? `an integer in ${lo}..${hi}` : range ? `{ min, max } of integers in ${lo}..${hi} with min <= max` : `an integer in ${lo}..${hi}, or { min, max } of such integers with min <= max`;
  return { path, value: size, allowed: `expected ${allowed}${why}` };
}

/**
 * Every problem of `options` that {@link Memaslap} would refuse (paths under the
 * options: `concurrency`, `keySize`, ...), without building the stream: for callers
 * that check a run before anything runs.
 *
 * @example
 * memaslapIssues({ concurrency: 0 })[0]; // { path: "concurrency", value: 0, allowed: "expected an integer in 1..65536 (...)" }
 */
export function memaslapIssues(options: MemaslapOptions = {}): PresetIssue[] {
  const issues: PresetIssue[] = [];
  const bad = (path: string, value: unknown, allowed: string): void => {
    issues.push({ path, value, allowed });
  };
  const concurrency = options.concurrency ?? MEMASLAP_DEFAULT_CONCURRENCY;
  const conns = Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= MEMASLAP_MAX_CONCURRENCY;
  if (!conns) bad("concurrency", concurrency, `expected an integer in 1..${MEMASLAP_MAX_CONCURRENCY} (the memcached model takes connections 0..65535)`);
  const ops = options.operations;
  if (ops !== undefined && !(Number.isInteger(ops) && ops >= 0 && ops <= YCSB_MAX_COUNT)) bad("operations", ops, `expected an integer in 0..${YCSB_MAX_COUNT} (capped as YCSB's counts)`);
  if (options.objects !== undefined && options.windowSize !== undefined) {
    bad("objects", options.objects, `expected either objects or windowSize, not both (windowSize is ${formatValue(options.windowSize)})`);
  } else if (options.objects === undefined || conns) {
    // (objects are split over the connections: their number must be known first)
    const [path, given] = options.objects !== undefined ? (["objects", options.objects] as const) : (["windowSize", options.windowSize ?? MEMASLAP_DEFAULT_WINDOW_SIZE] as const);
    const windowSize = path === "objects" ? given / concurrency : given;
    if (!Number.isInteger(windowSize) || windowSize <= 0 || windowSize % MEMASLAP_UNIT_ITEMS_COUNT !== 0) {
      bad(path, given, path === "objects" ? `expected a positive multiple of concurrency x 1024 (${concurrency * MEMASLAP_UNIT_ITEMS_COUNT}): memaslap's windows are multiples of 1024` : "expected a positive multiple of 1024 (memaslap requires it)");
    } else if (conns && concurrency * windowSize > MEMASLAP_MAX_OBJECTS) {
      bad(path, given, `expected concurrency x windowSize <= ${MEMASLAP_MAX_OBJECTS} objects (concurrency is ${concurrency}): the windows' state is kept on the host and in the core's 4 GiB memory`);
    }
  }
  const ratio = options.ratio ?? { get: 9, set: 1 };
  if (!(ratio.get >= 0 && ratio.set >= 0 && ratio.get + ratio.set > 0)) bad("ratio", ratio, "expected { get, set } of numbers >= 0, not both 0");
  const overwrite = options.overwrite ?? MEMASLAP_DEFAULT_OVERWRITE;
  if (!(typeof overwrite === "number" && overwrite >= 0 && overwrite <= 1)) bad("overwrite", overwrite, "expected a proportion in 0..1");
  const schedule = options.schedule ?? "round-robin";
  if (schedule !== "round-robin" && schedule !== "random") bad("schedule", schedule, `expected "round-robin" or "random"`);
  const key = sizeIssue("keySize", options.keySize ?? MEMASLAP_DEFAULT_KEY_SIZE, MEMASLAP_MIN_KEY_SIZE, MEMASLAP_MAX_KEY_SIZE);
  const value = sizeIssue("valueSize", options.valueSize ?? MEMASLAP_DEFAULT_VALUE_SIZE, 1, MEMASLAP_MAX_VALUE_SIZE);
  if (key) issues.push(key);
  if (value) issues.push(value);
  return issues;
}

/** ms_conn.c `KEY_PREFIX_BASE` and `KEY_PREFIX_MASK` 0x1010101010101010. */
const KEY_PREFIX_MASK = 0x10;

/** Characters of memaslap's random character table (ms_setting.c `ALPHANUMBERICS`, 64 of them). */
const ALPHANUMERICS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-";

/**
 * The bytes of a memaslap key. The first 8 bytes are the key's uint64 prefix as memaslap
 * sends it (memcpy, little-endian): memaslap hands out prefixes from a counter that starts
 * at 0x1010101010101010 and ORs that mask in each time, so the n-th prefix has bit 4 of
 * every byte set and n spread over the other 56 bits (no byte is ever ' ', '\r', '\n' or
 * NUL). The remaining keySize - 8 bytes stand in for the suffix memaslap copies from its
 * random character table: characters of the same alphabet, derived from the key id.
 *
 * @example
 * memaslapKeyBytes(0, 64).subarray(0, 8); // 10 10 10 10 10 10 10 10
 * memaslapKeyBytes(16, 64)[0];            // 0x30 (the counter skipped the mask bit)
 */
export function memaslapKeyBytes(keyId: number, keySize: number = MEMASLAP_DEFAULT_KEY_SIZE): Uint8Array {
  if (!Number.isInteger(keyId) || keyId < 0 || keyId >= 2 ** 53) throw new RangeError("keyId must be an integer in 0..2^53");
  const out = new Uint8Array(keySize);
  let n = keyId;
  for (let b = 0; b < MEMASLAP_KEY_PREFIX_SIZE; b++) {
    const chunk = n % 128; // 7 free bits per byte: bits 0-3 and 5-7
    n = Math.floor(n / 128);
    out[b] = (chunk & 0x0f) | KEY_PREFIX_MASK | ((chunk >> 4) << 5);
  }
  const suffix = new Rng(((keyId % 0x100000000) ^ Math.floor(keyId / 0x100000000)) >>> 0);
  for (let i = MEMASLAP_KEY_PREFIX_SIZE; i < keySize; i++) out[i] = ALPHANUMERICS.charCodeAt(suffix.int(64));
  return out;
}
