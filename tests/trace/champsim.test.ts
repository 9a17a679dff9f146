// ChampSim binary traces: the record layout, the access order, records split across
// buffers, bad and truncated records, and files (plain, gzip, xz, the committed xz fixture,
// several xz traces read at once, and the errors the CLI shows).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHAMPSIM_FETCH,
  CHAMPSIM_READ,
  CHAMPSIM_WRITE,
  ChampSimParser,
  TraceError,
  champsimRequests,
  encodeChampSim,
  parseChampSim,
  readChampSim,
  readChampSimBytes,
  xzDecompress,
  type ChampSimChunk,
  type ChampSimRecord,
} from "../../src/workloads/trace/champsim.js";
import { Rng } from "../../src/util/rng.js";

interface Acc {
  kind: number;
  addr: number;
  size: number;
}

function flatten(chunks: Iterable<ChampSimChunk>): Acc[] {
  const out: Acc[] = [];
  for (const c of chunks) for (let i = 0; i < c.count; i++) out.push({ kind: c.kinds[i], addr: c.addrs[i], size: c.sizes[i] });
  return out;
}

async function collect(reader: AsyncIterable<ChampSimChunk>): Promise<{ chunks: ChampSimChunk[]; accesses: Acc[] }> {
  const chunks: ChampSimChunk[] = [];
  for await (const c of reader) chunks.push(c);
  return { chunks, accesses: flatten(chunks) };
}

/** The slow reference reading: BigInt fields straight from the struct's offsets. */
function reference(bytes: Uint8Array): Acc[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Acc[] = [];
  const addr = (x: bigint): number => {
    if (x >> 48n === 0n) return Number(x);
    if (x >> 47n === 0x1ffffn) return Number(x & ((1n << 48n) - 1n));
    throw new Error("bad");
  };
  for (let o = 0; o + 64 <= bytes.length; o += 64) {
    out.push({ kind: 0, addr: addr(v.getBigUint64(o, true)), size: 4 });
    for (let j = 0; j < 4; j++) {
      const x = v.getBigUint64(o + 32 + 8 * j, true);
      if (x !== 0n) out.push({ kind: 1, addr: addr(x), size: 8 });
    }
    for (let j = 0; j < 2; j++) {
      const x = v.getBigUint64(o + 16 + 8 * j, true);
      if (x !== 0n) out.push({ kind: 2, addr: addr(x), size: 8 });
    }
  }
  return out;
}

/** Random records with valid addresses (user, kernel-canonical, empty slots, duplicates). */
function randomRecords(n: number, seed: number): ChampSimRecord[] {
  const rng = new Rng(seed);
  const a = (): number | bigint => {
    const u = rng.float();
    if (u < 0.4) return 0;
    if (u < 0.8) return 0x7f0000000000 + rng.int(1 << 30) * 8;
    if (u < 0.95) return rng.int(2 ** 32) * 4096 + rng.int(4096);
    return 0xffff800000000000n + BigInt(rng.int(2 ** 40));
  };
  const recs: ChampSimRecord[] = [];
  for (let i = 0; i < n; i++) {
    const same = rng.float() < 0.1;
    const s0 = a();
    recs.push({
      ip: 0x400000 + rng.int(1 << 20),
      isBranch: rng.float() < 0.2,
      branchTaken: rng.float() < 0.1,
      sourceRegisters: [rng.int(64), rng.int(64)],
      sourceMemory: [s0, same ? s0 : a(), a(), a()],
      destinationMemory: [a(), a()],
    });
  }
  return recs;
}

describe("the record layout", () => {
  it("matches ChampSim's input_instr: ip, branch bytes, registers, 2 destination and 4 source u64s", () => {
    const bytes = encodeChampSim([
      {
        ip: 0x401234,
        isBranch: true,
        branchTaken: true,
        destinationRegisters: [26, 25],
        sourceRegisters: [6, 25, 26, 1],
        destinationMemory: [0x601000, 0x601008],
        sourceMemory: [0x7ffe0000, 0x7ffe0010, 0x7ffe0020, 0x7ffe0030],
      },
    ]);
    expect(bytes.length).toBe(64);
    const v = new DataView(bytes.buffer);
    expect(v.getBigUint64(0, true)).toBe(0x401234n);
    expect([bytes[8], bytes[9]]).toEqual([1, 1]);
    expect([...bytes.subarray(10, 12)]).toEqual([26, 25]);
    expect([...bytes.subarray(12, 16)]).toEqual([6, 25, 26, 1]);
    expect(v.getBigUint64(16, true)).toBe(0x601000n);
    expect(v.getBigUint64(24, true)).toBe(0x601008n);
    expect(v.getBigUint64(32, true)).toBe(0x7ffe0000n);
    expect(v.getBigUint64(56, true)).toBe(0x7ffe0030n);
  });

  it("gives a fetch of ip, then a read per non-zero source slot, then a write per non-zero destination slot", () => {
    const bytes = encodeChampSim([
      { ip: 0x401000, sourceMemory: [0, 0x7ffe0010, 0, 0x7ffe0010], destinationMemory: [0, 0x601040], isBranch: true },
      { ip: 0x401004 },
      { ip: 0x401008, destinationMemory: [0x601048], isBranch: true, branchTaken: true },
    ]);
    const { accesses, totals } = parseChampSim(bytes);
    expect(accesses).toEqual([
      { kind: CHAMPSIM_FETCH, addr: 0x401000, size: 4 },
      { kind: CHAMPSIM_READ, addr: 0x7ffe0010, size: 8 },
      { kind: CHAMPSIM_READ, addr: 0x7ffe0010, size: 8 }, // duplicates are kept, as ChampSim does
      { kind: CHAMPSIM_WRITE, addr: 0x601040, size: 8 },
      { kind: CHAMPSIM_FETCH, addr: 0x401004, size: 4 },
      { kind: CHAMPSIM_FETCH, addr: 0x401008, size: 4 },
      { kind: CHAMPSIM_WRITE, addr: 0x601048, size: 8 },
    ]);
    expect(totals).toEqual({
      records: 3,
      accesses: 7,
      byKind: [3, 2, 2],
      branches: 2,
      taken: 1,
      skipped: 0,
      bytes: 192,
    });
  });

  it("takes other fetch and data sizes", () => {
    const bytes = encodeChampSim([{ ip: 0x1000, sourceMemory: [0x2000] }]);
    expect(parseChampSim(bytes, { fetchSize: 1, dataSize: 64 }).accesses).toEqual([
      { kind: 0, addr: 0x1000, size: 1 },
      { kind: 1, addr: 0x2000, size: 64 },
    ]);
  });

  it("drops the sign extension of canonical kernel addresses and keeps 48-bit ones", () => {
    const bytes = encodeChampSim([
      { ip: 0xffffffff81000000n, sourceMemory: [0xffff888000001000n, 0xffffffffffffffffn, 0x7fffffffffffn] },
    ]);
    expect(parseChampSim(bytes).accesses.map((a) => a.addr)).toEqual([
      0xffff81000000, 0x888000001000, 0xffffffffffff, 0x7fffffffffff,
    ]);
  });

  it("turns chunks into core requests", () => {
    const p = new ChampSimParser();
    const chunks = [...p.push(encodeChampSim([{ ip: 0x1000, sourceMemory: [0x2000], destinationMemory: [0x3000] }])), ...p.end()];
    expect(champsimRequests(chunks[0], 2)).toEqual([
      { vcpu: 2, va: 0x1000, kind: 0, size: 4 },
      { vcpu: 2, va: 0x2000, kind: 1, size: 8 },
      { vcpu: 2, va: 0x3000, kind: 2, size: 8 },
    ]);
  });
});

describe("the push parser", () => {
  const recs = randomRecords(300, 7);
  const bytes = encodeChampSim(recs);
  const want = reference(bytes);

  it("agrees with the reference reading on random records", () => {
    expect(want.length).toBeGreaterThan(600);
    expect(parseChampSim(bytes).accesses).toEqual(want);
  });

  it("reads the same whatever the pieces the bytes come in (records split anywhere)", () => {
    for (const size of [1, 3, 7, 63, 64, 65, 100, 127, 128, 129, 1000]) {
      const p = new ChampSimParser({ chunkAccesses: 50 });
      const chunks: ChampSimChunk[] = [];
      for (let o = 0; o < bytes.length; o += size) chunks.push(...p.push(bytes.subarray(o, o + size)));
      chunks.push(...p.end());
      expect(flatten(chunks), `pieces of ${size}`).toEqual(want);
      expect(p.totals.records).toBe(300);
    }
  });

  it("reads from an unaligned buffer", () => {
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(parseChampSim(shifted.subarray(3)).accesses).toEqual(want);
  });

  it("keeps records whole in chunks of at most chunkAccesses", () => {
    const p = new ChampSimParser({ chunkAccesses: 7 });
    const chunks = [...p.push(bytes), ...p.end()];
    expect(chunks.every((c) => c.count <= 7 && c.records >= 1)).toBe(true);
    expect(chunks.reduce((s, c) => s + c.records, 0)).toBe(300);
    // a chunk starts with a fetch: records are not split
    expect(chunks.every((c) => c.kinds[0] === CHAMPSIM_FETCH)).toBe(true);
    expect(flatten(chunks)).toEqual(want);
    expect(() => new ChampSimParser({ chunkAccesses: 6 })).toThrow(/chunkAccesses: 6 is not an integer in 7\.\./);
  });

  it("stops after maxRecords and ignores the rest, even a truncated tail", () => {
    const p = new ChampSimParser({ maxRecords: 10 });
    const chunks = [...p.push(bytes.subarray(0, 64 * 10 + 5)), ...p.push(bytes.subarray(64 * 10 + 5, 64 * 20 + 3)), ...p.end()];
    expect(p.done).toBe(true);
    expect(p.totals.records).toBe(10);
    expect(flatten(chunks)).toEqual(reference(bytes.subarray(0, 640)));
  });

  it("names the record index of a truncated final record", () => {
    const cut = bytes.subarray(0, 64 * 3 + 40);
    const p = new ChampSimParser({ source: "t.trace" });
    p.push(cut.subarray(0, 100));
    p.push(cut.subarray(100));
    expect(() => p.end()).toThrow(TraceError);
    expect(() => parseChampSim(cut, { source: "t.trace" })).toThrow(
      "t.trace: truncated record 3 at byte 192: the input ends after 40 of its 64 bytes (a ChampSim trace is a sequence of 64-byte input_instr records)",
    );
  });

  it("names the record, field and value of an address that is not 48-bit, or skips it", () => {
    const recs2: ChampSimRecord[] = [
      { ip: 0x1000 },
      { ip: 0x1004, sourceMemory: [0x2000] },
      { ip: 0x1008, sourceMemory: [0x2000], destinationMemory: [0, 0x0001000000000000n] },
      { ip: 0x100c },
    ];
    const b = encodeChampSim(recs2);
    expect(() => parseChampSim(b, { source: "t.trace" })).toThrow(
      "t.trace: bad record 2 at byte 128: destination_memory[1] 0x0001000000000000 does not fit 48 bits (nor is it a sign-extended 48-bit address)",
    );
    const bad = encodeChampSim([{ ip: 0xffff7fffffffffffn }]);
    expect(() => parseChampSim(bad)).toThrow(/record 0 at byte 0: ip 0xffff7fffffffffff/);
    const { accesses, totals } = parseChampSim(b, { skipBadRecords: true });
    expect(accesses.map((a) => a.addr)).toEqual([0x1000, 0x1004, 0x2000, 0x100c]);
    expect(totals.skipped).toBe(1);
    expect(totals.records).toBe(3);
  });

  it("reads any iterable of bytes", async () => {
    const pieces = [bytes.subarray(0, 1000), bytes.subarray(1000, 5000), bytes.subarray(5000)];
    const reader = readChampSimBytes(pieces, { source: "mem" });
    const { accesses } = await collect(reader);
    expect(accesses).toEqual(want);
    expect(reader.totals.records).toBe(300);
    expect(reader.compression).toBe("none");
  });
});

// ----- files ------------------------------------------------------------------------

const FIXTURE = join(import.meta.dirname, "..", "fixtures", "champsim", "tiny.champsim.xz");

/** The records the committed fixture holds (it was made from this formula, with `xz -9`). */
function fixtureBytes(): Uint8Array {
  const recs: ChampSimRecord[] = [];
  for (let i = 0; i < 100; i++) {
    const src: (number | bigint)[] = [];
    if (i % 3 === 0) src.push(0x7ffd00000000 + 8 * i);
    if (i % 5 === 0) src.push(0x601000 + 64 * i);
    if (i === 50) src.push(0xffff888000001000n);
    recs.push({
      ip: 0x400000 + 4 * i,
      isBranch: i % 7 === 0,
      branchTaken: i % 14 === 0,
      destinationRegisters: i % 4 === 1 ? [3] : [],
      sourceRegisters: [6, i % 3 === 0 ? 7 : 0],
      sourceMemory: src,
      destinationMemory: i % 4 === 1 ? [0x602000 + 8 * i] : [],
    });
  }
  return encodeChampSim(recs);
}

const hasXz = ((): boolean => {
  try {
    execFileSync("xz", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

let dir = "";
const tmp = (name: string): string => join(dir, name);
const big = encodeChampSim(randomRecords(20_000, 11)); // 1.28 MB

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "unimmu-champsim-"));
  writeFileSync(tmp("big.champsim"), big);
  writeFileSync(tmp("big.champsim.gz"), gzipSync(big));
  writeFileSync(tmp("twice.gz"), Buffer.concat([gzipSync(big), gzipSync(big)]));
  writeFileSync(tmp("plain.gz"), big);
  writeFileSync(tmp("plain.xz"), big);
  writeFileSync(tmp("empty.champsim"), "");
  writeFileSync(tmp("cut.champsim"), big.subarray(0, 64 * 1234 + 17));
  writeFileSync(tmp("t.bz2"), Buffer.from("BZh91AY&SY..."));
  const xz = readFileSync(FIXTURE);
  writeFileSync(tmp("truncated.xz"), xz.subarray(0, xz.length - 30));
  const corrupt = Buffer.from(xz);
  for (let i = 40; i < 120; i++) corrupt[i] ^= 0x5a;
  writeFileSync(tmp("corrupt.xz"), corrupt);
  if (hasXz) {
    writeFileSync(tmp("big.champsim.xz"), execFileSync("xz", ["-6", "-c"], { input: big }));
    writeFileSync(tmp("big-crc32.xz"), execFileSync("xz", ["-1", "--check=crc32", "-c"], { input: big }));
    // two xz streams, as `cat a.xz b.xz` makes
    writeFileSync(
      tmp("twice.xz"),
      Buffer.concat([execFileSync("xz", ["-c"], { input: big }), execFileSync("xz", ["-c"], { input: big })]),
    );
  }
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function thrown(p: Promise<unknown>): Promise<TraceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    expect((e as Error).message).not.toContain("\n");
    return e as TraceError;
  }
  throw new Error("expected a TraceError");
}

describe("trace files", () => {
  const bigWant = reference(big);

  it("reads the committed xz fixture (made by xz -9)", async () => {
    const reader = readChampSim(FIXTURE);
    const { accesses } = await collect(reader);
    expect(reader.compression).toBe("xz");
    const bytes = fixtureBytes();
    expect(accesses).toEqual(reference(bytes));
    expect(accesses[0]).toEqual({ kind: CHAMPSIM_FETCH, addr: 0x400000, size: 4 });
    expect(accesses).toContainEqual({ kind: CHAMPSIM_READ, addr: 0x888000001000, size: 8 });
    expect(reader.totals).toEqual({
      records: 100,
      accesses: 100 + 34 + 20 + 1 + 25,
      byKind: [100, 34 + 20 + 1, 25],
      branches: 15,
      taken: 8,
      skipped: 0,
      bytes: 6400,
    });
  });

  it("reads plain and gzip files, and gzip whatever the name, with tiny buffers too", async () => {
    for (const [name, bufferSize] of [
      ["big.champsim", 65536],
      ["big.champsim", 333],
      ["big.champsim.gz", 65536],
      ["big.champsim.gz", 100],
    ] as const) {
      const reader = readChampSim(tmp(name), { bufferSize });
      const { accesses } = await collect(reader);
      expect(accesses, name).toEqual(bigWant);
      expect(reader.compression).toBe(name.endsWith(".gz") ? "gzip" : "none");
    }
    const twice = await collect(readChampSim(tmp("twice.gz")));
    expect(twice.accesses).toEqual([...bigWant, ...bigWant]);
  });

  it.skipIf(!hasXz)("reads xz files the xz tool made: CRC64, CRC32, and concatenated streams", async () => {
    for (const name of ["big.champsim.xz", "big-crc32.xz"]) {
      const reader = readChampSim(tmp(name));
      expect((await collect(reader)).accesses, name).toEqual(bigWant);
      expect(reader.compression).toBe("xz");
    }
    const twice = await collect(readChampSim(tmp("twice.xz")));
    expect(twice.accesses).toEqual([...bigWant, ...bigWant]);
  });

  it.skipIf(!hasXz)("reads several xz traces at once, interleaved (one decoder each)", async () => {
    const a = readChampSim(tmp("big.champsim.xz"), { chunkAccesses: 1000 })[Symbol.asyncIterator]();
    const b = readChampSim(FIXTURE, { chunkAccesses: 7 })[Symbol.asyncIterator]();
    const c = readChampSim(tmp("big-crc32.xz"), { chunkAccesses: 5000 })[Symbol.asyncIterator]();
    const got: ChampSimChunk[][] = [[], [], []];
    const live = [a, b, c];
    let open = 3;
    while (open > 0) {
      for (let k = 0; k < 3; k++) {
        if (!live[k]) continue;
        const r = await live[k].next();
        if (r.done) {
          open--;
          (live as unknown[])[k] = undefined;
        } else got[k].push(r.value);
      }
    }
    expect(flatten(got[0])).toEqual(bigWant);
    expect(flatten(got[1])).toEqual(reference(fixtureBytes()));
    expect(flatten(got[2])).toEqual(bigWant);
  });

  it("stops reading at maxRecords (an xz file is not decoded to its end)", async () => {
    const reader = readChampSim(FIXTURE, { maxRecords: 5 });
    const { accesses } = await collect(reader);
    expect(reader.totals.records).toBe(5);
    expect(accesses).toEqual(reference(fixtureBytes().subarray(0, 320)));
    // another reader still works afterwards
    expect((await collect(readChampSim(FIXTURE))).accesses.length).toBe(180);
  });

  it("an early break closes the source", async () => {
    for await (const c of readChampSim(FIXTURE, { chunkAccesses: 7 })) {
      expect(c.count).toBeGreaterThan(0);
      break;
    }
    expect((await collect(readChampSim(FIXTURE))).accesses.length).toBe(180);
  });

  it("decompresses xz bytes from any iterable", async () => {
    const xz = readFileSync(FIXTURE);
    const pieces: Uint8Array[] = [];
    for (let o = 0; o < xz.length; o += 13) pieces.push(xz.subarray(o, o + 13));
    const out: Uint8Array[] = [];
    for await (const piece of xzDecompress(pieces)) out.push(piece);
    expect(Buffer.concat(out)).toEqual(Buffer.from(fixtureBytes()));
  });

  it("reads an empty file as no records", async () => {
    const reader = readChampSim(tmp("empty.champsim"));
    expect((await collect(reader)).accesses).toEqual([]);
    expect(reader.totals.records).toBe(0);
  });

  it("gives one-line errors", async () => {
    const missing = await thrown(collect(readChampSim(tmp("nope.champsim.xz"))));
    expect(missing.message).toBe(`cannot read ${tmp("nope.champsim.xz")}: no such file`);
    expect(missing.file).toBe(tmp("nope.champsim.xz"));

    const cut = await thrown(collect(readChampSim(tmp("cut.champsim"))));
    expect(cut.message).toMatch(/cut\.champsim: truncated record 1234 at byte 78976: the input ends after 17 of its 64 bytes/);

    expect((await thrown(collect(readChampSim(tmp("plain.gz"))))).message).toMatch(
      /plain\.gz: the name ends in \.gz but the file is not gzip/,
    );
    expect((await thrown(collect(readChampSim(tmp("plain.xz"))))).message).toMatch(
      /plain\.xz: the name ends in \.xz but the file is not xz \(it does not start with fd 37 7a 58 5a 00\)/,
    );
    expect((await thrown(collect(readChampSim(tmp("t.bz2"))))).message).toMatch(
      /t\.bz2: bzip2-compressed traces are not supported/,
    );
    expect((await thrown(collect(readChampSim(tmp("truncated.xz"))))).message).toBe(
      `${tmp("truncated.xz")}: truncated xz data (the input ends inside an xz stream)`,
    );
    expect((await thrown(collect(readChampSim(tmp("corrupt.xz"))))).message).toMatch(
      /corrupt\.xz: (corrupt xz data|unsupported)/,
    );
    const dirErr = await thrown(collect(readChampSim(dir)));
    expect(dirErr.message).toMatch(/cannot read .*: is a directory/);
  });
});
