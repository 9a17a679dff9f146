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
