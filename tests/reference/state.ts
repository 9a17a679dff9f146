/**
 * The state of vCPUs and pCPUs, the faults an access can end with, and the rights
 * checks of docs/core.md section 4 step 4 (shared by TLB hits and walks, so both give
 * the same error code).
 */
import type { LineSample } from "./lines.js";
import type { LineCache } from "./lines.js";
import type { AccessKind, Counters, VcpuControl } from "../../src/core/types.js";
import { FETCH, PF_ID, PF_P, PF_PK, PF_U, PF_W, WRITE } from "../../src/core/types.js";
import type { NtlbEntry, PscEntry, SetAssoc, Tlb } from "./tlb.js";

export interface VcpuState {
  vm: number;
  pcpu: number;
  /** gPA of the guest PML4. */
  cr3: number;
  pcid: number;
  pkru: number;
  pkrs: number;
  ctl: VcpuControl;
  counters: Counters;
  /** The line cache's set-sampling counters (null: every set modelled). */
  sample: LineSample | null;
}

/** The structures of one physical CPU; null = absent. */
export interface PcpuState {
  itlb4k: Tlb | null;
  itlb2m: Tlb | null;
  dtlb4k: Tlb | null;
  dtlb2m: Tlb | null;
  dtlb1g: Tlb | null;
  stlb: Tlb | null;
  stlb1g: Tlb | null;
  /** PSCs are enabled (config.psc not null), even if some of them have 0 entries. */
  pscOn: boolean;
  pml4: SetAssoc<PscEntry> | null;
  pdpt: SetAssoc<PscEntry> | null;
  pd: SetAssoc<PscEntry> | null;
  ntlb: SetAssoc<NtlbEntry> | null;
  /** The line cache, and whether data accesses use it. */
  lines: LineCache | null;
  linesData: boolean;
}

export type Fault =
  | { type: "page-fault"; error: number }
  | { type: "ept-violation"; gpa: number; qualification: number }
  | { type: "ept-misconfig"; gpa: number };

/** #PF error-code bits every fault of this access carries: W, U, and I/D (fetch, when NXE or SMEP). */
export function pfBase(v: VcpuState, kind: AccessKind): number {
  let e = 0;
  if (kind === WRITE) e |= PF_W;
  if (v.ctl.cpl === 3) e |= PF_U;
  if (kind === FETCH && (v.ctl.nxe || v.ctl.smep)) e |= PF_ID;
  return e;
}

/**
 * Legacy rights, then protection keys, on the guest rights of a translation
 * (docs/core.md section 4 step 4). Returns 0 when the access may proceed, else the
 * #PF error code (P is always set).
 */
export function rightsFault(v: VcpuState, kind: AccessKind, w: boolean, u: boolean, xd: boolean, key: number): number {
  const c = v.ctl;
  const user = c.cpl === 3;
  const base = PF_P | pfBase(v, kind);
  if (user && !u) return base;
  if (kind === FETCH && xd) return base;
  if (!user && kind === FETCH && u && c.smep) return base;
  if (!user && kind !== FETCH && u && c.smap && !c.ac) return base;
  if (kind === WRITE && !w && (user || c.wp)) return base;

  if (kind === FETCH) return 0;
  let reg: number | null = null;
  if (u && c.pke) reg = v.pkru;
  else if (!u && c.pks) reg = v.pkrs;
  if (reg === null) return 0;
  const ad = (reg >>> (2 * key)) & 1;
  const wd = (reg >>> (2 * key + 1)) & 1;
  if (ad) return base | PF_PK;
  if (kind === WRITE && wd && (user || c.wp)) return base | PF_PK;
  return 0;
}

/** EPT violation qualification bits 0..2 for an access kind (read, write, fetch). */
export function eptAccessBits(kind: AccessKind): number {
  return kind === FETCH ? 4 : kind === WRITE ? 2 : 1;
}
