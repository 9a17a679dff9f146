// First touches backed in the core (src/host/first-touch.ts) against the same runs with
// every EPT violation handled on the host (`backInCore: false`, the reference): the
// frames, tables, statistics and counters must be identical, and most faults must never
// reach the host.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulator, type SimulatorOptions } from "../../src/sim/simulator.js";
import { simStats } from "../../src/sim/stats.js";
import { HostMemory } from "../../src/host/memory.js";
import { Hypervisor } from "../../src/host/hypervisor.js";
import { FirstTouch } from "../../src/host/first-touch.js";
import { runMemaslap, runYcsb } from "../../src/workloads/drivers.js";
import type { Vm } from "../../src/sim/vm.js";
import { createModel } from "../../src/guest/isolation/model.js";
import { forkBench } from "../../src/workloads/lmbench/fork.js";
import { runApache } from "../../src/workloads/apache/prefork.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

type Run = (sim: Simulator) => unknown;

/** Everything a run leaves that the fault path could change (the simulator's own memory aside). */
function fingerprint(sim: Simulator, result: unknown) {
  const s = simStats(sim);
  return {
    result,
    vms: s.vms,
    host: s.host,
    faults: sim.faults,
    leaves: sim.allVms().map((vm) => [...sim.core.eptLeaves(vm.id)]),
    tables: sim.allVms().map((vm) => sim.core.tableFrames(vm.id)),
    counters: sim.allVms().map((vm) => sim.core.counters(vm.vcpu)),
    backing: sim.allVms().map((vm) => vm.hv.stats(vm.id)),
    // the host's next frames of each size in each tier: its allocators' state
    next: sim.host.tierNames().flatMap((t) => [0, 0, 9].map((o) => sim.host.alloc(t, o))),
  };
}

/** Runs `run` with first touches backed in the core and on the host; returns both fingerprints, the EPT violations and the osv back-end's own backings. */
async function both(opts: Omit<SimulatorOptions, "hypervisor">, run: Run, hypervisor: SimulatorOptions["hypervisor"] = {}) {
  const out = [];
  for (const backInCore of [true, false]) {
    const sim = await Simulator.create({ ...opts, hypervisor: { ...hypervisor, backInCore } });
    // pages the osv back-end backs on the host (faults, and the guest's table frames)
    const hv = sim.hypervisor("osv");
    let onHost = 0;
    const back = hv.back.bind(hv);
    hv.back = (id, gpa, want) => (onHost++, back(id, gpa, want));
    const result = run(sim);
    const f = fingerprint(sim, result);
    const violations = f.counters.reduce((a, c) => a + c.eptViolations, 0);
    sim.close();
    out.push({ f, onHost, violations });
  }
  return { core: out[0]!, host: out[1]! };
}

const TIERS: SimulatorOptions["tiers"] = [
  { name: "dram", preset: "dram", capacity: 2 * GiB },
  { name: "nvm", preset: "optane", capacity: 4 * GiB },
];
const NODES = [
  { tier: "dram", bytes: 256 * MiB },
  { tier: "nvm", bytes: 512 * MiB },
];

/** Writes to every page of a fresh allocation of `pages` 4 KiB pages, in a scrambled order (`stride` prime, not dividing `pages`). */
function touchPages(vm: Vm, pages: number, stride: number): void {
  const base = vm.process.malloc(pages * 4096);
  for (let i = 0; i < pages; i++) vm.process.write(base + ((i * stride) % pages) * 4096 + (i % 4000), 8);
}

describe("first touches backed in the core", () => {
  it("YCSB-A on osv: identical to the host's handling, with most violations never reaching the host", async () => {
    const { core, host } = await both({ tiers: TIERS, maxVms: 1 }, (sim) => {
      const vm = sim.createVm({ policy: "osv", nodes: NODES });
      return runYcsb(vm.process, "a", { recordCount: 3000, operationCount: 8000 });
    });
    expect(core.f).toEqual(host.f);
    expect(core.violations).toBeGreaterThan(3000);
    expect(host.onHost).toBeGreaterThanOrEqual(host.violations);
    expect(host.onHost - core.onHost).toBeGreaterThan(core.violations * 0.9);
  });

  it("memslap on osv with the line thread: identical", async () => {
    const { core, host } = await both({ tiers: TIERS, maxVms: 1, lineThread: true }, (sim) => {
      const vm = sim.createVm({ policy: "osv", nodes: NODES });
      return runMemaslap(vm.process, { operations: 20_000, server: { memoryLimit: 32 * MiB } });
    });
    expect(core.f).toEqual(host.f);
    expect(host.onHost - core.onHost).toBeGreaterThan(core.violations * 0.75);
  });

  it("the first tier running out: the stream ends short and the host falls back to the next tier", async () => {
    const tiers: SimulatorOptions["tiers"] = [
      { name: "dram", preset: "dram", capacity: 48 * MiB },
      { name: "nvm", preset: "optane", capacity: 1 * GiB },
    ];
    const { core, host } = await both({ tiers, maxVms: 1 }, (sim) => {
      const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 32 * MiB }, { tier: "nvm", bytes: 224 * MiB }] });
      touchPages(vm, 20_000, 7919);
      sim.flush();
      return vm.hv.stats(vm.id).tierFallbacks;
    });
    expect(core.f).toEqual(host.f);
    expect(core.f.result).toBeGreaterThan(100);
    expect(core.f.backing[0]!.bytesByTier.nvm).toBeGreaterThan(0);
  });

  it("out of host memory: the guest sees the same faults", async () => {
    const tiers: SimulatorOptions["tiers"] = [{ name: "dram", preset: "dram", capacity: 40 * MiB }];
    const { core, host } = await both(
      { tiers, maxVms: 1 },
      (sim) => {
        const vm = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] });
        touchPages(vm, 14_000, 7919);
        sim.flush();
        return sim.faultCount;
      },
      { onTierFull: "fail" },
    );
    expect(core.f).toEqual(host.f);
    expect(core.f.result).toBeGreaterThan(0);
  });

  it("two osv VMs and a ucat VM sharing the host, their accesses interleaved in one queue", async () => {
    const { core, host } = await both({ tiers: TIERS, maxVms: 3 }, (sim) => {
      const a = sim.createVm({ policy: "osv", nodes: NODES });
      const u = sim.createVm({ policy: "ucat", nodes: NODES });
      const b = sim.createVm({ policy: "osv", nodes: [{ tier: "dram", bytes: 64 * MiB }] });
      const bases = [a, u, b].map((vm) => vm.process.malloc(8 * MiB));
      for (let i = 0; i < 6000; i++) {
        const k = i % 3;
        [a, u, b][k]!.process.write(bases[k]! + ((i * 7919) % 2048) * 4096, 16);
        if (i % 1000 === 999) u.process.malloc(3 * MiB); // the ucat back-end allocates between runs
      }
      sim.flush();
      return null;
    });
    expect(core.f).toEqual(host.f);
    expect(host.onHost - core.onHost).toBeGreaterThan(core.violations * 0.75);
  });

  it("a destroyed osv VM and a new one: the new VM's touches are backed in the core too", async () => {
    const { core, host } = await both({ tiers: TIERS, maxVms: 2 }, (sim) => {
      const a = sim.createVm({ policy: "osv", nodes: NODES });
      touchPages(a, 3000, 7919);
      sim.destroyVm(a);
      const b = sim.createVm({ policy: "osv", nodes: NODES });
      touchPages(b, 3000, 6007);
      sim.flush();
      return sim.host.stats();
    });
    expect(core.f).toEqual(host.f);
    expect(host.onHost - core.onHost).toBeGreaterThan(core.violations * 0.75);
  });

  it("Iso-UniK's processes (forks, copy-on-write faults, a VM per process): the host is touched between most runs", async () => {
    for (const design of ["iso-unik", "vm-per-process"] as const) {
      const { core, host } = await both({ tiers: [{ name: "dram", preset: "dram", capacity: 8 * GiB }], maxVms: 64 }, (sim) => {
        const opts = { policy: "osv" as const, nodes: [{ tier: "dram", bytes: 1 * GiB }] };
        const fork = forkBench(createModel(sim, design, opts), { iterations: 3 });
        const apache = runApache(createModel(sim, design, opts), { seconds: 1, clients: 8, samplePerSecond: 200, seed: 3 });
        return { fork: fork.microseconds, apache: apache.requestsPerSecond };
      });
      expect(core.f).toEqual(host.f);
      expect(host.onHost - core.onHost).toBeGreaterThan(0);
    }
  });

  it("back-ends whose first touches stay on the host", async () => {
    const sim = await Simulator.create({ tiers: TIERS, maxVms: 1 });
    const hv = (o: object) => new Hypervisor(sim.core, sim.host, { policy: "osv", ...o });
    expect(hv({}).inCoreTier()).toBe(0);
    expect(hv({ backInCore: false }).inCoreTier()).toBe(-1);
    expect(hv({ osvPlacement: "interleave" }).inCoreTier()).toBe(-1);
    expect(hv({ pageTableTier: "nvm" }).inCoreTier()).toBe(-1);
    expect(new Hypervisor(sim.core, sim.host, { policy: "ucat" }).inCoreTier()).toBe(-1);
    expect(() => new FirstTouch(sim.core, sim.host, hv({ osvPlacement: "interleave" }))).toThrow(/osv in tier order only/);
  });

  it("interleaved placement: results identical with the option on or off (the host handles every fault)", async () => {
    const { core, host } = await both(
      { tiers: TIERS, maxVms: 1 },
      (sim) => {
        const vm = sim.createVm({ policy: "osv", nodes: NODES });
        touchPages(vm, 2000, 7919);
        sim.flush();
        return null;
      },
      { osvPlacement: "interleave" },
    );
    expect(core.f).toEqual(host.f);
    expect(core.onHost).toBe(host.onHost);
  });
});

describe("HostMemory.reserve", () => {
  it("a reservation, its taken part counted and the rest given back, leaves the host as that many allocations would", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0, 0, 0, 9), fc.boolean()), { maxLength: 60 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 300 }),
        (ops, n, k) => {
          const hosts = [0, 1].map(() => new HostMemory([{ name: "dram", capacity: 8 * MiB }, { name: "nvm", capacity: 8 * MiB }]));
          const held: [number, number][][] = [[], []];
          // the same history of allocations and frees on both
          hosts.forEach((h, j) => {
            for (const [order, freeOne] of ops) {
              const a = h.alloc("dram", order);
              if (a !== null) held[j]!.push([a, order]);
              if (freeOne && held[j]!.length > 1) {
                const [hpa, o] = held[j]!.splice(held[j]!.length >> 1, 1)[0]!;
                h.free(hpa, o);
              }
            }
          });
          const frames = new Float64Array(300);
          const drawn = hosts[0]!.reserve(0, n, frames);
          const taken = Math.min(k, drawn);
          hosts[0]!.countTaken(taken);
          hosts[0]!.unreserve(frames, taken, drawn);
          const singly = Array.from({ length: taken }, () => hosts[1]!.alloc("dram", 0));
          expect([...frames.subarray(0, taken)]).toEqual(singly);
          expect(hosts[0]!.stats()).toEqual(hosts[1]!.stats());
          for (const order of [0, 3, 9, 0]) expect(hosts[0]!.alloc("dram", order)).toBe(hosts[1]!.alloc("dram", order));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a holder's release runs once, before the next call that allocates, frees or reports", () => {
    const h = new HostMemory([{ name: "dram", capacity: 8 * MiB }]);
    const frames = new Float64Array(8);
    const n = h.reserve(0, 8, frames);
    let released = 0;
    h.holdUntilTouched(() => {
      released++;
      h.unreserve(frames, 0, n);
    });
    expect(h.tierNames()).toEqual(["dram"]); // the layout's calls do not release
    expect(released).toBe(0);
    expect(h.alloc("dram", 0)).toBe(frames[0]);
    expect(released).toBe(1);
    expect(h.stats().allocs).toBe(1);
    expect(released).toBe(1);
  });

  it("refuses a tier index it does not have", () => {
    const h = new HostMemory([{ name: "dram", capacity: 8 * MiB }]);
    expect(() => h.reserve(1, 4, new Float64Array(4))).toThrow(/tier 1 is not allowed; expected a tier index in 0..0/);
  });
});
