import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Rng } from "../../src/util/rng.js";
import {
  ACK_WINDOW_SIZE,
  AcknowledgedCounterGenerator,
  CounterGenerator,
  DiscreteGenerator,
  SCRAMBLED_ITEM_COUNT,
  SCRAMBLED_ZETAN,
  ScrambledZipfianGenerator,
  SkewedLatestGenerator,
  UniformLongGenerator,
  ZIPFIAN_CONSTANT,
  ZipfianGenerator,
  createScanLengthGenerator,
  fnvHash64,
  truncTimesPow,
  zeta,
} from "../../src/workloads/ycsb/generators.js";

/** An independent FNV-1a 64 (via a byte buffer) for cross-checking. */
function fnvReference(v: bigint): bigint {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(BigInt.asUintN(64, v));
  let h = 0xcbf29ce484222325n;
  for (const byte of buf) h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 1099511628211n);
  const s = BigInt.asIntN(64, h);
  return s < 0n ? BigInt.asIntN(64, -s) : s;
}

function counts(draw: () => number, n: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const v = draw();
    m.set(v, (m.get(v) ?? 0) + 1);
  }
  return m;
}

/** |observed - p*n| within k standard deviations of a binomial. */
function expectNear(observed: number, p: number, n: number, k = 5): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(observed - p * n)).toBeLessThanOrEqual(k * sd + 1);
}

describe("zeta (REFERENCE.md section 8 values)", () => {
  it("matches YCSB's zetastatic", () => {
    expect(zeta(2, 0.99)).toBe(1.5034777750283594);
    expect(zeta(1000, 0.99)).toBe(7.728953217284729);
  });

  it("extends incrementally to exactly the same double", () => {
    expect(zeta(2000, 0.99, 1000, zeta(1000, 0.99))).toBe(zeta(2000, 0.99));
  });
});

describe("fnvHash64 (Utils.fnvhash64)", () => {
  it("gives the reference values", () => {
    expect(fnvHash64(0)).toBe(6284781860667377211n);
    expect(fnvHash64(1)).toBe(8517097267634966620n);
    expect(fnvHash64(0n)).toBe(6284781860667377211n);
  });

  it("agrees with an independent implementation and is a Java long >= 0", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        const h = fnvHash64(v);
        return h === fnvReference(v) && h >= 0n && h < 2n ** 63n;
      }),
    );
    fc.assert(fc.property(fc.nat({ max: 2 ** 40 }), (v) => fnvHash64(v) === fnvReference(BigInt(v))));
  });
});

describe("ZipfianGenerator", () => {
  it("stays in [min, max] (as YCSB's TestZipfianGenerator)", () => {
    const z = new ZipfianGenerator(new Rng(3), 5, 10);
    for (let i = 0; i < 10_000; i++) {
      const v = z.nextValue();
      expect(v).toBeGreaterThanOrEqual(5);
      expect(v).toBeLessThanOrEqual(10);
    }
  });

  it("has YCSB's constants", () => {
    const z = ZipfianGenerator.ofItems(new Rng(1), 1000);
    expect(z.theta).toBe(ZIPFIAN_CONSTANT);
    expect(z.zetan).toBe(7.728953217284729);
    expect(z.zeta2theta).toBe(1.5034777750283594);
    expect(z.alpha).toBeCloseTo(100, 9);
    expect(z.eta).toBe((1 - Math.pow(2 / 1000, 1 - 0.99)) / (1 - 1.5034777750283594 / 7.728953217284729));
  });

  it("draws item 0 with probability 1/zeta(n) and item 1 with 0.5^theta/zeta(n)", () => {
    const n = 1000;
    const draws = 200_000;
    const z = ZipfianGenerator.ofItems(new Rng(11), n);
    const c = counts(() => z.nextValue(), draws);
    const zn = zeta(n, 0.99);
    expectNear(c.get(0) ?? 0, 1 / zn, draws);
    expectNear(c.get(1) ?? 0, Math.pow(0.5, 0.99) / zn, draws);
    // Popularity decreases with rank (coarsely: item 0 > item 10 > item 100).
    expect(c.get(0)!).toBeGreaterThan(c.get(10) ?? 0);
    expect(c.get(10)!).toBeGreaterThan(c.get(100) ?? 0);
    for (const k of c.keys()) expect(k >= 0 && k < n).toBe(true);
  });

  it("grows zetan incrementally as YCSB, eta keeping the original item count", () => {
    const z = ZipfianGenerator.ofItems(new Rng(5), 1000);
    for (let i = 0; i < 100; i++) expect(z.nextLong(2000)).toBeLessThan(2000);
    expect(z.countForZeta).toBe(2000);
    expect(z.zetan).toBe(zeta(2000, 0.99));
    expect(z.eta).toBe((1 - Math.pow(2 / 1000, 1 - 0.99)) / (1 - zeta(2, 0.99) / zeta(2000, 0.99)));
    // A smaller count does not recompute unless allowed.
    z.nextLong(1500);
    expect(z.countForZeta).toBe(2000);
    z.allowItemCountDecrease = true;
    z.nextLong(1500);
    expect(z.zetan).toBe(zeta(1500, 0.99));
  });

  it("is deterministic for a seed", () => {
    const a = ZipfianGenerator.ofItems(new Rng(9), 500);
    const b = ZipfianGenerator.ofItems(new Rng(9), 500);
    for (let i = 0; i < 100; i++) expect(a.nextValue()).toBe(b.nextValue());
  });
});

describe("truncTimesPow (the last step of a Zipfian draw)", () => {
  const ALPHA = 1 / (1 - ZIPFIAN_CONSTANT);
  const exact = (n: number, x: number, a: number): number => Math.trunc(n * Math.pow(x, a));

  it("equals Math.trunc(n * Math.pow(x, alpha)) for random draws", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e10 }), fc.double({ min: 0.0005, max: 1, noNaN: true }), (n, x) => {
        expect(truncTimesPow(n, x, ALPHA)).toBe(exact(n, x, ALPHA));
      }),
      { numRuns: 20_000 },
    );
  });

  it("equals it where the product lands next to an integer (where the shortcut must step aside)", () => {
    // x chosen so that n * x^alpha is within a few ulps of an integer k, then nudged ulp by ulp
    const rng = new Rng(11);
    const buf = new Float64Array(1);
    const bits = new BigInt64Array(buf.buffer);
    let checked = 0;
    for (let i = 0; i < 3000; i++) {
      const n = 1 + rng.int(1e10);
      const k = 1 + rng.int(n);
      buf[0] = Math.pow(k / n, 1 / ALPHA);
      for (let ulp = -4; ulp <= 4; ulp++) {
        const saved = bits[0]!;
        bits[0] = saved + BigInt(ulp);
        const x = buf[0]!;
        bits[0] = saved;
        if (!(x > 0 && x <= 1)) continue;
        expect(truncTimesPow(n, x, ALPHA)).toBe(exact(n, x, ALPHA));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20_000);
  });

  it("takes Math.pow for other exponents, tiny bases and bad input", () => {
    for (const a of [2, 1.5, 99.9, 100 + 1e-6]) expect(truncTimesPow(1e9, 0.9, a)).toBe(exact(1e9, 0.9, a));
    expect(truncTimesPow(1e10, 0.0001, ALPHA)).toBe(0);
    expect(truncTimesPow(10, 1, ALPHA)).toBe(exact(10, 1, ALPHA));
    expect(Number.isNaN(truncTimesPow(10, Number.NaN, ALPHA))).toBe(true);
  });
});

describe("ScrambledZipfianGenerator", () => {
  it("uses the precomputed zeta of 10^10 items (constructs instantly)", () => {
    const t = performance.now();
    const s = ScrambledZipfianGenerator.ofItems(new Rng(1), 1000);
    expect(performance.now() - t).toBeLessThan(50);
    expect(SCRAMBLED_ZETAN).toBe(26.46902820178302);
    expect(s.mean()).toBe(499.5);
  });

  it("stays in range; its hottest key is fnvhash64(0) mod n", () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 100_000 }), (seed, min, n) => {
        const s = new ScrambledZipfianGenerator(new Rng(seed >>> 0), min, min + n - 1);
        for (let i = 0; i < 50; i++) {
          const v = s.nextValue();
          if (!(Number.isInteger(v) && v >= min && v < min + n)) return false;
        }
        return true;
      }),
      { numRuns: 50 },
    );
    const n = 1000;
    const draws = 100_000;
    const s = ScrambledZipfianGenerator.ofItems(new Rng(2), n);
    const c = counts(() => s.nextValue(), draws);
    const hot = Number(fnvHash64(0) % BigInt(n));
    expect(hot).toBe(211);
    const top = [...c.entries()].sort((x, y) => y[1] - x[1])[0]![0];
    expect(top).toBe(hot);
    // At least the zipfian's item-0 mass 1/26.469 lands there.
    expect(c.get(hot)! / draws).toBeGreaterThan(1 / SCRAMBLED_ZETAN - 0.005);
    // Second hottest: fnvhash64(1) mod n gets item 1's mass 0.5^0.99 / zetan too.
    expect(c.get(Number(fnvHash64(1) % BigInt(n)))! / draws).toBeGreaterThan(Math.pow(0.5, 0.99) / SCRAMBLED_ZETAN - 0.005);
  });

  it("draws min + fnvhash64(z) % itemcount of the zipfian over 10^10 items, remembered or not", () => {
    // the same stream computed the long way: a zipfian with the same seed, then the BigInt hash
    for (const [seed, min, n] of [[3, 0, 1000], [4, 17, 50_000], [5, 0, 12_345_678]] as const) {
      const s = new ScrambledZipfianGenerator(new Rng(seed), min, min + n - 1);
      const z = new ZipfianGenerator(new Rng(seed), 0, SCRAMBLED_ITEM_COUNT, ZIPFIAN_CONSTANT, SCRAMBLED_ZETAN);
      for (let i = 0; i < 20_000; i++) expect(s.nextValue()).toBe(min + Number(fnvHash64(z.nextValue()) % BigInt(n)));
    }
  });
});

describe("UniformLongGenerator", () => {
  it("is uniform on [lb, ub]", () => {
    const u = new UniformLongGenerator(new Rng(4), 10, 19);
    const c = counts(() => u.nextValue(), 100_000);
    expect([...c.keys()].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    for (const v of c.values()) expectNear(v, 0.1, 100_000);
    expect(u.mean()).toBe(14.5);
    expect(u.lastValue()).toBeGreaterThanOrEqual(10);
  });
});

describe("CounterGenerator and AcknowledgedCounterGenerator", () => {
  it("counts from the start", () => {
    const c = new CounterGenerator(5);
    expect(c.lastValue()).toBe(4);
    expect(c.nextValue()).toBe(5);
    expect(c.nextValue()).toBe(6);
    expect(c.lastValue()).toBe(6);
  });

  it("advances the limit only over contiguous acknowledgements", () => {
    const a = new AcknowledgedCounterGenerator(1000);
    expect(a.lastValue()).toBe(999);
    const [x, y, z] = [a.nextValue(), a.nextValue(), a.nextValue()];
    expect([x, y, z]).toEqual([1000, 1001, 1002]);
    a.acknowledge(1001);
    expect(a.lastValue()).toBe(999);
    a.acknowledge(1000);
    expect(a.lastValue()).toBe(1001);
    a.acknowledge(1002);
    expect(a.lastValue()).toBe(1002);
  });

  it("advances past Integer.MAX_VALUE (as YCSB's test) with out-of-order acks", () => {
    const a = new AcknowledgedCounterGenerator(2147483647 - 1000);
    const rng = new Rng(8);
    const pending: number[] = [];
    for (let i = 0; i < 5000; i++) {
      pending.push(a.nextValue());
      if (pending.length > 10) a.acknowledge(pending.splice(rng.int(pending.length), 1)[0]!);
    }
    for (const v of pending) a.acknowledge(v);
    expect(a.lastValue()).toBe(2147483647 - 1000 + 4999);
  });

  it("throws when a window slot is still unacknowledged", () => {
    const a = new AcknowledgedCounterGenerator(0);
    a.acknowledge(5);
    expect(() => a.acknowledge(5 + ACK_WINDOW_SIZE)).toThrow("Too many unacknowledged insertion keys.");
  });
});

describe("SkewedLatestGenerator", () => {
  it("favours the latest key, never returns key 0, follows inserts", () => {
    const seq = new AcknowledgedCounterGenerator(1000);
    const g = new SkewedLatestGenerator(new Rng(6), seq);
    const c = counts(() => g.nextValue(), 50_000);
    for (const k of c.keys()) expect(k >= 1 && k <= 999).toBe(true);
    const top = [...c.entries()].sort((x, y) => y[1] - x[1]);
    expect(top[0]![0]).toBe(999);
    expect(top[1]![0]).toBe(998);
    expectNear(c.get(999)!, 1 / zeta(999, 0.99), 50_000);
    seq.acknowledge(seq.nextValue());
    const c2 = counts(() => g.nextValue(), 20_000);
    expect([...c2.entries()].sort((x, y) => y[1] - x[1])[0]![0]).toBe(1000);
  });
});

describe("DiscreteGenerator", () => {
  it("picks values with their weights", () => {
    const d = new DiscreteGenerator<string>(new Rng(12));
    d.addValue(0.5, "READ");
    d.addValue(0.3, "UPDATE");
    d.addValue(0.2, "SCAN");
    const c = new Map<string, number>();
    for (let i = 0; i < 100_000; i++) {
      const v = d.nextValue();
      c.set(v, (c.get(v) ?? 0) + 1);
    }
    expectNear(c.get("READ")!, 0.5, 100_000);
    expectNear(c.get("UPDATE")!, 0.3, 100_000);
    expectNear(c.get("SCAN")!, 0.2, 100_000);
    expect(["READ", "UPDATE", "SCAN"]).toContain(d.lastValue());
  });

  it("weights(): the values in order with the shares a draw compares against", () => {
    const d = new DiscreteGenerator<string>(new Rng(1));
    d.addValue(3, "READ");
    d.addValue(1, "UPDATE");
    expect(d.weights()).toEqual([
      { value: "READ", share: 0.75 },
      { value: "UPDATE", share: 0.25 },
    ]);
  });

  it("normalises weights that do not sum to one", () => {
    const d = new DiscreteGenerator<number>(new Rng(1));
    d.addValue(3, 0);
    d.addValue(1, 1);
    let ones = 0;
    for (let i = 0; i < 40_000; i++) ones += d.nextValue();
    expectNear(ones, 0.25, 40_000);
  });

  it("draws as YCSB's per-draw formula does, values added between draws included", () => {
    // the formula of DiscreteGenerator.nextValue, over the same random stream
    const pick = (weights: number[], val: number): number => {
      let sum = 0;
      for (const w of weights) sum += w;
      for (let i = 0; i < weights.length; i++) {
        if (val < weights[i]! / sum) return i;
        val -= weights[i]! / sum;
      }
      return -1;
    };
    const d = new DiscreteGenerator<number>(new Rng(9));
    const rng = new Rng(9);
    const weights = [0.95, 0.05];
    d.addValue(0.95, 0);
    d.addValue(0.05, 1);
    for (let i = 0; i < 5000; i++) {
      if (i === 2500) {
        d.addValue(0.3, 2); // the shares change from the next draw on
        weights.push(0.3);
      }
      expect(d.nextValue()).toBe(pick(weights, rng.float()));
    }
  });
});

describe("scan length", () => {
  it("is uniform 1..100 by default", () => {
    const g = createScanLengthGenerator(new Rng(2));
    const c = counts(() => g.nextValue(), 100_000);
    expect(Math.min(...c.keys())).toBe(1);
    expect(Math.max(...c.keys())).toBe(100);
    expect(c.size).toBe(100);
  });

  it("can be zipfian over [min, max]", () => {
    const g = createScanLengthGenerator(new Rng(2), { min: 1, max: 1000, distribution: "zipfian" });
    const c = counts(() => g.nextValue(), 20_000);
    expect([...c.entries()].sort((x, y) => y[1] - x[1])[0]![0]).toBe(1);
  });
});
