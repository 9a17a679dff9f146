/**
 * memaslap's request stream handed to the core (assembly/memaslap.ts), which draws the
 * same requests as the host's {@link Memaslap} (the reference) without JavaScript per
 * request: the core's server loop calls its `msNext`. This class lays out the stream's
 * state in a region of the core's memory, copies it in with the random stream's state
 * and configures the core; `copyBack` gives the host object what the core changed, so
 * that it continues from exactly the same point (its counters, its windows, its next
 * draws).
 *
 * Region (each part 8-aligned, in this order): keyIds f64[concurrency * windowSize];
 * the connections' counters f64[concurrency * 8] (Memaslap.connState's layout); key
 * and value sizes i32[windowSize] each; the running connections u32[concurrency];
 * stored u8[concurrency * windowSize]; then `drawRoom` 32-byte records for
 * {@link CoreMemaslap.draw}.
 *
 * One stream is in the core at a time (the last copied in), and the core's random
 * stream is shared with its other generators: copy back before another one runs.
 *
 * @example
 * const cm = new CoreMemaslap(ms, sim.core.memaslapGenerator());
 * cm.copyIn();
 * // ... the core draws (its server loop, or cm.draw(n)) ...
 * cm.copyBack(); // ms.next() goes on from where the core stopped
 */
import { coreRegion, type MemaslapGenerator } from "../../core/wasm.js";
import { RegionLayout } from "../core-process.js";
import { MEMASLAP_CONN_SLOTS, type Memaslap, type MemaslapRequest } from "./memaslap.js";

/** Bytes of one msDraw record: f64 key id, f64 retired key (-1: none), u32 connection, key size, value size, flags (1 set, 2 warmup). */
export const MEMASLAP_DRAW_RECORD_BYTES = 32;

/** Offsets of a stream's parts in its region. */
interface Layout {
  keyIds: number;
  conns: number;
  keySizes: number;
  valueSizes: number;
  active: number;
  stored: number;
  draws: number;
  bytes: number;
}

function layout(concurrency: number, windowSize: number, drawRoom: number): Layout {
  const region = new RegionLayout();
  const take = (bytes: number): number => region.take(bytes);
  const slots = concurrency * windowSize;
  const keyIds = take(slots * 8);
  const conns = take(concurrency * MEMASLAP_CONN_SLOTS * 8);
  const keySizes = take(windowSize * 4);
  const valueSizes = take(windowSize * 4);
  const active = take(concurrency * 4);
  const stored = take(slots);
  const draws = take(drawRoom * MEMASLAP_DRAW_RECORD_BYTES);
  return { keyIds, conns, keySizes, valueSizes, active, stored, draws, bytes: region.bytes };
}

/** Options of {@link CoreMemaslap}. */
export interface CoreMemaslapOptions {
  /** Records {@link CoreMemaslap.draw} may draw at once (room in the region; default 0). */
  drawRoom?: number;
}

/** A {@link Memaslap} stream in the core; see the module comment. */
export class CoreMemaslap {
  /** The region's size in bytes. */
  readonly bytes: number;
  /** Records `draw` may draw at once. */
  readonly drawRoom: number;
  private readonly at: Layout;
  /** The region's address (0 until copyIn). */
  private base = 0;

  /**
   * @example
   * const cm = new CoreMemaslap(ms, sim.core.memaslapGenerator(), { drawRoom: 4096 });
   * cm.bytes; // what the region takes
   */
  constructor(
    readonly ms: Memaslap,
    readonly g: MemaslapGenerator,
    options: CoreMemaslapOptions = {},
  ) {
    const drawRoom = options.drawRoom ?? 0;
    if (!Number.isInteger(drawRoom) || drawRoom < 0) throw new RangeError(`drawRoom: ${drawRoom} is not a non-negative integer`);
    this.drawRoom = drawRoom;
    this.at = layout(ms.concurrency, ms.windowSize, drawRoom);
    this.bytes = this.at.bytes;
    if (this.bytes > 0xffff0000) throw new RangeError(`the stream's state (${this.bytes} bytes) does not fit the core's 4 GiB`);
  }

  /**
   * Copies the stream's state and random stream into the core and configures it: the
   * core's next draws are the host's next ones.
   *
   * @example
   * cm.copyIn();
   */
  copyIn(): void {
    const { ms, g, at } = this;
    const base = coreRegion(this.bytes, (b) => g.msRegion(b), "memaslap's state");
    this.base = base;
    // the region may have grown the memory: views after it
    const mem = g.memory.buffer;
    const c = ms.concurrency;
    const w = ms.windowSize;
    const { keyIds, stored } = ms.arrays();
    new Float64Array(mem, base + at.keyIds, c * w).set(keyIds);
    new Uint8Array(mem, base + at.stored, c * w).set(stored);
    ms.connState(new Float64Array(mem, base + at.conns, c * MEMASLAP_CONN_SLOTS));
    new Int32Array(mem, base + at.keySizes, w).set(ms.slotKeySize);
    new Int32Array(mem, base + at.valueSizes, w).set(ms.slotValueSize);
    const s = ms.scalars();
    new Int32Array(mem, base + at.active, c).set(s.active);
    const [r0, r1, r2, r3] = ms.rng().getState();
    g.msSeed(r0, r1, r2, r3);
    g.msConfigure(
      base + at.keyIds, base + at.stored, base + at.conns, base + at.active, base + at.keySizes, base + at.valueSizes,
      c, w, ms.setProp, ms.getProp, ms.overwrite, ms.schedule === "random" ? 1 : 0,
      s.nextKeyId, s.turn, s.warmingUp ? 1 : 0, s.active.length, s.gets, s.sets, s.retired,
    );
  }

  /**
   * Gives the host stream what the core changed (windows, counters, scalars, random
   * stream): its counters are right and its next draws are the core's next ones.
   *
   * @example
   * cm.copyBack();
   * ms.gets; // the gets drawn on both sides
   */
  copyBack(): void {
    const { ms, g, at, base } = this;
    if (base === 0) throw new Error("copyBack before copyIn");
    const mem = g.memory.buffer;
    const c = ms.concurrency;
    const w = ms.windowSize;
    const { keyIds, stored } = ms.arrays();
    keyIds.set(new Float64Array(mem, base + at.keyIds, c * w));
    stored.set(new Uint8Array(mem, base + at.stored, c * w));
    ms.setConnState(new Float64Array(mem, base + at.conns, c * MEMASLAP_CONN_SLOTS));
    const running = g.msState(3);
    ms.setScalars({
      nextKeyId: g.msState(0),
      turn: g.msState(1),
      warmingUp: g.msState(2) !== 0,
      active: Array.from(new Int32Array(mem, base + at.active, running)),
      gets: g.msState(4),
      sets: g.msState(5),
      retired: g.msState(6),
    });
    ms.rng().setState([g.msRngWord(0), g.msRngWord(1), g.msRngWord(2), g.msRngWord(3)]);
  }

  /**
   * Draws up to `n` (at most drawRoom) requests in the core (msDraw), as `next()` gives
   * them; fewer when the operations are exhausted. For tests and tools.
   *
   * @example
   * const cm = new CoreMemaslap(ms, g, { drawRoom: 1000 });
   * cm.copyIn();
   * const reqs = cm.draw(1000);
   * cm.copyBack();
   */
  draw(n: number): MemaslapRequest[] {
    if (this.base === 0) throw new Error("draw before copyIn");
    if (!Number.isInteger(n) || n < 0 || n > this.drawRoom) throw new RangeError(`n: ${n} is not an integer in 0..${this.drawRoom} (drawRoom)`);
    const out = this.base + this.at.draws;
    const got = this.g.msDraw(n, out);
    const mem = this.g.memory.buffer;
    const f = new Float64Array(mem, out, got * 4);
    const u = new Uint32Array(mem, out, got * 8);
    const reqs: MemaslapRequest[] = [];
    for (let i = 0; i < got; i++) {
      const flags = u[i * 8 + 7]!;
      const r: MemaslapRequest = {
        op: flags & 1 ? "set" : "get",
        conn: u[i * 8 + 4]!,
        keyId: f[i * 4]!,
        keySize: u[i * 8 + 5]!,
        valueSize: u[i * 8 + 6]!,
      };
      const retired = f[i * 4 + 1]!;
      if (retired >= 0) r.retiredKeyId = retired;
      if (flags & 2) r.warmup = true;
      reqs.push(r);
    }
    return reqs;
  }
}
