import { describe, expect, it } from "vitest";
import { MemcachedServer, mix32 } from "../../src/workloads/memcached/server.js";
import { runMemaslap } from "../../src/workloads/drivers.js";
import { FakeProcess } from "./drivers-fake.js";

const MiB = 1024 * 1024;

describe("memcached model: stats slabs against a hand computation", () => {
  it("1000 memaslap items of 1147 B: class 1184, 885 chunks a page, 2 pages, total_malloced 2 MiB", () => {
    const p = new FakeProcess();
    // One connection, a 1024-object window: S, 9 G, S, ... so 10,000 operations make 1000 sets of new keys.
    const r = runMemaslap(p, { concurrency: 1, windowSize: 1024, operations: 10_000 });
    expect(r.ops).toEqual({ get: 9000, set: 1000 });
    expect([r.hits, r.misses]).toEqual([9000, 0]);
    const slabs = r.memcached!.slabs;
    expect(slabs).toHaveLength(1);
    expect(slabs[0]).toMatchObject({
      id: 12,
      chunkSize: 1184,
      chunksPerPage: 885, // floor(1 MiB / 1184)
      totalPages: 2, // ceil(1000 / 885)
      totalChunks: 1770,
      usedChunks: 1000,
      freeChunks: 770,
      freeChunksEnd: 0,
      items: 1000,
      cmdSet: 1000,
      getHits: 9000,
    });
    expect(r.memcached!.stats).toMatchObject({ activeSlabs: 1, totalMalloced: 2 * MiB, currItems: 1000, evictions: 0, hashPowerLevel: 16 });
    // The guest allocations: the 512 KiB hash table, two 1 MiB pages, one connection's two 16 KiB buffers.
    expect(p.mallocs.map((m) => m.size).sort((a, b) => a - b)).toEqual([16384, 16384, 512 * 1024, MiB, MiB]);
  });

  it("issues the accesses of a set and a get as counted by hand (network off)", () => {
    const p = new FakeProcess(true, true);
    const s = new MemcachedServer(p, { network: false });
    expect([p.mallocs.length, p.writes, p.writeBytes]).toEqual([1, 1, 512 * 1024]); // calloc of 2^16 x 8 B
    p.log.length = 0;
    const before = p.accesses;
    expect(s.set(1, 64, 1024)).toBe("stored");
    // newslab: memset 1 + 885 header writes + 884 prev writes; pop: header read, next->prev, flags/refcount;
    // item: header, key, value; lookup: bucket read; link: time, CAS, h_next, bucket, LRU links, refcount;
    // item_remove: refcount. The maintainer's HOT->COLD move runs in the background (not issued).
    expect(p.accesses - before).toBe(1 + 885 + 884 + 3 + 3 + 1 + 6 + 1);
    expect(s.stats().maintainerAccesses).toBeGreaterThan(0);
    const item = s.addressOf(1, 64);
    expect(item).toBeGreaterThan(0);
    // LIFO free list: the page's last chunk is handed out first.
    expect(item).toBe(s.pageAddresses[12]![0]! + 884 * 1184);
    let a = p.accesses;
    expect(s.get(1, 64)).toBe(1024);
    // bucket, header, key; refcount; FETCHED; value (1026 B: value and "\r\n"); refcount.
    expect(p.accesses - a).toBe(7);
    const valueRead = p.log.find(([k, va]) => k === 1 && va === item + 48 + 8 + 65);
    expect(valueRead?.[2]).toBe(1026);
    a = p.accesses;
    expect(s.get(1, 64)).toBe(1024); // second hit: ACTIVE (the move to WARM is the maintainer's)
    expect(p.accesses - a).toBe(7);
    expect(s.statsSlabs()[0]).toMatchObject({ itemsWarm: 1, itemsCold: 0, itemsHot: 0 });
    // A miss in an empty bucket reads the bucket only.
    let other = 2;
    while ((mix32(other) & 0xffff) === (mix32(1) & 0xffff)) other++;
    a = p.accesses;
    expect(s.get(other, 64)).toBe(-1);
    expect(p.accesses - a).toBe(1);
  });

  it("adds network buffer traffic per request when network is on", () => {
    const p = new FakeProcess();
    const s = new MemcachedServer(p);
    s.set(1, 64, 1024); // allocates connection 0's buffers
    expect(s.stats().connectionBytes).toBe(32768);
    const quiet = new MemcachedServer(new FakeProcess(), { network: false });
    quiet.set(1, 64, 1024);
    const a = p.accesses;
    const qa = quiet.meter.accesses;
    s.get(1, 64);
    quiet.get(1, 64);
    // request written and parsed, response header written.
    expect(p.accesses - a - (quiet.meter.accesses - qa)).toBe(3);
  });

  it("gives each connection its own buffers on its first request, any of 0..65535, and refuses others by name", () => {
    const p = new FakeProcess();
    const s = new MemcachedServer(p);
    const conns = [0, 15, 16, 1000, 65535, 16];
    for (const c of conns) s.set(c + 1, 64, 100, c);
    expect(s.stats().connectionBytes).toBe(5 * 32768); // 16 came back: its buffers were kept
    for (const c of conns) expect(s.get(c + 1, 64, c)).toBe(100);
    expect(s.stats().connectionBytes).toBe(5 * 32768);
    const before = JSON.stringify([s.stats(), s.statsSlabs()]);
    for (const bad of [-1, 65536, 1.5, Number.NaN]) {
      expect(() => s.get(1, 64, bad)).toThrow(new RegExp(`conn: ${bad} is not allowed`));
      expect(() => s.set(1, 64, 10, bad)).toThrow(/conn: .* expected an integer in 0\.\.65535/);
    }
    expect(JSON.stringify([s.stats(), s.statsSlabs()])).toBe(before); // nothing counted, nothing issued
  });

  it("follows add, replace and set semantics", () => {
    const s = new MemcachedServer(new FakeProcess());
    expect(s.store("replace", 5, 20, 100)).toBe("not-stored");
    expect(s.store("add", 5, 20, 100)).toBe("stored");
    expect(s.store("add", 5, 20, 50)).toBe("not-stored");
    expect(s.get(5, 20)).toBe(100);
    expect(s.store("replace", 5, 20, 50)).toBe("stored");
    expect(s.get(5, 20)).toBe(50);
    expect(s.store("set", 5, 20, 70)).toBe("stored");
    expect(s.get(5, 20)).toBe(70);
    expect(s.stats()).toMatchObject({ currItems: 1, totalItems: 3, notStored: 2, cmdSet: 5 });
    // Every chunk not holding the live item is free again.
    const c = s.statsSlabs().find((x) => x.id === s.classIdOf(5, 20))!;
    expect(c.usedChunks).toBe(1);
  });
});

describe("memcached model: hash table", () => {
  it("doubles when items exceed 1.5 per bucket, mallocs the new table and frees the old", () => {
    const p = new FakeProcess();
    const s = new MemcachedServer(p, { hashPower: 4, memoryLimit: 0, network: false });
    const first = s.hashTableAddress;
    for (let k = 0; k < 24; k++) s.set(k, 16, 10);
    expect(s.stats()).toMatchObject({ hashPowerLevel: 4, hashBytes: 128, hashExpansions: 0 });
    s.set(24, 16, 10); // 25 > 16 * 3 / 2
    expect(s.stats()).toMatchObject({ hashPowerLevel: 5, hashBytes: 256, hashExpansions: 1 });
    expect(p.frees).toEqual([first]);
    expect(p.mallocs.find((m) => m.va === s.hashTableAddress)?.size).toBe(256);
    for (let k = 25; k < 49; k++) s.set(k, 16, 10);
    expect(s.stats().hashPowerLevel).toBe(6); // 49 > 32 * 3 / 2
    for (let k = 0; k < 49; k++) expect(s.get(k, 16)).toBe(10);
  });

  it("grows from memcached's 2^16 buckets at item 98,305", () => {
    const s = new MemcachedServer(new FakeProcess(false), { memoryLimit: 0, network: false });
    for (let k = 0; k < 98_304; k++) s.set(k, 16, 1);
    expect(s.stats().hashPowerLevel).toBe(16);
    s.set(98_304, 16, 1);
    expect(s.stats()).toMatchObject({ hashPowerLevel: 17, hashBytes: 2 ** 17 * 8, currItems: 98_305 });
  });
});

describe("memcached model: memory limit and LRU", () => {
  it("evicts the oldest items of the class at the limit instead of taking a third page", () => {
    const p = new FakeProcess();
    const s = new MemcachedServer(p, { memoryLimit: 2 * MiB, network: false });
    for (let k = 0; k < 1770; k++) expect(s.set(k, 64, 1024)).toBe("stored");
    expect(s.stats()).toMatchObject({ totalMalloced: 2 * MiB, evictions: 0, currItems: 1770 });
    for (let k = 1770; k < 1870; k++) expect(s.set(k, 64, 1024)).toBe("stored");
    const st = s.stats();
    expect(st).toMatchObject({ totalMalloced: 2 * MiB, evictions: 100, currItems: 1770, outOfMemory: 0 });
    expect(s.statsSlabs()[0]).toMatchObject({ totalPages: 2, usedChunks: 1770, freeChunks: 0, evicted: 100 });
    // New items enter HOT; the maintainer moves HOT's tail to COLD; eviction takes COLD's tail: the oldest.
    for (let k = 0; k < 100; k++) expect(s.get(k, 64)).toBe(-1);
    for (let k = 100; k < 1870; k++) expect(s.get(k, 64)).toBe(1024);
  });

  it("gives every class its first page even above the limit (p->slabs > 0 in do_slabs_newslab)", () => {
    const s = new MemcachedServer(new FakeProcess(), { memoryLimit: 1 * MiB, network: false });
    s.set(1, 64, 1024); // class 12: the first page, 1 MiB, at the limit
    s.set(2, 64, 100); // another class: its first page, above the limit
    expect(s.stats().totalMalloced).toBe(2 * MiB);
    for (let k = 10; k < 900; k++) s.set(k, 64, 1024); // class 12 is full: evict, no new page
    expect(s.stats().totalMalloced).toBe(2 * MiB);
    expect(s.statsSlabs().find((c) => c.chunkSize === 1184)).toMatchObject({ totalPages: 1, evicted: 6 });
  });

  it("keeps HOT at 20 % of a class's bytes and moves a twice-hit COLD item to WARM", () => {
    const s = new MemcachedServer(new FakeProcess(), { network: false });
    for (let k = 0; k < 10; k++) s.set(k, 64, 1024);
    expect(s.statsSlabs()[0]).toMatchObject({ items: 10, itemsHot: 2, itemsWarm: 0, itemsCold: 8, movesToCold: 8 });
    s.get(0, 64); // FETCHED
    expect(s.statsSlabs()[0]).toMatchObject({ itemsWarm: 0, itemsCold: 8 });
    s.get(0, 64); // ACTIVE in COLD: to WARM
    expect(s.statsSlabs()[0]).toMatchObject({ itemsWarm: 1, itemsCold: 7, movesToWarm: 1 });
  });

  it("issues the maintainer's accesses on the process in inline mode", () => {
    const bg = new FakeProcess();
    const inl = new FakeProcess();
    const a = new MemcachedServer(bg, { network: false });
    const b = new MemcachedServer(inl, { network: false, lruMaintainer: "inline" });
    for (let k = 0; k < 50; k++) {
      a.set(k, 64, 1024);
      b.set(k, 64, 1024);
    }
    expect(a.stats().maintainerAccesses).toBeGreaterThan(0);
    expect(b.stats().maintainerAccesses).toBe(0);
    expect(inl.accesses - bg.accesses).toBe(a.stats().maintainerAccesses);
    expect(a.statsSlabs()).toEqual(b.statsSlabs());
  });

  it("answers out of memory when the guest allocator has no page for a class's first slab", () => {
    const p = new FakeProcess();
    const s = new MemcachedServer(p, { network: false, memoryLimit: 0 });
    p.capacity = 512 * 1024 + MiB; // the hash table and one page
    expect(s.set(1, 64, 1024)).toBe("stored");
    expect(s.set(2, 64, 100)).toBe("out-of-memory");
    expect(s.stats()).toMatchObject({ outOfMemory: 1, currItems: 1 });
  });

  it("rejects bad options and requests with errors that name them", () => {
    const p = new FakeProcess();
    expect(() => new MemcachedServer(p, { memoryLimit: -1 })).toThrow(/memoryLimit/);
    expect(() => new MemcachedServer(p, { hashPower: 40 })).toThrow(/hashPower/);
    expect(() => new MemcachedServer(p, { hotLruPct: 120 })).toThrow(/hotLruPct/);
    const s = new MemcachedServer(p);
    expect(() => s.get(1, 0)).toThrow(/keyLen/);
    expect(() => s.set(1, 251, 10)).toThrow(/keyLen/);
    expect(() => s.set(1, 10, 600 * 1024)).toThrow(/chunked/);
  });

  it("fetches from a code region when the code model is on", () => {
    const p = new FakeProcess();
    const s = new MemcachedServer(p, { code: { fetchesPerRequest: 4 } });
    s.set(1, 64, 1024);
    s.get(1, 64);
    expect(p.fetches).toBe(8);
    expect(p.mallocs.some((m) => m.size === 256 * 1024)).toBe(true);
  });
});
