// Per-vCPU counters: u64 slots, COUNTERS of them per vCPU (src/core/layout.ts mirrors
// these indices). The engine's hit path counts nothing: hits are requests minus misses.
import { CFG_CNT_TAB } from "./layout";

export const C_REQ: i32 = 0; // 3 slots, by kind
export const C_RETRY: i32 = 3; // 3 slots, by kind
export const C_L1MISS_F: i32 = 6;
export const C_L1MISS_D: i32 = 7;
export const C_HIT_I2M: i32 = 8;
export const C_HIT_D2M: i32 = 9;
export const C_HIT_D1G: i32 = 10;
export const C_STLB4K: i32 = 11;
export const C_STLB2M: i32 = 12;
export const C_STLB1G: i32 = 13;
export const C_WALKS: i32 = 14;
export const C_REFS: i32 = 15;
export const C_REFS_G: i32 = 16;
export const C_REFS_E: i32 = 17;
export const C_REFS_TIER: i32 = 18; // 8 slots
export const C_PWC_HIT: i32 = 26; // 3 slots: PML4E, PDPTE, PDE caches
export const C_PWC_MISS: i32 = 29;
export const C_NTLB_HIT: i32 = 30;
export const C_NTLB_MISS: i32 = 31;
export const C_PF: i32 = 32;
export const C_PROT: i32 = 33;
export const C_RSVD: i32 = 34;
export const C_PK: i32 = 35;
export const C_EPTV: i32 = 36;
export const C_EPTM: i32 = 37;
export const C_DASSIST: i32 = 38;
export const C_A: i32 = 39;
export const C_D: i32 = 40;
export const C_EPT_A: i32 = 41;
export const C_EPT_D: i32 = 42;
export const C_DATA: i32 = 43; // 8 tiers x 3 kinds
// the line cache (cache.ts)
export const C_REFS_CACHED: i32 = 67;
export const C_REF_MISS_TIER: i32 = 68; // 8 slots
export const C_DLINE_HIT: i32 = 76; // 3 slots, by kind
export const C_DLINE_MISS: i32 = 79; // 8 tiers x 3 kinds
export const C_WRITEBACK: i32 = 103; // 8 slots
// set sampling (cache.ts; zero when every set is modelled)
export const C_DLINE_ALL: i32 = 112; // 8 tiers x 3 kinds: every data line, sampled or not
export const COUNTERS: i32 = 136;
export const COUNTER_BYTES: usize = <usize>COUNTERS * 8;

// @ts-ignore: decorator
@inline export function cnt(vcpu: u32): usize {
  return <usize>load<u32>(CFG_CNT_TAB) + <usize>vcpu * COUNTER_BYTES;
}

// @ts-ignore: decorator
@inline export function bump(c: usize, idx: i32): void {
  const p = c + (<usize>idx << 3);
  store<u64>(p, load<u64>(p) + 1);
}

// @ts-ignore: decorator
@inline export function add(c: usize, idx: i32, n: u64): void {
  const p = c + (<usize>idx << 3);
  store<u64>(p, load<u64>(p) + n);
}
