/**
 * The TLBs' replacement clock renormalises near the end of 32 bits (each set's stamps
 * become their ranks). A core whose clock starts just below the threshold must agree
 * with a fresh one and with the reference model on every counter, batch after batch,
 * with the line cache (which keeps ranks) on walks and data.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { AccessKind, Request } from "../../src/core/types.js";
import { WasmCore } from "../../src/core/wasm.js";
import { implementations } from "./impls.js";
import { TestVm, skylakeConfig, runAll, GiB } from "./setup.js";

const NEAR_END = 0xF000_0000 - 3000;

describe("TLB clock renormalisation", () => {
  const [ref, ...wasms] = implementations;
  it.each(wasms.map((o) => [o.name, o] as const))("%s: changes no result", (_name, impl) => {
    fc.assert(
      fc.property(
        fc.constantFrom("lru" as const, "fifo" as const),
        fc.constantFrom(16, 4),
        fc.array(
          fc.array(fc.record({ page: fc.nat(300), offset: fc.nat(4095), kind: fc.constantFrom<AccessKind>(0, 1, 2), bytes: fc.constantFrom(8, 64, 700) }), {
            minLength: 50,
            maxLength: 300,
          }),
          { minLength: 4, maxLength: 12 },
        ),
        (replacement, ways, batches) => {
          const config = skylakeConfig({ replacement, lineCache: { entries: ways * 4, ways }, lineCacheData: true });
          const run = (core: ReturnType<typeof ref.create>) => {
            const vm = new TestVm(core, { tableFrames: 256 });
            for (let p = 0; p <= 300; p++) vm.map(1 * GiB + p * 4096, 0, { w: true, u: true });
            return batches.map((b) => {
              const reqs: Request[] = b.map((r) => ({ vcpu: 0, va: 1 * GiB + r.page * 4096 + r.offset, kind: r.kind, size: Math.min(r.bytes, 4096 - r.offset) }));
              return { events: runAll(core, reqs), counters: core.counters(0) };
            });
          };
          const aged = impl.create(config) as WasmCore;
          aged.advanceClock(NEAR_END);
          const expected = run(ref.create(config));
          expect(run(impl.create(config))).toEqual(expected);
          expect(run(aged)).toEqual(expected);
        },
      ),
      { numRuns: 15, endOnFailure: true },
    );
  });

  it("refuses a clock past the threshold", () => {
    const core = wasms[1].create(skylakeConfig()) as WasmCore;
    expect(() => core.advanceClock(0xF000_0001)).toThrow(/advanceClock: 4026531841 is not allowed/);
  });
});
