/**
 * Conformance mode `skylake-lru` (docs/core.md section 7, REFERENCE.md section 9): no
 * page tables, demand mapping on first touch, one fixed walk cost per miss.
 */
import type { AccessKind, Counters, PageSizeCode } from "../../src/core/types.js";
import { FETCH } from "../../src/core/types.js";
import type { PcpuState } from "./state.js";
import type { Tlb, Translation } from "./tlb.js";
import { vpnOf } from "./tlb.js";

/**
 * Walk references of a miss: guest levels x (EPT levels + 1) + EPT levels. Reading: split
 * into walkRefsGuest and walkRefsEpt like a real walk; refsByTier and data stay 0 (no
 * host frames in this model).
 */
const WALK = {
  "4k": { guest: 4, ept: 4 * 4 + 4 }, // 24
  "2m": { guest: 3, ept: 3 * 3 + 3 }, // 15
} as const;

export function conformanceAccess(
  cpu: PcpuState,
  c: Counters,
  touched: Set<number>,
  policy: "4k" | "2m",
  va: number,
  kind: AccessKind,
): void {
  const size: PageSizeCode = policy === "4k" ? 0 : 1;
  let l1: Tlb | null;
  if (kind === FETCH) l1 = size === 0 ? cpu.itlb4k : cpu.itlb2m;
  else l1 = size === 0 ? cpu.dtlb4k : cpu.dtlb2m;

  if (l1?.lookup(1, 0, va, size)) {
    c.l1Hits++;
    if (kind === FETCH) {
      if (size === 0) c.itlb4kHits++;
      else c.itlb2mHits++;
    } else {
      if (size === 0) c.dtlb4kHits++;
      else c.dtlb2mHits++;
    }
    return;
  }
  c.l1Misses++;

  const hit = cpu.stlb?.lookup(1, 0, va, size) ?? null;
  if (hit) {
    c.stlbHits++;
    if (size === 0) c.stlbHits4k++;
    else c.stlbHits2m++;
    l1?.fill(hit);
    return;
  }

  // A first touch maps the page: one fault, not a walk; the access then walks.
  const vpn = vpnOf(va, size);
  if (!touched.has(vpn)) {
    touched.add(vpn);
    c.faults++;
    c.pageFaults++;
  }
  c.walks++;
  const cost = WALK[policy];
  c.walkRefs += cost.guest + cost.ept;
  c.walkRefsGuest += cost.guest;
  c.walkRefsEpt += cost.ept;

  const t: Translation = {
    vpid: 1,
    pcid: 0,
    global: false,
    size,
    vpn,
    hpa: 0,
    gpa: 0,
    tier: 0,
    w: true,
    u: true,
    xd: false,
    eptR: true,
    eptW: true,
    eptX: true,
    key: 0,
    dirty: true,
  };
  cpu.stlb?.fill(t);
  l1?.fill(t);
}
