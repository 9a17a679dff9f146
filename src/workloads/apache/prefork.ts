/**
 * Apache httpd with the prefork MPM serving static files, on a process design.
 *
 * The process structure is httpd's (REFERENCE.md section 8, httpd's mpm_default.h): a
 * master that owns the scoreboard (a region shared with every worker) forks
 * StartServers 5 workers at start; once a second it counts idle workers and, when fewer
 * than MinSpareServers 5 are idle, forks more at a rate that doubles each second it is
 * still short (1, 2, 4, ... up to 32), up to MaxRequestWorkers 256; when more than
 * MaxSpareServers 10 are idle it stops one. Each worker, after the fork, sets itself up
 * (its own scratch memory; its stack, request pool and connection buffer written, so
 * copy-on-write faults copy them) before it serves.
 *
 * A closed-loop client keeps `clients` connections busy (a guess: `ab -c 64`), so
 * min(clients, workers) workers are busy and the CPU (one vCPU) is the bottleneck. Each
 * second, a sample of requests runs in full in the simulator, each by a busy worker
 * picked by the seeded random stream: a context switch to it, the dozen system calls of
 * a static request (accept, getsockname, fcntl, read, stat, open, writev, sendfile, the
 * log write, shutdown, poll, close x2) through the design's path with the handler's
 * work and the kernel memory it touches, and the worker's own accesses (code, stack,
 * request pool, configuration, scoreboard slot). The second's requests are the cycles
 * left after maintenance (forks, exits, worker set-up) divided by the sample's mean
 * cycles per request; requests per second is their sum over the run divided by its
 * length. Handler and application work are guesses and identical in every design, so
 * the designs differ only by what they model: gates, switches, faults, forks, the TLB.
 *
 * At the end two workers misbehave (a buggy module): one reads the library OS's memory
 * outside a gate, another writes a peer worker's private memory. What each design lets
 * through, and what it kills, is reported.
 *
 * @example
 * const r = runApache(model, { seconds: 10, clients: 64, seed: 1 });
 * r.requestsPerSecond;
 */
import { FETCH, READ, WRITE } from "../../core/types.js";
import { round3, type Breakdown } from "../../guest/isolation/costs.js";
import { ownsAddress, type ProcessModel, type ProcHandle, type SyscallOptions } from "../../guest/isolation/model.js";
import { Rng } from "../../util/rng.js";
import { diffBreakdown } from "../lmbench/fork.js";

const KiB = 1024;
const MiB = 1024 * KiB;

export interface PreforkConfig {
  startServers: number;
  minSpareServers: number;
  maxSpareServers: number;
  maxRequestWorkers: number;
  maxSpawnRate: number;
}

/** Prefork MPM defaults (httpd server/mpm/prefork + include/mpm_default.h; REFERENCE.md section 8). */
export const PREFORK_DEFAULTS: Readonly<PreforkConfig> = {
  startServers: 5,
  minSpareServers: 5,
  maxSpareServers: 10,
  maxRequestWorkers: 256,
  /** MAX_SPAWN_RATE: the spawn rate doubles each second up to this. */
  maxSpawnRate: 32,
};

/** Workload defaults; every one a guess (see the module comment and docs/iso-unik.md). */
export const APACHE_DEFAULTS = {
  seconds: 10,
  clients: 64,
  /** Requests run in full in the simulator each second. */
  samplePerSecond: 40,
  /** Application work per request outside system calls: parsing, hooks, headers, the log line. */
  userWorkCycles: 45_000,
  seed: 1,
} as const;

/** Layout of the master (and so of every worker before copy-on-write): httpd with its modules (a guess). */
export const APACHE_LAYOUT = { text: 2 * MiB, data: 256 * KiB, heap: 4 * MiB, stack: 64 * KiB } as const;

/** Scoreboard: one slot per possible worker (a guess of httpd's worker_score with padding). */
const SCORE_SLOT = 1 * KiB;

/**
 * Kernel buffers the handlers touch, as offsets into the library OS's buffer area
 * (256 KiB): socket buffers (16 x 8 KiB by connection), dentries and inodes, the page
 * cache page of the file served, the log buffer.
 */
const K = { socket: 0, dentry: 128 * KiB, file: 160 * KiB, log: 200 * KiB } as const;

/** The system calls of one static request with the handler's work (cycles, guesses) and its kernel accesses. */
export function staticRequestSyscalls(conn: number): { name: string; opts: SyscallOptions }[] {
  const sock = K.socket + (conn % 16) * 8 * KiB;
  return [
    { name: "accept", opts: { handlerCycles: 9_000, kernelAccesses: [{ offset: sock, bytes: 512, kind: WRITE }] } },
    { name: "getsockname", opts: { handlerCycles: 600, kernelAccesses: [{ offset: sock, bytes: 64, kind: READ }] } },
    { name: "fcntl", opts: { handlerCycles: 400 } },
    { name: "read", opts: { handlerCycles: 4_000, kernelAccesses: [{ offset: sock + 512, bytes: 1 * KiB, kind: READ }] } },
    { name: "stat", opts: { handlerCycles: 3_000, kernelAccesses: [{ offset: K.dentry, bytes: 256, kind: READ }] } },
    { name: "open", opts: { handlerCycles: 4_000, kernelAccesses: [{ offset: K.dentry + 256, bytes: 256, kind: READ }] } },
    { name: "writev", opts: { handlerCycles: 8_000, kernelAccesses: [{ offset: sock + 2 * KiB, bytes: 512, kind: WRITE }] } },
    { name: "sendfile", opts: { handlerCycles: 12_000, kernelAccesses: [{ offset: K.file, bytes: 4 * KiB, kind: READ }, { offset: sock + 4 * KiB, bytes: 4 * KiB, kind: WRITE }] } },
    { name: "write", opts: { handlerCycles: 3_000, kernelAccesses: [{ offset: K.log + (conn % 32) * 128, bytes: 128, kind: WRITE }] } },
    { name: "shutdown", opts: { handlerCycles: 6_000, kernelAccesses: [{ offset: sock, bytes: 64, kind: WRITE }] } },
    { name: "poll", opts: { handlerCycles: 2_000, kernelAccesses: [{ offset: sock, bytes: 64, kind: READ }] } },
    { name: "close", opts: { handlerCycles: 5_000, kernelAccesses: [{ offset: sock, bytes: 128, kind: WRITE }] } },
    { name: "close", opts: { handlerCycles: 1_500 } },
  ];
}

export interface ApacheOptions {
  seconds?: number;
  clients?: number;
  samplePerSecond?: number;
  userWorkCycles?: number;
  seed?: number;
  prefork?: Partial<PreforkConfig>;
}

export interface ApacheSecond {
  second: number;
  workers: number;
  spawned: number;
  stopped: number;
  maintenanceCycles: number;
  requestCycles: number;
  requests: number;
}

export interface ApacheProbe {
  /** A worker reads the library OS's memory outside a gate. */
  kernel: "fault" | "allowed";
  /** A worker writes a peer worker's private memory: a fault, allowed, or the address is its own copy (the peer's memory cannot be named). */
  peer: "fault" | "allowed" | "own-copy";
  killed: string[];
}

export interface ApacheResult {
  requestsPerSecond: number;
  requests: number;
  seconds: number;
  forks: number;
  stops: number;
  workersAtEnd: number;
  /** Mean cycles of one request in steady state, by step. */
  perRequest: Breakdown;
  /** Mean cycles of setting up one new worker (fork and the worker's first writes). */
  perSpawn: Breakdown;
  timeline: ApacheSecond[];
  probe: ApacheProbe;
}

/** Runs the prefork server on `model` (a fresh one: the run creates the master). */
export function runApache<P extends ProcHandle>(model: ProcessModel<P>, opts: ApacheOptions = {}): ApacheResult {
  const o = { ...APACHE_DEFAULTS, ...opts };
  const mpm = { ...PREFORK_DEFAULTS, ...opts.prefork };
  for (const [k, v] of Object.entries({ seconds: o.seconds, clients: o.clients, samplePerSecond: o.samplePerSecond })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k}: ${v} is not allowed; expected an integer >= 1`);
  }
  const rng = new Rng(o.seed);
  const freq = model.costs.frequencyHz;
  const shareScoreboard = model.design !== "vm-per-process";
  const master = model.spawn(
    { name: "httpd", isolation: shareScoreboard ? { share: [{ region: "scoreboard", with: [] }] } : "isolated" },
    APACHE_LAYOUT,
  );
  const scoreBytes = mpm.maxRequestWorkers * SCORE_SLOT;
  if (shareScoreboard) (model as unknown as { share(o: P, n: string, b: number): unknown }).share(master, "scoreboard", scoreBytes);
  // KylinX pVMs cannot share a region here: the scoreboard is the master's memory, duplicated into each worker
  else model.mmap(master, scoreBytes, { writable: true }, "scoreboard");
  // the master has read its configuration and loaded its modules: its memory is touched
  model.touch(master, model.addressOf(master, "data"), APACHE_LAYOUT.data, WRITE);
  model.touch(master, model.addressOf(master, "heap"), APACHE_LAYOUT.heap, WRITE);
  model.settle();

  const workers: P[] = [];
  const slotOf = new Map<P, number>();
  let nextSlot = 0;
  let forks = 0;
  let stops = 0;

  const spawnWorker = (): void => {
    const { child } = model.fork(master, { name: `worker-${++forks}` });
    slotOf.set(child, nextSlot++ % mpm.maxRequestWorkers);
    // the worker's set-up: its own scratch memory, then its stack, pool and buffers are written
    model.mmap(child, 64 * KiB, { writable: true }, "scratch");
    model.touch(child, model.addressOf(child, "stack") + APACHE_LAYOUT.stack - 8 * KiB, 8 * KiB, WRITE);
    model.touch(child, model.addressOf(child, "heap"), 32 * KiB, WRITE);
    model.settle();
    workers.push(child);
  };
  const stopWorker = (): void => {
    const w = workers.pop()!;
    model.exit(w, 0);
    model.switchTo(master);
    model.wait(master);
    stops++;
  };

  const mark0 = model.mark();
  for (let i = 0; i < mpm.startServers; i++) spawnWorker();
  model.chargeTranslation(mark0);

  const timeline: ApacheSecond[] = [];
  let spawnRate = 1;
  let requests = 0;
  let sampled = 0;
  let conn = 0;
  let perRequestSum: Breakdown | null = null;
  for (let s = 0; s < o.seconds; s++) {
    // maintenance, once a second in the master (perform_idle_server_maintenance)
    const mStart = model.ledger.total();
    const mark = model.mark();
    model.switchTo(master);
    const busy = Math.min(o.clients, workers.length);
    const idle = workers.length - busy;
    let spawned = 0;
    let stopped = 0;
    if (idle < mpm.minSpareServers) {
      const n = Math.min(spawnRate, mpm.maxRequestWorkers - workers.length);
      for (let i = 0; i < n; i++) spawnWorker();
      spawned = n;
      spawnRate = Math.min(spawnRate * 2, mpm.maxSpawnRate);
    } else {
      spawnRate = 1;
      if (idle > mpm.maxSpareServers) {
        stopWorker();
        stopped = 1;
      }
    }
    model.settle();
    model.chargeTranslation(mark);
    const maintenanceCycles = model.ledger.total() - mStart;

    // a sample of requests, in full
    const rStart = model.ledger.breakdown();
    const rMark = model.mark();
    const nBusy = Math.min(o.clients, workers.length);
    for (let j = 0; j < o.samplePerSecond; j++) {
      const w = workers[rng.int(nBusy)];
      serveRequest(model, w, slotOf.get(w)!, conn++, o.userWorkCycles);
    }
    model.settle();
    model.chargeTranslation(rMark);
    const rEnd = model.ledger.breakdown();
    const requestCycles = (rEnd.cycles - rStart.cycles) / o.samplePerSecond;
    sampled += o.samplePerSecond;
    const n = Math.max(0, Math.floor((freq - maintenanceCycles) / requestCycles));
    requests += n;
    timeline.push({ second: s, workers: workers.length, spawned, stopped, maintenanceCycles: Math.round(maintenanceCycles), requestCycles: Math.round(requestCycles), requests: n });
    perRequestSum = addBreakdown(perRequestSum, diffBreakdown(rStart, rEnd, 1, freq));
  }

  // the misbehaving module
  const killed: string[] = [];
  const faultsBefore = model.faults.length;
  const [a, b, c] = workers;
  const rk = model.access(a, model.kernelAddress(0, a), 8, READ);
  let peer: ApacheProbe["peer"] = "own-copy";
  const target = model.addressOf(c, "scratch");
  if (!ownsAddress(b, target)) peer = model.access(b, target, 8, WRITE).ok ? "allowed" : "fault";
  for (const f of model.faults.slice(faultsBefore)) if (f.action === "killed") killed.push(f.accessor.name);
  model.switchTo(master);
  while (model.wait(master)) {
    /* reap the killed workers */
  }

  const perRequest = scaleBreakdown(perRequestSum!, 1 / sampled, freq);
  return {
    requestsPerSecond: Math.round(requests / o.seconds),
    requests,
    seconds: o.seconds,
    forks,
    stops,
    workersAtEnd: workers.filter((w) => w.alive).length,
    perRequest,
    perSpawn: spawnCost(model, forks),
    timeline,
    probe: { kernel: rk.ok ? "allowed" : "fault", peer, killed },
  };
}

/** One static request by worker `w`. */
function serveRequest<P extends ProcHandle>(model: ProcessModel<P>, w: P, slot: number, conn: number, userWork: number): void {
  const text = model.addressOf(w, "text");
  const heap = model.addressOf(w, "heap");
  const stackTop = model.addressOf(w, "stack") + APACHE_LAYOUT.stack;
  const calls = staticRequestSyscalls(conn);
  model.switchTo(w);
  // the request's code: 24 hot pages of httpd and its modules, a cache line each
  for (let i = 0; i < 24; i++) model.touch(w, text + ((i * 37) % 512) * 4096, 64, FETCH);
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i];
    model.syscall(w, c.name, c.opts);
    if (c.name === "read") model.touch(w, heap + 8 * KiB, 1 * KiB, WRITE); // the request into the connection buffer
    if (c.name === "stat") {
      model.touch(w, heap, 8 * KiB, WRITE); // the request pool: parsed headers, the request record
      model.touch(w, heap + 64 * KiB, 4 * KiB, READ); // the configuration
    }
    if (c.name === "writev") model.touch(w, heap + 16 * KiB, 512, READ); // the response headers
  }
  model.touch(w, stackTop - 4 * KiB, 4 * KiB, WRITE);
  model.touch(w, model.addressOf(w, "scoreboard") + slot * SCORE_SLOT, 64, WRITE);
  model.ledger.charge("apache.userWork", 1, userWork);
}

function addBreakdown(a: Breakdown | null, b: Breakdown): Breakdown {
  if (!a) return structuredClone(b);
  for (const [k, s] of Object.entries(b.steps)) {
    const t = a.steps[k];
    if (t) {
      t.count += s.count;
      t.cycles += s.cycles;
      t.unitCycles = t.count > 0 ? t.cycles / t.count : 0;
    } else a.steps[k] = { ...s };
  }
  a.cycles += b.cycles;
  return a;
}

function scaleBreakdown(b: Breakdown, f: number, freq: number): Breakdown {
  const steps: Breakdown["steps"] = {};
  let total = 0;
  for (const k of Object.keys(b.steps).sort()) {
    const s = b.steps[k];
    steps[k] = { count: round3(s.count * f), unitCycles: round3(s.unitCycles), cycles: round3(s.cycles * f) };
    total += s.cycles * f;
  }
  return { cycles: Math.round(total), microseconds: round3((total / freq) * 1e6), steps };
}

/** Mean cost of one worker spawn (the fork, charged under fork.*) from the ledger. */
function spawnCost<P extends ProcHandle>(model: ProcessModel<P>, forks: number): Breakdown {
  const all = model.ledger.breakdown();
  const steps: Breakdown["steps"] = {};
  let total = 0;
  for (const [k, s] of Object.entries(all.steps)) {
    if (!k.startsWith("fork.")) continue;
    steps[k] = { count: round3(s.count / forks), unitCycles: s.unitCycles, cycles: round3(s.cycles / forks) };
    total += s.cycles / forks;
  }
  return { cycles: Math.round(total), microseconds: round3((total / model.costs.frequencyHz) * 1e6), steps };
}
