/**
 * Which processes a workload model in the core can run in: a plain guest process of a
 * {@link Simulator}, whose accesses go straight into the simulator's queue. A test
 * double or an Iso-UniK process (its accesses pass through gates and copy-on-write
 * checks on the host) keeps the host's path.
 *
 * @example
 * const sim = simulatorOf(vm.process); // vm.sim
 * simulatorOf(new NullProcess());      // null
 */
import { Process } from "../sim/process.js";
import type { Simulator } from "../sim/simulator.js";
import type { WorkloadProcess } from "./drivers.js";

/** The simulator behind a plain guest process, or null. */
export function simulatorOf(process: WorkloadProcess): Simulator | null {
  if (!(process instanceof Process) || Object.getPrototypeOf(process) !== Process.prototype) return null;
  return process.vm.sim;
}

/**
 * Where the parts of a workload model's region in the core go: one after another, each
 * 8-aligned (the core reads f64 fields there).
 *
 * @example
 * const r = new RegionLayout();
 * r.take(12); // 0
 * r.take(4);  // 16
 * r.bytes;    // 24: the region's size
 */
export class RegionLayout {
  /** The bytes taken so far (the next part's offset). */
  bytes = 0;

  /** The offset of a part of `bytes`. */
  take(bytes: number): number {
    const at = this.bytes;
    this.bytes = Math.ceil((at + bytes) / 8) * 8; // (not `& ~7`: a region may pass 2 GiB)
    return at;
  }
}
