// The core's linear-memory layout. Everything the core keeps is plain data at the
// addresses below; the host reads and writes the documented parts through typed views
// (src/core/layout.ts mirrors these numbers). The first MiB is reserved with
// `--memoryBase` so that fixed state sits at constant addresses.

// ---- Fixed block (0 .. 1 MiB) ------------------------------------------------------

/** Configuration, written by `configure`. */
export const CFG: usize = 0x0000;
export const CFG_MODEL: usize = CFG + 0; // u32: 0 full, 1 conformance
export const CFG_POLICY: usize = CFG + 4; // u32: conformance page size code
export const CFG_PCPUS: usize = CFG + 8;
export const CFG_VCPUS: usize = CFG + 12;
export const CFG_VMS: usize = CFG + 16;
export const CFG_REPL: usize = CFG + 20; // u32: 0 lru, 1 fifo, 2 random
export const CFG_RNG: usize = CFG + 24; // u32: xorshift32 state
export const CFG_CLOCK: usize = CFG + 28; // u32: replacement clock
export const CFG_PCPU_BYTES: usize = CFG + 32; // u32: bytes per pCPU block
export const CFG_NTIERS: usize = CFG + 36;
export const CFG_PSC_ON: usize = CFG + 40;
export const CFG_NTLB_ON: usize = CFG + 44;
export const CFG_VCPU_TAB: usize = CFG + 48; // u32 address of the vCPU table
export const CFG_VM_TAB: usize = CFG + 52;
export const CFG_CNT_TAB: usize = CFG + 56;
export const CFG_PCPU_TAB: usize = CFG + 60;
export const CFG_REQ_BUF: usize = CFG + 64;
export const CFG_REQ_CAP: usize = CFG + 68;
export const CFG_HASH: usize = CFG + 72; // u32 address of the frame -> slot hash
export const CFG_HASH_CAP: usize = CFG + 76; // u32 capacity (power of two)
export const CFG_HASH_USED: usize = CFG + 80;
export const CFG_HEAP_TOP: usize = CFG + 84; // bump pointer
export const CFG_FREE_SLOTS: usize = CFG + 88; // free list of 4 KiB table slots
export const CFG_SLOTS_USED: usize = CFG + 92;
export const CFG_CONF_TOP: usize = CFG + 96; // conformance bitmap top level
export const CFG_OOM: usize = CFG + 100; // set when the core could not grow memory
export const CFG_SLAB_HEAPS: usize = CFG + 104; // u32 address of the slab heap table
export const CFG_SLAB_MAXHEAPS: usize = CFG + 108;
export const CFG_SLAB_HASH: usize = CFG + 112; // hash descriptor (12 bytes): slab pages
/** Tier ranges: base and end (exclusive) as u64 pairs, MAX_TIERS of them. */
export const CFG_TIERS: usize = CFG + 128;
export const MAX_TIERS: i32 = 8;

/** Structure descriptors, 32 bytes each (see tlb.ts). */
export const STRUCTS: usize = 0x0200;
export const NSTRUCTS: i32 = 12;
export const S_ITLB4K: i32 = 0;
export const S_ITLB2M: i32 = 1;
export const S_DTLB4K: i32 = 2;
export const S_DTLB2M: i32 = 3;
export const S_DTLB1G: i32 = 4;
export const S_STLB: i32 = 5;
export const S_STLB1G: i32 = 6;
export const S_PSC4: i32 = 7; // PML4E cache
export const S_PSC3: i32 = 8; // PDPTE cache
export const S_PSC2: i32 = 9; // PDE cache
export const S_NTLB: i32 = 10;
export const S_LINES: i32 = 11; // the line cache (cache.ts)
// descriptor fields
export const SD_SETS: usize = 0; // u32, 0 = absent
export const SD_WAYS: usize = 4; // u32
export const SD_WPAD: usize = 8; // u32 ways rounded up to even (for i64x2 compares)
export const SD_KEYS: usize = 12; // u32 offset in the pCPU block
export const SD_D0: usize = 16; // u64 per way
export const SD_D1: usize = 20; // u64 per way
export const SD_FLAGS: usize = 24; // u32 per way
export const SD_STAMP: usize = 28; // u32 per way
export const SD_BYTES: usize = 32;

/** The last event and the engine's cursor. */
export const EV: usize = 0x0400;
export const EV_CODE: usize = EV + 0; // u32
export const EV_VCPU: usize = EV + 4; // u32
export const EV_INDEX: usize = EV + 8; // u32 request index
export const EV_ERROR: usize = EV + 12; // u32 #PF error code or EPT qualification
export const EV_VA: usize = EV + 16; // u64
export const EV_GPA: usize = EV + 24; // u64
export const CUR_INDEX: usize = EV + 32; // u32 next request
export const CUR_COUNT: usize = EV + 36; // u32 requests in the buffer
export const CUR_RETRY: usize = EV + 40; // u32 1 when resuming a faulted page access
export const CUR_ADDR: usize = EV + 48; // u64 the faulted page access's address

/** Scratch for arguments and results that do not fit a call (raw entries, frames). */
export const IO: usize = 0x0500;
export const IO_RAW: usize = IO + 0; // u64
export const IO_LEVEL: usize = IO + 8; // u32
export const IO_NFRAMES: usize = IO + 12; // u32 frames offered for new tables
export const IO_USED: usize = IO + 16; // u32 frames the last map took
export const IO_FRAMES: usize = IO + 32; // up to IO_MAX_FRAMES x (u64 gpa, u64 hpa)
export const IO_MAX_FRAMES: u32 = 12;
export const IO_DONE: usize = IO + 24; // u32 pages a range operation mapped

/** Results of a translation (walk.ts). */
export const TR: usize = 0x0600;
export const TR_HPA: usize = TR + 0; // u64 host-physical page base of the entry's size
export const TR_GPA: usize = TR + 8; // u64 guest-physical page base
export const TR_FLAGS: usize = TR + 16; // u32 entry flags
export const TR_SIZE: usize = TR + 20; // u32 entry size code
export const TR_EXACT: usize = TR + 24; // u64 the host address of the access itself

/**
 * Hot values of the engine's inline runs (fastpath.ts), at constant addresses so that
 * the loops keep few registers live and reload these instead (V8 keeps no register
 * across a call and spills heavily in big loops).
 * - HOT_GEOM: per kind (fetch, read, write) the L1 the inline hit loop probes, 32 bytes:
 *   u32 set mask, wpad, keys, stamps, ways, flags, d0, d1 (addresses of the set-0 arrays
 *   of the pCPU block).
 * - HOT_STLB: the STLB, same fields.
 * - HOT_INC: per kind the packed request-count increment (u64, 21 bits per kind).
 * - HOT_KINDS: u64 request counts by kind of the inline runs, packed like HOT_INC; the
 *   engine adds them to the vCPU's counters when it leaves the vCPU.
 * - HOT_VCPU: the full model's current vCPU, 32 bytes: u32 permission tables, effective
 *   PKRU, effective PKRS, key masks, counters, address of the VM's has-global flag;
 *   u64 ctx key bits.
 * - HOT_RUN: the state of an inline run, kept in memory rather than in locals so that
 *   no value lives across both the hit loop and the miss path (V8 would spill it inside
 *   the hit loop): u32 request address, end address, stamp delta (the stamp of the
 *   request at address r is (r >> 4) + delta), fetches run, sum of the kinds of the data
 *   requests run (reads 1, writes 2), the vCPU's request-info bits (vcpu << 8).
 * - HOT_BIG: the structures of large pages the full model's miss path probes: u32 set
 *   mask and keys of itlb2m, dtlb2m, dtlb1g and stlb1g (8 bytes each).
 * - HOT_KEYOK: the current vCPU's protection keys that let an access through, per kind
 *   and U bit of the page: u16 masks (bit k for key k) at kind * 4 + (U ? 2 : 0).
 * - HOT_RUN_COUNTED: requests of the full model's inline run, per kind (u32), whose
 *   data access is already counted (in a tier other than 0, or by a walk) or failed;
 *   the rest succeeded in tier 0 and are counted in bulk (fastpath.ts).
 * - HOT_RUN_EV: the event the full model's inline run stopped at (0: none).
 * - HOT_SETOFF: per kind, the set mask of HOT_GEOM's L1 scaled to bytes of keys
 *   ((sets - 1) * wpad * 8), so that a set's keys are at keys + (shifted va & this).
 * - HOT_TAGS: the conformance model's run: u32 addresses of the set-0 tags (tlb.ts)
 *   of its fetch L1, data L1 and STLB.
 * - HOT_LANES: the lane numbers of an i32x4 (0, 1, 2, 3), for lane masks.
 * - HOT_LINES_P: u32 the current vCPU's pCPU block, for the line cache (cache.ts).
 * - HOT_LINES_N: u32 the data accesses queued in LINES_Q.
 */
export const HOT: usize = 0x0700;
export const HOT_GEOM: usize = HOT;
export const HOT_STLB: usize = HOT + 96;
export const HOT_INC: usize = HOT + 128;
export const HOT_KINDS: usize = HOT + 152;
export const HOT_VCPU: usize = HOT + 160;
export const HOT_RUN: usize = HOT + 192;
export const HOT_RUN_R: usize = HOT_RUN;
export const HOT_RUN_END: usize = HOT_RUN + 4;
export const HOT_RUN_DELTA: usize = HOT_RUN + 8;
export const HOT_RUN_FETCHES: usize = HOT_RUN + 12;
export const HOT_RUN_DKINDS: usize = HOT_RUN + 16;
export const HOT_RUN_WHO: usize = HOT_RUN + 20;
export const HOT_BIG: usize = HOT + 224;
export const HOT_KEYOK: usize = HOT + 256;
export const HOT_RUN_COUNTED: usize = HOT + 268;
export const HOT_RUN_EV: usize = HOT + 280;
export const HOT_SETOFF: usize = HOT + 284;
export const HOT_TAGS: usize = HOT + 304;
export const HOT_LANES: usize = HOT + 320;
export const HOT_LINES_P: usize = HOT + 336;
export const HOT_LINES_N: usize = HOT + 340; // u32: data accesses in LINES_Q

/** Scratch space for slow-path work (4 KiB). */
export const SCRATCH: usize = 0x1000;

/**
 * Data accesses of the full model's inline run whose lines the line cache has yet to
 * see (fastpath.ts): its TLB hits queue them rather than call the line cache, which
 * would make V8 spill the hit loop's values at every hit, and the queue is run before
 * anything else uses the line cache (a walk) and at the end of the run, so the order
 * of its uses is unchanged. An access is a line record (u64: cache.ts), as a line
 * thread's stream has them.
 */
export const LINES_Q: usize = 0x2000;
export const LINES_Q_CAP: u32 = 1024; // 8 KiB

/**
 * Prefetch hints of the walker (walk.ts): where the last-level tables of recent walks
 * were, so that the walk of the next request's page can be touched early and its
 * memory latency overlap this walk's. Hints only: a stale one costs a useless load,
 * never a wrong result. PF_GUEST: per 2 MiB of guest-virtual space (4096 entries,
 * indexed by va >> 21 mod 4096), u32 slot of the guest page table holding the leaf
 * (bit 0 set: a 2 MiB leaf in a PD), u32 its gPA >> 12.
 * PF_EPT: per 2 MiB of guest-physical space, u32 slot of the EPT page table.
 */
export const PF_GUEST: usize = 0x10000; // 32 KiB
export const PF_EPT: usize = 0x18000; // 16 KiB
export const PF_ENTRIES: u32 = 4096;

// ---- Per-vCPU record (VCPU_BYTES each, in the vCPU table) -------------------------
export const VCPU_BYTES: usize = 64;
export const VC_ACTIVE: usize = 0; // u32
export const VC_VM: usize = 4; // u32
export const VC_PCPU: usize = 8; // u32
export const VC_PCID: usize = 12; // u32
export const VC_CR3: usize = 16; // u64 guest-physical root
export const VC_PKRU: usize = 24; // u32
export const VC_PKRS: usize = 28; // u32
export const VC_CTL: usize = 32; // u32 control bits (pkru.ts)
export const VC_OK: usize = 36; // u32 address of the 3 x 128-byte permission tables

// ---- Per-VM record ---------------------------------------------------------------
export const VM_BYTES: usize = 32;
export const VM_ACTIVE: usize = 0; // u32
export const VM_EPTAD: usize = 4; // u32
export const VM_EPT_ROOT: usize = 8; // u64 host-physical EPT PML4
export const VM_HAS_GLOBAL: usize = 16; // u32 1 once a global entry was cached

// ---- Entry flags kept in TLB entries (and PSC entries) ----------------------------
export const F_W: u32 = 1;
export const F_U: u32 = 2;
export const F_XD: u32 = 4;
export const F_D: u32 = 8;
export const F_ER: u32 = 16;
export const F_EW: u32 = 32;
export const F_EX: u32 = 64;
export const F_KEY_SHIFT: u32 = 8; // 4 bits
export const F_TIER_SHIFT: u32 = 12; // 3 bits
export const F_GLOBAL: u32 = 1 << 15;

// ---- Events ----------------------------------------------------------------------
export const EV_DONE: u32 = 0;
export const EV_PAGE_FAULT: u32 = 1;
export const EV_EPT_VIOLATION: u32 = 2;
export const EV_EPT_MISCONFIG: u32 = 3;
export const EV_BAD_VCPU: u32 = 4;
export const EV_SLAB_EMPTY: u32 = 5; // EV_VCPU = heap, EV_ERROR = size class
export const EV_BAD_FREE: u32 = 6; // EV_VCPU = heap, EV_ERROR = why (slab.ts SL_*), EV_VA = address

// ---- Request buffer: 16 bytes per request ------------------------------------------
// u64 address; u32 kind (bits 0..7) | vcpu << 8; u32 size. Kinds 0..2 translate an
// access of `size` bytes; kind 3 allocates from size class `size` of slab heap
// `vcpu` (the field names the heap) and writes the object's address over `address`;
// kind 4 frees `address` in slab heap `vcpu`.
export const REQ_BYTES: usize = 16;

// ---- Sizes -----------------------------------------------------------------------
export const SZ_4K: u32 = 0;
export const SZ_2M: u32 = 1;
export const SZ_1G: u32 = 2;

export const KIND_FETCH: u32 = 0;
export const KIND_READ: u32 = 1;
export const KIND_WRITE: u32 = 2;
export const KIND_ALLOC: u32 = 3;
export const KIND_FREE: u32 = 4;
