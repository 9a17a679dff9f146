/**
 * A stand-in guest process for the workload tests: a bump allocator that records every
 * malloc and free, and counters of reads, writes and fetches. With `check` on (the
 * default) every access must fall inside a live allocation, so a model that touches
 * memory it does not own (or has freed) fails the test.
 *
 * @example
 * const p = new FakeProcess();
 * const server = new MemcachedServer(p);
 * expect(p.mallocs).toHaveLength(1); // the hash table
 */
import type { WorkloadProcess } from "../../src/workloads/drivers.js";

export interface FakeAlloc {
  va: number;
  size: number;
  tier?: string;
}

export class FakeProcess implements WorkloadProcess {
  reads = 0;
  writes = 0;
  fetches = 0;
  readBytes = 0;
  writeBytes = 0;
  readonly mallocs: FakeAlloc[] = [];
  readonly frees: number[] = [];
  /** Live allocations by address. */
  readonly live = new Map<number, number>();
  /** Every access in order, when `record` is on: [kind (1 read, 2 write, 0 fetch), va, bytes]. */
  readonly log: [number, number, number][] = [];
  /** Throws a GuestOutOfMemory-named error once this many bytes are live (default: never). */
  capacity = Infinity;
  private next = 0x1000_0000;
  private liveBytes = 0;
  private starts: number[] = [];

  constructor(
    readonly check = true,
    readonly record = false,
  ) {}

  malloc(size: number, opts?: { tier?: string }): number {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`malloc(${size})`);
    if (this.liveBytes + size > this.capacity) {
      const e = new Error("out of guest memory (fake)");
      e.name = "GuestOutOfMemory";
      throw e;
    }
    const align = size >= 4096 ? 4096 : 16;
    const va = Math.ceil(this.next / align) * align;
    this.next = va + size;
    this.live.set(va, size);
    this.starts.push(va); // increasing: a bump allocator
    this.liveBytes += size;
    this.mallocs.push(opts?.tier === undefined ? { va, size } : { va, size, tier: opts.tier });
    return va;
  }

  free(va: number): void {
    const size = this.live.get(va);
    if (size === undefined) throw new Error(`free(0x${va.toString(16)}): not a live allocation`);
    this.live.delete(va);
    this.liveBytes -= size;
    this.frees.push(va);
    this.starts.splice(this.find(va), 1);
  }

  read(va: number, bytes: number): void {
    this.reads++;
    this.readBytes += bytes;
    if (this.check) this.inside(va, bytes);
    if (this.record) this.log.push([1, va, bytes]);
  }

  write(va: number, bytes: number): void {
    this.writes++;
    this.writeBytes += bytes;
    if (this.check) this.inside(va, bytes);
    if (this.record) this.log.push([2, va, bytes]);
  }

  fetch(va: number, bytes: number): void {
    this.fetches++;
    if (this.check) this.inside(va, bytes);
    if (this.record) this.log.push([0, va, bytes]);
  }

  get accesses(): number {
    return this.reads + this.writes + this.fetches;
  }

  /** The live allocation containing [va, va + bytes), or an error. */
  private inside(va: number, bytes: number): void {
    if (!(bytes >= 1)) throw new RangeError(`access of ${bytes} bytes`);
    const i = this.find(va);
    const start = this.starts[i];
    if (start === undefined || start > va || va + bytes > start + this.live.get(start)!) {
      throw new Error(`access [0x${va.toString(16)}, +${bytes}) is outside every live allocation`);
    }
  }

  /** Index of the last start <= va (or 0). */
  private find(va: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= va) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
