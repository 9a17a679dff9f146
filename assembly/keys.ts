// YCSB's key names as numbers (src/workloads/ycsb/workloads.ts buildKeyName and
// generators.ts fnvHash64 are the reference): "user" and the decimal digits of a value
// (a key number's FNV hash, or the number), zero-padded to at least `zeroPadding`
// digits. The ordered index sorts names as strings; two names compare as their digit
// strings, which these functions do on the values and lengths, without strings.

/** YCSB Utils.fnvhash64: FNV-1a over the 8 little-endian bytes, then Java's Math.abs. */
export function fnvHash64(v: u64): i64 {
  let h: u64 = 0xCBF29CE484222325;
  for (let i: u64 = 0; i < 64; i += 8) {
    h ^= (v >> i) & 0xff;
    h *= 1099511628211;
  }
  const s = <i64>h;
  return s < 0 ? -s : s;
}

/** Length of the decimal string of `v` (a '-' included). */
export function decimalLength(v: i64): i32 {
  if (v < 0) return v == i64.MIN_VALUE ? 20 : 1 + decimalLength(-v);
  let n = 1;
  let p: i64 = 10;
  while (n < 19 && v >= p) {
    n++;
    p *= 10;
  }
  return n;
}

// 10^0 .. 10^18
const POW10: StaticArray<i64> = [
  1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000, 10000000000,
  100000000000, 1000000000000, 10000000000000, 100000000000000, 1000000000000000,
  10000000000000000, 100000000000000000, 1000000000000000000,
];

/** The first `m` digits of `v` zero-padded to `len` digits (v >= 0, m <= len). */
// @ts-ignore: decorator
@inline function prefix(v: i64, len: i32, m: i32): i64 {
  const e = len - m;
  return e >= 19 ? 0 : v / unchecked(POW10[e]);
}

/**
 * The digit strings of (v1 zero-padded to l1 digits) and (v2 to l2) compared as
 * strings: negative, 0 or positive. The common prefix's digits decide, then the
 * shorter string comes first.
 */
export function compareDigits(v1: i64, l1: i32, v2: i64, l2: i32): i32 {
  const m = min(l1, l2);
  const p1 = prefix(v1, l1, m);
  const p2 = prefix(v2, l2, m);
  if (p1 != p2) return p1 < p2 ? -1 : 1;
  return l1 - l2;
}

/** Digit `i` (from the left) of `v` zero-padded to `len` digits. */
// @ts-ignore: decorator
@inline function digitAt(v: i64, len: i32, i: i32): i32 {
  const e = len - 1 - i;
  return e >= 19 ? 0 : <i32>((v / unchecked(POW10[e])) % 10);
}

// "user" as btree.ts packKey packs it: each code unit + 1, base 256
const USER_HEAD: f64 = <f64>((((118 * 256 + 116) * 256 + 102) * 256) + 115);
const DIGIT_0: f64 = 49; // "0" + 1

/** The packed head of the name ("user" and `v` padded to `len` digits): packKey's first number. */
export function packHead(v: i64, len: i32): f64 {
  return USER_HEAD * 65536 + packDigit(v, len, 0) * 256 + packDigit(v, len, 1);
}

/** packKey's second number: the name's characters 6 to 11 (its digits 2 to 7). */
export function packTail(v: i64, len: i32): f64 {
  let x: f64 = 0;
  for (let i = 2; i < 8; i++) x = x * 256 + packDigit(v, len, i);
  return x;
}

// @ts-ignore: decorator
@inline function packDigit(v: i64, len: i32, i: i32): f64 {
  return i < len ? DIGIT_0 + <f64>digitAt(v, len, i) : 0;
}
/** compareDigits of values given as 32-bit halves (the host's differential test of the names' order). */
export function keysCompare(hi1: u32, lo1: u32, l1: i32, hi2: u32, lo2: u32, l2: i32): i32 {
  return compareDigits(<i64>((<u64>hi1 << 32) | <u64>lo1), l1, <i64>((<u64>hi2 << 32) | <u64>lo2), l2);
}

/** packHead (part 0) or packTail (part 1) of a value given as 32-bit halves (the host's differential test). */
export function keysPack(hi: u32, lo: u32, len: i32, part: u32): f64 {
  const v = <i64>((<u64>hi << 32) | <u64>lo);
  return part == 0 ? packHead(v, len) : packTail(v, len);
}

/**
 * memcached/server.ts mix32: murmur3's fmix32 over both halves of a key id below 2^53;
 * the memcached model's hash of a key, and the YCSB store's stand-in for a key string's.
 */
export function mix32(keyId: f64): i32 {
  const k = <u64>keyId;
  const h = (<u32>k ^ fmix32(<u32>(k >> 32) + 0x9e3779b9)) * 0x85ebca6b;
  return <i32>fmix32(h ^ (h >>> 15));
}

// @ts-ignore: decorator
@inline function fmix32(x: u32): u32 {
  let h = x;
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}
