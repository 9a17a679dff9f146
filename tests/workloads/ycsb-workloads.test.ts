import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Rng } from "../../src/util/rng.js";
import { packKey } from "../../src/workloads/ycsb/btree.js";
import { fnvDecimalParts } from "../../src/workloads/ycsb/generators.js";
import {
  CORE_WORKLOAD_DEFAULTS,
  YCSB_WORKLOADS,
  YcsbRunStream,
  buildKeyName,
  encodeMemcachedValue,
  keyNameLength,
  memcachedKey,
  memcachedRequests,
  randomFieldValue,
  randomValueBytes,
  YcsbLoadStream,
  ycsbKeyNaming,
  ycsbLoadPhase,
  ycsbRunPhase,
  ycsbWorkload,
  type YcsbOp,
  type YcsbOperation,
} from "../../src/workloads/ycsb/workloads.js";

function mix(ops: YcsbOperation[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const o of ops) m[o.op] = (m[o.op] ?? 0) + 1;
  return m;
}

function expectFraction(count: number | undefined, p: number, n: number): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs((count ?? 0) - p * n)).toBeLessThanOrEqual(5 * sd + 1);
}

describe("core workloads as in YCSB's workloads/workloada..f", () => {
  it("have the files' proportions and distributions", () => {
    const table = Object.fromEntries(
      Object.entries(YCSB_WORKLOADS).map(([k, w]) => [
        k,
        [w.readProportion, w.updateProportion, w.insertProportion, w.scanProportion, w.readModifyWriteProportion, w.requestDistribution],
      ]),
    );
    expect(table).toEqual({
      a: [0.5, 0.5, 0, 0, 0, "zipfian"],
      b: [0.95, 0.05, 0, 0, 0, "zipfian"],
      c: [1, 0, 0, 0, 0, "zipfian"],
      d: [0.95, 0, 0.05, 0, 0, "latest"],
      e: [0, 0, 0.05, 0.95, 0, "zipfian"],
      f: [0.5, 0, 0, 0, 0.5, "zipfian"],
    });
    for (const w of Object.values(YCSB_WORKLOADS)) {
      expect([w.recordCount, w.operationCount, w.fieldCount, w.fieldLength]).toEqual([1000, 1000, 10, 100]);
      expect([w.readAllFields, w.writeAllFields, w.insertOrder, w.zeroPadding, w.table]).toEqual([
        true,
        false,
        "hashed",
        1,
        "usertable",
      ]);
    }
    expect([YCSB_WORKLOADS.e.minScanLength, YCSB_WORKLOADS.e.maxScanLength, YCSB_WORKLOADS.e.scanLengthDistribution]).toEqual([
      1,
      100,
      "uniform",
    ]);
    expect(CORE_WORKLOAD_DEFAULTS.maxScanLength).toBe(1000);
    expect(ycsbWorkload("a", { recordCount: 5 }).recordCount).toBe(5);
    expect(YCSB_WORKLOADS.a.recordCount).toBe(1000);
  });
});

describe("buildKeyName (CoreWorkload.buildKeyName)", () => {
  it("hashes with fnvhash64 and pads only up to zeropadding digits", () => {
    expect(buildKeyName(0)).toBe("user6284781860667377211");
    expect(buildKeyName(1)).toBe("user8517097267634966620");
    expect(buildKeyName(7, 1, true)).toBe("user7");
    expect(buildKeyName(7, 4, true)).toBe("user0007");
    expect(buildKeyName(12345, 4, true)).toBe("user12345");
    expect(buildKeyName(0, 25)).toBe("user000000" + "6284781860667377211");
  });

  it("keyNameLength is the name's length without making it", () => {
    expect(keyNameLength(0)).toBe(23);
    for (const k of [0, 7, 9, 10, 99, 100, 12345, 999_999_999, 1e9, 1e15, 2 ** 53 - 1]) {
      for (const pad of [1, 4, 12, 25]) {
        for (const ordered of [false, true]) expect(keyNameLength(k, pad, ordered)).toBe(buildKeyName(k, pad, ordered).length);
      }
    }
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.integer({ min: 1, max: 30 }), fc.boolean(), (k, pad, ordered) => {
        expect(keyNameLength(k, pad, ordered)).toBe(buildKeyName(k, pad, ordered).length);
      }),
      { numRuns: 5000 },
    );
  });

  it("ycsbKeyNaming: names, lengths and packed heads of the names, without making them", () => {
    const head = new Float64Array(2);
    const want = new Float64Array(2);
    const check = (k: number, pad: number, ordered: boolean): void => {
      const naming = ycsbKeyNaming({ zeroPadding: pad, insertOrder: ordered ? "ordered" : "hashed" });
      const name = buildKeyName(k, pad, ordered);
      expect(naming.name(k)).toBe(name);
      expect(naming.length(k)).toBe(name.length);
      naming.pack(k, head);
      packKey(name, want);
      expect([...head]).toEqual([...want]);
    };
    for (const k of [0, 1, 7, 9, 10, 99, 12345678, 123456789, 999_999_999, 1e9, 1e15, 2 ** 53 - 1]) {
      for (const pad of [1, 4, 8, 12, 19, 20, 25]) for (const ordered of [false, true]) check(k, pad, ordered);
    }
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.integer({ min: 1, max: 30 }), fc.boolean(), (k, pad, ordered) => check(k, pad, ordered)),
      { numRuns: 3000 },
    );
  });

  it("fnvDecimalParts: the same parts for a number asked twice in a row or after another", () => {
    const a = new Float64Array(3);
    const b = new Float64Array(3);
    for (const k of [5, 5, 6, 5, 2 ** 53 - 1, 2 ** 53 - 1]) {
      expect(fnvDecimalParts(k, a)).toBe(true);
      const v = BigInt(a[0]!) * 10n ** 18n + BigInt(a[1]!) * 10n ** 9n + BigInt(a[2]!);
      expect(String(v)).toBe(buildKeyName(k).slice(4));
    }
    expect(fnvDecimalParts(-1, b)).toBe(false);
    expect(fnvDecimalParts(0.5, b)).toBe(false);
  });

  it("YcsbLoadStream: the load phase's inserts, shared or new, the keys made only when read", () => {
    for (const over of [{}, { insertOrder: "ordered" as const, zeroPadding: 8 }, { insertStart: 40, insertCount: 25 }]) {
      const spec = ycsbWorkload("a", { recordCount: 300, ...over });
      const want = [...ycsbLoadPhase(spec)].map((o) => JSON.stringify(o));
      const s = new YcsbLoadStream(spec);
      const got: string[] = [];
      for (let op = s.nextShared(); op; op = s.nextShared()) got.push(JSON.stringify(op));
      expect(got).toEqual(want);
      expect(s.count).toBe(want.length);
      expect(s.nextShared()).toBeNull();
    }
  });

  it("operations carry their key's length and make the key when read", () => {
    for (const name of ["a", "d", "e"] as const) {
      for (const over of [{}, { insertOrder: "ordered" as const, zeroPadding: 8 }]) {
        const spec = ycsbWorkload(name, { recordCount: 300, operationCount: 300, ...over });
        const ops = [...ycsbLoadPhase(spec), ...ycsbRunPhase(spec, 3)];
        for (const o of ops) expect(o.keyLength).toBe(o.key.length);
        const content = new Rng(5);
        for (const o of ops) for (const r of memcachedRequests(o, content)) expect(r.keyLength).toBe(r.key.length);
        // JSON shows the key like a plain object
        expect(JSON.parse(JSON.stringify(ops[0]))).toMatchObject({ key: ops[0]!.key, keyLength: ops[0]!.keyLength, keyNum: ops[0]!.keyNum });
      }
    }
    // a stream remembers lengths by key number: past its first table, and names longer than a byte
    for (const over of [{ recordCount: 5000 }, { recordCount: 50, zeroPadding: 300, insertOrder: "ordered" as const }]) {
      const s = new YcsbRunStream(ycsbWorkload("a", { operationCount: 3000, ...over }), 9);
      for (let i = 0; i < 3000; i++) {
        const o = s.next();
        expect(o.keyLength).toBe(o.key.length);
      }
    }
  });
});

describe("load phase", () => {
  it("inserts keys 0..recordcount-1 in order with every field", () => {
    const ops = [...ycsbLoadPhase(YCSB_WORKLOADS.a)];
    expect(ops).toHaveLength(1000);
    expect(ops.map((o) => o.keyNum)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(new Set(ops.map((o) => o.key)).size).toBe(1000);
    for (const o of ops) {
      expect(o.op).toBe("insert");
      expect(o.writeFields).toEqual(["field0", "field1", "field2", "field3", "field4", "field5", "field6", "field7", "field8", "field9"]);
      expect(o.fieldLength).toBe(100);
    }
    expect(ops[0]!.key).toBe("user6284781860667377211");
  });

  it("honours insertstart and insertcount", () => {
    const ops = [...ycsbLoadPhase(ycsbWorkload("c", { insertStart: 500, insertCount: 10 }))];
    expect(ops.map((o) => o.keyNum)).toEqual([500, 501, 502, 503, 504, 505, 506, 507, 508, 509]);
  });
});

describe("run phase", () => {
  const N = 20_000;
  const run = (name: "a" | "b" | "c" | "d" | "e" | "f", seed = 1): YcsbOperation[] =>
    [...ycsbRunPhase(ycsbWorkload(name, { operationCount: N }), seed)];

  it("yields operationCount operations, deterministically per seed", () => {
    const spec = YCSB_WORKLOADS.a;
    expect([...ycsbRunPhase(spec, 3)]).toHaveLength(1000);
    expect([...ycsbRunPhase(spec, 3)]).toEqual([...ycsbRunPhase(spec, 3)]);
    expect([...ycsbRunPhase(spec, 3)]).not.toEqual([...ycsbRunPhase(spec, 4)]);
  });

  it("nextShared draws what next draws, into one reused object whose key follows it", () => {
    for (const name of ["a", "d", "e", "f"] as const) {
      const spec = ycsbWorkload(name, { recordCount: 500, operationCount: 2000 });
      const fresh = new YcsbRunStream(spec, 9);
      const shared = new YcsbRunStream(spec, 9);
      const first = shared.nextShared();
      expect(JSON.stringify(first)).toBe(JSON.stringify(fresh.next()));
      for (let i = 1; i < 2000; i++) {
        const op = shared.nextShared();
        expect(op).toBe(first);
        expect(JSON.stringify(op)).toBe(JSON.stringify(fresh.next())); // the key too, made anew
      }
    }
  });

  it("A: 50/50 read/update on loaded keys; reads all fields, updates one", () => {
    const ops = run("a");
    const m = mix(ops);
    expect(Object.keys(m).sort()).toEqual(["read", "update"]);
    expectFraction(m.read, 0.5, N);
    const loaded = new Set([...ycsbLoadPhase(YCSB_WORKLOADS.a)].map((o) => o.key));
    for (const o of ops) {
      expect(loaded.has(o.key)).toBe(true);
      if (o.op === "read") expect([o.readFields.length, o.writeFields.length]).toEqual([10, 0]);
      else expect([o.readFields.length, o.writeFields.length]).toEqual([0, 1]);
    }
    // Scrambled zipfian: the hottest key is record fnvhash64(0) % (1000 + 0 + 1) (no inserts expected).
    const byKey = new Map<number, number>();
    for (const o of ops) byKey.set(o.keyNum, (byKey.get(o.keyNum) ?? 0) + 1);
    const hottest = [...byKey.entries()].sort((x, y) => y[1] - x[1])[0]![0];
    expect(hottest).toBe(Number(6284781860667377211n % 1001n));
    // Updates spread over the fields uniformly.
    const fields = new Set(ops.filter((o) => o.op === "update").map((o) => o.writeFields[0]));
    expect(fields.size).toBe(10);
  });

  it("B and C: read mostly and read only", () => {
    const b = mix(run("b"));
    expectFraction(b.update, 0.05, N);
    expect(Object.keys(mix(run("c")))).toEqual(["read"]);
  });

  it("D: inserts take the next key numbers; reads favour the latest and never exceed it", () => {
    const stream = new YcsbRunStream(ycsbWorkload("d", { operationCount: N }), 5);
    let nextInsert = 1000;
    let nearLatest = 0;
    let reads = 0;
    for (let i = 0; i < N; i++) {
      const o = stream.next();
      if (o.op === "insert") {
        expect(o.keyNum).toBe(nextInsert++);
        expect(o.writeFields).toHaveLength(10);
      } else {
        expect(o.op).toBe("read");
        reads++;
        expect(o.keyNum).toBeLessThanOrEqual(nextInsert - 1);
        expect(o.keyNum).toBeGreaterThanOrEqual(1);
        if (o.keyNum >= nextInsert - 10) nearLatest++;
      }
      expect(stream.lastInsertedKeyNum).toBe(nextInsert - 1);
    }
    expectFraction(nextInsert - 1000, 0.05, N);
    // The 10 newest keys get roughly sum_{i<10} 1/(i+1)^0.99 / zeta(~1500), about 1/3 of the reads.
    expect(nearLatest / reads).toBeGreaterThan(0.3);
  });

  it("E: 95% scans of 1..100 records, 5% inserts", () => {
    const ops = run("e");
    const m = mix(ops);
    expectFraction(m.scan, 0.95, N);
    const lens = ops.filter((o) => o.op === "scan").map((o) => o.scanLength);
    expect(Math.min(...lens)).toBe(1);
    expect(Math.max(...lens)).toBe(100);
    const mean = lens.reduce((a, b) => a + b, 0) / lens.length;
    expect(Math.abs(mean - 50.5)).toBeLessThan(1.5);
    // Zipfian keys range over recordcount + expected new keys and are retried above the limit.
    let limit = 999;
    for (const o of ops) {
      if (o.op === "insert") limit = o.keyNum;
      else expect(o.keyNum).toBeLessThanOrEqual(limit);
    }
  });

  it("F: reads and read-modify-writes (read all, write one)", () => {
    const ops = run("f");
    const m = mix(ops);
    expectFraction(m.readmodifywrite, 0.5, N);
    for (const o of ops.filter((x) => x.op === "readmodifywrite")) {
      expect(o.readFields).toHaveLength(10);
      expect(o.writeFields).toHaveLength(1);
    }
  });

  it("reads or writes one random field when readallfields/writeallfields are false/true", () => {
    const s = new YcsbRunStream(ycsbWorkload("f", { readAllFields: false, writeAllFields: true }), 2);
    for (let i = 0; i < 200; i++) {
      const o = s.next();
      expect(o.readFields).toHaveLength(1);
      if (o.op === "readmodifywrite") expect(o.writeFields).toHaveLength(10);
    }
  });

  it("readField and writeField name the one field read or written, -1 for every field or none", () => {
    const check = (names: readonly string[], index: number, all: number): void => {
      if (index >= 0) expect(names).toEqual([`field${index}`]);
      else expect([0, all]).toContain(names.length);
    };
    for (const w of ["a", "b", "d", "e", "f"] as const) {
      for (const [readAllFields, writeAllFields] of [[true, false], [false, true], [false, false]]) {
        for (const fieldCount of [1, 10]) {
          const s = new YcsbRunStream(ycsbWorkload(w, { readAllFields, writeAllFields, fieldCount }), 3);
          for (let i = 0; i < 300; i++) {
            const o = i % 2 ? s.next() : s.nextShared();
            check(o.readFields, o.readField, fieldCount);
            check(o.writeFields, o.writeField, fieldCount);
            if (fieldCount > 1 && !readAllFields && o.readFields.length === 1) expect(o.readField).toBeGreaterThanOrEqual(0);
          }
        }
      }
    }
  });

  it("uniform and ordered variants", () => {
    const ops = [...ycsbRunPhase(ycsbWorkload("a", { requestDistribution: "uniform", insertOrder: "ordered" }), 1)];
    for (const o of ops) expect(o.key).toBe("user" + o.keyNum);
    expect(Math.max(...ops.map((o) => o.keyNum))).toBeLessThanOrEqual(999);
  });
});

describe("memcached binding encoding", () => {
  it("builds the key as table-key", () => {
    expect(memcachedKey("user6284781860667377211")).toBe("usertable-user6284781860667377211");
  });

  it("measures the JSON Jackson writes, in UTF-8", () => {
    expect(encodeMemcachedValue({})).toBe(2);
    expect(encodeMemcachedValue({ field0: "abc" })).toBe('{"field0":"abc"}'.length);
    expect(encodeMemcachedValue(new Map([["f", 'a"b\\']]))).toBe('{"f":"a\\"b\\\\"}'.length);
    expect(encodeMemcachedValue({ a: "x", b: "y" })).toBe('{"a":"x","b":"y"}'.length);
    expect(encodeMemcachedValue({ a: "\n\u0001" })).toBe('{"a":"\\n\\u0001"}'.length);
    expect(encodeMemcachedValue({ a: "é€😀" })).toBe(2 + 3 + 1 + 2 + (2 + 3 + 4));
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string({ unit: "grapheme" })), (d) => {
        return encodeMemcachedValue(d) === Buffer.byteLength(JSON.stringify(d), "utf8");
      }),
    );
  });

  it("draws field contents like RandomByteIterator", () => {
    const v = randomFieldValue(new Rng(3), 100_002);
    expect(v).toHaveLength(100_002);
    const seen = [new Set<number>(), new Set<number>(), new Set<number>()];
    for (let i = 0; i < v.length; i++) seen[i % 3]!.add(v.charCodeAt(i));
    const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
    expect([...seen[0]!].sort((a, b) => a - b)).toEqual(range(32, 63));
    expect([...seen[1]!].sort((a, b) => a - b)).toEqual(range(32, 95));
    expect([...seen[2]!].sort((a, b) => a - b)).toEqual([...range(32, 63), ...range(96, 127)]);
  });

  it("computes encoded sizes without strings identically", () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 12 }), (seed, len, nf) => {
        const names = Array.from({ length: nf }, (_, i) => "field" + i);
        const a = new Rng(seed >>> 0);
        const b = new Rng(seed >>> 0);
        const fields: Record<string, string> = {};
        for (const n of names) fields[n] = randomFieldValue(a, len);
        return randomValueBytes(names, len, b) === encodeMemcachedValue(fields);
      }),
      { numRuns: 200 },
    );
  });

  it("maps operations to get/add/replace, update replacing the whole value with one field", () => {
    const rng = new Rng(1);
    const inserts = [...ycsbLoadPhase(YCSB_WORKLOADS.a)].map((o) => memcachedRequests(o, rng));
    const sizes = inserts.map((r) => {
      expect(r).toHaveLength(1);
      expect(r[0]!.cmd).toBe("add");
      expect(r[0]!.key.startsWith("usertable-user")).toBe(true);
      return r[0]!.valueBytes;
    });
    // 10 x ("fieldN":"<100>") + braces + commas = 1121 B, plus ~2.6 escaped '"' or '\' per field.
    for (const s of sizes) expect(s).toBeGreaterThanOrEqual(1121);
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    expect(Math.abs(mean - (1121 + 10 * (34 / 32 + 3 * (33 / 64))))).toBeLessThan(0.7);

    const op = (o: YcsbOp): YcsbOperation => {
      const s = new YcsbRunStream(ycsbWorkload(o === "scan" ? "e" : o === "readmodifywrite" ? "f" : "a"), 1);
      for (;;) {
        const x = s.next();
        if (x.op === o) return x;
      }
    };
    expect(memcachedRequests(op("read"), rng).map((r) => r.cmd)).toEqual(["get"]);
    const upd = memcachedRequests(op("update"), rng);
    expect(upd.map((r) => r.cmd)).toEqual(["replace"]);
    expect(upd[0]!.valueBytes).toBeGreaterThanOrEqual(113); // {"fieldN":"<100 B>"}
    expect(upd[0]!.valueBytes).toBeLessThan(140);
    expect(memcachedRequests(op("scan"), rng)).toEqual([]);
    expect(memcachedRequests(op("readmodifywrite"), rng).map((r) => r.cmd)).toEqual(["get", "replace"]);
  });
});

describe("recordCount 0 (YCSB: Integer.MAX_VALUE records, none loaded)", () => {
  // the latest distribution sums its zipfian over every record before the first read:
  // 2^31-1 of them took 106 s in the stream's constructor
  it("is refused with the latest distribution, naming recordCount and the workload", () => {
    const message = /^recordCount: 0 is not allowed; expected an integer in 1\.\.2147483647 for workloadd, whose reads choose among the latest records/;
    expect(() => ycsbWorkload("d", { recordCount: 0 })).toThrow(message);
    expect(() => new YcsbRunStream({ ...YCSB_WORKLOADS.d, recordCount: 0 }, 1)).toThrow(message);
    expect(() => ycsbWorkload("a", { recordCount: 0, requestDistribution: "latest" })).toThrow(/^recordCount: 0 is not allowed; .* for workloada,/);
  }, 5_000);

  it("runs the other distributions: their reads range over 2^31-1 records (inserts follow them)", () => {
    for (const w of ["a", "b", "c", "e", "f"] as const) {
      const spec = ycsbWorkload(w, { recordCount: 0, operationCount: 100 });
      expect([...ycsbLoadPhase(spec)]).toHaveLength(0);
      const ops = [...ycsbRunPhase(spec, 1)];
      expect(ops).toHaveLength(100);
      expect(ops.every((o) => (o.op === "insert" ? o.keyNum >= 2 ** 31 - 1 : o.keyNum < 2 ** 31 - 1))).toBe(true);
    }
  }, 5_000);

  it("insertCount past recordCount - insertStart is refused as YCSB refuses it", () => {
    expect(() => ycsbWorkload("a", { recordCount: 100, insertStart: 50, insertCount: 60 })).toThrow(/^insertCount: 60 is not allowed; expected at most recordCount - insertStart \(50\)/);
  });
});
