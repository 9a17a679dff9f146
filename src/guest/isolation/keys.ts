/**
 * Protection keys for processes and shared regions, with optional libmpk-style
 * virtualisation (Park et al., libmpk, USENIX ATC'19).
 *
 * x86 has 16 keys; key 0 is the kernel's here (the library OS's memory carries it and
 * user PKRU denies it), so at most 15 user keys exist (Linux's pkey_alloc also hands out
 * at most 15). Each user of a key (a process's private memory in the shared-address-
 * space design, a shared region in either design) holds a *virtual* key. Without
 * virtualisation a virtual key needs a hardware key for life, and the 16th user is a
 * `KeyExhaustedError`. With it, a virtual key is mapped to a hardware key only while
 * needed: when none is free, the least recently used virtual key that the running
 * process does not need is evicted. Eviction re-tags its pages to the parked key (the
 * kernel key 0, which no isolated process's PKRU opens, so isolation still holds) and
 * flushes their TLB entries; loading re-tags the incoming key's pages to the hardware
 * key. Each re-tagged page is charged (a page-table entry update and an INVLPG), as
 * libmpk pays for them with pkey_mprotect.
 *
 * @example
 * const keys = new KeyManager({ userKeys: [1, 2, 3], virtualise: true, retag: (v, from, to) => os.retag(v, to) });
 * const a = keys.create("p1"), b = keys.create("p2"), c = keys.create("p3");
 * const d = keys.create("p4");     // parked: no key free
 * keys.ensure([d]);                // evicts the least recently used of a, b, c; d gets its key
 */
import { KeyExhaustedError } from "./config.js";

/** The key parked pages carry: the kernel's, which isolated processes cannot open. */
export const PARKED_KEY = 0;

export interface VirtualKey {
  readonly id: number;
  /** Who holds it, for error messages and reports (e.g. "process worker-3", "region scoreboard"). */
  readonly label: string;
  /** The hardware key it has now, or null when parked. */
  hw: number | null;
  lastUse: number;
  released: boolean;
}

export interface KeyStats {
  virtualKeys: number;
  resident: number;
  evictions: number;
  loads: number;
  pagesRetagged: number;
}

export interface KeyManagerOptions {
  /** The hardware keys this manager hands out (1..15 in the shared-address-space design). */
  userKeys: number[];
  virtualise: boolean;
  /** Re-tags every page of `vkey` to hardware key `to` (PARKED_KEY when evicting); returns the pages changed. */
  retag: (vkey: VirtualKey, to: number) => number;
}

export class KeyManager {
  private readonly free: number[];
  private readonly live = new Map<number, VirtualKey>();
  private clock = 0;
  private nextId = 1;
  readonly stats: KeyStats = { virtualKeys: 0, resident: 0, evictions: 0, loads: 0, pagesRetagged: 0 };

  constructor(private readonly opts: KeyManagerOptions) {
    for (const k of opts.userKeys) {
      if (!Number.isInteger(k) || k < 1 || k > 15) throw new RangeError(`userKeys: ${k} is not allowed; expected 1..15 (key 0 is the kernel's)`);
    }
    this.free = [...opts.userKeys].sort((a, b) => a - b);
  }

  get virtualise(): boolean {
    return this.opts.virtualise;
  }

  /** A new virtual key; it gets a free hardware key if one is left, else it starts parked (or throws without virtualisation). */
  create(label: string): VirtualKey {
    if (this.free.length === 0 && !this.opts.virtualise) {
      throw new KeyExhaustedError(label, [...this.live.values()].filter((v) => v.hw !== null).map((v) => `key ${v.hw}: ${v.label}`));
    }
    const v: VirtualKey = { id: this.nextId++, label, hw: null, lastUse: ++this.clock, released: false };
    this.live.set(v.id, v);
    this.stats.virtualKeys++;
    if (this.free.length > 0) {
      v.hw = this.free.shift()!;
      this.stats.resident++;
    }
    return v;
  }

  /** Gives a virtual key's hardware key back (its pages are gone or re-tagged by the caller). */
  release(v: VirtualKey): void {
    if (v.released) return;
    v.released = true;
    this.live.delete(v.id);
    if (v.hw !== null) {
      this.free.push(v.hw);
      this.free.sort((a, b) => a - b);
      v.hw = null;
      this.stats.resident--;
    }
  }

  /**
   * Makes the virtual keys `need` resident, as many as there are hardware keys, evicting
   * the least recently used keys outside `keep` (default: `need`). Returns the pages
   * re-tagged.
   */
  ensure(need: VirtualKey[], keep: VirtualKey[] = need): number {
    let pages = 0;
    const want = new Set(keep.filter((v) => !v.released).map((v) => v.id));
    for (const v of need) {
      if (v.released) continue;
      v.lastUse = ++this.clock;
      if (v.hw !== null) continue;
      let hw = this.free.shift();
      if (hw === undefined) {
        const victim = [...this.live.values()].filter((x) => x.hw !== null && !want.has(x.id)).sort((a, b) => a.lastUse - b.lastUse)[0];
        if (!victim) break; // every key is needed at once: the rest stay parked and load on a fault
        hw = victim.hw!;
        pages += this.opts.retag(victim, PARKED_KEY);
        victim.hw = null;
        this.stats.evictions++;
        this.stats.resident--;
      }
      v.hw = hw;
      this.stats.resident++;
      this.stats.loads++;
      pages += this.opts.retag(v, hw);
    }
    this.stats.pagesRetagged += pages;
    return pages;
  }

  /** Live virtual keys, by id. */
  keys(): VirtualKey[] {
    return [...this.live.values()];
  }

  freeKeys(): number {
    return this.free.length;
  }
}
