/**
 * The `unimmu run iso-unik` scenario: system-call cost, fork cost (lmbench-style, over
 * parent sizes) and Apache prefork throughput for each process design, with the
 * breakdowns, and what each design lets a misbehaving worker do.
 *
 * Designs: `none` (OSv-style, every process trusted), `iso-unik` (per-process page
 * tables with PCIDs, MPK gate), `shared-as` (one address space, a key per process,
 * libmpk-style key virtualisation beyond 15 keys), `linux` (processes with Linux's
 * costs) and `vm-per-process` (KylinX: a VM per process, fork as VM clone). Each runs
 * on its own simulator so that no design sees another's TLB state; the same options
 * and seed give byte-identical JSON.
 *
 * @example
 * const r = await runIsoUnik({ seed: 1 });
 * console.log(formatIsoUnik(r));
 * r.designs["iso-unik"].syscallCycles;   // 62 with the skylake defaults
 */
import { isCpuName, type CpuName } from "../cost/cpus.js";
import { REFERENCE_POINTS } from "../cost/calibration.js";
import { isolationCosts, round3, type Breakdown } from "../guest/isolation/costs.js";
import { DESIGNS, syscallPath, type Design } from "../guest/isolation/gate.js";
import { createModel } from "../guest/isolation/model.js";
import type { IsolationFault } from "../guest/isolation/processes.js";
import { formatTable, groupDigits } from "../report/table.js";
import { Simulator } from "../sim/simulator.js";
import { APACHE_DEFAULTS, PREFORK_DEFAULTS, runApache, type ApacheResult, type PreforkConfig } from "../workloads/apache/prefork.js";
import { FORK_BENCH_DEFAULTS, FORK_BENCH_SIZES, forkBench, groupSteps, type ForkBenchResult } from "../workloads/lmbench/fork.js";

const GiB = 2 ** 30;

export interface IsoUnikOptions {
  seed?: number;
  cpu?: CpuName;
  /** Apache: seconds simulated, client connections, requests run in full per second. */
  seconds?: number;
  clients?: number;
  samplePerSecond?: number;
  /** lmbench: measured iterations per size, and the parent heap sizes of the scaling series. */
  forkIterations?: number;
  forkSizes?: readonly number[];
  /** Designs to run (default all, in the order of DESIGNS). */
  designs?: readonly Design[];
}

export const ISO_UNIK_DEFAULTS = {
  seed: APACHE_DEFAULTS.seed,
  cpu: "skylake" as CpuName,
  seconds: APACHE_DEFAULTS.seconds,
  clients: APACHE_DEFAULTS.clients,
  samplePerSecond: APACHE_DEFAULTS.samplePerSecond,
  forkIterations: FORK_BENCH_DEFAULTS.iterations,
  forkSizes: FORK_BENCH_SIZES,
};

export interface DesignResult {
  syscallCycles: number;
  syscallBreakdown: Breakdown["steps"];
  /** lmbench fork+exit+wait of the default parent, microseconds. */
  forkMicroseconds: number;
  /** The fork call alone, microseconds. */
  forkCallMicroseconds: number;
  forkBreakdown: { byPhase: Record<string, { cycles: number; microseconds: number }>; steps: Breakdown["steps"] };
  forkScaling: { parentBytes: number; microseconds: number; forkCallMicroseconds: number }[];
  apacheRequestsPerSecond: number;
  apache: Omit<ApacheResult, "requestsPerSecond" | "perRequest" | "perSpawn"> & {
    perRequest: { cycles: number; byPhase: Record<string, { cycles: number; microseconds: number }>; steps: Breakdown["steps"] };
    perFork: Breakdown;
    /** Without key virtualisation (shared-as): where the run stops. */
    withoutKeyVirtualisation?: { error: string };
  };
  isolationFaults: number;
  isolationFaultDetails: IsolationFault[];
}

export interface IsoUnikResult {
  scenario: {
    name: "iso-unik";
    cpu: CpuName;
    seed: number;
    seconds: number;
    clients: number;
    samplePerSecond: number;
    forkIterations: number;
    forkParentBytes: number;
    prefork: PreforkConfig;
  };
  reference: { isoUnikSyscallCycles: number; isoUnikForkMicroseconds: number; kylinxForkMicroseconds: number; linuxForkMicroseconds: number; uforkForkMicroseconds: number };
  designs: Partial<Record<Design, DesignResult>>;
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name}: ${v} is not allowed; expected an integer in ${min}..${max}`);
  return v;
}

const VM_OPTIONS = { policy: "osv" as const, nodes: [{ tier: "dram", bytes: 1 * GiB }] };

async function newSim(cpu: CpuName, seed: number, maxVms: number): Promise<Simulator> {
  return Simulator.create({ cpu, seed, tiers: [{ name: "dram", preset: "dram", capacity: 256 * GiB }], maxVms });
}

function forkJson(r: ForkBenchResult, freq: number): DesignResult["forkBreakdown"] {
  return { byPhase: groupSteps(r.breakdown, freq), steps: r.breakdown.steps };
}

/** Runs the scenario; the same options give the same result, byte for byte. */
export async function runIsoUnik(opts: IsoUnikOptions = {}): Promise<IsoUnikResult> {
  const o = { ...ISO_UNIK_DEFAULTS, ...opts };
  checkInt("seed", o.seed, 0, 0xffffffff);
  if (!isCpuName(o.cpu)) throw new RangeError(`cpu: ${JSON.stringify(o.cpu)} is not allowed; expected skylake, icelake, goldencove or zen4`);
  checkInt("seconds", o.seconds, 1, 3600);
  checkInt("clients", o.clients, 1, 100_000);
  checkInt("samplePerSecond", o.samplePerSecond, 1, 100_000);
  checkInt("forkIterations", o.forkIterations, 1, 1000);
  o.forkSizes.forEach((s, i) => checkInt(`forkSizes[${i}]`, s, 4096, 1 * GiB));
  const designs = o.designs ?? DESIGNS;
  designs.forEach((d, i) => {
    if (!(DESIGNS as readonly string[]).includes(d)) throw new RangeError(`designs[${i}]: ${JSON.stringify(d)} is not allowed; expected one of ${DESIGNS.join(", ")}`);
  });

  const out: IsoUnikResult = {
    scenario: {
      name: "iso-unik",
      cpu: o.cpu,
      seed: o.seed,
      seconds: o.seconds,
      clients: o.clients,
      samplePerSecond: o.samplePerSecond,
      forkIterations: o.forkIterations,
      forkParentBytes: FORK_BENCH_DEFAULTS.textBytes + FORK_BENCH_DEFAULTS.dataBytes + FORK_BENCH_DEFAULTS.heapBytes + FORK_BENCH_DEFAULTS.stackBytes,
      prefork: { ...PREFORK_DEFAULTS },
    },
    reference: {
      isoUnikSyscallCycles: REFERENCE_POINTS.isoUnikSyscallCycles,
      isoUnikForkMicroseconds: REFERENCE_POINTS.isoUnikForkNs / 1000,
      kylinxForkMicroseconds: REFERENCE_POINTS.kylinxForkNs / 1000,
      linuxForkMicroseconds: REFERENCE_POINTS.linuxForkNs / 1000,
      uforkForkMicroseconds: REFERENCE_POINTS.uforkForkNs / 1000,
    },
    designs: {},
  };

  for (const design of designs) {
    // a VM per process needs a VM id per fork (ids are not reused); the others one VM per run
    const vmsNeeded = design === "vm-per-process" ? (o.forkSizes.length + 1) * (o.forkIterations + 3) + PREFORK_DEFAULTS.startServers + o.seconds * PREFORK_DEFAULTS.maxSpawnRate + 8 : o.forkSizes.length + 4;
    const sim = await newSim(o.cpu, o.seed, Math.min(vmsNeeded, 4096));
    const costs = isolationCosts(sim.cpu, sim.tierPresets);
    const freq = costs.frequencyHz;
    const sys = syscallPath(design, costs);
    const virt = design === "shared-as";

    const fork = forkBench(createModel(sim, design, VM_OPTIONS, { keyVirtualisation: virt, costs }), { iterations: o.forkIterations });
    const scaling = o.forkSizes.map((heapBytes) => {
      const r = forkBench(createModel(sim, design, VM_OPTIONS, { keyVirtualisation: virt, costs }), { iterations: o.forkIterations, heapBytes });
      return { parentBytes: r.parentBytes, microseconds: r.microseconds, forkCallMicroseconds: r.forkMicroseconds };
    });

    const model = createModel(sim, design, VM_OPTIONS, { keyVirtualisation: virt, costs });
    const apacheOpts = { seconds: o.seconds, clients: o.clients, samplePerSecond: o.samplePerSecond, seed: o.seed };
    const a = runApache(model, apacheOpts);
    let withoutKeyVirtualisation: { error: string } | undefined;
    if (virt) {
      // the same server without virtualisation: it cannot get past 15 key users
      const sim2 = await newSim(o.cpu, o.seed, 4);
      try {
        runApache(createModel(sim2, design, VM_OPTIONS, { keyVirtualisation: false, costs }), apacheOpts);
        withoutKeyVirtualisation = { error: "none" };
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        withoutKeyVirtualisation = { error: e.message };
      }
    }
    const { requestsPerSecond, perRequest, perSpawn, ...apacheRest } = a;
    out.designs[design] = {
      syscallCycles: sys.cycles,
      syscallBreakdown: sys.steps,
      forkMicroseconds: fork.microseconds,
      forkCallMicroseconds: fork.forkMicroseconds,
      forkBreakdown: forkJson(fork, freq),
      forkScaling: scaling,
      apacheRequestsPerSecond: requestsPerSecond,
      apache: {
        ...apacheRest,
        perRequest: { cycles: perRequest.cycles, byPhase: groupSteps(perRequest, freq), steps: perRequest.steps },
        perFork: perSpawn,
        ...(withoutKeyVirtualisation ? { withoutKeyVirtualisation } : {}),
      },
      isolationFaults: model.faults.length,
      isolationFaultDetails: model.faults.map((f) => ({ ...f })),
    };
  }
  return out;
}

const fmtUs = (us: number): string => (us >= 100 ? groupDigits(us) : us.toFixed(1));
const fmtBytes = (b: number): string => (b >= 2 ** 20 ? `${round3(b / 2 ** 20)} MiB` : `${round3(b / 1024)} KiB`);

/** The text tables of `unimmu run iso-unik`. */
export function formatIsoUnik(r: IsoUnikResult): string {
  const s = r.scenario;
  const ds = Object.keys(r.designs) as Design[];
  const none = r.designs.none?.apacheRequestsPerSecond;
  const lines: string[] = [];
  lines.push(
    `Iso-UniK scenario: cpu ${s.cpu}, seed ${s.seed}; Apache prefork ${s.seconds} s, ${s.clients} clients, ${s.samplePerSecond} requests per second run in full; ` +
      `lmbench fork of a ${fmtBytes(s.forkParentBytes)} parent, ${s.forkIterations} iterations`,
    "",
  );
  lines.push(
    formatTable(
      ["design", "syscall cycles", "fork+exit+wait us", "fork us", "Apache req/s", "vs none", "isolation faults"],
      ds.map((d) => {
        const x = r.designs[d]!;
        return [
          d,
          String(x.syscallCycles),
          fmtUs(x.forkMicroseconds),
          fmtUs(x.forkCallMicroseconds),
          groupDigits(x.apacheRequestsPerSecond),
          none ? `${(((x.apacheRequestsPerSecond - none) / none) * 100).toFixed(1)}%` : "",
          String(x.isolationFaults),
        ];
      }),
      ["l", "r", "r", "r", "r", "r", "r"],
    ),
  );
  const ref = r.reference;
  lines.push(
    "",
    `published: Iso-UniK ${ref.isoUnikSyscallCycles}-cycle system call and ${ref.isoUnikForkMicroseconds} us fork; KylinX pVM fork ~${groupDigits(ref.kylinxForkMicroseconds)} us (Linux ~${groupDigits(ref.linuxForkMicroseconds)} us); uFork ${ref.uforkForkMicroseconds} us (docs/iso-unik.md explains the gaps)`,
    "",
    "system call, cycles by step",
  );
  for (const d of ds) {
    const b = r.designs[d]!.syscallBreakdown;
    lines.push(`  ${d.padEnd(15)} ${Object.entries(b).map(([k, v]) => `${k} ${round3(v.cycles)}`).join(" + ")} = ${r.designs[d]!.syscallCycles}`);
  }
  const phases = ["fork", "switch", "cowFault", "exit", "wait", "translation"];
  lines.push("", "fork + exit + wait (lmbench), microseconds by phase");
  lines.push(
    formatTable(
      ["design", ...phases, "total"],
      ds.map((d) => {
        const x = r.designs[d]!;
        return [d, ...phases.map((p) => (x.forkBreakdown.byPhase[p] ? x.forkBreakdown.byPhase[p].microseconds.toFixed(2) : "-")), x.forkMicroseconds.toFixed(2)];
      }),
      ["l", ...phases.map(() => "r" as const), "r"],
    ),
  );
  const forkStep = (d: Design): string => {
    const st = r.designs[d]!.forkBreakdown.steps;
    return Object.entries(st)
      .filter(([k]) => k.startsWith("fork."))
      .sort((a, b) => b[1].cycles - a[1].cycles)
      .slice(0, 6)
      .map(([k, v]) => `${k.slice(5)} ${groupDigits(v.cycles)} (${round3(v.count)} x ${round3(v.unitCycles)})`)
      .join(", ");
  };
  lines.push("", "fork call, largest steps in cycles (count x unit)");
  for (const d of ds) lines.push(`  ${d.padEnd(15)} ${forkStep(d)}`);
  const sizes = r.designs[ds[0]]?.forkScaling.map((x) => x.parentBytes) ?? [];
  if (sizes.length > 0) {
    lines.push("", "fork + exit + wait by parent size, microseconds");
    lines.push(
      formatTable(
        ["design", ...sizes.map(fmtBytes)],
        ds.map((d) => [d, ...r.designs[d]!.forkScaling.map((x) => fmtUs(x.microseconds))]),
        ["l", ...sizes.map(() => "r" as const)],
      ),
    );
  }
  const rp = ["syscall", "apache", "switch", "translation", "cowFault", "keyFault"];
  lines.push("", "Apache, one request in steady state, cycles by phase (syscall = paths and handlers)");
  lines.push(
    formatTable(
      ["design", ...rp, "total", "forks", "workers", "fork us"],
      ds.map((d) => {
        const x = r.designs[d]!.apache;
        return [
          d,
          ...rp.map((p) => (x.perRequest.byPhase[p] ? groupDigits(x.perRequest.byPhase[p].cycles) : "-")),
          groupDigits(x.perRequest.cycles),
          String(x.forks),
          String(x.workersAtEnd),
          fmtUs(x.perFork.microseconds),
        ];
      }),
      ["l", ...rp.map(() => "r" as const), "r", "r", "r", "r"],
    ),
  );
  lines.push("", "a misbehaving worker: reads the library OS outside a gate; writes a peer worker's memory");
  lines.push(
    formatTable(
      ["design", "kernel read", "peer write", "killed"],
      ds.map((d) => {
        const p = r.designs[d]!.apache.probe;
        return [d, p.kernel, p.peer, p.killed.join(", ") || "-"];
      }),
    ),
  );
  const sa = r.designs["shared-as"]?.apache.withoutKeyVirtualisation;
  if (sa) lines.push("", `shared-as without key virtualisation: ${sa.error}`);
  return lines.join("\n");
}

/**
 * The action of `unimmu run iso-unik [--seed n] [--json]`: runs the scenario and writes
 * the JSON object or the tables.
 *
 * @example
 * await runIsoUnikCli({ seed: 1, json: true }, (s) => process.stdout.write(s));
 */
export async function runIsoUnikCli(o: { seed?: number; json?: boolean }, out: (s: string) => void): Promise<void> {
  const r = await runIsoUnik({ seed: o.seed ?? ISO_UNIK_DEFAULTS.seed });
  out(o.json ? `${JSON.stringify(r)}\n` : `${formatIsoUnik(r)}\n`);
}
