/**
 * A memcached 1.6 server model that runs inside a guest process: its slab pages, items,
 * hash table, segmented LRU and connection buffers live at guest-virtual addresses
 * obtained from the guest allocator (`process.malloc`), and every operation issues the
 * reads and writes the real code makes to them, so translation and allocation costs are
 * those of memcached's real memory layout. No data bytes are kept: only the metadata the
 * model needs (which chunk holds which key, list links), in typed arrays on the host side.
 *
 * Sources: memcached/memcached tag 1.6.45: slabs.c (`do_slabs_newslab`, `memory_allocate`,
 * `split_slab_page_into_freelist`, `do_slabs_alloc`, `do_slabs_free`), items.c
 * (`do_item_alloc`, `do_item_alloc_pull`, `do_item_link`, `do_item_unlink`, `do_item_get`,
 * `do_item_bump`, `do_item_update`, `lru_pull_tail`, `lru_maintainer_juggle`), assoc.c
 * (`assoc_init`, `assoc_find`, `assoc_insert`, `assoc_delete`, `assoc_expand`, the
 * maintenance thread), memcached.c (`settings_init`, `do_store_item`), memcached.h (item
 * struct, buffer sizes). See docs/workloads.md for the full list of what is modelled.
 *
 * The model in brief:
 * - Slab pages: 1 MiB `malloc` per page (`memory_allocate` calls malloc when no `-L`
 *   preallocation), taken by a class when its free list is empty; each new page is wiped
 *   (`memset`, one write of the page) and split into a free list of chunks (a header
 *   write per chunk, and the write of the previous free head's `prev`). The chunk popped
 *   first is the page's last one, as memcached's LIFO free list gives.
 * - The memory limit (`-m`, default 64 MiB) counts slab pages only (`mem_malloced`,
 *   reported as `total_malloced`); a class gets a new page while under the limit, and its
 *   first page even above it (`p->slabs > 0` in do_slabs_newslab). Above it, a set evicts
 *   the tail of its class's COLD LRU (do_item_alloc_pull: up to 10 tries, each evicting
 *   one COLD tail item or, when COLD is empty, moving the HOT tail to COLD).
 * - Segmented LRU per class (HOT, WARM, COLD; `lru_segmented` is on by default): new
 *   items go to HOT's head; a get sets FETCHED on the first hit and ACTIVE on the second;
 *   an ACTIVE hit on a COLD item moves it to WARM. The LRU maintainer thread's juggling
 *   is done after each store into a class: while HOT holds more than 20 % of the class's
 *   item bytes its tail moves to COLD (to WARM when ACTIVE), while WARM holds more than
 *   40 % its tail moves to COLD (or back to WARM's head when ACTIVE). That work belongs
 *   to memcached's own thread, so by default (`lruMaintainer: "background"`) it changes
 *   the lists without issuing its accesses on the worker's vCPU (they are counted in
 *   `maintainerAccesses`); "inline" issues them. Age limits (`hot_max_factor`,
 *   `warm_max_factor`) and expiry are not modelled: there is no clock.
 * - Items: header 48 B, CAS 8 B, key + NUL, value + "\r\n" in one chunk of the class
 *   `slabs_clsid(ntotal)` picks (flags are 0, as memaslap and YCSB send).
 * - Hash table: 2^16 buckets of 8-byte pointers `calloc`ed at start (a malloc and a
 *   write of the table: OSv's calloc is malloc + memset); it doubles when the items
 *   exceed 1.5 per bucket: a new table is calloc'ed, every item moved (bucket read,
 *   header and key read to rehash, h_next and new bucket writes), the old table freed.
 *   memcached checks the threshold once a second and moves one bucket at a time from a
 *   background thread; the model expands at once, at the insert that crosses it.
 * - Connections (option `network`, default on): each connection a client uses gets a
 *   16 KiB read buffer and a 16 KiB response buffer (memcached.h READ_BUFFER_SIZE; 1.6
 *   takes them from per-thread caches, the model keeps one of each per connection). A
 *   request is written into the read buffer (by the network stack) and parsed from it;
 *   a set's value is copied from it into the item; responses are written into the
 *   response buffer, and a get's value is read from the item by the send path.
 *
 * @example
 * const server = new MemcachedServer(vm.process, { memoryLimit: 1024 * MiB });
 * server.set(1, 64, 1024);    // key id 1, a 64-byte key, a 1024-byte value: "stored"
 * server.get(1, 64);          // 1024 (value bytes), or -1 on a miss
 * server.statsSlabs();        // like `stats slabs`: [{ id: 12, chunkSize: 1184, chunksPerPage: 885, ... }]
 */
import {
  CAS_BYTES,
  DEFAULT_SLAB_SETTINGS,
  ITEM_HEADER_BYTES,
  classFor,
  slabClasses,
  type SlabClass,
  type SlabSettings,
} from "./slabs.js";
import { formatIssue, type PresetIssue } from "../../cost/schema.js";
import type { WorkloadProcess } from "../drivers.js";
import { MeteredProcess } from "../metered.js";
import { RecordTable } from "../records.js";

// A chunk's metadata in the server's RecordTable (40-byte records): guest address and key
// id (f64 words 0, 1 of 5); LRU links, hash-chain successor, value bytes and hash (32-bit
// words 4..8 of 10); key length, flags, LRU segment and class (bytes 36..39 of 40).
const C_VA = 0;
const C_KEYID = 1;
const C_NEXT = 4;
const C_PREV = 5;
const C_HNEXT = 6;
const C_NBYTES = 7;
const C_HV = 8;
const C_KEYLEN = 36;
const C_FLAGS = 37;
const C_LRU = 38;
const C_CLS = 39;

/** memcached.c settings_init: `settings.maxbytes = 64 * 1024 * 1024` (`-m 64`). */
export const MEMCACHED_DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024;
/** memcached.h `HASHPOWER_DEFAULT 16` (settings.hashpower_init 0 keeps it). */
export const MEMCACHED_HASHPOWER_DEFAULT = 16;
/** memcached.h `HASHPOWER_MAX 32`. */
export const MEMCACHED_HASHPOWER_MAX = 32;
/** memcached.c settings_init: `hot_lru_pct = 20`, `warm_lru_pct = 40`. */
export const MEMCACHED_HOT_LRU_PCT = 20;
export const MEMCACHED_WARM_LRU_PCT = 40;
/** memcached.h `READ_BUFFER_SIZE 16384` (read buffers and response bundles). */
export const MEMCACHED_READ_BUFFER_SIZE = 16384;

/** items.c do_item_alloc_pull: `for (i = 0; i < 10; i++)`. */
const ALLOC_PULL_TRIES = 10;
/** items.c lru_maintainer_juggle: `for (i = 0; i < 500; i++)`. */
const JUGGLE_MAX = 500;

// Offsets in the item header (memcached.h `struct _stritem`, 64-bit).
const IT_NEXT = 0;
const IT_PREV = 8;
const IT_HNEXT = 16;
const IT_TIME = 24;
const IT_REFCOUNT = 36;
const IT_FLAGS = 38;
const IT_CLSID = 40;

// it_flags (memcached.h).
const ITEM_LINKED = 1;
const ITEM_SLABBED = 4;
const ITEM_FETCHED = 8;
const ITEM_ACTIVE = 16;

// LRU ids (memcached.h HOT_LRU 0, WARM_LRU 64, COLD_LRU 128; here as 0..2).
const HOT = 0;
const WARM = 1;
const COLD = 2;
const LRUS = 4; // stride per class (TEMP_LRU unused)

/** Result of a store command. */
export type StoreResult = "stored" | "not-stored" | "out-of-memory";

/** A storage command (text protocol). */
export type StoreCommand = "set" | "add" | "replace";

/** Instruction fetches (optional): a stand-in text segment and fetches per request. */
export interface CodeModel {
  /** Bytes of the code region, allocated with malloc as a stand-in for the text segment (default 256 KiB; a guess near memcached 1.6's text size). */
  regionBytes?: number;
  /** Fetch requests per client request (default 16; a guess: the functions a get or set path runs). */
  fetchesPerRequest?: number;
  /** Bytes per fetch request (default 64, a cache line). */
  fetchBytes?: number;
}

/** Options of {@link MemcachedServer}; each default is memcached 1.6's. */
export interface MemcachedOptions {
  /** `-m`: bytes of slab pages before evicting (default 64 MiB). 0 means no limit (as `-m 0`). */
  memoryLimit?: number;
  /** Slab settings (`-f`, `-n`, `-I`, `-o slab_chunk_max`, `-C`); default memcached's. */
  slabs?: Partial<SlabSettings>;
  /** `-o hashpower`: log2 of the initial bucket count (default 16). */
  hashPower?: number;
  /** `-o hot_lru_pct` (default 20). */
  hotLruPct?: number;
  /** `-o warm_lru_pct` (default 40). */
  warmLruPct?: number;
  /** Model connection read and response buffers (default true). */
  network?: boolean;
  /** Tier for slab pages (passed to malloc; default: the allocator's choice). */
  tier?: string;
  /** Tier for the hash table, connection buffers and code (default: the allocator's choice). */
  metadataTier?: string;
  /** Instruction fetches; off unless given (docs/workloads.md). */
  code?: CodeModel;
  /**
   * Where the LRU maintainer's work (juggling HOT/WARM/COLD, the asynchronous COLD to WARM
   * bumps) happens. "background" (default): it changes the lists, as memcached's own
   * thread does, but its accesses are not issued on this process's vCPU, since the real
   * thread runs beside the workers; they are counted in `maintainerAccesses`. "inline":
   * they are issued here too.
   */
  lruMaintainer?: "background" | "inline";
}

/** One line of `stats slabs` (slabs.c do_slabs_stats), plus the class's item counters. */
export interface SlabClassStats {
  /** Class id (1-based). */
  id: number;
  /** `chunk_size`. */
  chunkSize: number;
  /** `chunks_per_page`. */
  chunksPerPage: number;
  /** `total_pages`. */
  totalPages: number;
  /** `total_chunks` = pages x chunks per page. */
  totalChunks: number;
  /** `used_chunks` = total_chunks - free_chunks. */
  usedChunks: number;
  /** `free_chunks` (chunks on the class's free list). */
  freeChunks: number;
  /** `free_chunks_end` (always 0 in 1.6). */
  freeChunksEnd: number;
  /** `get_hits` of the class. */
  getHits: number;
  /** `cmd_set` of the class (store commands whose item was allocated in it). */
  cmdSet: number;
  /** `stats items`: `number`, `number_hot`, `number_warm`, `number_cold`. */
  items: number;
  itemsHot: number;
  itemsWarm: number;
  itemsCold: number;
  /** `stats items`: `evicted`, `outofmemory`, `moves_to_cold`, `moves_to_warm`, `moves_within_lru`, `direct_reclaims`. */
  evicted: number;
  outOfMemory: number;
  movesToCold: number;
  movesToWarm: number;
  movesWithinLru: number;
  directReclaims: number;
}

/** The server's totals, as `stats` and the end of `stats slabs` report them. */
export interface MemcachedStats {
  /** `active_slabs`: classes with at least one page. */
  activeSlabs: number;
  /** `total_malloced`: bytes of slab pages malloc'ed. */
  totalMalloced: number;
  /** `limit_maxbytes`. */
  limitMaxbytes: number;
  /** `curr_items`, `total_items`, `bytes` (sum of linked items' sizes). */
  currItems: number;
  totalItems: number;
  bytes: number;
  /** `cmd_get`, `get_hits`, `get_misses`, `cmd_set`. */
  cmdGet: number;
  getHits: number;
  getMisses: number;
  cmdSet: number;
  /** Stores answered NOT_STORED (add of an existing key, replace of a missing one). */
  notStored: number;
  /** `evictions`. */
  evictions: number;
  /** Stores that failed for lack of memory (SERVER_ERROR out of memory). */
  outOfMemory: number;
  /** `hash_power_level`, `hash_bytes`; expansions done. */
  hashPowerLevel: number;
  hashBytes: number;
  hashExpansions: number;
  /** Bytes of connection buffers malloc'ed (not counted by memcached's limit). */
  connectionBytes: number;
  /** Accesses of the LRU maintainer not issued ("background" mode), and its moves. */
  maintainerAccesses: number;
  /** Accesses this server issued (reads, writes, fetches) and their bytes. */
  accesses: number;
  accessBytes: number;
  /** Guest mallocs and frees and the bytes malloc'ed. */
  mallocs: number;
  frees: number;
  mallocBytes: number;
}

/** What {@link MemcachedServer.coreState} gives the core's model. @internal */
export interface MemcachedCoreState {
  classState: Uint8Array;
  /** Class ids + 1 (the per-class arrays' length). */
  classCount: number;
  chunks: RecordTable;
  nChunks: number;
  buckets: Int32Array<ArrayBuffer>;
  hashPower: number;
  tableVa: number;
  rbuf: Float64Array<ArrayBuffer>;
  wbuf: Float64Array<ArrayBuffer>;
  totals: readonly number[];
  useCas: boolean;
  hotPct: number;
  warmPct: number;
  network: boolean;
  inlineMaintainer: boolean;
  slabOpts: { tier?: string } | undefined;
  metaOpts: { tier?: string } | undefined;
  code: { va: number; bytes: number; fetches: number; fetchBytes: number };
}

/**
 * The memcached server model; see the module comment.
 *
 * Keys are identified by a number (`keyId`, unique per key; any integer below 2^53) and a
 * length in bytes (1..250); the bucket comes from a 32-bit mix of the id, a stand-in for
 * memcached's murmur3 over the key bytes (both spread keys uniformly over buckets).
 *
 * @example
 * const s = new MemcachedServer(process, { memoryLimit: 0 });
 * s.store("add", 7, 33, 1141);  // "stored"
 * s.store("add", 7, 33, 1141);  // "not-stored": add of an existing key
 * s.get(7, 33);                 // 1141
 */
export class MemcachedServer {
  readonly classes: readonly SlabClass[];
  readonly settings: Readonly<SlabSettings>;
  readonly memoryLimit: number;
  /** The process the model's traffic goes through, with its counts. */
  readonly meter: MeteredProcess;
  private readonly useCas: boolean;
  private readonly keyOffset: number;
  private readonly hotPct: number;
  private readonly warmPct: number;
  private readonly network: boolean;
  private readonly inlineMaintainer: boolean;
  /** True while the maintainer works in "background" mode: accesses are counted, not issued. */
  private quiet = false;
  private maintainerAccesses = 0;
  private readonly slabOpts: { tier?: string } | undefined;
  private readonly metaOpts: { tier?: string } | undefined;

  // Per class (indexed by class id): views of classState.
  private readonly classState: Uint8Array;
  private readonly chunkSize: Int32Array;
  private readonly perSlab: Int32Array;
  private readonly pages: Int32Array;
  private readonly freeHead: Int32Array;
  private readonly freeCount: Int32Array;
  private readonly lruHead: Int32Array;
  private readonly lruTail: Int32Array;
  private readonly lruCount: Int32Array;
  private readonly lruBytes: Float64Array;
  private readonly clsGetHits: Float64Array;
  private readonly clsCmdSet: Float64Array;
  private readonly clsEvicted: Float64Array;
  private readonly clsOutOfMemory: Float64Array;
  private readonly clsMovesToCold: Float64Array;
  private readonly clsMovesToWarm: Float64Array;
  private readonly clsMovesWithinLru: Float64Array;
  private readonly clsDirectReclaims: Float64Array;
  /** Slab page addresses per class (for tests and inspection). */
  readonly pageAddresses: number[][];

  // Per chunk (indexed by chunk id, grown as pages arrive): 40-byte records (offsets C_*).
  private nChunks = 0;
  private readonly chunks = new RecordTable(40);

  // Hash table.
  private hashPower: number;
  private buckets: Int32Array<ArrayBuffer>;
  private tableVa: number;
  private hashExpansions = 0;

  // Connections.
  // Guest addresses of each connection's buffers, -1 until its first request (typed arrays:
  // a plain array of doubles holey at unused connections reads back boxed numbers).
  private rbuf = new Float64Array(16).fill(-1);
  private wbuf = new Float64Array(16).fill(-1);
  private connectionBytes = 0;

  // Code.
  private codeVa = -1;
  private codeBytes = 0;
  private codeFetches = 0;
  private codeFetchBytes = 0;

  // Totals.
  private malloced = 0;
  private currItems = 0;
  private totalItems = 0;
  private currBytes = 0;
  private cmdGet = 0;
  private getHits = 0;
  private getMisses = 0;
  private cmdSet = 0;
  private notStored = 0;
  private evictions = 0;
  private outOfMemory = 0;
  constructor(process: WorkloadProcess, options: MemcachedOptions = {}) {
    this.meter = new MeteredProcess(process);
    const settings: SlabSettings = { ...DEFAULT_SLAB_SETTINGS, ...options.slabs };
    this.settings = Object.freeze(settings);
    this.classes = Object.freeze(slabClasses(settings).map((c) => Object.freeze(c)));
    const problem = memcachedIssues(options)[0];
    if (problem) throw new RangeError(formatIssue(problem));
    this.memoryLimit = options.memoryLimit ?? MEMCACHED_DEFAULT_MEMORY_LIMIT;
    this.useCas = settings.useCas;
    this.keyOffset = ITEM_HEADER_BYTES + (settings.useCas ? CAS_BYTES : 0);
    this.hotPct = options.hotLruPct ?? MEMCACHED_HOT_LRU_PCT;
    this.warmPct = options.warmLruPct ?? MEMCACHED_WARM_LRU_PCT;
    this.network = options.network ?? true;
    this.inlineMaintainer = options.lruMaintainer === "inline";
    this.slabOpts = options.tier === undefined ? undefined : { tier: options.tier };
    this.metaOpts = options.metadataTier === undefined ? undefined : { tier: options.metadataTier };

    // Per-class state in one buffer, in the layout of the core's model (assembly/memcached.ts):
    // f64 lruBytes (4n) and 8 statistics (n each), then i32 chunkSize, perSlab, pages,
    // freeHead, freeCount (n each), lruHead, lruTail, lruCount (4n each).
    const n = this.classes[this.classes.length - 1]!.id + 1;
    this.classState = new Uint8Array(n * (12 * 8 + 17 * 4));
    const buf = this.classState.buffer;
    const f64 = (at: number, len: number): Float64Array => new Float64Array(buf, at * 8 * n, len);
    const i32 = (at: number, len: number): Int32Array => new Int32Array(buf, 96 * n + at * 4 * n, len);
    this.lruBytes = f64(0, n * LRUS);
    this.clsGetHits = f64(4, n);
    this.clsCmdSet = f64(5, n);
    this.clsEvicted = f64(6, n);
    this.clsOutOfMemory = f64(7, n);
    this.clsMovesToCold = f64(8, n);
    this.clsMovesToWarm = f64(9, n);
    this.clsMovesWithinLru = f64(10, n);
    this.clsDirectReclaims = f64(11, n);
    this.chunkSize = i32(0, n);
    this.perSlab = i32(1, n);
    this.pages = i32(2, n);
    this.freeHead = i32(3, n).fill(-1);
    this.freeCount = i32(4, n);
    this.lruHead = i32(5, n * LRUS).fill(-1);
    this.lruTail = i32(9, n * LRUS).fill(-1);
    this.lruCount = i32(13, n * LRUS);
    for (const c of this.classes) {
      this.chunkSize[c.id] = c.size;
      this.perSlab[c.id] = c.perSlab;
    }
    this.pageAddresses = Array.from({ length: n }, () => []);

    const hp = options.hashPower ?? MEMCACHED_HASHPOWER_DEFAULT;
    this.hashPower = hp;
    // assoc_init: primary_hashtable = calloc(hashsize(hashpower), sizeof(void *)).
    this.buckets = new Int32Array(2 ** hp).fill(-1);
    this.tableVa = this.meter.calloc(2 ** hp * 8, this.metaOpts);

    if (options.code) {
      const region = options.code.regionBytes ?? 256 * 1024;
      const per = options.code.fetchesPerRequest ?? 16;
      const bytes = options.code.fetchBytes ?? 64;
      this.codeVa = this.meter.malloc(region, this.metaOpts);
      this.codeBytes = region;
      this.codeFetches = per;
      this.codeFetchBytes = bytes;
    }
  }

  // ---- the commands -----------------------------------------------------------------

  /**
   * `get <key>`: the value's bytes (without "\r\n") on a hit, -1 on a miss.
   *
   * @example
   * server.get(42, 64); // 1024
   */
  get(keyId: number, keyLen: number, conn = 0): number {
    this.checkKey(keyLen);
    if (this.network && !(this.rbuf[conn]! >= 0)) checkConn(conn); // before anything changes
    this.cmdGet++;
    if (this.codeFetches) this.code(0);
    const reqLen = 4 + keyLen + 2; // "get <key>\r\n"
    let wb = 0;
    if (this.network) {
      let rb = this.rbuf[conn]!;
      if (!(rb >= 0)) rb = this.openConn(conn);
      wb = this.wbuf[conn]!;
      this.write(rb, reqLen); // the network stack delivers the request
      this.read(rb, reqLen); // the parser reads it
    }
    const hv = mix32(keyId);
    const it = this.find(keyId, keyLen, hv);
    if (it < 0) {
      this.getMisses++;
      if (this.network) this.write(wb, 5); // "END\r\n"
      return -1;
    }
    const base = this.chunks.f64[it * 5 + C_VA]!;
    this.write(base + IT_REFCOUNT, 2); // refcount_incr
    this.bump(it);
    const nb = this.chunks.i32[it * 10 + C_NBYTES]!;
    if (this.network) this.write(wb, 6 + keyLen + 3 + decimalDigits(nb - 2) + 2 + 5); // "VALUE <key> 0 <bytes>\r\n" ... "END\r\n"
    this.read(base + this.keyOffset + keyLen + 1, nb); // the send path reads the value and its "\r\n"
    this.write(base + IT_REFCOUNT, 2); // item_remove: refcount_decr
    this.getHits++;
    this.clsGetHits[this.chunks.u8[it * 40 + C_CLS]!]++;
    return nb - 2;
  }

  /**
   * `set <key> 0 0 <bytes>`: store unconditionally.
   *
   * @example
   * server.set(42, 64, 1024); // "stored"
   */
  set(keyId: number, keyLen: number, valueBytes: number, conn = 0): StoreResult {
    return this.store("set", keyId, keyLen, valueBytes, conn);
  }

  /**
   * A storage command as memcached runs it (process_update_command, complete_nread,
   * do_store_item): allocate the new item (evicting if needed), write its header and key,
   * copy the value in, look the key up, then link (set, add of a new key), replace (set,
   * replace of an existing key) or drop the new item (NOT_STORED).
   */
  store(cmd: StoreCommand, keyId: number, keyLen: number, valueBytes: number, conn = 0): StoreResult {
    this.checkKey(keyLen);
    if (!(Number.isInteger(valueBytes) && valueBytes >= 0)) {
      throw new RangeError(`valueBytes: ${valueBytes} is not allowed; expected an integer >= 0`);
    }
    const nb = valueBytes + 2;
    const ntotal = this.keyOffset + keyLen + 1 + nb;
    if (ntotal > this.settings.slabChunkSizeMax) {
      throw new RangeError(
        `an item of ${ntotal} B is larger than slab_chunk_max (${this.settings.slabChunkSizeMax} B): memcached stores it chunked, which is not modelled`,
      );
    }
    if (this.network && !(this.rbuf[conn]! >= 0)) checkConn(conn); // before anything changes
    const c = classFor(ntotal, this.classes, this.settings.itemSizeMax)!.id;
    this.cmdSet++;
    if (this.codeFetches) this.code(1);
    const lineLen = cmd.length + 1 + keyLen + 5 + decimalDigits(valueBytes) + 2; // "<cmd> <key> 0 0 <bytes>\r\n"
    let rb = 0;
    let wb = 0;
    if (this.network) {
      rb = this.rbuf[conn]!;
      if (!(rb >= 0)) rb = this.openConn(conn);
      wb = this.wbuf[conn]!;
      this.write(rb, Math.min(lineLen + nb, MEMCACHED_READ_BUFFER_SIZE)); // the request arrives
      this.read(rb, lineLen); // parsed
    }
    const it = this.itemAlloc(c);
    if (it < 0) {
      this.outOfMemory++;
      this.clsOutOfMemory[c]++;
      if (this.network) this.write(wb, 36); // "SERVER_ERROR out of memory storing object\r\n" (swallows the data)
      return "out-of-memory";
    }
    this.clsCmdSet[c]++;
    // do_item_alloc: header fields and the key.
    const base = this.chunks.f64[it * 5 + C_VA]!;
    this.chunks.f64[it * 5 + C_KEYID] = keyId;
    this.chunks.u8[it * 40 + C_KEYLEN] = keyLen;
    this.chunks.i32[it * 10 + C_NBYTES] = nb;
    const hv = mix32(keyId);
    this.chunks.i32[it * 10 + C_HV] = hv;
    this.chunks.u8[it * 40 + C_FLAGS] = 0;
    this.chunks.u8[it * 40 + C_LRU] = HOT;
    this.write(base, ITEM_HEADER_BYTES);
    this.write(base + this.keyOffset, keyLen + 1);
    // complete_nread: the value lands in the item (from the read buffer, or read() directly).
    if (this.network) {
      const inBuf = Math.min(nb, MEMCACHED_READ_BUFFER_SIZE - lineLen);
      if (inBuf > 0) this.read(rb + lineLen, inBuf);
    }
    this.write(base + this.keyOffset + keyLen + 1, nb);
    // do_store_item: old_it = do_item_get(key, nkey, hv, t, DONT_UPDATE).
    const old = this.find(keyId, keyLen, hv);
    if (old >= 0) this.write(this.chunks.f64[old * 5 + C_VA]! + IT_REFCOUNT, 2);
    let result: StoreResult;
    if (cmd === "add" && old >= 0) {
      // "add only adds a nonexistent item, but promote to head of LRU": do_item_update.
      this.update(old);
      result = "not-stored";
    } else if (cmd === "replace" && old < 0) {
      result = "not-stored";
    } else {
      if (old >= 0) this.unlink(old); // item_replace: do_item_unlink(old) then do_item_link(new)
      this.link(it);
      result = "stored";
    }
    if (old >= 0) {
      this.write(this.chunks.f64[old * 5 + C_VA]! + IT_REFCOUNT, 2); // do_item_remove(old): refcount_decr
      if ((this.chunks.u8[old * 40 + C_FLAGS]! & ITEM_LINKED) === 0) this.slabsFree(old); // the last reference: item_free
    }
    // item_remove(new): refcount drops; a new item never linked is freed.
    if (result === "stored") this.write(base + IT_REFCOUNT, 2);
    else {
      this.notStored++;
      this.slabsFree(it);
    }
    if (this.network) this.write(wb, result === "stored" ? 8 : 12); // "STORED\r\n" / "NOT_STORED\r\n"
    if (result === "stored") this.juggle(c);
    return result;
  }

  // ---- stats ------------------------------------------------------------------------

  /**
   * `stats slabs` (and the matching `stats items` counters), one entry per class that has
   * pages, in class order.
   *
   * @example
   * server.statsSlabs()[0]; // { id: 12, chunkSize: 1184, chunksPerPage: 885, totalPages: 2, usedChunks: 1000, freeChunks: 770, ... }
   */
  statsSlabs(): SlabClassStats[] {
    const out: SlabClassStats[] = [];
    for (const k of this.classes) {
      const id = k.id;
      const pages = this.pages[id]!;
      if (pages === 0) continue;
      const total = pages * this.perSlab[id]!;
      const o = id * LRUS;
      out.push({
        id,
        chunkSize: this.chunkSize[id]!,
        chunksPerPage: this.perSlab[id]!,
        totalPages: pages,
        totalChunks: total,
        usedChunks: total - this.freeCount[id]!,
        freeChunks: this.freeCount[id]!,
        freeChunksEnd: 0,
        getHits: this.clsGetHits[id]!,
        cmdSet: this.clsCmdSet[id]!,
        items: this.lruCount[o + HOT]! + this.lruCount[o + WARM]! + this.lruCount[o + COLD]!,
        itemsHot: this.lruCount[o + HOT]!,
        itemsWarm: this.lruCount[o + WARM]!,
        itemsCold: this.lruCount[o + COLD]!,
        evicted: this.clsEvicted[id]!,
        outOfMemory: this.clsOutOfMemory[id]!,
        movesToCold: this.clsMovesToCold[id]!,
        movesToWarm: this.clsMovesToWarm[id]!,
        movesWithinLru: this.clsMovesWithinLru[id]!,
        directReclaims: this.clsDirectReclaims[id]!,
      });
    }
    return out;
  }

  /** Server totals (`stats`, and `active_slabs` / `total_malloced` of `stats slabs`). */
  stats(): MemcachedStats {
    let active = 0;
    for (const k of this.classes) if (this.pages[k.id]! > 0) active++;
    return {
      activeSlabs: active,
      totalMalloced: this.malloced,
      limitMaxbytes: this.memoryLimit,
      currItems: this.currItems,
      totalItems: this.totalItems,
      bytes: this.currBytes,
      cmdGet: this.cmdGet,
      getHits: this.getHits,
      getMisses: this.getMisses,
      cmdSet: this.cmdSet,
      notStored: this.notStored,
      evictions: this.evictions,
      outOfMemory: this.outOfMemory,
      hashPowerLevel: this.hashPower,
      hashBytes: this.buckets.length * 8,
      hashExpansions: this.hashExpansions,
      connectionBytes: this.connectionBytes,
      maintainerAccesses: this.maintainerAccesses,
      ...this.meter.counts(),
    };
  }

  /** The class an item of a key and value of these sizes goes to (its chunk size and id). */
  classOf(keyLen: number, valueBytes: number): SlabClass | undefined {
    return classFor(this.keyOffset + keyLen + 1 + valueBytes + 2, this.classes, this.settings.itemSizeMax);
  }

  /** Guest address of the item holding a key, or -1 (no accesses; for tests and inspection). */
  addressOf(keyId: number, keyLen: number): number {
    const it = this.peek(keyId, keyLen);
    return it < 0 ? -1 : this.chunks.f64[it * 5 + C_VA]!;
  }

  /** Slab class id of the item holding a key, or 0 (no accesses). */
  classIdOf(keyId: number, keyLen: number): number {
    const it = this.peek(keyId, keyLen);
    return it < 0 ? 0 : this.chunks.u8[it * 40 + C_CLS]!;
  }

  /** Guest address of the hash table. */
  get hashTableAddress(): number {
    return this.tableVa;
  }

  // ---- the core's model (src/workloads/memcached/core-run.ts) -------------------------

  /**
   * The state and configuration the core's model runs on: the class buffer and the chunk
   * table are live (the core's copy is written back into them), the rest are values.
   * Totals in the order of assembly/memcached.ts T_* (its first 14).
   * @internal
   */
  coreState(): MemcachedCoreState {
    return {
      classState: this.classState,
      classCount: this.chunkSize.length,
      chunks: this.chunks,
      nChunks: this.nChunks,
      buckets: this.buckets,
      hashPower: this.hashPower,
      tableVa: this.tableVa,
      rbuf: this.rbuf,
      wbuf: this.wbuf,
      totals: [
        this.malloced, this.currItems, this.totalItems, this.currBytes, this.cmdGet, this.getHits, this.getMisses, this.cmdSet,
        this.notStored, this.evictions, this.outOfMemory, this.maintainerAccesses, this.hashExpansions, this.connectionBytes,
      ],
      useCas: this.useCas,
      hotPct: this.hotPct,
      warmPct: this.warmPct,
      network: this.network,
      inlineMaintainer: this.inlineMaintainer,
      slabOpts: this.slabOpts,
      metaOpts: this.metaOpts,
      code: { va: this.codeVa, bytes: this.codeBytes, fetches: this.codeFetches, fetchBytes: this.codeFetchBytes },
    };
  }

  /**
   * Takes back what the core's model changed (the class buffer and chunk records are
   * already written): the chunk count, hash table, connections, totals, and the accesses
   * it made for the meter.
   * @internal
   */
  setCoreState(s: Pick<MemcachedCoreState, "nChunks" | "buckets" | "hashPower" | "tableVa" | "rbuf" | "wbuf" | "totals"> & { accesses: number; accessBytes: number }): void {
    this.nChunks = s.nChunks;
    this.buckets = s.buckets;
    this.hashPower = s.hashPower;
    this.tableVa = s.tableVa;
    this.rbuf = s.rbuf;
    this.wbuf = s.wbuf;
    [
      this.malloced, this.currItems, this.totalItems, this.currBytes, this.cmdGet, this.getHits, this.getMisses, this.cmdSet,
      this.notStored, this.evictions, this.outOfMemory, this.maintainerAccesses, this.hashExpansions, this.connectionBytes,
    ] = s.totals as [number, number, number, number, number, number, number, number, number, number, number, number, number, number];
    this.meter.accesses += s.accesses;
    this.meter.accessBytes += s.accessBytes;
  }

  // ---- slabs ------------------------------------------------------------------------

  /** do_item_alloc_pull: a free chunk of class `c`, evicting from COLD if needed; -1 when out of memory. */
  private itemAlloc(c: number): number {
    let it = -1;
    let i = 0;
    for (; i < ALLOC_PULL_TRIES; i++) {
      it = this.slabsAlloc(c);
      if (it >= 0) break;
      if (this.pullTail(c, COLD, 0, true) <= 0) this.pullTail(c, HOT, 0, false);
    }
    if (i > 0) this.clsDirectReclaims[c] += i;
    return it;
  }

  /** do_slabs_alloc: pop the class's free list, taking a new page first when it is empty. */
  private slabsAlloc(c: number): number {
    if (this.freeHead[c]! < 0) this.newSlab(c);
    const it = this.freeHead[c]!;
    if (it < 0) return -1;
    const base = this.chunks.f64[it * 5 + C_VA]!;
    this.read(base, ITEM_HEADER_BYTES); // it = p->slots; it->next
    const nx = this.chunks.i32[it * 10 + C_NEXT]!;
    this.freeHead[c] = nx;
    if (nx >= 0) {
      this.chunks.i32[nx * 10 + C_PREV] = -1;
      this.write(this.chunks.f64[nx * 5 + C_VA]! + IT_PREV, 8); // it->next->prev = 0
    }
    this.chunks.i32[it * 10 + C_NEXT] = -1;
    this.chunks.i32[it * 10 + C_PREV] = -1;
    this.chunks.u8[it * 40 + C_FLAGS] = 0;
    this.write(base + IT_REFCOUNT, 4); // it_flags &= ~ITEM_SLABBED; refcount = 1
    this.freeCount[c]--;
    return it;
  }

  /** do_slabs_newslab: a 1 MiB page from malloc, wiped and split into the free list. */
  private newSlab(c: number): boolean {
    const len = this.settings.slabPageSize;
    // if (mem_limit && mem_malloced + len > mem_limit && p->slabs > 0 && g->slabs == 0) fail
    if (this.memoryLimit && this.malloced + len > this.memoryLimit && this.pages[c]! > 0) return false;
    let page: number;
    try {
      page = this.meter.malloc(len, this.slabOpts);
    } catch (e) {
      if (e instanceof Error && e.name === "GuestOutOfMemory") return false; // memory_allocate returned NULL
      throw e;
    }
    this.malloced += len; // mem_malloced += size
    this.pages[c]++;
    this.pageAddresses[c]!.push(page);
    this.write(page, len); // memset(ptr, 0, len)
    // split_slab_page_into_freelist: do_slabs_free on each chunk in address order.
    const size = this.chunkSize[c]!;
    const per = this.perSlab[c]!;
    this.grow(this.nChunks + per);
    let head = this.freeHead[c]!;
    for (let x = 0; x < per; x++) {
      const it = this.nChunks++;
      const a = page + x * size;
      this.chunks.f64[it * 5 + C_VA] = a;
      this.chunks.u8[it * 40 + C_CLS] = c;
      this.chunks.u8[it * 40 + C_FLAGS] = ITEM_SLABBED;
      this.chunks.i32[it * 10 + C_PREV] = -1;
      this.chunks.i32[it * 10 + C_NEXT] = head;
      this.chunks.i32[it * 10 + C_HNEXT] = -1;
      this.write(a, ITEM_HEADER_BYTES); // it_flags, slabs_clsid, prev, next
      if (head >= 0) {
        this.chunks.i32[head * 10 + C_PREV] = it;
        this.write(this.chunks.f64[head * 5 + C_VA]! + IT_PREV, 8); // it->next->prev = it
      }
      head = it;
    }
    this.freeHead[c] = head;
    this.freeCount[c] += per;
    return true;
  }

  /** do_slabs_free: push a chunk on its class's free list. */
  private slabsFree(it: number): void {
    const c = this.chunks.u8[it * 40 + C_CLS]!;
    const head = this.freeHead[c]!;
    this.chunks.u8[it * 40 + C_FLAGS] = ITEM_SLABBED;
    this.chunks.i32[it * 10 + C_PREV] = -1;
    this.chunks.i32[it * 10 + C_NEXT] = head;
    this.write(this.chunks.f64[it * 5 + C_VA]!, ITEM_HEADER_BYTES);
    if (head >= 0) {
      this.chunks.i32[head * 10 + C_PREV] = it;
      this.write(this.chunks.f64[head * 5 + C_VA]! + IT_PREV, 8);
    }
    this.freeHead[c] = it;
    this.freeCount[c]++;
  }

  private grow(need: number): void {
    this.chunks.reserve(need);
  }

  // ---- items, hash table, LRU ---------------------------------------------------------

  /** assoc_find: bucket read, then per chain item a header read and, when the lengths match, a key read. */
  private find(keyId: number, keyLen: number, hv: number): number {
    const b = hv & (this.buckets.length - 1);
    this.read(this.tableVa + b * 8, 8);
    let it = this.buckets[b]!;
    while (it >= 0) {
      const base = this.chunks.f64[it * 5 + C_VA]!;
      this.read(base, ITEM_HEADER_BYTES); // nkey, h_next
      if (this.chunks.u8[it * 40 + C_KEYLEN] === keyLen) {
        this.read(base + this.keyOffset, keyLen); // memcmp
        if (this.chunks.f64[it * 5 + C_KEYID] === keyId) return it;
      }
      it = this.chunks.i32[it * 10 + C_HNEXT]!;
    }
    return -1;
  }

  /** The item of a key without issuing accesses. */
  private peek(keyId: number, keyLen: number): number {
    let it = this.buckets[mix32(keyId) & (this.buckets.length - 1)]!;
    while (it >= 0 && !(this.chunks.f64[it * 5 + C_KEYID] === keyId && this.chunks.u8[it * 40 + C_KEYLEN] === keyLen)) it = this.chunks.i32[it * 10 + C_HNEXT]!;
    return it;
  }

  /** do_item_link: flags, time and CAS, hash insert, HOT head. */
  private link(it: number): void {
    const base = this.chunks.f64[it * 5 + C_VA]!;
    this.chunks.u8[it * 40 + C_FLAGS] |= ITEM_LINKED;
    this.write(base + IT_TIME, 4); // it->time = current_time (it_flags written with the header)
    if (this.useCas) this.write(base + ITEM_HEADER_BYTES, CAS_BYTES); // ITEM_set_cas
    // assoc_insert: it->h_next = bucket; bucket = it.
    const b = this.chunks.i32[it * 10 + C_HV]! & (this.buckets.length - 1);
    this.chunks.i32[it * 10 + C_HNEXT] = this.buckets[b]!;
    this.write(base + IT_HNEXT, 8);
    this.buckets[b] = it;
    this.write(this.tableVa + b * 8, 8);
    const c = this.chunks.u8[it * 40 + C_CLS]!;
    this.linkQ(it, c * LRUS + HOT);
    this.write(base + IT_REFCOUNT, 2); // refcount_incr
    const size = this.ntotal(it);
    this.currItems++;
    this.totalItems++;
    this.currBytes += size;
    if (this.currItems > (this.buckets.length * 3) / 2 && this.hashPower < MEMCACHED_HASHPOWER_MAX) this.expand();
  }

  /**
   * do_item_unlink: hash delete, LRU unlink and the link's reference dropped. The caller
   * holds another reference; its final do_item_remove frees the chunk (slabsFree).
   */
  private unlink(it: number): void {
    this.chunks.u8[it * 40 + C_FLAGS] = this.chunks.u8[it * 40 + C_FLAGS]! & ~ITEM_LINKED;
    this.currItems--;
    this.currBytes -= this.ntotal(it);
    this.hashDelete(it);
    this.unlinkQ(it);
    this.write(this.chunks.f64[it * 5 + C_VA]! + IT_REFCOUNT, 2); // do_item_remove: refcount_decr
  }

  /** assoc_delete via _hashitem_before: walk to the item, then rewrite the link that points at it. */
  private hashDelete(target: number): void {
    const b = this.chunks.i32[target * 10 + C_HV]! & (this.buckets.length - 1);
    this.read(this.tableVa + b * 8, 8);
    let before = -1;
    let it = this.buckets[b]!;
    const kl = this.chunks.u8[target * 40 + C_KEYLEN]!;
    while (it >= 0) {
      const base = this.chunks.f64[it * 5 + C_VA]!;
      this.read(base, ITEM_HEADER_BYTES);
      if (this.chunks.u8[it * 40 + C_KEYLEN] === kl) {
        this.read(base + this.keyOffset, kl);
        if (it === target) break;
      }
      before = it;
      it = this.chunks.i32[it * 10 + C_HNEXT]!;
    }
    if (it < 0) throw new Error("memcached model: item to delete is not in the hash table");
    const nx = this.chunks.i32[target * 10 + C_HNEXT]!;
    if (before < 0) {
      this.buckets[b] = nx;
      this.write(this.tableVa + b * 8, 8); // *before = nxt (the bucket)
    } else {
      this.chunks.i32[before * 10 + C_HNEXT] = nx;
      this.write(this.chunks.f64[before * 5 + C_VA]! + IT_HNEXT, 8); // *before = nxt (the previous item's h_next)
    }
    this.chunks.i32[target * 10 + C_HNEXT] = -1;
    this.write(this.chunks.f64[target * 5 + C_VA]! + IT_HNEXT, 8); // (*before)->h_next = 0
  }

  /** do_item_link_q: the item becomes the head of list `q` (class * 4 + lru). */
  private linkQ(it: number, q: number): void {
    const head = this.lruHead[q]!;
    this.chunks.i32[it * 10 + C_PREV] = -1;
    this.chunks.i32[it * 10 + C_NEXT] = head;
    this.write(this.chunks.f64[it * 5 + C_VA]!, 16); // it->prev = 0; it->next = *head
    if (head >= 0) {
      this.chunks.i32[head * 10 + C_PREV] = it;
      this.write(this.chunks.f64[head * 5 + C_VA]! + IT_PREV, 8); // it->next->prev = it
    } else {
      this.lruTail[q] = it;
    }
    this.lruHead[q] = it;
    this.chunks.u8[it * 40 + C_LRU] = q & 3;
    this.lruCount[q]++;
    this.lruBytes[q] += this.ntotal(it);
  }

  /** do_item_unlink_q: neighbours' links rewritten. */
  private unlinkQ(it: number): void {
    const q = this.chunks.u8[it * 40 + C_CLS]! * LRUS + this.chunks.u8[it * 40 + C_LRU]!;
    const nx = this.chunks.i32[it * 10 + C_NEXT]!;
    const pv = this.chunks.i32[it * 10 + C_PREV]!;
    if (this.lruHead[q] === it) this.lruHead[q] = nx;
    if (this.lruTail[q] === it) this.lruTail[q] = pv;
    if (nx >= 0) {
      this.chunks.i32[nx * 10 + C_PREV] = pv;
      this.write(this.chunks.f64[nx * 5 + C_VA]! + IT_PREV, 8);
    }
    if (pv >= 0) {
      this.chunks.i32[pv * 10 + C_NEXT] = nx;
      this.write(this.chunks.f64[pv * 5 + C_VA]! + IT_NEXT, 8);
    }
    this.lruCount[q]--;
    this.lruBytes[q] -= this.ntotal(it);
  }

  /** Moves a linked item to the head of another LRU of its class (writes its slabs_clsid). */
  private moveTo(it: number, lru: number): void {
    this.unlinkQ(it);
    this.write(this.chunks.f64[it * 5 + C_VA]! + IT_CLSID, 1); // it->slabs_clsid = ITEM_clsid(it) | lru
    this.linkQ(it, this.chunks.u8[it * 40 + C_CLS]! * LRUS + lru);
  }

  /** do_item_bump (segmented): FETCHED on the first hit, ACTIVE on the second; an ACTIVE COLD item moves to WARM. */
  private bump(it: number): void {
    const f = this.chunks.u8[it * 40 + C_FLAGS]!;
    if (f & ITEM_ACTIVE) return;
    const base = this.chunks.f64[it * 5 + C_VA]!;
    if ((f & ITEM_FETCHED) === 0) {
      this.chunks.u8[it * 40 + C_FLAGS] = f | ITEM_FETCHED;
      this.write(base + IT_FLAGS, 2);
      return;
    }
    this.chunks.u8[it * 40 + C_FLAGS] = f | ITEM_ACTIVE;
    this.write(base + IT_FLAGS, 2);
    if (this.chunks.u8[it * 40 + C_LRU] !== COLD) {
      this.write(base + IT_TIME, 4); // it->time = current_time
    } else {
      // lru_bump_async queues it; the maintainer's do_item_update moves it to WARM.
      this.quiet = !this.inlineMaintainer;
      this.update(it);
      this.quiet = false;
    }
  }

  /** do_item_update (segmented): an ACTIVE COLD item moves to WARM; otherwise its time is bumped. */
  private update(it: number): void {
    const base = this.chunks.f64[it * 5 + C_VA]!;
    this.write(base + IT_TIME, 4);
    if (this.chunks.u8[it * 40 + C_LRU] === COLD && this.chunks.u8[it * 40 + C_FLAGS]! & ITEM_ACTIVE) {
      this.chunks.u8[it * 40 + C_FLAGS] = this.chunks.u8[it * 40 + C_FLAGS]! & ~ITEM_ACTIVE;
      this.write(base + IT_FLAGS, 2);
      this.moveTo(it, WARM);
      this.clsMovesToWarm[this.chunks.u8[it * 40 + C_CLS]!]++;
    }
  }

  /**
   * lru_pull_tail for one item (memcached walks up to 5 from the tail past locked and
   * expired items; here none are locked and none expire). HOT/WARM: an ACTIVE
   * tail is rescued (HOT to WARM, WARM to WARM's head), otherwise it moves to COLD when
   * the list is over its share of `totalBytes`. COLD: evicted when `evict`, else an ACTIVE
   * tail moves to WARM. Returns the number of items moved or removed.
   */
  private pullTail(c: number, lru: number, totalBytes: number, evict: boolean): number {
    const q = c * LRUS + lru;
    const it = this.lruTail[q]!;
    if (it < 0) return 0;
    const base = this.chunks.f64[it * 5 + C_VA]!;
    this.read(base, ITEM_HEADER_BYTES); // search->nbytes, nkey, it_flags, prev
    this.read(base + this.keyOffset, this.chunks.u8[it * 40 + C_KEYLEN]!); // hash(ITEM_key(search)) for the item lock
    this.write(base + IT_REFCOUNT, 2); // refcount_incr
    let removed = 0;
    if (lru === COLD) {
      if (evict) {
        this.clsEvicted[c]++;
        this.evictions++;
        this.unlink(it); // do_item_unlink_nolock
        this.write(base + IT_REFCOUNT, 2); // the final do_item_remove: refcount 0
        this.slabsFree(it); // item_free
        return 1;
      }
      if (this.chunks.u8[it * 40 + C_FLAGS]! & ITEM_ACTIVE) {
        this.chunks.u8[it * 40 + C_FLAGS] = this.chunks.u8[it * 40 + C_FLAGS]! & ~ITEM_ACTIVE;
        this.write(base + IT_FLAGS, 2);
        this.moveTo(it, WARM);
        this.clsMovesToWarm[c]++;
        removed = 1;
      }
    } else {
      const limit = lru === HOT ? Math.floor((totalBytes * this.hotPct) / 100) || Math.floor((totalBytes * this.warmPct) / 100) : Math.floor((totalBytes * this.warmPct) / 100);
      if (this.chunks.u8[it * 40 + C_FLAGS]! & ITEM_ACTIVE) {
        this.chunks.u8[it * 40 + C_FLAGS] = this.chunks.u8[it * 40 + C_FLAGS]! & ~ITEM_ACTIVE;
        this.write(base + IT_FLAGS, 2);
        if (lru === WARM) {
          this.clsMovesWithinLru[c]++;
          this.unlinkQ(it);
          this.linkQ(it, q);
        } else {
          this.clsMovesToWarm[c]++;
          this.moveTo(it, WARM);
        }
        removed = 1;
      } else if (this.lruBytes[q]! > limit) {
        this.clsMovesToCold[c]++;
        this.moveTo(it, COLD);
        removed = 1;
      }
    }
    this.write(base + IT_REFCOUNT, 2); // do_item_remove: refcount_decr
    return removed;
  }

  /**
   * The LRU maintainer's juggle for class `c`, run inline after a store: pull HOT and
   * WARM tails while those lists are over their shares (20 % and 40 % of the class's
   * item bytes). Only pulls that move something are made, so an idle maintainer costs
   * no accesses (the real thread's idle polling is not modelled).
   */
  private juggle(c: number): void {
    this.quiet = !this.inlineMaintainer;
    try {
      this.juggleClass(c);
    } finally {
      this.quiet = false;
    }
  }

  private juggleClass(c: number): void {
    const o = c * LRUS;
    for (let i = 0; i < JUGGLE_MAX; i++) {
      const total = this.lruBytes[o + HOT]! + this.lruBytes[o + WARM]! + this.lruBytes[o + COLD]!;
      const hotOver = this.lruBytes[o + HOT]! > Math.floor((total * this.hotPct) / 100);
      const warmOver = this.lruBytes[o + WARM]! > Math.floor((total * this.warmPct) / 100);
      let moved = 0;
      if (hotOver) moved = this.pullTail(c, HOT, total, false);
      if (!moved && warmOver) moved = this.pullTail(c, WARM, total, false);
      if (!moved) break;
    }
  }

  /** assoc_expand plus the maintenance thread's migration, done at once; then the old table is freed. */
  private expand(): void {
    const oldVa = this.tableVa;
    const old = this.buckets;
    const n = old.length * 2;
    const newVa = this.meter.calloc(n * 8, this.metaOpts);
    const nb = new Int32Array(n).fill(-1);
    const mask = n - 1;
    for (let b = 0; b < old.length; b++) {
      this.read(oldVa + b * 8, 8);
      let it = old[b]!;
      while (it >= 0) {
        const base = this.chunks.f64[it * 5 + C_VA]!;
        const nx = this.chunks.i32[it * 10 + C_HNEXT]!;
        this.read(base, ITEM_HEADER_BYTES); // next = it->h_next
        this.read(base + this.keyOffset, this.chunks.u8[it * 40 + C_KEYLEN]!); // hash(ITEM_key(it), it->nkey)
        const to = this.chunks.i32[it * 10 + C_HV]! & mask;
        this.chunks.i32[it * 10 + C_HNEXT] = nb[to]!;
        this.write(base + IT_HNEXT, 8);
        nb[to] = it;
        this.write(newVa + to * 8, 8);
        it = nx;
      }
      this.write(oldVa + b * 8, 8); // old_hashtable[expand_bucket] = NULL
    }
    this.buckets = nb;
    this.tableVa = newVa;
    this.hashPower++;
    this.hashExpansions++;
    // The old table's accesses must run before its memory can go back to the allocator.
    this.meter.flush();
    this.meter.free(oldVa);
  }

  private ntotal(it: number): number {
    return this.keyOffset + this.chunks.u8[it * 40 + C_KEYLEN]! + 1 + this.chunks.i32[it * 10 + C_NBYTES]!;
  }

  private checkKey(keyLen: number): void {
    // memcached.h KEY_MAX_LENGTH 250.
    if (!(Number.isInteger(keyLen) && keyLen >= 1 && keyLen <= 250)) {
      throw new RangeError(`keyLen: ${keyLen} is not allowed; expected an integer in 1..250 (KEY_MAX_LENGTH)`);
    }
  }

  // ---- connections and code -----------------------------------------------------------

  /** Allocates the buffers of connection `conn` on its first request; returns its read buffer. */
  private openConn(conn: number): number {
    checkConn(conn);
    if (conn >= this.rbuf.length) {
      let n = this.rbuf.length * 2;
      while (n <= conn) n *= 2;
      const r = new Float64Array(n).fill(-1);
      const w = new Float64Array(n).fill(-1);
      r.set(this.rbuf);
      w.set(this.wbuf);
      this.rbuf = r;
      this.wbuf = w;
    }
    const r = this.meter.malloc(MEMCACHED_READ_BUFFER_SIZE, this.metaOpts);
    const w = this.meter.malloc(MEMCACHED_READ_BUFFER_SIZE, this.metaOpts);
    this.rbuf[conn] = r;
    this.wbuf[conn] = w;
    this.connectionBytes += 2 * MEMCACHED_READ_BUFFER_SIZE;
    return r;
  }

  /** Instruction fetches of one request (kind 0 get, 1 store), spread over the code region at fixed places. */
  private code(kind: number): void {
    const lines = Math.max(1, Math.floor(this.codeBytes / 64));
    const max = this.codeBytes - this.codeFetchBytes;
    for (let i = 0; i < this.codeFetches; i++) {
      const line = (Math.imul(kind * 64 + i, 0x9e3779b1) >>> 0) % lines;
      this.meter.fetch(this.codeVa + Math.min(line * 64, max), this.codeFetchBytes);
    }
  }

  // ---- the process ------------------------------------------------------------------

  private read(va: number, bytes: number): void {
    if (this.quiet) this.maintainerAccesses++;
    else this.meter.read(va, bytes);
  }

  private write(va: number, bytes: number): void {
    if (this.quiet) this.maintainerAccesses++;
    else this.meter.write(va, bytes);
  }
}

function checkConn(conn: number): void {
  if (!(Number.isInteger(conn) && conn >= 0 && conn < 65536)) {
    throw new RangeError(`conn: ${conn} is not allowed; expected an integer in 0..65535`);
  }
}

/**
 * A 32-bit mix of a key id below 2^53 (murmur3's fmix32 over both halves): the models'
 * stand-in for hashing the key bytes; the low bits pick the bucket. Signed (int32):
 * an int32 stays a small integer in V8, while a uint32 at or above 2^31 is a heap
 * number wherever it leaves a function that was not inlined (a model operation made
 * two or three of them).
 *
 * @example
 * mix32(1) & 0xffff; // the bucket of key id 1 in a 2^16-bucket table
 */
export function mix32(keyId: number): number {
  const lo = keyId >>> 0;
  const hi = Math.floor(keyId / 4294967296) >>> 0;
  let h = Math.imul(lo ^ fmix32(hi + 0x9e3779b9), 0x85ebca6b);
  return fmix32(h ^ (h >>> 15));
}

function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * Decimal digits of a non-negative integer (below 2^53): the length of a number in a
 * text-protocol line.
 *
 * @example
 * decimalDigits(1024); // 4
 */
export function decimalDigits(n: number): number {
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10000) return 4;
  if (n < 100000) return 5;
  if (n < 1000000) return 6;
  return String(Math.floor(n)).length;
}

/**
 * Every problem of `options` that {@link MemcachedServer} would refuse (paths under the
 * options: `memoryLimit`, `code.fetchBytes`, ...), without building a server.
 *
 * @example
 * memcachedIssues({ memoryLimit: -1 })[0].path; // "memoryLimit"
 */
export function memcachedIssues(options: MemcachedOptions = {}): PresetIssue[] {
  const issues: PresetIssue[] = [];
  const bad = (path: string, value: unknown, allowed: string): void => {
    issues.push({ path, value, allowed });
  };
  const limit = options.memoryLimit ?? MEMCACHED_DEFAULT_MEMORY_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 0) bad("memoryLimit", limit, "expected an integer >= 0 (bytes; 0 = no limit)");
  for (const [name, v] of [["hotLruPct", options.hotLruPct], ["warmLruPct", options.warmLruPct]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 100)) bad(name, v, "expected an integer percentage 0..100");
  }
  const mode = options.lruMaintainer ?? "background";
  if (mode !== "background" && mode !== "inline") bad("lruMaintainer", mode, `expected "background" or "inline"`);
  const hp = options.hashPower ?? MEMCACHED_HASHPOWER_DEFAULT;
  if (!Number.isInteger(hp) || hp < 1 || hp > 28) bad("hashPower", hp, "expected an integer in 1..28 (2^28 buckets is the most the model holds)");
  if (options.code) {
    const region = options.code.regionBytes ?? 256 * 1024;
    const per = options.code.fetchesPerRequest ?? 16;
    const bytes = options.code.fetchBytes ?? 64;
    if (!(Number.isInteger(region) && region >= 64)) bad("code.regionBytes", region, "expected an integer >= 64");
    if (!(Number.isInteger(per) && per >= 0)) bad("code.fetchesPerRequest", per, "expected an integer >= 0");
    if (!(Number.isInteger(bytes) && bytes >= 1 && bytes <= region)) bad("code.fetchBytes", bytes, "expected an integer in 1..regionBytes");
  }
  return issues;
}

