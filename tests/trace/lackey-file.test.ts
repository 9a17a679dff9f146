// Lackey trace files: the committed real trace (tests/fixtures/small.lackey), plain and
// gzip, tiny read buffers, and the file errors the CLI shows.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LACKEY_FETCH,
  LACKEY_LOAD,
  LACKEY_MODIFY,
  LACKEY_STORE,
  TraceError,
  readLackey,
  readLackeyBytes,
} from "../../src/workloads/trace/lackey.js";
import { collect, parsePieces, refParse } from "./helpers.js";

const FIXTURE = join(import.meta.dirname, "..", "fixtures", "small.lackey");
const text = readFileSync(FIXTURE, "utf8");

let dir = "";
const tmp = (name: string): string => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "unimmu-lackey-"));
  writeFileSync(tmp("small.lackey.gz"), gzipSync(text));
  writeFileSync(tmp("small.bin"), gzipSync(text)); // gzip, whatever the name
  // two gzip members, as `cat a.gz b.gz` makes
  writeFileSync(tmp("twice.gz"), Buffer.concat([gzipSync(text), gzipSync(text)]));
  writeFileSync(tmp("plain.gz"), text);
  writeFileSync(tmp("empty.lackey"), "");
  writeFileSync(tmp("empty.gz"), "");
  const gz = gzipSync(text);
  writeFileSync(tmp("truncated.gz"), gz.subarray(0, gz.length >> 1));
  const corrupt = Buffer.from(gz);
  for (let i = 20; i < 200; i++) corrupt[i] ^= 0x5a;
  writeFileSync(tmp("corrupt.gz"), corrupt);
  writeFileSync(tmp("bad.lackey"), text.replace("I  00401189,5\n", "I  00401189,5x\n"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function thrown(p: Promise<unknown>): Promise<TraceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }
  throw new Error("expected a TraceError");
}

describe("the committed real trace", () => {
  it("has the header, I, L, S and M records, and the counts grep gives", async () => {
    const reader = readLackey(FIXTURE);
    const { records } = await collect(reader);
    expect(text.startsWith("==")).toBe(true);
    expect(reader.totals).toEqual({
      lines: 3025,
      records: 3000,
      byKind: [2223, 491, 252, 34],
      requests: 3034,
      ignored: 25, // 6 header + 19 footer `==pid==` lines
      skipped: 0,
    });
    expect(records).toEqual(refParse(text).records);
    expect(text.split("\n")[6]).toBe("I  040099c9,3"); // line 7, the first record
    expect(records[0]).toEqual({ kind: LACKEY_FETCH, addr: 0x40099c9, size: 3 });
  });

  it("has records that cross a 4 KiB page boundary", async () => {
    const { records } = await collect(readLackey(FIXTURE));
    const crossing = records.filter((r) => (r.addr % 4096) + r.size > 4096);
    expect(crossing).toEqual([
      { kind: LACKEY_FETCH, addr: 0x4008fff, size: 3 },
      { kind: LACKEY_LOAD, addr: 0x406ffc, size: 8 },
      { kind: LACKEY_STORE, addr: 0x406ffc, size: 8 },
      { kind: LACKEY_MODIFY, addr: 0x406ffc, size: 8 },
    ]);
  });
});

describe("plain and gzip", () => {
  it("gzip and plain give the same records and totals", async () => {
    const plain = readLackey(FIXTURE);
    const a = await collect(plain);
    for (const name of ["small.lackey.gz", "small.bin"]) {
      const gz = readLackey(tmp(name));
      const b = await collect(gz);
      expect(b.records).toEqual(a.records);
      expect(gz.totals).toEqual(plain.totals);
    }
  });

  it("reads every member of a multi-member gzip file", async () => {
    const reader = readLackey(tmp("twice.gz"));
    const { records } = await collect(reader);
    expect(records.length).toBe(6000);
    expect(reader.totals.lines).toBe(6050);
  });

  for (const bufferSize of [1, 2, 3, 7, 29, 4096]) {
    it(`read buffers of ${bufferSize} bytes give the same records (plain and gzip)`, async () => {
      const want = parsePieces(Buffer.from(text), []).records;
      const plain = readLackey(FIXTURE, { bufferSize, chunkRecords: 100 });
      const a = await collect(plain);
      expect(a.records).toEqual(want);
      expect(a.chunks.length).toBe(30);
      const gz = readLackey(tmp("small.lackey.gz"), { bufferSize });
      expect((await collect(gz)).records).toEqual(want);
      expect(gz.totals).toEqual(plain.totals);
    });
  }

  it("an empty file has no records", async () => {
    const reader = readLackey(tmp("empty.lackey"));
    expect((await collect(reader)).chunks).toEqual([]);
    expect(reader.totals.lines).toBe(0);
  });

  it("stopping early is fine", async () => {
    const reader = readLackey(tmp("small.lackey.gz"), { chunkRecords: 10 });
    for await (const chunk of reader) {
      expect(chunk.count).toBe(10);
      break;
    }
    expect(reader.totals.records).toBeGreaterThanOrEqual(10);
  });

  it("readLackeyBytes reads any iterable of byte pieces", async () => {
    const bytes = Buffer.from(text);
    const pieces = [bytes.subarray(0, 1000), bytes.subarray(1000, 1001), bytes.subarray(1001)];
    const reader = readLackeyBytes(pieces);
    expect((await collect(reader)).records).toEqual(refParse(text).records);
    expect(reader.totals.lines).toBe(3025);
  });
});

describe("file errors", () => {
  it("a missing file", async () => {
    const file = tmp("nope.lackey");
    const err = await thrown(collect(readLackey(file)));
    expect(err.message).toBe(`cannot read ${file}: no such file`);
    expect(err.file).toBe(file);
  });

  it("a directory", async () => {
    const err = await thrown(collect(readLackey(dir)));
    expect(err.message).toBe(`cannot read ${dir}: is a directory`);
  });

  it("a .gz file that is not gzip", async () => {
    for (const name of ["plain.gz", "empty.gz"]) {
      const err = await thrown(collect(readLackey(tmp(name))));
      expect(err.message).toBe(
        `${tmp(name)}: the name ends in .gz but the file is not gzip (it does not start with the gzip magic bytes 1f 8b)`,
      );
    }
  });

  it("corrupt and truncated gzip data", async () => {
    for (const name of ["corrupt.gz", "truncated.gz"]) {
      const err = await thrown(collect(readLackey(tmp(name))));
      expect(err.message).toMatch(new RegExp(`^${tmp(name).replace(/[.\\/]/g, "\\$&")}: corrupt gzip data \\(.+\\)$`));
      expect(err.message).not.toContain("\n");
    }
  });

  it("a malformed line names the file and the line", async () => {
    const line = text.split("\n").indexOf("I  00401189,5") + 1;
    expect(line).toBe(1032);
    for (const bufferSize of [3, 65536]) {
      const err = await thrown(collect(readLackey(tmp("bad.lackey"), { bufferSize })));
      expect(err.line).toBe(line);
      expect(err.message).toBe(`${tmp("bad.lackey")}:${line}: malformed lackey record (text after the size): "I  00401189,5x"`);
    }
    const reader = readLackey(tmp("bad.lackey"), { skipBadLines: true });
    expect((await collect(reader)).records.length).toBe(2999);
    expect(reader.totals).toMatchObject({ lines: 3025, records: 2999, skipped: 1, ignored: 25 });
  });

  it("a reader is iterated once", async () => {
    const reader = readLackey(FIXTURE);
    await collect(reader);
    await expect(collect(reader)).rejects.toThrow("can be iterated only once");
  });

  it("bufferSize is checked", () => {
    expect(() => readLackey(FIXTURE, { bufferSize: 0 })).toThrow(RangeError);
  });
});
