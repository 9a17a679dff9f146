/**
 * A guest process as a workload model uses it, counting what the model did: accesses
 * and their bytes, mallocs and their bytes, frees. The memcached and key-value store
 * models issue all their memory traffic through one, so their statistics mean the
 * same thing.
 *
 * @example
 * const m = new MeteredProcess(vm.process);
 * const va = m.calloc(4096);  // a malloc, then one write of the block (OSv's calloc)
 * m.read(va, 64);
 * m.accesses;                 // 2
 */
import type { WorkloadProcess } from "./drivers.js";

/** What a {@link MeteredProcess} counted, at one moment. */
export interface MeterCounts {
  accesses: number;
  accessBytes: number;
  mallocs: number;
  frees: number;
  mallocBytes: number;
}

export class MeteredProcess {
  accesses = 0;
  accessBytes = 0;
  mallocs = 0;
  frees = 0;
  mallocBytes = 0;

  constructor(readonly process: WorkloadProcess) {}

  /** The counts now (a copy: later traffic does not change it). */
  counts(): MeterCounts {
    return { accesses: this.accesses, accessBytes: this.accessBytes, mallocs: this.mallocs, frees: this.frees, mallocBytes: this.mallocBytes };
  }

  read(va: number, bytes: number): void {
    this.accesses++;
    this.accessBytes += bytes;
    this.process.read(va, bytes);
  }

  write(va: number, bytes: number): void {
    this.accesses++;
    this.accessBytes += bytes;
    this.process.write(va, bytes);
  }

  /** An instruction fetch (a read where the process has no fetch). */
  fetch(va: number, bytes: number): void {
    this.accesses++;
    this.accessBytes += bytes;
    if (this.process.fetch) this.process.fetch(va, bytes);
    else this.process.read(va, bytes);
  }

  malloc(bytes: number, opts?: { tier?: string }): number {
    const va = opts ? this.process.malloc(bytes, opts) : this.process.malloc(bytes);
    this.mallocs++;
    this.mallocBytes += bytes;
    return va;
  }

  /** calloc as OSv has it: malloc, then memset (one write of the block). */
  calloc(bytes: number, opts?: { tier?: string }): number {
    const va = this.malloc(bytes, opts);
    this.write(va, bytes);
    return va;
  }

  free(va: number): void {
    this.frees++;
    this.process.free(va);
  }

  /** Runs the accesses queued so far: before memory they may touch goes back to the allocator. */
  flush(): void {
    this.process.vm?.sim.flush();
  }
}
