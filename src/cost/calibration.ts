/**
 * Published end results that the cost model should reproduce (or explain): not inputs of
 * the model but the numbers to check it against. Each carries its source.
 */

import { REFS } from "./refs.js";
import { src, unwrap, type Src } from "./sourced.js";

export interface ReferencePoints {
  /** An Iso-UniK system call through its MPK gate, cycles. */
  isoUnikSyscallCycles: number;
  /** An Iso-UniK fork, ns. */
  isoUnikForkNs: number;
  /** Forking a process-like VM in KylinX, ns. */
  kylinxForkNs: number;
  /** A Linux fork as compared against in KylinX, ns. */
  linuxForkNs: number;
  /** A uFork fork, ns. */
  uforkForkNs: number;
}

export const REFERENCE_POINTS_SOURCED: Readonly<Record<keyof ReferencePoints, Src>> = {
  isoUnikSyscallCycles: src(45, `${REFS.isounik}: "fast system calls with only 45 cycles"`),
  isoUnikForkNs: src(66_000, `${REFS.isounik}: "fast fork operation with only 66 us"`),
  kylinxForkNs: src(1_300_000, `${REFS.kylinx} (~1.3 ms)`),
  linuxForkNs: src(1_000_000, `${REFS.kylinx} (Linux ~1 ms)`),
  uforkForkNs: src(54_000, `${REFS.reference} sec. 1 (uFork, SOSP'25: 54 us)`),
};

export const REFERENCE_POINTS: Readonly<ReferencePoints> = Object.freeze(unwrap<ReferencePoints>(REFERENCE_POINTS_SOURCED));
