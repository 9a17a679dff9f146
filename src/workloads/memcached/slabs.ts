/**
 * memcached's slab allocator geometry, as memcached 1.6 (memcached/memcached, tag 1.6.45)
 * computes it: `slabs_init` and `slabs_clsid` in slabs.c, `item_make_header` and
 * `do_item_alloc` in items.c, the defaults in memcached.c `settings_init`.
 *
 * Items live in chunks of a slab class; a class cuts 1 MiB pages into equal chunks. Chunk
 * sizes start at sizeof(item) + chunk_size = 48 + 48 = 96 B and grow by the factor 1.25,
 * each rounded up to 8 B, until the next size would reach slab_chunk_size_max / factor; the
 * last class is slab_chunk_size_max (512 KiB) itself. Items larger than that (up to
 * item_size_max, 1 MiB) are "chunked": a header in a small class plus 512 KiB chunks.
 *
 * @example
 * const classes = slabClasses();          // 96, 120, 152, ..., 524288 (39 classes)
 * const size = itemSize(64, 1024);        // 1147 (a memaslap item)
 * classFor(size, classes)?.size;          // 1184
 * classFor(size, classes)?.perSlab;       // 885 chunks per 1 MiB page
 */

/** sizeof(item) on a 64-bit build: 3 pointers, 3 x 4 B, 2 x 2 B, 2 x 1 B, padded to 8 (memcached.h `_stritem`). */
export const ITEM_HEADER_BYTES = 48;
/** CAS value stored with each item when CAS is on (`settings.use_cas = true`; items.c adds sizeof(uint64_t)). */
export const CAS_BYTES = 8;
/** Client flags stored only when nonzero (items.c item_make_header, client_flags_t = uint32_t). */
export const CLIENT_FLAGS_BYTES = 4;
/** Chunk sizes are aligned to this (memcached.h `CHUNK_ALIGN_BYTES 8`). */
export const CHUNK_ALIGN_BYTES = 8;
/** Classes are numbered from 1 (memcached.h `POWER_SMALLEST 1`); class 0 is the global page pool. */
export const POWER_SMALLEST = 1;
/** memcached.h `MAX_NUMBER_OF_SLAB_CLASSES (63 + 1)`. */
export const MAX_NUMBER_OF_SLAB_CLASSES = 64;

/** The settings that shape the slab classes, with memcached's defaults. */
export interface SlabSettings {
  /** `-n`, settings.chunk_size = 48 ("space for a modest key and value"). */
  chunkSize: number;
  /** `-f`, settings.factor = 1.25. */
  factor: number;
  /** settings.slab_page_size = 1024 * 1024 ("chunks are split from 1MB pages"). */
  slabPageSize: number;
  /** `-o slab_chunk_max`, settings.slab_chunk_size_max = slab_page_size / 2. */
  slabChunkSizeMax: number;
  /** `-I`, settings.item_size_max = 1024 * 1024 ("the famous 1MB upper limit"). */
  itemSizeMax: number;
  /** `-C` turns it off; settings.use_cas = true. */
  useCas: boolean;
  /** `-o slab_sizes=...`: explicit chunk sizes instead of the factor series. */
  slabSizes?: readonly number[];
}

/** memcached 1.6 defaults (memcached.c settings_init). */
export const DEFAULT_SLAB_SETTINGS: Readonly<SlabSettings> = Object.freeze({
  chunkSize: 48,
  factor: 1.25,
  slabPageSize: 1024 * 1024,
  slabChunkSizeMax: (1024 * 1024) / 2,
  itemSizeMax: 1024 * 1024,
  useCas: true,
});

/** One slab class. */
export interface SlabClass {
  /** Class id, 1-based as in memcached's stats. */
  id: number;
  /** Chunk size in bytes. */
  size: number;
  /** Chunks per slab page (`perslab` = page size / chunk size, rounded down). */
  perSlab: number;
}

/**
 * The slab classes memcached builds (slabs.c `slabs_init`), in increasing size.
 *
 * @example
 * slabClasses().slice(0, 13).map((c) => c.size);
 * // [96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184, 1480]
 */
export function slabClasses(settings: Partial<SlabSettings> = {}): SlabClass[] {
  const s: SlabSettings = { ...DEFAULT_SLAB_SETTINGS, ...settings };
  const classes: SlabClass[] = [];
  let size = ITEM_HEADER_BYTES + s.chunkSize; // unsigned int size = sizeof(item) + settings.chunk_size
  let i = POWER_SMALLEST - 1;
  while (++i < MAX_NUMBER_OF_SLAB_CLASSES - 1) {
    if (s.slabSizes) {
      const explicit = s.slabSizes[i - 1];
      if (explicit === undefined || explicit === 0) break;
      size = explicit;
    } else if (size >= s.slabChunkSizeMax / s.factor) {
      break;
    }
    if (size % CHUNK_ALIGN_BYTES) size += CHUNK_ALIGN_BYTES - (size % CHUNK_ALIGN_BYTES);
    classes.push({ id: i, size, perSlab: Math.floor(s.slabPageSize / size) });
    // size *= factor on an unsigned int: multiply as double, truncate back.
    if (!s.slabSizes) size = Math.trunc(size * s.factor) >>> 0;
  }
  // power_largest = i; its chunk size is slab_chunk_size_max.
  classes.push({ id: i, size: s.slabChunkSizeMax, perSlab: Math.floor(s.slabPageSize / s.slabChunkSizeMax) });
  return classes;
}

/** Options of {@link itemSize}. */
export interface ItemSizeOptions {
  /** Client flags of the item; nonzero flags take 4 more bytes (default 0, as memaslap and YCSB send). */
  flags?: number;
  /** CAS on (default true, memcached's default). */
  useCas?: boolean;
}

/**
 * Bytes an item needs (items.c `do_item_alloc`): sizeof(item) 48 + key + 1 (NUL) +
 * (4 if flags nonzero) + value + 2 ("\r\n") + 8 (CAS).
 *
 * @example
 * itemSize(64, 1024); // 1147
 */
export function itemSize(keyBytes: number, valueBytes: number, options: ItemSizeOptions = {}): number {
  const flagBytes = (options.flags ?? 0) !== 0 ? CLIENT_FLAGS_BYTES : 0;
  const cas = (options.useCas ?? DEFAULT_SLAB_SETTINGS.useCas) ? CAS_BYTES : 0;
  return ITEM_HEADER_BYTES + (keyBytes + 1) + flagBytes + (valueBytes + 2) + cas;
}

const defaultClasses = Object.freeze(slabClasses().map((c) => Object.freeze(c)));

/**
 * The slab class an item of `size` bytes goes to (slabs.c `slabs_clsid`): the first class
 * whose chunks are at least that big; the largest class for items above it (memcached then
 * stores them chunked); undefined for 0 or more than `itemSizeMax` (memcached refuses them).
 *
 * @example
 * classFor(1147)?.size; // 1184 (class 12)
 * classFor(96)?.id;     // 1
 * classFor(2 ** 21);    // undefined: larger than item_size_max
 */
export function classFor(
  size: number,
  classes: readonly SlabClass[] = defaultClasses,
  itemSizeMax: number = DEFAULT_SLAB_SETTINGS.itemSizeMax,
): SlabClass | undefined {
  if (size <= 0 || size > itemSizeMax) return undefined;
  // Binary search for the first class with chunk size >= size.
  let lo = 0;
  let hi = classes.length - 1;
  if (size > classes[hi]!.size) return classes[hi];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (classes[mid]!.size >= size) hi = mid;
    else lo = mid + 1;
  }
  return classes[lo];
}

/**
 * Chunks of a class per slab page (`perslab`).
 *
 * @example
 * chunksPerPage(1184); // 885
 */
export function chunksPerPage(chunkSize: number, slabPageSize: number = DEFAULT_SLAB_SETTINGS.slabPageSize): number {
  return Math.floor(slabPageSize / chunkSize);
}
