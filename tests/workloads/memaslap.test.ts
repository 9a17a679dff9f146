import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  MEMASLAP_DEFAULT_CONCURRENCY,
  MEMASLAP_DEFAULT_WINDOW_SIZE,
  Memaslap,
  type MemaslapRequest,
  memaslapKeyBytes,
} from "../../src/workloads/memcached/memaslap.js";
import { classFor, itemSize } from "../../src/workloads/memcached/slabs.js";

function take(ms: Memaslap, n: number): MemaslapRequest[] {
  const out: MemaslapRequest[] = [];
  for (let i = 0; i < n; i++) {
    const r = ms.next();
    if (!r) break;
    out.push(r);
  }
  return out;
}

describe("memaslap defaults (ms_setting.c/.h, memaslap.rst)", () => {
  it("16 connections x 10240 objects = 163,840, 64 B keys, 1024 B values, 9:1", () => {
    const ms = new Memaslap(1);
    expect([MEMASLAP_DEFAULT_CONCURRENCY, MEMASLAP_DEFAULT_WINDOW_SIZE]).toEqual([16, 10240]);
    expect(ms.concurrency * ms.windowSize).toBe(163_840);
    expect([ms.getProp, ms.setProp]).toEqual([0.9, 0.1]);
    const reqs = take(ms, 16_000); // 1000 per connection
    expect(reqs.every((r) => r.keySize === 64 && r.valueSize === 1024)).toBe(true);
    expect(reqs.filter((r) => r.op === "set")).toHaveLength(1600);
    // A memaslap item is 1147 B and lands in the 1184 B class.
    expect(classFor(itemSize(reqs[0]!.keySize, reqs[0]!.valueSize))!.size).toBe(1184);
  });

  it("accepts an object count instead of a window size", () => {
    expect(new Memaslap(1, { objects: 32768 }).windowSize).toBe(2048);
    expect(() => new Memaslap(1, { objects: 1000 })).toThrow(RangeError);
    expect(() => new Memaslap(1, { windowSize: 1000 })).toThrow(RangeError);
    expect(() => new Memaslap(1, { keySize: 8 })).toThrow(RangeError);
  });
});

describe("memaslap's task schedule (ms_task.c)", () => {
  it("interleaves from the start: per connection S, 9 G, S, 9 G, ...", () => {
    const ms = new Memaslap(3, { concurrency: 4, windowSize: 1024 });
    const reqs = take(ms, 40_000);
    for (let c = 0; c < 4; c++) {
      const mine = reqs.filter((r) => r.conn === c);
      expect(mine).toHaveLength(10_000);
      const pattern = mine.map((r) => (r.op === "set" ? "S" : "G")).join("");
      expect(pattern).toBe("SGGGGGGGGG".repeat(1000));
    }
    // Round-robin over connections.
    expect(reqs.slice(0, 8).map((r) => r.conn)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it("fills a window only after about ten times its size in operations; gets hit only stored keys", () => {
    const win = 1024;
    const ms = new Memaslap(5, { concurrency: 1, windowSize: win });
    const stored = new Set<number>();
    const dead = new Set<number>();
    let filledAt = -1;
    let ok = true;
    for (let i = 0; i < 40_000; i++) {
      const r = ms.next()!;
      if (r.op === "set") {
        if (stored.has(r.keyId) || dead.has(r.keyId)) ok = false; // every set stores a new key
        stored.add(r.keyId);
        if (r.retiredKeyId !== undefined) {
          if (!stored.has(r.retiredKeyId)) ok = false;
          stored.delete(r.retiredKeyId);
          dead.add(r.retiredKeyId);
        }
      } else if (!stored.has(r.keyId)) {
        ok = false; // a get of a key never set, or of a retired one
      }
      if (filledAt < 0 && ms.windowsFull) filledAt = i + 1;
    }
    expect(ok).toBe(true);
    // The 1024th set is operation 10 * 1023 + 1.
    expect(filledAt).toBe(10 * (win - 1) + 1);
    expect(stored.size).toBe(win);
    expect(ms.liveObjects).toBe(win);
    // After the window is full each set retires one key: 4000 sets - 1024 = 2976 retired.
    expect(ms.retiredKeys).toBe(4000 - win);
    expect(dead.size).toBe(4000 - win);
  });

  it("before the window is full, sets take slots in order and retire nothing", () => {
    const ms = new Memaslap(2, { concurrency: 1, windowSize: 2048 });
    const sets = take(ms, 10 * 2048).filter((r) => r.op === "set");
    expect(sets.map((r) => r.keyId)).toEqual(Array.from({ length: 2048 }, (_, i) => i));
    expect(sets.every((r) => r.retiredKeyId === undefined)).toBe(true);
  });

  it("before the window is full, a get picks uniformly among the keys stored so far", () => {
    const ms = new Memaslap(9, { concurrency: 1, windowSize: 4096 });
    let sets = 0;
    let sum = 0;
    let gets = 0;
    let ok = true;
    for (const r of take(ms, 40_000)) {
      if (r.op === "set") sets++;
      else {
        if (r.keyId >= sets) ok = false; // key ids of conn 0 before the fill are the slot numbers
        sum += (r.keyId + 0.5) / sets;
        gets++;
      }
    }
    expect(ok).toBe(true);
    expect(Math.abs(sum / gets - 0.5)).toBeLessThan(0.01);
  });

  it("stops after floor(operations / concurrency) per connection", () => {
    const ms = new Memaslap(1, { concurrency: 16, operations: 1000 });
    const reqs = [...ms];
    expect(reqs).toHaveLength(992);
    expect(ms.next()).toBeUndefined();
  });

  it("overwrites existing keys with --overwrite", () => {
    const ms = new Memaslap(4, { concurrency: 1, windowSize: 1024, overwrite: 0.5 });
    const sets = take(ms, 60_000).filter((r) => r.op === "set");
    const fresh = new Set<number>();
    let rewrites = 0;
    for (const s of sets) {
      if (fresh.has(s.keyId)) rewrites++;
      fresh.add(s.keyId);
    }
    expect(Math.abs(rewrites / sets.length - 0.5)).toBeLessThan(0.02);
  });

  it("warms up every window first when the mix has no sets", () => {
    const ms = new Memaslap(6, { concurrency: 2, windowSize: 1024, ratio: { get: 1, set: 0 } });
    const reqs = take(ms, 2048 + 5000);
    expect(reqs.slice(0, 2048).every((r) => r.op === "set" && r.warmup === true)).toBe(true);
    expect(reqs.slice(2048).every((r) => r.op === "get" && r.warmup === undefined)).toBe(true);
  });

  it("does only sets with a set-only mix, each a new key", () => {
    const ms = new Memaslap(6, { concurrency: 1, windowSize: 1024, ratio: { get: 0, set: 1 } });
    const reqs = take(ms, 5000);
    expect(reqs.every((r) => r.op === "set")).toBe(true);
    expect(new Set(reqs.map((r) => r.keyId)).size).toBe(5000);
  });

  it("draws key and value sizes from ranges like ms_build_distr", () => {
    const ms = new Memaslap(7, { concurrency: 1, windowSize: 1024, keySize: { min: 32, max: 96 }, valueSize: { min: 100, max: 2000 } });
    const ks = Array.from(ms.slotKeySize);
    const vs = Array.from(ms.slotValueSize);
    expect(Math.min(...ks)).toBeGreaterThanOrEqual(64 - 31);
    expect(Math.max(...ks)).toBeLessThanOrEqual(64 + 31);
    expect(Math.abs(ks.reduce((a, b) => a + b, 0) / ks.length - 64)).toBeLessThan(2);
    expect(Math.min(...vs)).toBeGreaterThanOrEqual(1050 - 949);
    expect(Math.max(...vs)).toBeLessThanOrEqual(1050 + 949);
    const keySizes = new Set(ks);
    for (const r of take(ms, 3000)) expect(keySizes.has(r.keySize)).toBe(true);
  });

  it("is deterministic per seed", () => {
    const a = take(new Memaslap(11, { concurrency: 2, windowSize: 1024 }), 30_000);
    const b = take(new Memaslap(11, { concurrency: 2, windowSize: 1024 }), 30_000);
    const c = take(new Memaslap(12, { concurrency: 2, windowSize: 1024 }), 30_000);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("nextShared draws what next draws, in one reused object (retired keys and warmups included)", () => {
    const opts = [
      { concurrency: 2, windowSize: 1024, operations: 24_000 },
      { concurrency: 3, windowSize: 1024, operations: 3_000, ratio: { get: 1, set: 0 } }, // warmup sets
      { concurrency: 2, windowSize: 1024, operations: 8_000, overwrite: 0.5, schedule: "random" as const },
    ];
    for (const o of opts) {
      const a = new Memaslap(5, o);
      const b = new Memaslap(5, o);
      const first = b.nextShared();
      let n = 0;
      for (let r = a.next(), s = first; r || s; r = a.next(), s = b.nextShared(), n++) {
        expect(s).toBe(first);
        // The shared object carries retiredKeyId and warmup always; next() only when set.
        expect({ ...r, retiredKeyId: r?.retiredKeyId, warmup: r?.warmup ?? false }).toEqual({ ...s });
      }
      expect(n).toBe(o.operations - (o.operations % o.concurrency) + (o.ratio?.set === 0 ? o.concurrency * o.windowSize : 0));
      expect(a.gets + a.sets).toBe(b.gets + b.sets);
    }
    const warm = new Memaslap(5, opts[1]).next()!;
    expect(warm.warmup).toBe(true);
    const plain = new Memaslap(5, opts[0]).next()!;
    expect("warmup" in plain || "retiredKeyId" in plain).toBe(false);
  });
});

describe("memaslap key bytes (ms_conn.c ms_get_key_prefix)", () => {
  /** The C counter: seq |= 0x1010101010101010; key = seq; seq++. */
  function prefixes(n: number): bigint[] {
    const mask = 0x1010101010101010n;
    let seq = mask;
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) {
      seq |= mask;
      out.push(seq);
      seq = BigInt.asUintN(64, seq + 1n);
    }
    return out;
  }

  it("reproduces memaslap's prefix sequence (little-endian uint64)", () => {
    const ref = prefixes(5000);
    for (let id = 0; id < ref.length; id++) {
      const bytes = memaslapKeyBytes(id, 16);
      const v = Buffer.from(bytes.subarray(0, 8)).readBigUInt64LE();
      if (v !== ref[id]) expect(v.toString(16)).toBe(ref[id]!.toString(16));
    }
    expect(Array.from(memaslapKeyBytes(0).subarray(0, 8))).toEqual([16, 16, 16, 16, 16, 16, 16, 16]);
    expect(memaslapKeyBytes(16)[0]).toBe(0x30);
  });

  it("never puts ' ', CR, LF or NUL in a key, and keys are unique", () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 53 - 1 }), fc.nat({ max: 2 ** 53 - 1 }), fc.integer({ min: 16, max: 250 }), (a, b, size) => {
        const ka = memaslapKeyBytes(a, size);
        const kb = memaslapKeyBytes(b, size);
        if (ka.length !== size) return false;
        if (ka.some((x) => x === 0x20 || x === 0x0d || x === 0x0a || x === 0)) return false;
        return a === b || Buffer.compare(Buffer.from(ka.subarray(0, 8)), Buffer.from(kb.subarray(0, 8))) !== 0;
      }),
    );
  });
});
