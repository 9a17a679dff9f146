/**
 * The two-dimensional page walk (docs/core.md section 5): guest levels from CR3 or the
 * deepest paging-structure-cache hit, each guest table translated through the nested
 * TLB or an EPT walk, then the final gPA through an EPT walk of the access's kind.
 */
import { refLine } from "./lines.js";
import type { AccessKind, PageSizeCode } from "../../src/core/types.js";
import { FETCH, PAGE_SHIFT, PF_P, PF_RSVD, WRITE } from "../../src/core/types.js";
import {
  E_A,
  E_D,
  E_R,
  E_W,
  G_A,
  G_D,
  G_G,
  G_RW,
  G_US,
  G_XD_HI,
  entryAddress,
  eptIsLeaf,
  eptMisconfigured,
  eptPresent,
  guestIsLeaf,
  guestKey,
  guestPresent,
  guestReserved,
  levelShift,
  tableIndex,
} from "./entries.js";
import type { PhysicalMemory } from "./memory.js";
import { eptAccessBits, pfBase, rightsFault, type Fault, type PcpuState, type VcpuState } from "./state.js";
import type { VmTables } from "./tables.js";
import type { PscEntry, SetAssoc, Translation } from "./tlb.js";
import { vpnOf } from "./tlb.js";

/** What a walk needs from the core. */
export interface WalkEnv {
  mem: PhysicalMemory;
  vm: VmTables;
  vpid: number;
  v: VcpuState;
  cpu: PcpuState;
  tierOf(hpa: number): number;
}

export type WalkOutcome = { ok: true; t: Translation } | { ok: false; fault: Fault };

/** An EPT walk's kind: a data access kind, or a guest paging-structure access. */
const PAGING_STRUCTURE = 3;
type EptKind = AccessKind | typeof PAGING_STRUCTURE;

interface EptResult {
  hpa: number;
  /** Leaf page size. */
  size: PageSizeCode;
  /** AND of R, W, X (bits 0..2) over the entries read. */
  rights: number;
  /** The leaf's D after this walk's updates. */
  dirty: boolean;
}

const QUAL_LINEAR_VALID = 1 << 7;
const QUAL_FINAL = 1 << 8;

/** Counts the read of the entry at host address `entry` (and its line, with the line cache). */
function countRef(env: WalkEnv, entry: number, guest: boolean): void {
  const c = env.v.counters;
  c.walkRefs++;
  if (guest) c.walkRefsGuest++;
  else c.walkRefsEpt++;
  const tier = env.tierOf(entry - (entry % 4096));
  c.refsByTier[tier]!++;
  if (env.cpu.lines) refLine(env.cpu.lines, c, entry, tier, env.tierOf, env.v.sample);
}

/** EPT walk of `gpa` (docs/core.md section 5, "EPT walk"). */
function eptWalk(env: WalkEnv, gpa: number, kind: EptKind, final: boolean): EptResult | Fault {
  const { mem, vm } = env;
  const c = env.v.counters;
  const accessBits = kind === PAGING_STRUCTURE ? E_R | (vm.eptAD ? E_W : 0) : eptAccessBits(kind);
  const violation = (rights: number): Fault => ({
    type: "ept-violation",
    gpa,
    qualification: accessBits | (rights << 3) | QUAL_LINEAR_VALID | (final ? QUAL_FINAL : 0),
  });
  let table = vm.eptRoot;
  let rights = 7;
  for (let level = 4; level >= 1; level--) {
    const idx = tableIndex(gpa, level);
    const e = mem.read(table, idx);
    countRef(env, table + idx * 8, false);
    if (!eptPresent(e)) return violation(0);
    if (eptMisconfigured(e, level)) return { type: "ept-misconfig", gpa };
    rights &= e.lo & 7;
    if (!eptIsLeaf(e, level)) {
      if (vm.eptAD && (e.lo & E_A) === 0) {
        mem.setLowBits(table, idx, E_A);
        c.eptAUpdates++;
      }
      table = entryAddress(e, 12);
      continue;
    }
    // Paging-structure accesses need R, and W too with eptAD (the A/D assists write them).
    // Reading: like the guest leaf, the EPT leaf gets A (and D) only when its check passes.
    const need = kind === PAGING_STRUCTURE ? accessBits : kind === FETCH ? 4 : kind === WRITE ? 2 : 1;
    if ((rights & need) !== need) return violation(rights);
    let dirty = (e.lo & E_D) !== 0;
    if (vm.eptAD) {
      let set = 0;
      if ((e.lo & E_A) === 0) {
        set |= E_A;
        c.eptAUpdates++;
      }
      if ((kind === WRITE || kind === PAGING_STRUCTURE) && !dirty) {
        set |= E_D;
        c.eptDUpdates++;
        dirty = true;
      }
      if (set) mem.setLowBits(table, idx, set);
    }
    const shift = levelShift(level);
    return { hpa: entryAddress(e, shift) + (gpa % 2 ** shift), size: (level - 1) as PageSizeCode, rights, dirty };
  }
  throw new Error("unreachable");
}

/**
 * Host frame of the guest table holding the entry at `entryGpa`: nested TLB, else EPT walk.
 * Reading: a fault here reports the gPA of the entry being read (SDM: the gPA of the access).
 */
function translateTable(env: WalkEnv, entryGpa: number): { frame: number } | Fault {
  const { cpu, vm, vpid } = env;
  const c = env.v.counters;
  const gpfn = Math.floor(entryGpa / 4096);
  const ntlb = cpu.ntlb;
  if (ntlb) {
    const hit = ntlb.lookup(gpfn % ntlb.sets, (n) => n.vpid === vpid && n.gpfn === gpfn);
    if (hit) {
      c.ntlbHits++;
      const need = E_R | (vm.eptAD ? E_W : 0);
      if ((hit.rights & need) !== need) {
        return { type: "ept-violation", gpa: entryGpa, qualification: need | (hit.rights << 3) | QUAL_LINEAR_VALID };
      }
      return { frame: hit.hpa };
    }
    c.ntlbMisses++;
  }
  const r = eptWalk(env, entryGpa, PAGING_STRUCTURE, false);
  if ("type" in r) return r;
  const frame = r.hpa - (r.hpa % 4096);
  if (ntlb) ntlb.insert(gpfn % ntlb.sets, { vpid, gpfn, hpa: frame, rights: r.rights });
  return { frame };
}

/** The PSC of a guest level: the PML4E (4), PDPTE (3) or PDE (2) cache. */
function pscOf(cpu: PcpuState, level: number): SetAssoc<PscEntry> | null {
  return level === 4 ? cpu.pml4 : level === 3 ? cpu.pdpt : cpu.pd;
}

/** The tag of a PSC for va: VA 47:39, 47:30 or 47:21. */
export function pscTag(va: number, level: number): number {
  return Math.floor(va / 2 ** levelShift(level));
}

/** Reading: pwcHits is indexed like PscGeometry: [0] PML4E cache, [1] PDPTE, [2] PDE. */
const PWC_INDEX: Record<number, number> = { 4: 0, 3: 1, 2: 2 };

export function walk(env: WalkEnv, va: number, kind: AccessKind): WalkOutcome {
  const { mem, cpu, v, vpid } = env;
  const c = v.counters;
  const pf = (error: number): WalkOutcome => ({ ok: false, fault: { type: "page-fault", error } });

  let level = 4;
  let table = v.cr3;
  let w = true;
  let u = true;
  let xd = false;

  // Start at the deepest PSC hit: PDE cache, then PDPTE, then PML4E. Reading: the lookups
  // stop at the first hit, so one walk counts at most one pwcHits.
  if (cpu.pscOn) {
    let hit = false;
    for (const cached of [2, 3, 4]) {
      const psc = pscOf(cpu, cached);
      if (!psc) continue;
      const tag = pscTag(va, cached);
      const e = psc.lookup(tag % psc.sets, (p) => p.vpid === vpid && p.pcid === v.pcid && p.tag === tag);
      if (e) {
        c.pwcHits[PWC_INDEX[cached]!]++;
        level = cached - 1;
        table = e.next;
        w = e.w;
        u = e.u;
        xd = e.xd;
        hit = true;
        break;
      }
    }
    if (!hit) c.pwcMisses++;
  }

  // Non-leaf entries read by this walk, for the PSC fills after it succeeds.
  const fills: { level: number; next: number; w: boolean; u: boolean; xd: boolean }[] = [];

  for (;;) {
    const idx = tableIndex(va, level);
    const t = translateTable(env, table + idx * 8);
    if ("type" in t) return { ok: false, fault: t };
    const e = mem.read(t.frame, idx);
    countRef(env, t.frame + idx * 8, true);
    if (!guestPresent(e)) return pf(pfBase(v, kind));
    if (guestReserved(e, level, v.ctl.nxe)) return pf(PF_P | PF_RSVD | pfBase(v, kind));
    w = w && (e.lo & G_RW) !== 0;
    u = u && (e.lo & G_US) !== 0;
    xd = xd || (e.hi & G_XD_HI) !== 0;

    if (!guestIsLeaf(e, level)) {
      if ((e.lo & G_A) === 0) {
        mem.setLowBits(t.frame, idx, G_A);
        c.aUpdates++;
      }
      const next = entryAddress(e, 12);
      fills.push({ level, next, w, u, xd });
      table = next;
      level--;
      continue;
    }

    // The leaf: rights and keys on the accumulated guest rights, then A and D.
    const key = guestKey(e);
    const err = rightsFault(v, kind, w, u, xd, key);
    if (err) return pf(err);
    let guestDirty = (e.lo & G_D) !== 0;
    let set = 0;
    if ((e.lo & G_A) === 0) {
      set |= G_A;
      c.aUpdates++;
    }
    if (kind === WRITE && !guestDirty) {
      set |= G_D;
      c.dUpdates++;
      guestDirty = true;
    }
    if (set) mem.setLowBits(t.frame, idx, set);

    const shift = levelShift(level);
    const gpa = entryAddress(e, shift) + (va % 2 ** shift);
    const data = eptWalk(env, gpa, kind, true);
    if ("type" in data) return { ok: false, fault: data };

    // The entry's size: the smaller of the guest and EPT leaves; a fetch caches at most 2 MiB.
    const guestSize = (level - 1) as PageSizeCode;
    const size = Math.min(guestSize, data.size, kind === FETCH ? 1 : 2) as PageSizeCode;
    const offset = va % 2 ** PAGE_SHIFT[size];
    const hpa = data.hpa - offset;

    for (const f of fills) {
      const psc = pscOf(cpu, f.level);
      if (!psc) continue;
      const tag = pscTag(va, f.level);
      psc.insert(tag % psc.sets, { vpid, pcid: v.pcid, tag, next: f.next, w: f.w, u: f.u, xd: f.xd });
    }

    return {
      ok: true,
      t: {
        vpid,
        pcid: v.pcid,
        global: (e.lo & G_G) !== 0,
        size,
        vpn: vpnOf(va, size),
        hpa,
        gpa: gpa - offset,
        tier: env.tierOf(hpa),
        w,
        u,
        xd,
        eptR: (data.rights & 1) !== 0,
        eptW: (data.rights & 2) !== 0,
        eptX: (data.rights & 4) !== 0,
        key,
        dirty: guestDirty && (env.vm.eptAD ? data.dirty : true),
      },
    };
  }
}
