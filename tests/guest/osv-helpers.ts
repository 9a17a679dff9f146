// Helpers for the osv allocator tests: a two-tier host and one osv VM on it.
import { Simulator } from "../../src/sim/simulator.js";
import type { Vm } from "../../src/sim/vm.js";
import { OsvAllocator, type OsvAllocatorOptions } from "../../src/guest/malloc/osv.js";

export const GiB = 2 ** 30;
export const MiB = 2 ** 20;

/** The host the brief asks for: 8 GiB DRAM and 16 GiB Optane, 8 VMs (so 32 slab heaps). */
export async function newSim(tiers?: { dram: number; nvm: number }): Promise<Simulator> {
  return Simulator.create({
    tiers: [
      { name: "dram", preset: "dram", capacity: tiers?.dram ?? 8 * GiB },
      { name: "nvm", preset: "optane", capacity: tiers?.nvm ?? 16 * GiB },
    ],
    maxVms: 8,
  });
}

/** 1 GiB of DRAM and 1 GiB of Optane, the osv back-end backing pages from each in turn. */
export async function newInterleavedSim(): Promise<Simulator> {
  return Simulator.create({
    tiers: [
      { name: "dram", preset: "dram", capacity: 1 * GiB },
      { name: "nvm", preset: "optane", capacity: 1 * GiB },
    ],
    hypervisor: { osvPlacement: "interleave" },
  });
}

/** An osv VM with one 1 GiB DRAM node; its allocator is the VM's own (an OsvAllocator). */
export function newVm(sim: Simulator, bytes = 1 * GiB): { vm: Vm; heap: OsvAllocator } {
  const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes }] });
  if (!(vm.allocator instanceof OsvAllocator)) throw new Error("the osv VM's allocator is not an OsvAllocator");
  return { vm, heap: vm.allocator };
}

/**
 * A second allocator on a fresh VM, with options (e.g. no page buffers), on its own
 * core slab heap (vm.id + 8: the sim has 8 VMs and 32 heaps) so the VM's own
 * allocator, left unused, keeps its heap. Its page buffers stay held, untouched.
 */
export function newHeap(sim: Simulator, options: OsvAllocatorOptions): { vm: Vm; heap: OsvAllocator } {
  const { vm } = newVm(sim);
  return { vm, heap: new OsvAllocator(vm, { heap: vm.id + 8, ...options }) };
}

/** Queues a write by the VM's process. */
export function write(vm: Vm, va: number, bytes: number): void {
  vm.process.write(va, bytes);
}
