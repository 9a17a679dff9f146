/**
 * YCSB's number generators, ported from brianfrankcooper/YCSB
 * `core/src/main/java/site/ycsb/generator/*.java` (master, commit d9faaac8) with the same
 * formulas, the same constants and the same quirks. The only deliberate difference is the
 * source of randomness: every draw comes from the project's seeded {@link Rng} instead of
 * Java's `ThreadLocalRandom`, so streams are reproducible but not bit-identical to a JVM run.
 *
 * Where YCSB draws `ThreadLocalRandom.nextDouble()` we draw `rng.float()` (53 random bits,
 * as Java's nextDouble). Where YCSB draws `Math.abs(nextLong()) % n` we draw `rng.int(n)`
 * (unbiased; YCSB's modulo bias is below n / 2^63).
 *
 * Numbers are JavaScript numbers: exact for the key spaces YCSB uses (< 2^53). The 64-bit
 * FNV hash is computed with BigInt by `fnvHash64`, and on 32-bit halves by `fnvHash64Mod`
 * and `fnvHash64String` (the same results, for the per-operation hot paths).
 *
 * @example
 * import { Rng } from "../../util/rng.js";
 * const rng = new Rng(1);
 * const zipf = new ScrambledZipfianGenerator(rng, 0, 999);
 * const key = zipf.nextValue(); // 0..999, a few keys very hot, hot keys scattered
 */
import type { Rng } from "../../util/rng.js";

/** The zipfian constant theta; `ZipfianGenerator.ZIPFIAN_CONSTANT = 0.99` in YCSB. */
export const ZIPFIAN_CONSTANT = 0.99;

/** Item count of the zipfian behind the scrambled zipfian: `ScrambledZipfianGenerator.ITEM_COUNT = 10000000000L`. */
export const SCRAMBLED_ITEM_COUNT = 10_000_000_000;

/**
 * zeta(10^10, 0.99), precomputed by YCSB: `ScrambledZipfianGenerator.ZETAN = 26.46902820178302`.
 * (YCSB builds that zipfian over 0..ITEM_COUNT inclusive, i.e. ITEM_COUNT + 1 items, but uses
 * this zeta of ITEM_COUNT items; we do the same.)
 */
export const SCRAMBLED_ZETAN = 26.46902820178302;

/** FNV-1a 64-bit offset basis, `Utils.FNV_OFFSET_BASIS_64 = 0xCBF29CE484222325L`. */
export const FNV_OFFSET_BASIS_64 = 0xcbf29ce484222325n;
/** FNV 64-bit prime, `Utils.FNV_PRIME_64 = 1099511628211L`. */
export const FNV_PRIME_64 = 1099511628211n;

/** Size of the acknowledgement window, `AcknowledgedCounterGenerator.WINDOW_SIZE = Integer.rotateLeft(1, 20)`. */
export const ACK_WINDOW_SIZE = 1 << 20;

/** Default scan lengths: `minscanlength` 1 (CoreWorkload default), `maxscanlength` 100 (workloads/workloade). */
export const DEFAULT_MIN_SCAN_LENGTH = 1;
export const DEFAULT_MAX_SCAN_LENGTH = 100;

const MASK64 = (1n << 64n) - 1n;

/**
 * YCSB's `Utils.fnvhash64(long)`: FNV-1a over the 8 little-endian bytes of `val`
 * (offset basis 0xCBF29CE484222325, prime 1099511628211, arithmetic mod 2^64), then Java's
 * `Math.abs` on the signed result (so `Long.MIN_VALUE` stays negative). Returns the Java
 * `long` as a BigInt.
 *
 * @example
 * fnvHash64(0); // 6284781860667377211n
 * fnvHash64(1); // 8517097267634966620n
 */
export function fnvHash64(val: number | bigint): bigint {
  let x = BigInt.asUintN(64, typeof val === "bigint" ? val : BigInt(val));
  let h = FNV_OFFSET_BASIS_64;
  for (let i = 0; i < 8; i++) {
    h ^= x & 0xffn;
    x >>= 8n;
    h = (h * FNV_PRIME_64) & MASK64;
  }
  // Java Math.abs(long): -x in two's complement, which leaves Long.MIN_VALUE unchanged.
  const signed = BigInt.asIntN(64, h);
  return signed < 0n ? BigInt.asIntN(64, -signed) : signed;
}

/**
 * {@link fnvHash64} of a non-negative integer below 2^53 as the high and low 32-bit
 * halves of the unsigned 64-bit result after Java's `Math.abs` (Long.MIN_VALUE comes back
 * as hi 0x80000000, lo 0, as its unsigned bits). The same arithmetic mod 2^64 on u32
 * halves, without BigInt: the hot path of key names and scrambled zipfian draws.
 * Writes into `out` ([hi, lo]) to allocate nothing.
 */
function fnvHalves(val: number, out: Float64Array): void {
  const h = fnvWord(fnvWord(0xcbf29ce4 | 0, 0x84222325 | 0, val >>> 0), fnvLo, Math.floor(val / 4294967296) >>> 0);
  let hi = h >>> 0;
  let lo = fnvLo >>> 0;
  if (hi >= 0x80000000) {
    // Math.abs of a negative long: two's complement negation (Long.MIN_VALUE maps to itself).
    lo = (-lo) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  out[0] = hi;
  out[1] = lo;
}

/** The low word of the hash between {@link fnvWord} calls (int32: no heap number for it). */
let fnvLo = 0;

/**
 * Four FNV-1a rounds, over the bytes of `x` from the lowest: the hash's high word in
 * and out, its low word in `lo` and out in `fnvLo`. h * 1099511628211 = h * 0x1B3 +
 * (h << 40), mod 2^64: the low word is imul's, the high word imul's of the high word
 * plus the carry out of the low word (lo * 0x1B3's high word, from 16-bit halves so that
 * every step stays an int32) plus lo << 8. Integer steps only: the previous version took
 * the carry by a double division, and its latency chained the eight rounds.
 */
function fnvWord(hi: number, lo: number, x: number): number {
  for (let i = 0; i < 4; i++) {
    lo ^= (x >>> (8 * i)) & 0xff;
    const carry = (Math.imul(lo >>> 16, 0x1b3) + (Math.imul(lo & 0xffff, 0x1b3) >>> 16)) >>> 16;
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) | 0;
    lo = Math.imul(lo, 0x1b3);
  }
  fnvLo = lo;
  return hi;
}

const fnvOut = new Float64Array(2);

/**
 * `fnvHash64(val) % n` as Java's `%` on the long computes it, for `val` and `n` below 2^53
 * and n up to 2^36, without BigInt (larger n take BigInt). Equal to `Number(fnvHash64(val) % BigInt(n))`.
 *
 * @example
 * fnvHash64Mod(0, 1000); // 211
 */
export function fnvHash64Mod(val: number, n: number): number {
  if (!(Number.isInteger(val) && val >= 0 && val <= Number.MAX_SAFE_INTEGER && Number.isInteger(n) && n >= 1 && n <= 2 ** 36)) {
    return Number(fnvHash64(val) % BigInt(n));
  }
  fnvHalves(val, fnvOut);
  const hi = fnvOut[0]!;
  const lo = fnvOut[1]!;
  if (hi === 0x80000000 && lo === 0) return Number(fnvHash64(val) % BigInt(n)); // Long.MIN_VALUE: negative
  // (hi * 2^32 + lo) mod n in steps that stay below 2^53: hi * 2^16 < 2^47, (x mod n) * 2^16 + lo
  // < 2^52 + 2^32 (n <= 2^36; with n up to 2^37 the sum could pass 2^53 and round).
  return mod53(mod53(hi * 65536, n) * 65536 + lo, n);
}

/**
 * The decimal parts of `fnvHash64(val)` for `val` below 2^53: value = q1 * 10^18 +
 * q2 * 10^9 + r with each part below 10^9, in `out` ([q1, q2, r]). False (and `out`
 * untouched) where the fast arithmetic does not apply (then use the BigInt path).
 *
 * @example
 * fnvDecimalParts(0, out); // out: [6, 284781860, 667377211]
 */
export function fnvDecimalParts(val: number, out: Float64Array): boolean {
  if (val === partsOf) {
    // a key's length, then its packed name: the same number twice in a row
    out[0] = partsQ1;
    out[1] = partsQ2;
    out[2] = partsR;
    return true;
  }
  if (!(Number.isInteger(val) && val >= 0 && val <= Number.MAX_SAFE_INTEGER)) return false;
  fnvHalves(val, fnvOut);
  const hi = fnvOut[0]!;
  const lo = fnvOut[1]!;
  if (hi === 0x80000000 && lo === 0) return false; // Long.MIN_VALUE stays negative
  // value = hi * 2^32 + lo < 2^63. r = value mod 10^9 exactly (every step below 2^53);
  // q = (value - r) / 10^9, whose double estimate is within 10^-5 of the integer (the
  // numerator's rounding error is at most 2^10), so rounding it is exact.
  const r = mod53(mod53(hi * 65536, 1e9) * 65536 + lo, 1e9);
  const q = Math.round((hi * 4294967296 - r + lo) / 1e9);
  const q2 = mod53(q, 1e9);
  partsOf = val;
  out[0] = partsQ1 = (q - q2) / 1e9;
  out[1] = partsQ2 = q2;
  out[2] = partsR = r;
  return true;
}

// The last number fnvDecimalParts split, and its parts.
let partsOf = Number.NaN;
let partsQ1 = 0;
let partsQ2 = 0;
let partsR = 0;

const fnvParts = new Float64Array(3);

/**
 * `fnvHash64(val).toString()` (decimal), for `val` below 2^53, without BigInt.
 *
 * @example
 * fnvHash64String(0); // "6284781860667377211"
 */
export function fnvHash64String(val: number): string {
  if (!fnvDecimalParts(val, fnvParts)) return fnvHash64(val).toString();
  // digits are made from parts below 10^9 (small integers convert to strings fast; large doubles do not)
  const q1 = fnvParts[0]!;
  const q2 = fnvParts[1]!;
  const r = fnvParts[2]!;
  if (q1 === 0 && q2 === 0) return String(r);
  if (q1 === 0) return String(q2) + pad9(r);
  return String(q1) + pad9(q2) + pad9(r);
}

/**
 * `fnvHash64String(val).length` without making the string: what a key name's length
 * needs on the hot path.
 *
 * @example
 * fnvHash64Digits(0); // 19
 */
export function fnvHash64Digits(val: number): number {
  if (!fnvDecimalParts(val, fnvParts)) return fnvHash64(val).toString().length;
  const q1 = fnvParts[0]!;
  const q2 = fnvParts[1]!;
  const r = fnvParts[2]!;
  if (q1 === 0 && q2 === 0) return digits9(r);
  if (q1 === 0) return digits9(q2) + 9;
  return digits9(q1) + 18;
}

/** Decimal digits of an integer 0 <= n < 10^9. */
function digits9(n: number): number {
  let d = 1;
  for (let p = 10; d < 9 && n >= p; p *= 10) d++;
  return d;
}

/** x mod m for integers 0 <= x < 2^53, 0 < m < 2^53, by a floored quotient (faster than `%` on doubles). */
function mod53(x: number, m: number): number {
  const r = x - Math.floor(x / m) * m;
  return r < 0 ? r + m : r >= m ? r - m : r;
}

/** n (0 <= n < 10^9) as 9 digits: 10^9 + n is still a small integer, whose string is quick to make. */
function pad9(n: number): string {
  return String(n + 1e9).slice(1);
}

/**
 * `ZipfianGenerator.zetastatic(st, n, theta, initialsum)`: initialsum + sum over i in
 * [st, n) of 1 / (i + 1)^theta, summed in that order (so extending a sum gives exactly the
 * same double as computing it from scratch).
 *
 * @example
 * zeta(2, 0.99);    // 1.5034777750283594
 * zeta(1000, 0.99); // 7.728953217284729
 */
export function zeta(n: number, theta: number, st = 0, initialSum = 0): number {
  let sum = initialSum;
  for (let i = st; i < n; i++) sum += 1 / Math.pow(i + 1, theta);
  return sum;
}

/** A generator of numbers, as YCSB's `NumberGenerator`. */
export interface NumberGenerator {
  /** The next value. */
  nextValue(): number;
  /** The value last returned (semantics per generator, as YCSB). */
  lastValue(): number;
}

/**
 * YCSB's `ZipfianGenerator` (Gray et al., "Quickly Generating Billion-Record Synthetic
 * Databases", SIGMOD 1994): integers in [min, max], popularity of item i proportional to
 * 1 / (i + 1)^theta, item `min` the most popular.
 *
 * - zetan = zeta(n, theta), alpha = 1 / (1 - theta), zeta2theta = zeta(2, theta),
 *   eta = (1 - (2/n)^(1-theta)) / (1 - zeta2theta / zetan).
 * - next: u uniform in [0,1), uz = u * zetan; uz < 1 gives min; uz < 1 + 0.5^theta gives
 *   min + 1; otherwise min + (long)(itemcount * (eta*u - eta + 1)^alpha).
 * - `nextLong(itemcount)` with a larger itemcount extends zetan incrementally, as YCSB does;
 *   eta is then recomputed with the ORIGINAL item count `items` (YCSB's formula uses the
 *   field `items`, not the new count; we keep that). A smaller itemcount is used as is,
 *   without recomputing zetan, unless `allowItemCountDecrease` (YCSB's
 *   `allowitemcountdecrease`, default false).
 * - Like YCSB's constructor, ours draws one value on construction.
 *
 * @example
 * const z = new ZipfianGenerator(rng, 0, 999); // 1000 items, theta 0.99
 * z.nextValue(); // 0 with probability 1/zeta(1000) ~ 0.129
 */
export class ZipfianGenerator implements NumberGenerator {
  readonly items: number;
  readonly base: number;
  readonly theta: number;
  readonly alpha: number;
  readonly zeta2theta: number;
  /** 1 + 0.5^theta: the bound below which a draw is item 1 (computed once; YCSB computes it per draw). */
  readonly secondBound: number;
  /** Like YCSB's `allowitemcountdecrease`: recompute zetan from scratch when the count falls. */
  allowItemCountDecrease = false;
  private zetanValue: number;
  private etaValue: number;
  private countForZetaValue: number;
  private last = Number.NaN;

  /**
   * @param rng the random source
   * @param min smallest value (the most popular)
   * @param max largest value, inclusive
   * @param theta zipfian constant (default 0.99, YCSB's ZIPFIAN_CONSTANT)
   * @param zetan precomputed zeta(max - min + 1, theta); computed when omitted (O(n))
   */
  constructor(
    private readonly rng: Rng,
    min: number,
    max: number,
    theta: number = ZIPFIAN_CONSTANT,
    zetan?: number,
  ) {
    this.items = max - min + 1;
    this.base = min;
    this.theta = theta;
    this.zeta2theta = zeta(2, theta);
    this.alpha = 1.0 / (1.0 - theta);
    this.secondBound = 1.0 + Math.pow(0.5, theta);
    this.zetanValue = zetan ?? zeta(this.items, theta);
    this.countForZetaValue = this.items;
    this.etaValue =
      (1 - Math.pow(2.0 / this.items, 1 - theta)) / (1 - this.zeta2theta / this.zetanValue);
    this.nextValue(); // as YCSB's constructor
  }

  /** YCSB's `ZipfianGenerator(long items)`: values 0..items-1. */
  static ofItems(rng: Rng, items: number, theta: number = ZIPFIAN_CONSTANT): ZipfianGenerator {
    return new ZipfianGenerator(rng, 0, items - 1, theta);
  }

  /** Current zeta(n) (grows when `nextLong` is called with more items). */
  get zetan(): number {
    return this.zetanValue;
  }
  /** Current eta. */
  get eta(): number {
    return this.etaValue;
  }
  /** The item count zetan was computed for. */
  get countForZeta(): number {
    return this.countForZetaValue;
  }

  /** A value in [base, base + itemCount), the zipfian over `itemCount` items (YCSB `nextLong`). */
  nextLong(itemCount: number): number {
    if (itemCount !== this.countForZetaValue) {
      if (itemCount > this.countForZetaValue) {
        // More items: extend zetan incrementally, as YCSB does.
        this.zetanValue = zeta(itemCount, this.theta, this.countForZetaValue, this.zetanValue);
        this.countForZetaValue = itemCount;
        this.etaValue =
          (1 - Math.pow(2.0 / this.items, 1 - this.theta)) / (1 - this.zeta2theta / this.zetanValue);
      } else if (itemCount < this.countForZetaValue && this.allowItemCountDecrease) {
        this.zetanValue = zeta(itemCount, this.theta);
        this.countForZetaValue = itemCount;
        this.etaValue =
          (1 - Math.pow(2.0 / this.items, 1 - this.theta)) / (1 - this.zeta2theta / this.zetanValue);
      }
    }
    const u = this.rng.float();
    const uz = u * this.zetanValue;
    let ret: number;
    if (uz < 1.0) {
      ret = this.base;
    } else if (uz < this.secondBound) {
      ret = this.base + 1;
    } else {
      ret = this.base + truncTimesPow(itemCount, this.etaValue * u - this.etaValue + 1, this.alpha);
    }
    // YCSB only records lastValue in the third branch; we record it always (unused by YCSB).
    this.last = ret;
    return ret;
  }

  nextValue(): number {
    return this.nextLong(this.items);
  }

  lastValue(): number {
    return this.last;
  }
}

/**
 * `Math.trunc(n * Math.pow(x, alpha))`, exactly, for n >= 0 and x in (0, 1]: the last
 * step of a Zipfian draw, and its costliest (`Math.pow` is ~50 ns). For YCSB's theta
 * 0.99, alpha is 1 / 0.01 = 100 - 8.5e-14, and x^100 by six squarings and two products
 * is ~6x faster; it is used only when its error cannot change the result:
 * - x^100 so computed is within 99 roundings of the true value: relative error <= 1.2e-14
 *   (x >= 0.001 keeps every product a normal number);
 * - x^alpha = x^100 * x^(alpha - 100), and |x^(alpha - 100) - 1| <= |alpha - 100| * 6.91
 *   (1.001x that) for x >= 0.001;
 * - `Math.pow` itself and the products by n are within 2^-52 each.
 * So the exact result's n * x^alpha is within `e` (that sum of relative errors, padded)
 * of y; when y - e and y + e truncate alike, so does it. Otherwise (about once in 1,600
 * draws over 10^10 items) `Math.pow` decides. In a Zipfian draw x = 1 - eta(1 - u) is
 * at least 1 - eta (about 0.79 for 10^10 items), so the shortcut nearly always applies.
 *
 * @example
 * truncTimesPow(1e10, 0.95, 1 / (1 - 0.99)); // the same as Math.trunc(1e10 * Math.pow(0.95, 1 / (1 - 0.99)))
 */
export function truncTimesPow(n: number, x: number, alpha: number): number {
  const d = alpha - 100;
  if (d < -1e-9 || d > 1e-9 || !(x >= 0.001 && x <= 1)) return Math.trunc(n * Math.pow(x, alpha));
  const x2 = x * x;
  const x4 = x2 * x2;
  const x16 = x4 * x4 * (x4 * x4);
  const x32 = x16 * x16;
  const y = n * (x32 * x32 * x32 * x4);
  const e = y * (2e-14 + Math.abs(d) * 6.92);
  const t = Math.trunc(y - e);
  return t === Math.trunc(y + e) ? t : Math.trunc(n * Math.pow(x, alpha));
}

/** Zipfian values below this have their scrambled value remembered (128 KiB a generator). */
const SCRAMBLE_MEMO = 16384;

/**
 * YCSB's `ScrambledZipfianGenerator`: zipfian popularity, but the popular items are
 * scattered over [min, max] instead of clustered at min. A zipfian over 0..10^10 (with the
 * precomputed zeta 26.46902820178302 when theta is 0.99) is drawn, then
 * `min + fnvhash64(value) % itemcount` (Java `%` on the `long`).
 *
 * With another theta YCSB computes zeta over 10^10 items (minutes); so do we.
 *
 * @example
 * const s = new ScrambledZipfianGenerator(rng, 0, 999);
 * s.nextValue(); // most often Number(fnvHash64(0) % 1000n) = 211
 */
export class ScrambledZipfianGenerator implements NumberGenerator {
  readonly min: number;
  readonly max: number;
  readonly itemCount: number;
  /** The zipfian over 0..10^10 whose draws are scrambled. */
  readonly gen: ZipfianGenerator;
  /** fnvhash64(z) % itemCount for z < SCRAMBLE_MEMO, -1 until first drawn. */
  private readonly memo = new Float64Array(SCRAMBLE_MEMO).fill(-1);
  private last = Number.NaN;

  constructor(rng: Rng, min: number, max: number, theta: number = ZIPFIAN_CONSTANT) {
    this.min = min;
    this.max = max;
    this.itemCount = max - min + 1;
    this.gen =
      theta === ZIPFIAN_CONSTANT
        ? new ZipfianGenerator(rng, 0, SCRAMBLED_ITEM_COUNT, theta, SCRAMBLED_ZETAN)
        : new ZipfianGenerator(rng, 0, SCRAMBLED_ITEM_COUNT, theta);
  }

  /** YCSB's `ScrambledZipfianGenerator(long items)`: values 0..items-1. */
  static ofItems(rng: Rng, items: number): ScrambledZipfianGenerator {
    return new ScrambledZipfianGenerator(rng, 0, items - 1);
  }

  nextValue(): number {
    const z = this.gen.nextValue();
    let h: number;
    if (z < SCRAMBLE_MEMO) {
      // the most popular values (about 39 % of draws at theta 0.99) hash once
      h = this.memo[z]!;
      if (h < 0) h = this.memo[z] = fnvHash64Mod(z, this.itemCount);
    } else h = fnvHash64Mod(z, this.itemCount);
    const ret = this.min + h;
    this.last = ret;
    return ret;
  }

  lastValue(): number {
    return this.last;
  }

  /** YCSB: (min + max) / 2. */
  mean(): number {
    return (this.min + this.max) / 2.0;
  }
}

/**
 * YCSB's `UniformLongGenerator`: integers uniform in [lb, ub].
 *
 * @example
 * const scan = new UniformLongGenerator(rng, 1, 100);
 * scan.nextValue(); // 1..100
 */
export class UniformLongGenerator implements NumberGenerator {
  readonly lb: number;
  readonly ub: number;
  readonly interval: number;
  private last = Number.NaN;

  constructor(
    private readonly rng: Rng,
    lb: number,
    ub: number,
  ) {
    this.lb = lb;
    this.ub = ub;
    this.interval = ub - lb + 1;
  }

  nextValue(): number {
    const ret = this.rng.int(this.interval) + this.lb;
    this.last = ret;
    return ret;
  }

  lastValue(): number {
    return this.last;
  }

  /** YCSB: (lb + ub) / 2. */
  mean(): number {
    return (this.lb + this.ub) / 2.0;
  }
}

/**
 * YCSB's `CounterGenerator`: countstart, countstart + 1, ...; `lastValue()` is the counter
 * minus one (the last value handed out).
 *
 * @example
 * const c = new CounterGenerator(5);
 * c.nextValue(); // 5
 * c.lastValue(); // 5
 */
export class CounterGenerator implements NumberGenerator {
  protected counter: number;

  constructor(countStart: number) {
    this.counter = countStart;
  }

  nextValue(): number {
    return this.counter++;
  }

  lastValue(): number {
    return this.counter - 1;
  }
}

/**
 * YCSB's `AcknowledgedCounterGenerator` (the run-phase insert key sequence): like
 * {@link CounterGenerator}, but `lastValue()` is the `limit` below which every value handed
 * out has been acknowledged, so readers never choose a key whose insert is still in flight.
 * A window of 2^20 slots tracks out-of-order acknowledgements; more than that many
 * unacknowledged values throws, as YCSB does. In a single-threaded stream each insert is
 * acknowledged at once, so `lastValue()` is simply the last inserted key number.
 *
 * @example
 * const seq = new AcknowledgedCounterGenerator(1000); // recordcount 1000
 * seq.lastValue();          // 999
 * const k = seq.nextValue(); // 1000
 * seq.acknowledge(k);
 * seq.lastValue();          // 1000
 */
export class AcknowledgedCounterGenerator extends CounterGenerator {
  private readonly window = new Uint8Array(ACK_WINDOW_SIZE);
  private limit: number;

  constructor(countStart: number) {
    super(countStart);
    this.limit = countStart - 1;
  }

  override lastValue(): number {
    return this.limit;
  }

  /** Mark `value` done; advance the limit over the contiguous acknowledged values. */
  acknowledge(value: number): void {
    const currentSlot = slotOf(value);
    if (this.window[currentSlot]) {
      throw new Error("Too many unacknowledged insertion keys.");
    }
    this.window[currentSlot] = 1;
    // YCSB compares the unmasked index with the masked slot of the limit; kept as is.
    const beforeFirstSlot = slotOf(this.limit);
    let index: number;
    for (index = this.limit + 1; index !== beforeFirstSlot; ++index) {
      const slot = slotOf(index);
      if (!this.window[slot]) break;
      this.window[slot] = 0;
    }
    this.limit = index - 1;
  }
}

/** value & (WINDOW_SIZE - 1) for any integer up to 2^53 (two's complement like Java's long). */
function slotOf(value: number): number {
  return ((value % ACK_WINDOW_SIZE) + ACK_WINDOW_SIZE) % ACK_WINDOW_SIZE;
}

/**
 * YCSB's `SkewedLatestGenerator` (request distribution `latest`, workload D): skewed towards
 * the most recently inserted key. It keeps a zipfian built over `basis.lastValue()` items
 * and returns `max - zipfian.nextLong(max)` with `max = basis.lastValue()`, so the result is
 * in [1, max] (YCSB never returns key 0 from this generator) and the newest key is the most
 * popular. Draws one value on construction, as YCSB.
 *
 * @example
 * const inserts = new AcknowledgedCounterGenerator(1000);
 * const latest = new SkewedLatestGenerator(rng, inserts);
 * latest.nextValue(); // 999 most often, then 998, ...
 */
export class SkewedLatestGenerator implements NumberGenerator {
  /** The zipfian over the basis's values (its zeta grows with them). */
  readonly zipfian: ZipfianGenerator;
  private last = Number.NaN;

  constructor(
    rng: Rng,
    private readonly basis: CounterGenerator,
  ) {
    this.zipfian = ZipfianGenerator.ofItems(rng, basis.lastValue());
    this.nextValue();
  }

  nextValue(): number {
    const max = this.basis.lastValue();
    const next = max - this.zipfian.nextLong(max);
    this.last = next;
    return next;
  }

  lastValue(): number {
    return this.last;
  }
}

/**
 * YCSB's `DiscreteGenerator`: picks one of several values with given weights (the operation
 * mix). Each draw sums the weights, takes u uniform in [0,1) and walks the values in the
 * order they were added, subtracting weight/sum until u falls below one.
 *
 * (YCSB's `lastValue()` returns a fresh draw the first time and never tracks `nextValue`;
 * ours returns the value last drawn, or undefined.)
 *
 * @example
 * const ops = new DiscreteGenerator<string>(rng);
 * ops.addValue(0.95, "READ");
 * ops.addValue(0.05, "UPDATE");
 * ops.nextValue(); // "READ" 95% of the time
 */
export class DiscreteGenerator<T> {
  private readonly values: { weight: number; value: T }[] = [];
  /** Each value's weight / sum of weights, as YCSB computes them on every draw (kept until a value is added). */
  private shares: number[] | null = null;
  private last: T | undefined;

  constructor(private readonly rng: Rng) {}

  addValue(weight: number, value: T): void {
    this.values.push({ weight, value });
    this.shares = null;
  }

  nextValue(): T {
    let shares = this.shares;
    if (shares === null) {
      let sum = 0;
      for (const p of this.values) sum += p.weight;
      shares = this.shares = this.values.map((p) => p.weight / sum);
    }
    let val = this.rng.float();
    for (let i = 0; i < shares.length; i++) {
      const pw = shares[i]!;
      if (val < pw) {
        const v = this.values[i]!.value;
        this.last = v;
        return v;
      }
      val -= pw;
    }
    throw new Error("DiscreteGenerator: no value chosen (no values, or weights are not positive)");
  }

  lastValue(): T | undefined {
    return this.last;
  }

  /**
   * The values in the order added with each one's weight / sum of weights: what a draw
   * compares u against (the core's YCSB generator takes these).
   *
   * @example
   * ops.weights(); // [{ value: "READ", share: 0.95 }, { value: "UPDATE", share: 0.05 }]
   */
  weights(): { value: T; share: number }[] {
    let sum = 0;
    for (const p of this.values) sum += p.weight;
    return this.values.map((p) => ({ value: p.value, share: p.weight / sum }));
  }
}

/** Options of {@link createScanLengthGenerator}. */
export interface ScanLengthOptions {
  /** `minscanlength`, default 1 (CoreWorkload MIN_SCAN_LENGTH_PROPERTY_DEFAULT). */
  min?: number;
  /**
   * `maxscanlength`, default 100 (as workloads/workloade sets it; note CoreWorkload's own
   * default MAX_SCAN_LENGTH_PROPERTY_DEFAULT is 1000).
   */
  max?: number;
  /** `scanlengthdistribution`, default "uniform" (CoreWorkload default). */
  distribution?: "uniform" | "zipfian";
}

/**
 * The scan-length generator of CoreWorkload: `UniformLongGenerator(min, max)` or
 * `ZipfianGenerator(min, max)`.
 *
 * @example
 * const len = createScanLengthGenerator(rng); // uniform 1..100
 * len.nextValue();
 */
export function createScanLengthGenerator(rng: Rng, options: ScanLengthOptions = {}): NumberGenerator {
  const min = options.min ?? DEFAULT_MIN_SCAN_LENGTH;
  const max = options.max ?? DEFAULT_MAX_SCAN_LENGTH;
  const distribution = options.distribution ?? "uniform";
  if (distribution === "uniform") return new UniformLongGenerator(rng, min, max);
  if (distribution === "zipfian") return new ZipfianGenerator(rng, min, max);
  throw new RangeError(`Distribution "${String(distribution)}" not allowed for scan length`);
}
