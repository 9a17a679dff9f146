/**
 * The guest's heap allocators: `osv` (OSv's mempool, REFERENCE.md section 2) and
 * `ucat` (tier-aware slabs and large pages). Both hand out guest-virtual addresses,
 * keep no data bytes, and keep their small-object free lists in the Wasm core's slab
 * heaps (the fast path); pages come from the guest OS.
 */

export interface MallocOptions {
  /**
   * Tier (a node name such as "dram" or "nvm"), or "auto" to let the allocator place
   * it. The `osv` allocator is tier-oblivious and ignores it.
   */
  tier?: string;
}

export interface TierBytes {
  /** Bytes the application asked for. */
  requestedBytes: number;
  /** Bytes its allocations occupy (size classes, headers, page rounding). */
  allocatedBytes: number;
  /** Bytes of guest memory the allocator holds in this tier (slab pages, pages, mappings), live or free. */
  heldBytes: number;
}

export interface AllocatorStats {
  requestedBytes: number;
  allocatedBytes: number;
  heldBytes: number;
  /** Bytes of the allocator's own metadata (page headers, tables), by tier. */
  metadataBytes: number;
  liveObjects: number;
  mallocs: number;
  frees: number;
  byTier: Record<string, TierBytes>;
}

export interface Allocator {
  readonly name: "osv" | "ucat";
  /** Allocates `size` bytes; returns the guest-virtual address. Throws GuestOutOfMemory. */
  malloc(size: number, opts?: MallocOptions): number;
  /** Frees an address malloc returned. Throws InvalidFree for anything else. */
  free(va: number): void;
  /** Bytes usable at `va` (its size class or page span). */
  usableSize(va: number): number;
  stats(): AllocatorStats;
}

export type InvalidFreeReason = "double-free" | "foreign" | "misaligned";

/** A free of an address that is not a live allocation. */
export class InvalidFree extends Error {
  constructor(
    readonly va: number,
    readonly reason: InvalidFreeReason,
  ) {
    super(`free(0x${va.toString(16)}): ${reason === "double-free" ? "double free" : reason === "foreign" ? "not an address malloc returned" : "not the start of an allocation"}`);
    this.name = "InvalidFree";
  }
}
