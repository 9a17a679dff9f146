/**
 * Host-physical memory as far as page tables need it: 4 KiB pages of 512 entries,
 * kept per host frame in a Map. A page never written reads as zeros, as real memory
 * holding nothing would in this model (guests are metadata only).
 */
import type { Entry } from "./entries.js";

export class PhysicalMemory {
  private readonly pages = new Map<number, Uint32Array>();

  /** The entry `index` (0..511) of the table page at host address `frame` (4 KiB aligned). */
  read(frame: number, index: number): Entry {
    const page = this.pages.get(frame / 4096);
    if (!page) return { lo: 0, hi: 0 };
    return { lo: page[2 * index]!, hi: page[2 * index + 1]! };
  }

  write(frame: number, index: number, e: Entry): void {
    let page = this.pages.get(frame / 4096);
    if (!page) {
      page = new Uint32Array(1024);
      this.pages.set(frame / 4096, page);
    }
    page[2 * index] = e.lo >>> 0;
    page[2 * index + 1] = e.hi >>> 0;
  }

  /** Sets bits in the low half of an entry (A and D updates). */
  setLowBits(frame: number, index: number, bits: number): void {
    const e = this.read(frame, index);
    this.write(frame, index, { lo: (e.lo | bits) >>> 0, hi: e.hi });
  }

  zeroFill(frame: number): void {
    this.pages.set(frame / 4096, new Uint32Array(1024));
  }

  release(frame: number): void {
    this.pages.delete(frame / 4096);
  }
}
