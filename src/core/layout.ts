// Mirrors the parts of the core's memory layout the host reads (assembly/layout.ts,
// assembly/counters.ts). The core reports the IO addresses itself; tests check the rest.

/** Counter slots per vCPU (u64 each), assembly/counters.ts. */
export const C = {
  REQ: 0,
  RETRY: 3,
  L1MISS_F: 6,
  L1MISS_D: 7,
  HIT_I2M: 8,
  HIT_D2M: 9,
  HIT_D1G: 10,
  STLB4K: 11,
  STLB2M: 12,
  STLB1G: 13,
  WALKS: 14,
  REFS: 15,
  REFS_G: 16,
  REFS_E: 17,
  REFS_TIER: 18,
  PWC_HIT: 26,
  PWC_MISS: 29,
  NTLB_HIT: 30,
  NTLB_MISS: 31,
  PF: 32,
  PROT: 33,
  RSVD: 34,
  PK: 35,
  EPTV: 36,
  EPTM: 37,
  DASSIST: 38,
  A: 39,
  D: 40,
  EPT_A: 41,
  EPT_D: 42,
  DATA: 43,
  REFS_CACHED: 67,
  REF_MISS_TIER: 68,
  DLINE_HIT: 76,
  DLINE_MISS: 79,
  WRITEBACK: 103,
  DLINE_ALL: 112,
  COUNT: 136,
} as const;

/** Structure indices (assembly/layout.ts S_*). */
export const STRUCT = {
  itlb4k: 0,
  itlb2m: 1,
  dtlb4k: 2,
  dtlb2m: 3,
  dtlb1g: 4,
  stlb: 5,
  stlb1g: 6,
  psc4: 7,
  psc3: 8,
  psc2: 9,
  ntlb: 10,
  lines: 11,
} as const;

/** Event codes (assembly/layout.ts EV_*). */
export const EV = { DONE: 0, PAGE_FAULT: 1, EPT_VIOLATION: 2, EPT_MISCONFIG: 3, BAD_VCPU: 4, SLAB_EMPTY: 5, BAD_FREE: 6 } as const;

/** Request kinds beyond the three access kinds (assembly/layout.ts). */
export const KIND_ALLOC = 3;
export const KIND_FREE = 4;

/** Slab statuses (assembly/slab.ts SL_*). */
export const SLAB_STATUS = ["ok", "empty", "foreign", "misaligned", "double-free", "bad-argument", "out-of-memory", "busy"] as const;

/** Slab heap record (assembly/slab.ts): counters at byte offsets, then 32-byte class records. */
export const SLAB = { ALLOCS: 8, FREES: 16, EMPTIES: 24, BAD_FREES: 32, HDR: 48, CACHE_BYTES: 32, MAX_CACHES: 64 } as const;

/** Fixed addresses of the event block (assembly/layout.ts EV). */
export const EV_ADDR = { CODE: 0x400, VCPU: 0x404, INDEX: 0x408, ERROR: 0x40c, VA: 0x410, GPA: 0x418 } as const;

/** Map statuses (assembly/pagetable.ts ST_*). */
export const STATUS = ["ok", "conflict", "no-frames", "unbacked", "not-mapped", "out-of-memory"] as const;

/** Bytes per request in the buffer: u64 address, u32 kind | vcpu << 8, u32 size. */
export const REQ_BYTES = 16;
/** Requests the buffer holds (the engine's packed counters allow up to 2^21 - 1). */
export const REQ_CAPACITY = 1 << 20;

/**
 * The first-touch stream's region (assembly/backing.ts): byte offsets of the per-VM
 * records (BK_VM0, BK_VM_BYTES each: u64 limit, u32 pool count, pad, 3 x u64 pool),
 * its frames' capacity and the pool's size.
 */
export const BACKING = { VM0: 16, VM_BYTES: 40, CAPACITY: 4096, POOL: 3 } as const;
