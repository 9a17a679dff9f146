// The project's random stream (xoshiro128**, src/util/rng.ts is the reference), for the
// workload generators in the core (ycsb.ts, memaslap.ts). One stream: only one
// generator runs at a time, and each takes the host's state in and hands it back.

let ra: u32 = 0;
let rb: u32 = 0;
let rc: u32 = 0;
let rd: u32 = 0;

/** Takes the host Rng's state (Rng.getState). */
export function rngSeed(a: u32, b: u32, c: u32, d: u32): void {
  ra = a;
  rb = b;
  rc = c;
  rd = d;
}

/** State word `i` (0..3), for Rng.setState. */
export function rngWord(i: u32): u32 {
  return i == 0 ? ra : i == 1 ? rb : i == 2 ? rc : rd;
}

// @ts-ignore: decorator
@inline function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

/** Rng.u32 */
export function nextU32(): u32 {
  const result = rotl(rb * 5, 7) * 9;
  const t = rb << 9;
  rc ^= ra;
  rd ^= rb;
  rb ^= rc;
  ra ^= rd;
  rc ^= t;
  rd = rotl(rd, 11);
  return result;
}

/** Rng.float: 53 random bits, the high 27 first. */
export function nextFloat(): f64 {
  const hi = <f64>(nextU32() >>> 5);
  const lo = <f64>(nextU32() >>> 6);
  return (hi * 67108864.0 + lo) / 9007199254740992.0;
}

/** Rng.int(n) for an integer n in 1..2^53. */
export function nextInt(n: f64): f64 {
  if (n < 4294967296.0) {
    const m = <u64>n;
    let x = <u64>nextU32();
    if (x >= 0x100000000 - m) {
      const limit: u64 = 0x100000000 - (0x100000000 - m) % m;
      while (x >= limit) x = <u64>nextU32();
    }
    return <f64>(x % m);
  }
  if (n == 4294967296.0) return <f64>nextU32();
  return Math.floor(nextFloat() * n);
}
