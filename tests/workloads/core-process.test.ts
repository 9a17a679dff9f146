// Which processes a model in the core takes, and how its region is laid out.
import { describe, expect, it } from "vitest";
import { RegionLayout, simulatorOf } from "../../src/workloads/core-process.js";
import { FakeProcess } from "./drivers-fake.js";
import { vmOf } from "./core-helpers.js";

describe("core-process", () => {
  it("lays parts out one after another, each at an 8-aligned offset", () => {
    const r = new RegionLayout();
    expect([r.take(12), r.take(4), r.take(0), r.take(8), r.take(1)]).toEqual([0, 16, 24, 24, 32]);
    expect(r.bytes).toBe(40);
  });

  it("a plain guest process has its simulator; a test double has none", async () => {
    const { sim, vm } = await vmOf("ucat");
    expect(simulatorOf(vm.process)).toBe(sim);
    expect(simulatorOf(new FakeProcess())).toBeNull();
    sim.close();
  });
});
