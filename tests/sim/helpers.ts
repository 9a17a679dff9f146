// Helpers of the simulator-level tests (accounting, density, the kv workload).
import { Simulator, type SimulatorOptions } from "../../src/sim/simulator.js";
import type { Vm } from "../../src/sim/vm.js";

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** A host of DRAM (preset dram) and, when `nvm` > 0, NVM (preset optane). */
export function tiers(dram: number, nvm = 0): SimulatorOptions["tiers"] {
  return [{ name: "dram", preset: "dram", capacity: dram }, ...(nvm > 0 ? [{ name: "nvm", preset: "optane" as const, capacity: nvm }] : [])];
}

export async function sim(dram: number, nvm = 0, o: Omit<SimulatorOptions, "tiers"> = {}): Promise<Simulator> {
  return Simulator.create({ tiers: tiers(dram, nvm), ...o });
}

/** One access by the VM's process. */
export function access(vm: Vm, va: number, bytes: number, kind: "read" | "write" = "read"): void {
  if (kind === "read") vm.process.read(va, bytes);
  else vm.process.write(va, bytes);
}
