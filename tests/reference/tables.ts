/**
 * One VM's page tables as the host edits them (docs/core.md sections 1 and 2): the EPT,
 * the guest tables, and the two FIFO pools of frames for new table pages. Nothing here
 * counts references or touches TLBs: map operations never flush.
 */
import type { EntryInfo, EptAttrs, GuestAttrs, MapStatus, PageSizeCode } from "../../src/core/types.js";
import { PAGE_BYTES } from "../../src/core/types.js";
import {
  E_LARGE,
  E_MEMTYPE_SHIFT,
  E_R,
  E_RWX,
  E_W,
  E_X,
  G_G,
  G_KEY_SHIFT_HI,
  G_P,
  G_PS,
  G_RW,
  G_US,
  G_XD_HI,
  addressBits,
  entryAddress,
  eptIsLeaf,
  eptPresent,
  fromRaw,
  guestIsLeaf,
  guestPresent,
  levelShift,
  tableIndex,
  toRaw,
} from "./entries.js";
import type { PhysicalMemory } from "./memory.js";

/** The level whose entry is the leaf of a page size: 4 KiB -> 1, 2 MiB -> 2, 1 GiB -> 3. */
export function leafLevel(size: PageSizeCode): number {
  return size + 1;
}

function checkAligned(field: string, value: number, size: PageSizeCode, limit: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= limit) {
    throw new RangeError(`${field}: ${value} is not an address below 2^${Math.log2(limit)}`);
  }
  if (value % PAGE_BYTES[size] !== 0) {
    throw new RangeError(`${field}: 0x${value.toString(16)} is not aligned to the page size ${PAGE_BYTES[size]}`);
  }
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 1 || level > 4) throw new RangeError(`level: ${level} is not 1..4`);
}

export const PHYS_LIMIT = 2 ** 46;
export const VIRT_LIMIT = 2 ** 48;

export class VmTables {
  /** Host address of the EPT PML4: the first frame of the `ept` pool, taken by createVm. */
  readonly eptRoot: number;
  readonly eptPool: number[];
  readonly guestPool: { gpa: number; hpa: number }[] = [];
  /** Host frames this VM took for tables (released by destroyVm). */
  readonly tableFrames = new Set<number>();

  /** `eptFrames`: the pool so far (frames may be queued before the VM exists); not empty. */
  constructor(
    private readonly mem: PhysicalMemory,
    readonly eptAD: boolean,
    eptFrames: number[],
  ) {
    this.eptPool = eptFrames;
    this.eptRoot = this.takeEptFrame();
  }

  private takeEptFrame(): number {
    const hpa = this.eptPool.shift()!;
    this.mem.zeroFill(hpa);
    this.tableFrames.add(hpa);
    return hpa;
  }

  private takeGuestFrame(): { gpa: number; hpa: number } {
    const f = this.guestPool.shift()!;
    this.mem.zeroFill(f.hpa);
    this.tableFrames.add(f.hpa);
    return f;
  }

  // ---------------------------------------------------------------- EPT

  /** Silent software walk of the EPT (no counting, no A/D, no rights): host address or null. */
  eptTranslate(gpa: number): number | null {
    let table = this.eptRoot;
    for (let level = 4; level >= 1; level--) {
      const e = this.mem.read(table, tableIndex(gpa, level));
      if (!eptPresent(e)) return null;
      if (eptIsLeaf(e, level)) {
        const shift = levelShift(level);
        return entryAddress(e, shift) + (gpa % 2 ** shift);
      }
      table = entryAddress(e, 12);
    }
    return null;
  }

  /**
   * The table holding the entry of `level` on the path to `gpa`, following present
   * non-leaf entries from the root; null when the path stops above that level.
   */
  private eptTableAt(gpa: number, level: number): number | null {
    let table = this.eptRoot;
    for (let l = 4; l > level; l--) {
      const e = this.mem.read(table, tableIndex(gpa, l));
      if (!eptPresent(e) || eptIsLeaf(e, l)) return null;
      table = entryAddress(e, 12);
    }
    return table;
  }

  eptMap(gpa: number, hpa: number, size: PageSizeCode, attrs: EptAttrs): MapStatus {
    checkAligned("gpa", gpa, size, PHYS_LIMIT);
    checkAligned("hpa", hpa, size, PHYS_LIMIT);
    if (!Number.isInteger(attrs.memType) || attrs.memType < 0 || attrs.memType > 7) {
      throw new RangeError(`memType: ${attrs.memType} is not 0..7`);
    }
    const target = leafLevel(size);
    // Plan first, so that an error changes nothing.
    let needed = 0;
    let table = this.eptRoot;
    let level = 4;
    for (; level > target; level--) {
      const e = this.mem.read(table, tableIndex(gpa, level));
      if (!eptPresent(e)) break;
      if (eptIsLeaf(e, level)) return "conflict";
      table = entryAddress(e, 12);
    }
    if (level === target) {
      if (eptPresent(this.mem.read(table, tableIndex(gpa, level)))) return "conflict";
    } else {
      needed = level - target;
    }
    if (this.eptPool.length < needed) return "no-frames";
    table = this.eptRoot;
    for (level = 4; level > target; level--) {
      const i = tableIndex(gpa, level);
      let e = this.mem.read(table, i);
      if (!eptPresent(e)) {
        const frame = this.takeEptFrame();
        const a = addressBits(frame);
        e = { lo: (a.lo | E_R | E_W | E_X) >>> 0, hi: a.hi };
        this.mem.write(table, i, e);
      }
      table = entryAddress(e, 12);
    }
    const a = addressBits(hpa);
    const lo = a.lo | eptRights(attrs) | (attrs.memType << E_MEMTYPE_SHIFT) | (size > 0 ? E_LARGE : 0);
    this.mem.write(table, tableIndex(gpa, target), { lo: lo >>> 0, hi: a.hi });
    return "ok";
  }

  /** The table holding an existing EPT leaf of exactly `size` for `gpa`, or null. */
  private eptLeafTable(gpa: number, size: PageSizeCode): number | null {
    const level = leafLevel(size);
    const table = this.eptTableAt(gpa, level);
    if (table === null) return null;
    const e = this.mem.read(table, tableIndex(gpa, level));
    return eptPresent(e) && eptIsLeaf(e, level) ? table : null;
  }

  eptUnmap(gpa: number, size: PageSizeCode): MapStatus {
    checkAligned("gpa", gpa, size, PHYS_LIMIT);
    const table = this.eptLeafTable(gpa, size);
    if (table === null) return "not-mapped";
    this.mem.write(table, tableIndex(gpa, leafLevel(size)), { lo: 0, hi: 0 });
    return "ok";
  }

  /** New R, W, X on an existing leaf; A, D, memory type (attrs.memType is ignored) and address are kept. */
  eptProtect(gpa: number, size: PageSizeCode, attrs: EptAttrs): MapStatus {
    checkAligned("gpa", gpa, size, PHYS_LIMIT);
    const table = this.eptLeafTable(gpa, size);
    if (table === null) return "not-mapped";
    const i = tableIndex(gpa, leafLevel(size));
    const e = this.mem.read(table, i);
    this.mem.write(table, i, { lo: ((e.lo & ~E_RWX) | eptRights(attrs)) >>> 0, hi: e.hi });
    return "ok";
  }

  eptEntry(gpa: number): EntryInfo {
    let table = this.eptRoot;
    for (let level = 4; ; level--) {
      const e = this.mem.read(table, tableIndex(gpa, level));
      if (!eptPresent(e) || eptIsLeaf(e, level)) return { level, raw: toRaw(e) };
      table = entryAddress(e, 12);
    }
  }

  eptWriteRaw(gpa: number, level: number, raw: bigint): MapStatus {
    checkLevel(level);
    const table = this.eptTableAt(gpa, level);
    if (table === null) return "not-mapped";
    this.mem.write(table, tableIndex(gpa, level), fromRaw(raw));
    return "ok";
  }

  // ---------------------------------------------------------------- guest tables

  gptNewRoot(): number {
    if (this.guestPool.length === 0) throw new RangeError("gptNewRoot: the guest frame pool is empty");
    return this.takeGuestFrame().gpa;
  }

  /**
   * The host frame of the table holding the entry of `level` on the path to `va`,
   * following links through the EPT silently; "unbacked" when a link's gPA is not
   * mapped by the EPT, null when the path stops above that level.
   */
  private guestTableAt(root: number, va: number, level: number): number | null | "unbacked" {
    let table = this.eptTranslate(root);
    if (table === null) return "unbacked";
    for (let l = 4; l > level; l--) {
      const e = this.mem.read(table, tableIndex(va, l));
      if (!guestPresent(e) || guestIsLeaf(e, l)) return null;
      table = this.eptTranslate(entryAddress(e, 12));
      if (table === null) return "unbacked";
    }
    return table;
  }

  gptMap(root: number, va: number, gpa: number, size: PageSizeCode, attrs: GuestAttrs): MapStatus {
    checkAligned("va", va, size, VIRT_LIMIT);
    checkAligned("gpa", gpa, size, PHYS_LIMIT);
    checkKey(attrs.key);
    const target = leafLevel(size);
    let table = this.eptTranslate(root);
    if (table === null) return "unbacked";
    // Plan: follow existing links; the first missing entry means new tables from there down.
    let needed = 0;
    let level = 4;
    for (; level > target; level--) {
      const e = this.mem.read(table, tableIndex(va, level));
      if (!guestPresent(e)) break;
      if (guestIsLeaf(e, level)) return "conflict";
      const next = this.eptTranslate(entryAddress(e, 12));
      if (next === null) return "unbacked";
      table = next;
    }
    if (level === target) {
      if (guestPresent(this.mem.read(table, tableIndex(va, level)))) return "conflict";
    } else {
      needed = level - target;
    }
    if (this.guestPool.length < needed) return "no-frames";
    // Apply: new tables live in the host frame given with the pool frame.
    table = this.eptTranslate(root)!;
    for (level = 4; level > target; level--) {
      const i = tableIndex(va, level);
      const e = this.mem.read(table, i);
      if (guestPresent(e)) {
        table = this.eptTranslate(entryAddress(e, 12))!;
      } else {
        const f = this.takeGuestFrame();
        const a = addressBits(f.gpa);
        this.mem.write(table, i, { lo: (a.lo | G_P | G_RW | G_US) >>> 0, hi: a.hi });
        table = f.hpa;
      }
    }
    const a = addressBits(gpa);
    const lo = a.lo | G_P | (size > 0 ? G_PS : 0) | (attrs.g ? G_G : 0) | guestRightsLo(attrs);
    const hi = a.hi | guestRightsHi(attrs);
    this.mem.write(table, tableIndex(va, target), { lo: lo >>> 0, hi: hi >>> 0 });
    return "ok";
  }

  private guestLeafTable(root: number, va: number, size: PageSizeCode): number | null | "unbacked" {
    const level = leafLevel(size);
    const table = this.guestTableAt(root, va, level);
    if (table === null || table === "unbacked") return table;
    const e = this.mem.read(table, tableIndex(va, level));
    return guestPresent(e) && guestIsLeaf(e, level) ? table : null;
  }

  gptUnmap(root: number, va: number, size: PageSizeCode): MapStatus {
    checkAligned("va", va, size, VIRT_LIMIT);
    const table = this.guestLeafTable(root, va, size);
    if (table === "unbacked") return "unbacked";
    if (table === null) return "not-mapped";
    this.mem.write(table, tableIndex(va, leafLevel(size)), { lo: 0, hi: 0 });
    return "ok";
  }

  /**
   * New R/W, U/S, XD and key on an existing leaf; P, PS, G, A, D and address are kept.
   * Reading: docs/core.md lists gptProtect(…, w, u, xd, key), so attrs.g is ignored.
   */
  gptProtect(root: number, va: number, size: PageSizeCode, attrs: GuestAttrs): MapStatus {
    checkAligned("va", va, size, VIRT_LIMIT);
    checkKey(attrs.key);
    const table = this.guestLeafTable(root, va, size);
    if (table === "unbacked") return "unbacked";
    if (table === null) return "not-mapped";
    const i = tableIndex(va, leafLevel(size));
    const e = this.mem.read(table, i);
    const lo = (e.lo & ~(G_RW | G_US)) | guestRightsLo(attrs);
    const hi = (e.hi & ~(G_XD_HI | (0xf << G_KEY_SHIFT_HI))) | guestRightsHi(attrs);
    this.mem.write(table, i, { lo: lo >>> 0, hi: hi >>> 0 });
    return "ok";
  }

  gptEntry(root: number, va: number): EntryInfo {
    let table = this.eptTranslate(root);
    for (let level = 4; ; level--) {
      if (table === null) throw new RangeError(`gptEntry: a guest table on the path to 0x${va.toString(16)} is not mapped by the EPT`);
      const e = this.mem.read(table, tableIndex(va, level));
      if (!guestPresent(e) || guestIsLeaf(e, level)) return { level, raw: toRaw(e) };
      table = this.eptTranslate(entryAddress(e, 12));
    }
  }

  gptWriteRaw(root: number, va: number, level: number, raw: bigint): MapStatus {
    checkLevel(level);
    const table = this.guestTableAt(root, va, level);
    if (table === "unbacked") return "unbacked";
    if (table === null) return "not-mapped";
    this.mem.write(table, tableIndex(va, level), fromRaw(raw));
    return "ok";
  }

  /** Releases every table page this VM took (destroyVm). */
  releaseAll(): void {
    for (const frame of this.tableFrames) this.mem.release(frame);
    this.tableFrames.clear();
    this.eptPool.length = 0;
    this.guestPool.length = 0;
  }
}

function checkKey(key: number): void {
  if (!Number.isInteger(key) || key < 0 || key > 15) throw new RangeError(`key: ${key} is not 0..15`);
}

function eptRights(a: EptAttrs): number {
  return (a.r ? E_R : 0) | (a.w ? E_W : 0) | (a.x ? E_X : 0);
}

function guestRightsLo(a: GuestAttrs): number {
  return (a.w ? G_RW : 0) | (a.u ? G_US : 0);
}

function guestRightsHi(a: GuestAttrs): number {
  return (a.xd ? G_XD_HI : 0) | (a.key << G_KEY_SHIFT_HI);
}

