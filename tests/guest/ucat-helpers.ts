/**
 * Helpers of the UCat allocator tests: the simulator of the issue (8 GiB DRAM, 16 GiB
 * Optane, 8 VMs) and a UCat VM (1 GiB DRAM node, 2 GiB NVM node), and readers of where an
 * address lands (node, tier, page sizes of both translation layers).
 *
 * @example
 * const sim = await ucatSim();
 * const vm = ucatVm(sim);
 * const p = vm.allocator.malloc(64, { tier: "nvm" });
 * nodeTier(vm, p); // "nvm"
 */
import { Simulator } from "../../src/sim/simulator.js";
import type { Vm } from "../../src/sim/vm.js";
import { LINEAR_BASE } from "../../src/guest/guest.js";
import { UcatAllocator } from "../../src/guest/malloc/ucat.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export async function ucatSim(): Promise<Simulator> {
  return Simulator.create({
    tiers: [
      { name: "dram", preset: "dram", capacity: 8 * GiB },
      { name: "nvm", preset: "optane", capacity: 16 * GiB },
    ],
    maxVms: 8,
  });
}

export function ucatVm(sim: Simulator, dram = 1 * GiB, nvm = 2 * GiB): Vm {
  return sim.createVm({ policy: "ucat", nodes: [{ tier: "dram", bytes: dram }, { tier: "nvm", bytes: nvm }] });
}

/** The VM's allocator as a UcatAllocator (the policy "ucat" creates one). */
export function ucat(vm: Vm): UcatAllocator {
  if (!(vm.allocator instanceof UcatAllocator)) throw new Error(`vm ${vm.id}: allocator is ${vm.allocator.name}, not ucat`);
  return vm.allocator;
}

/** Guest-physical address and page level of `va`'s guest leaf (2 = 2 MiB, 3 = 1 GiB), from the kernel's page table. */
export function guestLeaf(vm: Vm, va: number): { level: number; gpa: number } {
  const e = vm.sim.core.gptEntry(vm.id, vm.guest.kernelRoot, va);
  const bytes = e.level === 3 ? GiB : e.level === 2 ? 2 * MiB : 4 * KiB;
  const frame = Number(e.raw & 0x000f_ffff_ffff_f000n);
  const base = frame - (frame % bytes);
  return { level: e.level, gpa: base + (va % bytes) };
}

/** Node index of a guest-physical address. */
export function nodeOfGpa(vm: Vm, gpa: number): number {
  return vm.guest.nodes.findIndex((n) => gpa >= n.base && gpa < n.base + n.bytes);
}

/** Tier name of the node an allocation's memory comes from (linear-map or mmap address). */
export function nodeTier(vm: Vm, va: number): string {
  const gpa = va >= LINEAR_BASE ? va - LINEAR_BASE : guestLeaf(vm, va).gpa;
  const i = nodeOfGpa(vm, gpa);
  if (i < 0) throw new Error(`0x${va.toString(16)} is in no node of vm ${vm.id}`);
  return vm.guest.nodes[i]!.tier;
}

/** One access by the VM's process. */
export function access(vm: Vm, va: number, bytes: number, kind: "read" | "write" = "read"): void {
  if (kind === "read") vm.process.read(va, bytes);
  else vm.process.write(va, bytes);
}
