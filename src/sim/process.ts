/**
 * A process: an address space (a root table and a PCID), a protection-key register,
 * a heap, and the accesses it makes. Accesses are queued and run in batches; call
 * `sim.flush()` (or read counters) to run them.
 *
 * @example
 * const p = vm.process.malloc(4096);
 * vm.process.write(p, 4096);
 * vm.process.read(p, 64);
 */
import type { Vm } from "./vm.js";
import type { Allocator, MallocOptions } from "../guest/malloc/types.js";
import { READ, WRITE, FETCH } from "../core/types.js";

export class Process {
  pkru = 0;

  constructor(
    readonly vm: Vm,
    readonly pid: number,
    readonly vcpu: number,
    readonly root: number,
    readonly heap: Allocator,
    readonly pcid = 0,
  ) {}

  malloc(size: number, opts?: MallocOptions): number {
    return this.heap.malloc(size, opts);
  }

  free(va: number): void {
    this.heap.free(va);
  }

  read(va: number, bytes: number): void {
    this.access(va, bytes, READ);
  }

  write(va: number, bytes: number): void {
    this.access(va, bytes, WRITE);
  }

  fetch(va: number, bytes: number): void {
    this.access(va, bytes, FETCH);
  }

  /** Queues an access; large ranges go as one request per 4 KiB page run (the core splits pages). */
  access(va: number, bytes: number, kind: 0 | 1 | 2): void {
    if (!(bytes >= 1)) throw badBytes(bytes);
    this.vm.sim.enqueue(this.vcpu, va, kind, bytes);
  }

  pageFault(va: number): void {
    this.vm.guest.pageFault(va, this.root);
  }

  /** Protection faults stand in a single-address-space VM (Iso-UniK handles copy-on-write). */
  protectionFault(_va: number, _error: number): boolean {
    return false;
  }
}

/**
 * The error for an access of no bytes, made out of line: the message's template would
 * make `access` too big for V8 to inline into the workload models' operations, and a
 * call left out of line boxes the guest address (a double above 2^31) into a new heap
 * number.
 */
function badBytes(bytes: number): RangeError {
  return new RangeError(`bytes: ${bytes} is not allowed; expected >= 1`);
}
