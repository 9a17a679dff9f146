import { describe, expect, it } from "vitest";
import { MeteredProcess } from "../../src/workloads/metered.js";
import { FakeProcess } from "./drivers-fake.js";

describe("MeteredProcess", () => {
  it("counts accesses, bytes, mallocs and frees, and hands out copies of its counts", () => {
    const p = new FakeProcess();
    const m = new MeteredProcess(p);
    const va = m.calloc(4096); // a malloc and one write of the block
    m.read(va, 64);
    const before = m.counts();
    expect(before).toEqual({ accesses: 2, accessBytes: 4096 + 64, mallocs: 1, frees: 0, mallocBytes: 4096 });
    m.write(va + 64, 8);
    m.free(va);
    expect(before.accesses).toBe(2); // a copy: later traffic does not change it
    expect(m.counts()).toEqual({ accesses: 3, accessBytes: 4096 + 64 + 8, mallocs: 1, frees: 1, mallocBytes: 4096 });
    expect([p.reads, p.writes]).toEqual([1, 2]);
  });
});
