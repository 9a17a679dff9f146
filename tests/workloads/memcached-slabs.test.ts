import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  DEFAULT_SLAB_SETTINGS,
  chunksPerPage,
  classFor,
  itemSize,
  slabClasses,
} from "../../src/workloads/memcached/slabs.js";

describe("memcached slab classes (slabs.c slabs_init, defaults)", () => {
  it("start as REFERENCE.md lists", () => {
    expect(slabClasses().slice(0, 13).map((c) => c.size)).toEqual([
      96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184, 1480,
    ]);
  });

  it("are memcached 1.6's 39 default classes, the last one slab_chunk_max = 512 KiB", () => {
    const classes = slabClasses();
    expect(classes.map((c) => c.size)).toEqual([
      96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184, 1480, 1856, 2320, 2904, 3632, 4544, 5680, 7104,
      8880, 11104, 13880, 17352, 21696, 27120, 33904, 42384, 52984, 66232, 82792, 103496, 129376, 161720, 202152,
      252696, 315872, 394840, 524288,
    ]);
    expect(classes.map((c) => c.id)).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));
    expect(classes[0]!.perSlab).toBe(10922);
    expect(classes.at(-1)!.perSlab).toBe(2);
    for (const c of classes) {
      expect(c.size % 8).toBe(0);
      expect(c.perSlab).toBe(chunksPerPage(c.size));
    }
    expect(DEFAULT_SLAB_SETTINGS).toMatchObject({ chunkSize: 48, factor: 1.25, slabPageSize: 1 << 20, slabChunkSizeMax: 1 << 19 });
  });

  it("follow -n, -f and slab_sizes", () => {
    expect(slabClasses({ factor: 2 }).map((c) => c.size)).toEqual([
      96, 192, 384, 768, 1536, 3072, 6144, 12288, 24576, 49152, 98304, 196608, 524288,
    ]);
    expect(slabClasses({ chunkSize: 50 }).slice(0, 3).map((c) => c.size)).toEqual([104, 136, 176]);
    expect(slabClasses({ slabSizes: [100, 1000] }).map((c) => c.size)).toEqual([104, 1000, 524288]);
  });
});

describe("item size and class (items.c do_item_alloc, slabs.c slabs_clsid)", () => {
  it("puts a memaslap item (key 64, value 1024) of 1147 B in class 1184", () => {
    expect(itemSize(64, 1024)).toBe(1147);
    const cls = classFor(1147)!;
    expect(cls).toEqual({ id: 12, size: 1184, perSlab: 885 });
    expect(chunksPerPage(1184)).toBe(885);
  });

  it("counts flags only when nonzero and CAS only when on", () => {
    expect(itemSize(10, 10)).toBe(48 + 11 + 12 + 8);
    expect(itemSize(10, 10, { flags: 1 })).toBe(48 + 11 + 4 + 12 + 8);
    expect(itemSize(10, 10, { useCas: false })).toBe(48 + 11 + 12);
  });

  it("picks the smallest class that fits; the largest above it; none above item_size_max", () => {
    expect(classFor(1)!.size).toBe(96);
    expect(classFor(96)!.size).toBe(96);
    expect(classFor(97)!.size).toBe(120);
    expect(classFor(524288)!.size).toBe(524288);
    expect(classFor(524289)!.size).toBe(524288); // chunked item
    expect(classFor(1 << 20)!.id).toBe(39);
    expect(classFor((1 << 20) + 1)).toBeUndefined();
    expect(classFor(0)).toBeUndefined();
    const classes = slabClasses();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 524288 }), (size) => {
        const c = classFor(size)!;
        const linear = classes.find((k) => k.size >= size)!;
        return c.id === linear.id && c.size === linear.size;
      }),
    );
  });
});
