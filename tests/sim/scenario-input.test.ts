/**
 * Scenario input through parseScenario and runScenario: any name but "" and "__proto__"
 * works for a workload, a configuration or a tier (also one that every object inherits,
 * such as "toString"), and every bad value gets one line naming the path, the value and
 * what is allowed (for a union, each alternative; for a number, its range), nothing else.
 */
import { describe, expect, it } from "vitest";
import { parseScenario, runScenario, ScenarioError } from "../../src/sim/scenario.js";

const KV = { type: "kv", options: { items: 10, reads: 10 } };
const OSV = { policy: "osv", nodes: [{ tier: "dram", bytes: "64MiB" }] };
const INHERITED = ["toString", "constructor", "hasOwnProperty"];

function scenario(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { tiers: [{ name: "dram", preset: "dram", capacity: "8GiB" }], configs: { osv: OSV }, workloads: { k: KV }, ...over };
}

/** A scenario from JSON text with `field: text` put in: JSON.parse makes "__proto__" an own key, and 1e400 Infinity, as a file's would. */
function fromJson(fields: Record<string, string>): unknown {
  const base = JSON.stringify(scenario()).slice(1, -1);
  const extra = Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${v}`);
  return JSON.parse(`{${[base, ...extra].join(",")}}`);
}

/** The lines of the ScenarioError that parsing `input` throws. */
function problems(input: unknown): readonly string[] {
  try {
    parseScenario(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).issues;
  }
  throw new Error("expected a ScenarioError");
}

/** A run's figures without the names it ran under. */
function figures(r: object): object {
  return Object.fromEntries(Object.entries(r).filter(([k]) => k !== "workload" && k !== "config"));
}

describe("names that objects inherit", () => {
  it("work as workload and configuration names: every pair has its own results", async () => {
    const s = parseScenario(
      scenario({
        configs: Object.fromEntries(INHERITED.map((n) => [n, OSV])),
        workloads: Object.fromEntries(["k", ...INHERITED].map((n) => [n, KV])),
      }),
    );
    const r = await runScenario(s, { threads: 2 });
    expect(Object.keys(r.results)).toEqual(["k", ...INHERITED]);
    const plain = (await runScenario(parseScenario(scenario()), { threads: 1 })).results.k!.osv!;
    for (const w of Object.keys(r.results)) {
      expect(Object.keys(r.results[w]!)).toEqual(INHERITED);
      for (const c of INHERITED) {
        expect(Object.hasOwn(r.results[w]!, c)).toBe(true);
        expect(r.results[w]![c]).toMatchObject({ workload: w, config: c });
        expect(figures(r.results[w]![c]!)).toEqual(figures(plain));
      }
    }
    expect(JSON.parse(JSON.stringify(r)).results.toString.constructor.workload).toBe("toString");
  });

  it("a scenario whose only workload is toString has its results", async () => {
    const r = await runScenario(parseScenario(scenario({ workloads: { toString: KV } })), { threads: 1 });
    const name: string = "toString"; // (typed as a string: TypeScript would find Object's method)
    expect(Object.keys(r.results)).toEqual([name]);
    expect(Object.keys(r.results[name]!)).toEqual(["osv"]);
    expect(r.results[name]!.osv!.throughputOpsPerSecond).toBeGreaterThan(0);
  });

  it("work as tier names: memory and references are counted by them", async () => {
    const two = (a: string, b: string) =>
      scenario({
        tiers: [{ name: a, preset: "dram", capacity: "8GiB" }, { name: b, preset: "optane", capacity: "8GiB" }],
        configs: { u: { policy: "ucat", nodes: [{ tier: a, bytes: "64MiB" }, { tier: b, bytes: "64MiB" }] } },
      });
    const odd = (await runScenario(parseScenario(two("toString", "constructor")), { threads: 1 })).results.k!.u!;
    const plain = (await runScenario(parseScenario(two("dram", "nvm")), { threads: 1 })).results.k!.u!;
    expect(Object.keys(odd.memoryBytesByTier)).toEqual(["toString", "constructor"]);
    expect(Object.values(odd.memoryBytesByTier)).toEqual(Object.values(plain.memoryBytesByTier));
    expect(Object.values(odd.walkRefsByTier)).toEqual(Object.values(plain.walkRefsByTier));
    expect(odd.cycles).toEqual(plain.cycles);
  });
});

describe("names that cannot be", () => {
  const RESERVED = 'key "__proto__" is not allowed; expected a name other than "__proto__", which JavaScript objects reserve';

  it.each([
    ["configs", { configs: '{"__proto__":' + JSON.stringify(OSV) + ',"osv":' + JSON.stringify(OSV) + "}" }],
    ["configs", { configs: '{"__proto__":' + JSON.stringify(OSV) + "}" }],
    ["workloads", { workloads: '{"k":' + JSON.stringify(KV) + ',"__proto__":' + JSON.stringify(KV) + "}" }],
    ["workloads", { workloads: '{"__proto__":' + JSON.stringify(KV) + "}" }],
    ["cpu", { cpu: '{"base":"skylake","__proto__":{"frequencyHz":1}}' }],
  ])("__proto__ as a key of %s is refused by name, not dropped (%#)", (path, fields) => {
    expect(problems(fromJson(fields))).toEqual([`${path}: ${RESERVED}`]);
  });

  it("__proto__ as a tier name is refused by name", () => {
    expect(problems(scenario({ tiers: [{ name: "__proto__", preset: "dram", capacity: "8GiB" }] }))[0]).toBe(
      'tiers.0.name: "__proto__" is not allowed; expected a name other than "__proto__", which JavaScript objects reserve',
    );
  });

  it("an empty name is refused with the key named", () => {
    expect(problems(scenario({ configs: { "": OSV } }))).toEqual(['configs: key "" is not allowed; expected a non-empty name']);
    expect(problems(scenario({ workloads: { k: KV, "": KV } }))).toEqual(['workloads: key "" is not allowed; expected a non-empty name']);
    expect(problems(scenario({ tiers: [{ name: "", preset: "dram", capacity: "8GiB" }] }))[0]).toBe('tiers.0.name: "" is not allowed; expected a non-empty name');
  });
});

describe("what is allowed, said for every alternative of a union", () => {
  const CPU = 'expected a preset name ("skylake", "icelake", "goldencove", "zen4") or an object of overrides with an optional base';
  const TIER = 'expected a preset name ("dram", "optane", "cxl") or an object of overrides with an optional base';
  const SIZE = 'expected an integer number of bytes >= 0, or a string such as "4GiB" (units B, KiB, MiB, GiB, TiB)';
  const tier = (over: object) => ({ tiers: [{ name: "dram", preset: "dram", capacity: "8GiB", ...over }] });
  const config = (over: object) => ({ configs: { osv: { ...OSV, ...over } } });

  it.each([
    [{ cpu: "Skylake" }, `cpu: "Skylake" is not allowed; ${CPU}`],
    [{ cpu: "foo" }, `cpu: "foo" is not allowed; ${CPU}`],
    [{ cpu: 5 }, `cpu: 5 is not allowed; ${CPU}`],
    [{ cpu: null }, `cpu: null is not allowed; ${CPU}`],
    [{ cpu: [] }, `cpu: [] is not allowed; ${CPU}`],
    [tier({ preset: "foo" }), `tiers.0.preset: "foo" is not allowed; ${TIER}`],
    [tier({ preset: 5 }), `tiers.0.preset: 5 is not allowed; ${TIER}`],
    [tier({ preset: null }), `tiers.0.preset: null is not allowed; ${TIER}`],
    [tier({ preset: [] }), `tiers.0.preset: [] is not allowed; ${TIER}`],
    [tier({ capacity: 1.5 }), `tiers.0.capacity: 1.5 is not allowed; ${SIZE}`],
    [tier({ capacity: "8gib" }), `tiers.0.capacity: "8gib" is not allowed; ${SIZE}`],
    [tier({ capacity: "" }), `tiers.0.capacity: "" is not allowed; ${SIZE}`],
    [tier({ capacity: null }), `tiers.0.capacity: null is not allowed; ${SIZE}`],
    [tier({ capacity: "1e3GiB" }), `tiers.0.capacity: "1e3GiB" is not allowed; ${SIZE}`],
    [tier({ capacity: -1 }), `tiers.0.capacity: -1 is not allowed; ${SIZE}`],
    [config({ linearPage: 0 }), "configs.osv.linearPage: 0 is not allowed; expected 1 or 2"],
    [config({ linearPage: 3 }), "configs.osv.linearPage: 3 is not allowed; expected 1 or 2"],
    [config({ linearPage: "1" }), 'configs.osv.linearPage: "1" is not allowed; expected 1 or 2'],
    [config({ linearPage: 1.5 }), "configs.osv.linearPage: 1.5 is not allowed; expected 1 or 2"],
    [config({ hypervisor: { maxEptPage: 3 } }), "configs.osv.hypervisor.maxEptPage: 3 is not allowed; expected 0, 1 or 2"],
    [config({ hypervisor: { maxEptPage: 1.5 } }), "configs.osv.hypervisor.maxEptPage: 1.5 is not allowed; expected 0, 1 or 2"],
    [config({ nodes: [{ tier: "dram" }] }), `configs.osv.nodes.0.bytes: missing; ${SIZE}`],
    [{ workloads: { k: { type: "foo" } } }, 'workloads.k.type: "foo" is not allowed; expected one of "kv", "memslap", "ycsb"'],
    [{ workloads: { k: {} } }, 'workloads.k.type: missing; expected one of "kv", "memslap", "ycsb"'],
  ])("%j", (over, line) => {
    expect(problems(scenario(over))).toEqual([line]);
  });
});

describe("numbers", () => {
  it("a seed out of range is told the range, Infinity (1e400 in the file) too, once", () => {
    const range = "expected an integer from 0 to 4294967295";
    expect(problems(fromJson({ seed: "1e400" }))).toEqual([`seed: Infinity is not allowed; ${range}`]);
    expect(problems(scenario({ seed: -1 }))).toEqual([`seed: -1 is not allowed; ${range}`]);
    expect(problems(scenario({ seed: 2 ** 60 }))).toEqual([`seed: ${2 ** 60} is not allowed; ${range}`]);
    expect(problems(fromJson({ workloads: '{"k":{"type":"kv","options":{"items":1e400}}}' }))).toEqual([
      "workloads.k.options.items: Infinity is not allowed; expected an integer >= 0",
    ]);
  });

  it("deep nesting is an error naming the field, not a stack overflow", () => {
    const deep = (n: number, leaf: unknown = []): unknown => {
      let v = leaf;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    const [line, ...rest] = problems(scenario({ seed: deep(5000) }));
    expect(rest).toEqual([]);
    expect(line).toMatch(/^seed: \[{77}\.\.\. is not allowed; expected at most 32 levels of nested objects and arrays$/);
    let tlb: unknown = {};
    for (let i = 0; i < 100_000; i++) tlb = { a: tlb };
    expect(problems(scenario({ cpu: { base: "skylake", tlb } }))).toEqual([
      expect.stringMatching(/^cpu: \{"base":"skylake","tlb":\{"a":\{"a":.*\.\.\. is not allowed; expected at most 32 levels of nested objects and arrays$/),
    ]);
    // below the limit, the schema says what is wrong
    expect(problems(scenario({ seed: deep(20) }))[0]).toMatch(/^seed: \[\[\[.* is not allowed; expected an integer from 0 to 4294967295$/);
  });

  it.each([
    [{ tiers: [{ name: "dram", preset: { base: "dram", loadRandomNs: 1e300 }, capacity: "8GiB" }] }, "tiers.0.preset.loadRandomNs: 1e+300 is not allowed; expected a number > 0 and <= 1e9 ns (a second)"],
    [{ tiers: [{ name: "dram", preset: { base: "dram", storeNs: 2e9 }, capacity: "8GiB" }] }, "tiers.0.preset.storeNs: 2000000000 is not allowed; expected a number > 0 and <= 1e9 ns (a second)"],
    [{ cpu: { base: "skylake", frequencyHz: 1e300 } }, "cpu.frequencyHz: 1e+300 is not allowed; expected an integer from 1 to 1e10 Hz (10 GHz)"],
    [{ cpu: { base: "skylake", costs: { invlpg: 1e15 } } }, "cpu.costs.invlpg: 1000000000000000 is not allowed; expected an integer from 0 to 1e10 cycles (a second at 10 GHz)"],
    [{ cpu: { base: "skylake", latency: { walkRefLlc: 2 ** 53 } } }, `cpu.latency.walkRefLlc: ${2 ** 53} is not allowed; expected an integer from 0 to 1e10 cycles (a second at 10 GHz)`],
  ])("absurd preset overrides are refused, once each (%#)", (over, line) => {
    expect(problems(scenario(over))).toEqual([line]);
  });

  it("a line cache of 0 entries is named as the cause, not the sampling it rules out", () => {
    const cpu = { base: "skylake", lineCache: { entries: 0, ways: 1 } };
    // (the default lineCache is "all")
    for (const over of [{ cpu }, { cpu, lineSampling: 2 }]) {
      expect(problems(scenario(over))).toEqual([
        'cpu.lineCache.entries: 0 is not allowed; expected an integer >= 1 with lineCache "all" (use lineCache "off" for no line cache)',
      ]);
    }
    expect(problems(scenario({ cpu, lineCache: "walks" }))).toEqual([
      'cpu.lineCache.entries: 0 is not allowed; expected an integer >= 1 with lineCache "walks" (use lineCache "off" for no line cache)',
    ]);
  });

  it("a preset's capacityBytes is not the tier's size: overriding it is refused", () => {
    expect(problems(scenario({ tiers: [{ name: "dram", preset: { base: "dram", capacityBytes: 1 }, capacity: "8GiB" }] }))).toEqual([
      "tiers.0.preset.capacityBytes: 1 is not allowed; expected the tier's size in tiers.0.capacity (the simulator does not read a preset's capacityBytes)",
    ]);
  });

  it("a non-finite override is refused", () => {
    expect(problems(fromJson({ cpu: '{"base":"skylake","latency":{"stlbHit":1e400}}' }))).toEqual([
      "cpu.latency.stlbHit: Infinity is not allowed; expected an integer from 0 to 1e10 cycles (a second at 10 GHz)",
    ]);
  });

  it("at the bounds, the cycle model stays finite", async () => {
    const s = parseScenario(
      scenario({
        cpu: { base: "skylake", frequencyHz: 1e10, latency: { l1TlbHit: 1e10, stlbHit: 1e10, walkRefLlc: 1e10 }, costs: { pageFaultUnikernel: 1e10, vmExitRoundTrip: 1e10 } },
        tiers: [{ name: "dram", preset: { base: "dram", loadRandomNs: 1e9, loadSequentialNs: 1e9, storeNs: 1e9 }, capacity: "8GiB" }],
      }),
    );
    const r = (await runScenario(s, { threads: 1 })).results.k!.osv!;
    for (const c of Object.values(r.cycles)) expect(Number.isFinite(c)).toBe(true);
    expect(r.throughputOpsPerSecond).toBeGreaterThan(0);
    expect(JSON.stringify(r.cycles)).not.toMatch(/null/);
  });
});
