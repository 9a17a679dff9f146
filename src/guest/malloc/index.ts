/** Chooses a VM's heap allocator by policy. */
import type { Allocator } from "./types.js";
import type { Vm } from "../../sim/vm.js";
import { OsvAllocator } from "./osv.js";
import { UcatAllocator } from "./ucat.js";

export function createAllocator(kind: "osv" | "ucat", vm: Vm): Allocator {
  if (kind === "osv") return new OsvAllocator(vm);
  if (kind === "ucat") return new UcatAllocator(vm);
  throw new RangeError(`allocator: ${JSON.stringify(kind)} is not allowed; expected "osv" or "ucat"`);
}
