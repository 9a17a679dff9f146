/** Shared set-up of the isolation tests: a small host and one OSv VM per design. */
import { Simulator } from "../../src/sim/simulator.js";
import type { Vm } from "../../src/sim/vm.js";
import { IsoOs, type MultiDesign } from "../../src/guest/isolation/processes.js";
import { KylinxOs } from "../../src/guest/isolation/kylinx.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export const VM_OPTIONS = { policy: "osv" as const, nodes: [{ tier: "dram", bytes: 1 * GiB }] };

export async function newSim(maxVms = 8): Promise<Simulator> {
  return Simulator.create({ tiers: [{ name: "dram", preset: "dram", capacity: 8 * GiB }], maxVms });
}

export async function newVm(maxVms = 8): Promise<{ sim: Simulator; vm: Vm }> {
  const sim = await newSim(maxVms);
  return { sim, vm: sim.createVm(VM_OPTIONS) };
}

export async function newOs(design: MultiDesign, opts: { keyVirtualisation?: boolean } = {}): Promise<{ sim: Simulator; vm: Vm; os: IsoOs }> {
  const { sim, vm } = await newVm();
  return { sim, vm, os: new IsoOs(vm, { design, ...opts }) };
}

export async function newKylinx(maxVms = 32): Promise<{ sim: Simulator; ky: KylinxOs }> {
  const sim = await newSim(maxVms);
  return { sim, ky: new KylinxOs(sim, VM_OPTIONS) };
}
