import { describe, expect, it } from "vitest";
import { benchFrames } from "../../src/bench/frames.js";

describe("npm run bench: host frames", () => {
  it("times both ways of drawing frames (a small run)", () => {
    const r = benchFrames(2, 1000);
    expect(r.frames).toBe(1000);
    expect(r.runs.alloc).toHaveLength(2);
    expect(r.runs.allocFrames).toHaveLength(2);
    for (const x of [r.allocNs, r.allocFramesNs]) expect(x).toBeGreaterThan(0);
  });
});
