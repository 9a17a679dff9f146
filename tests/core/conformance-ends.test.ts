/**
 * Differential test of the conformance model at the ends of the address space: the Wasm
 * core's inline runs tell pages apart by 32-bit tags (assembly/tlb.ts), and at 4 KiB
 * pages the tag of the top 64 KiB is the one that marks an invalid way, so those pages
 * must take the generic path, L1 hits included. Streams mix them with pages at the
 * bottom, pages whose tags are next to it, and hot pages, at the Skylake geometry.
 */
import { describe, it } from "vitest";
import fc from "fast-check";
import type { AccessKind, Request } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { conformanceConfig, expectSameConformanceCounters } from "./setup.js";

const RUNS = Math.ceil(Number(process.env.UNIMMU_DIFF_RUNS ?? 150) / 5);
const TOP = 2 ** 48;

describe("differential at the ends of the address space: conformance model", () => {
  const [ref, ...others] = implementations;
  it.each(others.map((o) => [o.name, o] as const))("%s", (_name, impl) => {
    fc.assert(
      fc.property(
        fc.constantFrom("4k" as const, "2m" as const),
        fc.array(
          fc.record({
            where: fc.constantFrom("top", "top", "bottom", "near", "hot", "hot"),
            page: fc.nat(40),
            offset: fc.nat(4095),
            kind: fc.constantFrom<AccessKind>(0, 1, 1, 2),
            bytes: fc.constantFrom(1, 8, 8, 64, 4096),
          }),
          { minLength: 100, maxLength: 2000, size: "max" },
        ),
        (policy, rs) => {
          const config = conformanceConfig(policy);
          const unit = policy === "4k" ? 4096 : 2 * 1024 * 1024;
          const reqs: Request[] = rs.map((r) => {
            // "near": pages whose tag (vpn >> 4 at 4 KiB) is just below the top's
            const base = r.where === "top" ? TOP - 41 * unit : r.where === "bottom" ? 0 : r.where === "near" ? TOP - 16 * 65536 : 0x40_0000_0000;
            const va = Math.min(base + r.page * unit + r.offset, TOP - r.bytes);
            return { vcpu: 0, va, kind: r.kind, size: r.bytes };
          });
          expectSameConformanceCounters(ref.create, impl.create, config, reqs);
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});
