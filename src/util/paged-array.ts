/**
 * A sparse array of 32-bit unsigned integers indexed by non-negative safe integers (page
 * frame numbers), 0 where never set: pages of 512 values in Uint32Arrays, each made on
 * the first non-zero value written in it and dropped when its last one goes back to 0.
 *
 * Why: a record per 4 KiB page (what a page holds) in a `Map` costs 50-100 B; here a
 * page of the array costs 2 KiB plus about 200 B of objects, so about 4.5 B per index
 * where the indices in use are dense (frames a buddy allocator hands out lowest first
 * are), and at most 2.2 KiB for an isolated one.
 *
 * @example
 * const a = new PagedU32();
 * a.set(70_000, 5);
 * a.get(70_000); // 5
 * a.get(3);      // 0
 * a.count;       // 1
 */

/** Values a page holds. */
export const PAGE_VALUES = 512;

export class PagedU32 {
  /** Page index -> PAGE_VALUES values and, after them, the count of non-zero ones. */
  private readonly pages = new Map<number, Uint32Array>();
  private lastIndex = -1;
  private last: Uint32Array | null = null;
  private spare: Uint32Array | null = null;
  private nonZero = 0;

  /** Indices whose value is not 0. */
  get count(): number {
    return this.nonZero;
  }

  /** Pages of the array in use (for memory estimates). */
  get pageCount(): number {
    return this.pages.size;
  }

  /** The value at `i`: 0 for an index never set, or not a non-negative integer. */
  get(i: number): number {
    const p = Math.floor(i / PAGE_VALUES);
    const page = p === this.lastIndex ? this.last : this.pageAt(p);
    return page === null ? 0 : (page[i - p * PAGE_VALUES] ?? 0);
  }

  /** Sets `i` (a non-negative safe integer) to `value` (taken modulo 2^32). */
  set(i: number, value: number): void {
    if (!(i >= 0 && Number.isSafeInteger(i))) throw new RangeError(`PagedU32 index: ${i} is not allowed; expected a non-negative safe integer`);
    const v = value >>> 0;
    const p = Math.floor(i / PAGE_VALUES);
    let page = p === this.lastIndex ? this.last : this.pageAt(p);
    if (page === null) {
      if (v === 0) return;
      page = this.spare ?? new Uint32Array(PAGE_VALUES + 1);
      this.spare = null;
      this.pages.set(p, page);
      this.lastIndex = p;
      this.last = page;
    }
    const o = i - p * PAGE_VALUES;
    const old = page[o]!;
    page[o] = v;
    if ((old === 0) === (v === 0)) return;
    if (v !== 0) {
      page[PAGE_VALUES]++;
      this.nonZero++;
      return;
    }
    this.nonZero--;
    if (--page[PAGE_VALUES] === 0) {
      this.pages.delete(p);
      this.spare = page; // all zero again: kept for the next page (one only)
      if (this.lastIndex === p) {
        this.lastIndex = -1;
        this.last = null;
      }
    }
  }

  /** Calls `fn(value, index)` for every non-zero value (pages in the order they were made, indices ascending within a page). `fn` must not change the array. */
  forEach(fn: (value: number, index: number) => void): void {
    this.forEachPage((values, first) => {
      for (let o = 0; o < PAGE_VALUES; o++) {
        const v = values[o]!;
        if (v !== 0) fn(v, first + o);
      }
    });
  }

  /**
   * Calls `fn(values, first)` for every page in use, in the order they were made:
   * `values[o]` is the value at `first + o` (0 where unset), for {@link PAGE_VALUES}
   * indices. For loops over whole pages without a call per value. `fn` must not change
   * the array or keep `values`.
   *
   * @example
   * a.forEachPage((values, first) => { for (let o = 0; o < PAGE_VALUES; o++) sum += values[o]!; });
   */
  forEachPage(fn: (values: Uint32Array, first: number) => void): void {
    for (const [p, page] of this.pages) fn(page, p * PAGE_VALUES);
  }

  private pageAt(p: number): Uint32Array | null {
    const page = this.pages.get(p);
    if (page === undefined) return null;
    this.lastIndex = p;
    this.last = page;
    return page;
  }
}
