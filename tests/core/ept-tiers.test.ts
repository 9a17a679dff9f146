// The tier of each page behind a run of gPAs (eptTierIndices, for per-page statistics)
// against one page at a time (eptTierIndex), over EPTs mixing 2 MiB leaves, 4 KiB
// leaves of both tiers, host addresses in no tier and holes.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { EptAttrs } from "../../src/core/types.js";
import type { WasmCore } from "../../src/core/wasm.js";
import { implementations } from "./impls.js";
import { MiB, NVM_BASE, PAGE_2M, PAGE_4K, RAM_GPA, RWX, TestVm, plainConfig } from "./setup.js";

const REGIONS = 6;
const XO: EptAttrs = { r: false, w: false, x: true, memType: 6 };
/** Host bases: tier 0, tier 1, and past both tiers (index -2). */
const HOST = [2 ** 40, NVM_BASE + 2 ** 40, 2 ** 45 + 2 ** 40];

type Region = { kind: "none" } | { kind: "2m"; host: number } | { kind: "4k"; pages: { index: number; host: number; xo: boolean }[] };

const region: fc.Arbitrary<Region> = fc.oneof(
  fc.constant({ kind: "none" as const }),
  fc.record({ kind: fc.constant("2m" as const), host: fc.integer({ min: 0, max: 2 }) }),
  fc.record({
    kind: fc.constant("4k" as const),
    pages: fc.uniqueArray(fc.record({ index: fc.integer({ min: 0, max: 511 }), host: fc.integer({ min: 0, max: 2 }), xo: fc.boolean() }), {
      maxLength: 40,
      selector: (p) => p.index,
    }),
  }),
);

describe.each(implementations.filter((i) => i.name.startsWith("wasm")))("$name: tiers of a run of pages", ({ create }) => {
  it("equal each page's own tier index, across 2 MiB regions, leaf sizes and holes", () => {
    fc.assert(
      fc.property(fc.array(region, { minLength: REGIONS, maxLength: REGIONS }), fc.integer({ min: 0, max: 512 * (REGIONS + 1) }), fc.integer({ min: 1, max: 4096 }), (regions, from, n) => {
        const vm = new TestVm(create(plainConfig()), { eptFrames: 64 });
        const core = vm.core as WasmCore;
        regions.forEach((r, k) => {
          const base = RAM_GPA + k * 2 * MiB;
          if (r.kind === "2m") expect(core.eptMap(vm.vm, base, HOST[r.host]! + k * 2 * MiB, PAGE_2M, RWX)).toBe("ok");
          if (r.kind === "4k") for (const p of r.pages) expect(core.eptMap(vm.vm, base + p.index * 4096, HOST[p.host]! + k * 2 * MiB + p.index * 4096, PAGE_4K, p.xo ? XO : RWX)).toBe("ok");
        });
        const start = RAM_GPA - 2 * MiB + from * 4096;
        const out = new Int32Array(n);
        core.eptTierIndices(vm.vm, start, n, out);
        const one = Array.from({ length: n }, (_, i) => core.eptTierIndex(vm.vm, start + i * 4096));
        expect(Array.from(out)).toEqual(one);
      }),
      { numRuns: 60 },
    );
  });

  it("a hand-made case: a 2 MiB leaf, then 4 KiB leaves of either tier, one past every tier, a hole", () => {
    const vm = new TestVm(create(plainConfig()), { eptFrames: 64 });
    const core = vm.core as WasmCore;
    expect(core.eptMap(vm.vm, RAM_GPA, HOST[1]!, PAGE_2M, RWX)).toBe("ok");
    const b = RAM_GPA + 2 * MiB;
    expect(core.eptMap(vm.vm, b, HOST[0]!, PAGE_4K, RWX)).toBe("ok");
    expect(core.eptMap(vm.vm, b + 4096, HOST[1]!, PAGE_4K, XO)).toBe("ok");
    expect(core.eptMap(vm.vm, b + 3 * 4096, HOST[2]!, PAGE_4K, RWX)).toBe("ok");
    const out = new Int32Array(5);
    core.eptTierIndices(vm.vm, b - 4096, 5, out);
    expect(Array.from(out)).toEqual([1, 0, 1, -1, -2]);
  });
});
