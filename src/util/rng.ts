/**
 * Seeded pseudo-random numbers: xoshiro128** (Blackman and Vigna), seeded through
 * splitmix32 so that any 32-bit seed gives a well-mixed state. Every random source in
 * unimmu is one of these, so the same seed gives the same results.
 *
 * @example
 * const rng = new Rng(42);
 * rng.int(6);   // 0..5
 * rng.float();  // [0, 1), 53 bits
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed: ${seed} is not an integer in 0..4294967295`);
    }
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** A uniform integer in [0, n), n <= 2^53, without modulo bias. */
  int(n: number): number {
    const m = n >>> 0;
    if (m === n && m !== 0) {
      // Rejection keeps small ranges unbiased: draws at or above limit = 2^32 - (2^32 mod m)
      // are redrawn. (2^32 - m) mod m is 2^32 mod m; on uint32 operands the JIT divides in
      // integers, not by a slow double modulo. limit > 2^32 - m, so a draw below that
      // needs no limit: the division is skipped on all but a fraction m / 2^32 of draws.
      let x = this.u32();
      if (x >= 0x100000000 - m) {
        const limit = 0x100000000 - (((0x100000000 - m) >>> 0) % m);
        while (x >= limit) x = this.u32();
      }
      return (x >>> 0) % m;
    }
    if (n <= 0x100000000) {
      const limit = 0x100000000 - (0x100000000 % n);
      let x = this.u32();
      while (x >= limit) x = this.u32();
      return x % n;
    }
    return Math.floor(this.float() * n);
  }

  /**
   * The generator's four state words, to continue the stream elsewhere (the core's YCSB
   * generator) and take it back with {@link setState}.
   *
   * @example
   * const s = rng.getState();
   * rng.u32();
   * rng.setState(s); // the same u32() again
   */
  getState(): [number, number, number, number] {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  /** Restores state words from {@link getState} (each a 32-bit integer, signed or not). */
  setState(s: readonly number[]): void {
    if (s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= -0x80000000 && w <= 0xffffffff)) {
      throw new RangeError(`state: ${JSON.stringify(s)} is not allowed; expected four 32-bit integers`);
    }
    this.a = s[0]! >>> 0;
    this.b = s[1]! >>> 0;
    this.c = s[2]! >>> 0;
    this.d = s[3]! >>> 0;
  }

  /** A new independent stream derived from this one. */
  fork(): Rng {
    return new Rng(this.u32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
