/**
 * Property tests: random sequences of process actions (spawn, map, share, fork, write,
 * read, system call, access a peer's / the kernel's / a dead process's memory, exit,
 * wait) run on each design and on an independent permission model written here from
 * the configuration rules alone (docs/iso-unik.md, "What a process may reach"). No
 * access may succeed that the model forbids, and every access it allows must succeed.
 * Contents are modelled by a version per page: after fork, parent and child see their
 * own copies once either writes; shared regions stay shared. When every process has
 * exited, no frame is left (reference counts back to zero).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { READ, WRITE } from "../../src/core/types.js";
import { KeyExhaustedError, UnknownPeerError, type ProcessConfig } from "../../src/guest/isolation/config.js";
import type { Design } from "../../src/guest/isolation/gate.js";
import { KylinxOs } from "../../src/guest/isolation/kylinx.js";
import { IsoOs } from "../../src/guest/isolation/processes.js";
import type { ProcessModel, ProcHandle } from "../../src/guest/isolation/model.js";
import { newSim, VM_OPTIONS } from "./helpers.js";

const PAGE = 4096;

interface MRegion {
  id: number;
  name: string;
  kind: "private" | "shared";
  start: number;
  pages: number;
  writable: boolean;
  members: Map<string, "rw" | "ro">;
}

interface MProc {
  name: string;
  trusted: boolean;
  kill: boolean;
  parent: string | null;
  state: "alive" | "zombie" | "reaped";
  pid: number;
  views: MRegion[];
  spec: { region: string; with: string[]; access: "rw" | "ro" } | null;
  shared: boolean;
  children: string[];
}

/** The permission model: what a configuration allows, independent of page tables and keys. */
class Model {
  readonly procs = new Map<string, MProc>();
  readonly content = new Map<string, number>();
  readonly deadRanges: { start: number; end: number }[] = [];
  private nextId = 1;

  constructor(
    readonly design: Design,
    readonly keyCap: number | null,
  ) {}

  live(): MProc[] {
    return [...this.procs.values()].filter((p) => p.state === "alive");
  }

  region(name: string, kind: MRegion["kind"], start: number, pages: number, writable: boolean, members: Map<string, "rw" | "ro">): MRegion {
    return { id: this.nextId++, name, kind, start, pages, writable, members };
  }

  /** Key users the design needs now: shared-as a key per untrusted process and per shared region, iso-unik per shared region. */
  keyUsers(): number {
    const regions = new Set<number>();
    for (const p of this.live()) for (const v of p.views) if (v.kind === "shared") regions.add(v.id);
    if (this.design === "shared-as") return this.live().filter((p) => !p.trusted).length + regions.size;
    return regions.size;
  }

  view(p: MProc, va: number): MRegion | undefined {
    return p.views.find((v) => va >= v.start && va < v.start + v.pages * PAGE);
  }

  anyRegion(va: number): MRegion | undefined {
    for (const q of this.live()) {
      const v = this.view(q, va);
      if (v) return v;
    }
    return undefined;
  }

  allowed(p: MProc, va: number, kind: 0 | 1 | 2, kernel: boolean): boolean {
    const own = this.view(p, va);
    const singleAs = this.design === "shared-as";
    if (own) {
      if (kind !== WRITE) return true;
      if (own.kind === "private") return own.writable;
      if (own.members.get(p.name) === "rw") return true;
      // read-only peer: in one address space the entry is writable and only PKRU says no
      return singleAs && p.trusted;
    }
    if (kernel) return this.design === "none" || this.design === "vm-per-process" || p.trusted;
    if (singleAs && p.trusted) {
      const r = this.anyRegion(va);
      return r !== undefined && (kind !== WRITE || r.kind === "shared" || r.writable);
    }
    return false;
  }

  exit(p: MProc): void {
    p.state = "zombie";
    for (const v of p.views) {
      if (v.kind === "shared") v.members.delete(p.name);
      if (v.kind === "private" || v.members.size === 0) this.deadRanges.push({ start: v.start, end: v.start + v.pages * PAGE });
    }
    p.views = [];
    for (const c of p.children) {
      const ch = this.procs.get(c)!;
      ch.parent = null;
      if (ch.state === "zombie") ch.state = "reaped";
    }
    p.children = [];
    const parent = p.parent ? this.procs.get(p.parent) : undefined;
    if (!parent || parent.state !== "alive") p.state = "reaped";
  }
}

interface Op {
  op: number;
  a: number;
  b: number;
  c: number;
}

const OPS = ["spawn", "map", "share", "fork", "write", "read", "peer", "kernel", "dead", "syscall", "exit", "wait"] as const;

type Any = ProcessModel<ProcHandle> & { contentAt?: (p: ProcHandle, va: number) => number | null; share?: (o: ProcHandle, n: string, b: number) => { start: number } };

async function run(design: Design, keyVirtualisation: boolean, ops: Op[]): Promise<void> {
  const sim = await newSim(design === "vm-per-process" ? 48 : 2);
  const sys = (design === "vm-per-process" ? new KylinxOs(sim, VM_OPTIONS) : new IsoOs(sim.createVm(VM_OPTIONS), { design, keyVirtualisation })) as unknown as Any;
  const cap = keyVirtualisation ? null : design === "shared-as" ? 15 : design === "iso-unik" ? 14 : null;
  const m = new Model(design, cap);
  const handles = new Map<string, ProcHandle>();
  let made = 0;
  const pick = (n: number): MProc | undefined => {
    const l = m.live();
    return l.length ? l[n % l.length] : undefined;
  };
  const h = (p: MProc): ProcHandle => handles.get(p.name)!;
  const syncKills = (): void => {
    for (const p of m.live()) if (!h(p).alive && p.state === "alive") throw new Error(`process ${p.name} died without the model's say`);
  };

  const access = (p: MProc, va: number, kind: 0 | 1 | 2, kernel: boolean): void => {
    const want = m.allowed(p, va, kind, kernel);
    const got = sys.access(h(p), va, 8, kind);
    expect(got.ok, `${design}: ${p.name} ${kind === WRITE ? "writes" : "reads"} 0x${va.toString(16)}${kernel ? " (kernel)" : ""}`).toBe(want);
    if (!want) {
      expect(got.fault?.accessor.name).toBe(p.name);
      if (p.kill) {
        m.exit(p);
        expect(h(p).alive).toBe(false);
      } else expect(h(p).alive).toBe(true);
    } else if (kind === WRITE && sys.contentAt) {
      const v = m.view(p, va) ?? m.anyRegion(va);
      if (v) {
        const key = `${v.id}:${Math.floor((va - v.start) / PAGE)}`;
        const now = sys.contentAt(h(p), va) ?? (sys as unknown as IsoOs).contentAt(handles.get([...v.members.keys()][0]) as never, va);
        expect(now).not.toBe(m.content.get(key) ?? 0);
        m.content.set(key, now!);
      }
    }
  };

  for (const o of ops) {
    // with nobody alive, every action starts a process
    const kind = m.live().length === 0 ? "spawn" : OPS[o.op % OPS.length];
    const p = pick(o.a);
    switch (kind) {
      case "spawn": {
        if (m.live().length >= 7 || made >= 24) break;
        const name = `p${made++}`;
        const trusted = o.a % 5 === 0;
        const peers = m.live().filter((_, i) => (o.c >> i) & 1).map((x) => x.name);
        const spec = !trusted && o.c % 3 === 0 && design !== "vm-per-process" ? { region: "s", with: peers, access: o.b % 2 ? ("ro" as const) : ("rw" as const) } : null;
        const cfg: ProcessConfig = { name, isolation: trusted ? "trusted" : spec ? { share: [spec] } : "isolated", onViolation: o.b % 3 === 0 ? "report" : "kill" };
        const needsKey = m.design === "shared-as" && !trusted;
        if (cap !== null && needsKey && m.keyUsers() + 1 > cap) {
          expect(() => sys.spawn(cfg, { text: PAGE, heap: 4 * PAGE, populate: o.a % 2 === 0 })).toThrow(KeyExhaustedError);
          break;
        }
        const ph = sys.spawn(cfg, { text: PAGE, heap: 4 * PAGE, populate: o.a % 2 === 0 });
        handles.set(name, ph);
        const mp: MProc = { name, trusted, kill: cfg.onViolation === "kill", parent: null, state: "alive", pid: ph.pid, views: [], spec, shared: false, children: [] };
        mp.views.push(m.region("text", "private", sys.addressOf(ph, "text"), 1, false, new Map([[name, "rw"]])));
        mp.views.push(m.region("heap", "private", sys.addressOf(ph, "heap"), 4, true, new Map([[name, "rw"]])));
        m.procs.set(name, mp);
        break;
      }
      case "map": {
        if (!p) break;
        const name = `m${made++}`;
        const pages = 1 + (o.b % 3);
        const writable = o.c % 3 !== 0;
        sys.mmap(h(p), pages * PAGE, { writable, populate: o.c % 2 === 0 }, name);
        p.views.push(m.region(name, "private", sys.addressOf(h(p), name), pages, writable, new Map([[p.name, "rw"]])));
        break;
      }
      case "share": {
        if (!p || !p.spec || p.shared || !sys.share) break;
        const dead = p.spec.with.filter((n) => m.procs.get(n)?.state !== "alive");
        if (dead.length > 0) {
          expect(() => sys.share!(h(p), "s", 2 * PAGE)).toThrow(UnknownPeerError);
          break;
        }
        if (cap !== null && m.keyUsers() + 1 > cap) {
          expect(() => sys.share!(h(p), "s", 2 * PAGE)).toThrow(KeyExhaustedError);
          break;
        }
        const r = sys.share(h(p), "s", 2 * PAGE);
        p.shared = true;
        const members = new Map<string, "rw" | "ro">([[p.name, "rw"]]);
        for (const n of p.spec.with) members.set(n, p.spec.access);
        const reg = m.region("s", "shared", r.start, 2, true, members);
        for (const n of members.keys()) m.procs.get(n)!.views.push(reg);
        break;
      }
      case "fork": {
        if (!p || made >= 24 || m.live().length >= 7) break;
        const name = `${p.name}.${made++}`;
        if (cap !== null && m.design === "shared-as" && !p.trusted && m.keyUsers() + 1 > cap) {
          expect(() => sys.fork(h(p), { name })).toThrow(KeyExhaustedError);
          break;
        }
        const { child } = sys.fork(h(p), { name });
        handles.set(name, child);
        const mc: MProc = { ...p, name, parent: p.name, pid: child.pid, views: [], shared: p.shared, children: [] };
        for (const v of p.views) {
          if (v.kind === "shared") {
            v.members.set(name, v.members.get(p.name)!);
            mc.views.push(v);
            continue;
          }
          const start = sys.addressOf(child, v.name);
          if (design !== "shared-as" && design !== "vm-per-process") expect(start).toBe(v.start);
          const nv = m.region(v.name, "private", start, v.pages, v.writable, new Map([[name, "rw"]]));
          for (let i = 0; i < v.pages; i++) {
            const c = m.content.get(`${v.id}:${i}`);
            if (c !== undefined) m.content.set(`${nv.id}:${i}`, c);
          }
          mc.views.push(nv);
        }
        p.children.push(name);
        m.procs.set(name, mc);
        break;
      }
      case "write":
      case "read": {
        if (!p || p.views.length === 0) break;
        const v = p.views[o.b % p.views.length];
        access(p, v.start + (o.c % v.pages) * PAGE + (o.c % 512) * 8, kind === "write" ? WRITE : READ, false);
        break;
      }
      case "peer": {
        if (!p) break;
        const others = m.live().filter((q) => q !== p && q.views.length > 0);
        if (others.length === 0) break;
        const q = others[o.b % others.length];
        const v = q.views[o.c % q.views.length];
        access(p, v.start + (o.c % v.pages) * PAGE, o.c % 2 ? WRITE : READ, false);
        break;
      }
      case "kernel": {
        if (!p) break;
        const va = (sys.kernelAddress as (o: number, p?: ProcHandle) => number)(o.c * 64, h(p));
        access(p, va, o.b % 2 ? WRITE : READ, true);
        break;
      }
      case "dead": {
        if (!p || m.deadRanges.length === 0) break;
        const r = m.deadRanges[o.b % m.deadRanges.length];
        access(p, r.start, o.c % 2 ? WRITE : READ, false);
        break;
      }
      case "syscall": {
        if (!p) break;
        const before = sys.faults.length;
        sys.syscall(h(p), "read", { handlerCycles: 100, kernelAccesses: [{ offset: o.c * 64, bytes: 64, kind: o.b % 2 ? WRITE : READ }] });
        sys.settle();
        expect(sys.faults.length, `${design}: a system call by ${p.name} faulted`).toBe(before);
        break;
      }
      case "exit": {
        if (!p) break;
        sys.exit(h(p), o.b % 4);
        m.exit(p);
        break;
      }
      case "wait": {
        if (!p) break;
        const z = p.children.map((n) => m.procs.get(n)!).filter((c) => c.state === "zombie").sort((x, y) => x.pid - y.pid)[0];
        const got = sys.wait(h(p));
        if (!z) expect(got).toBeNull();
        else {
          expect(got?.name).toBe(z.name);
          z.state = "reaped";
          p.children = p.children.filter((n) => n !== z.name);
        }
        break;
      }
    }
    syncKills();
    // every live process sees what the model says is in its pages
    if (sys.contentAt) {
      for (const q of m.live()) {
        for (const v of q.views) {
          for (let i = 0; i < v.pages; i++) {
            const va = v.start + i * PAGE;
            expect(sys.contentAt(h(q), va) ?? 0, `${design}: content of ${q.name}'s ${v.name} page ${i}`).toBe(m.content.get(`${v.id}:${i}`) ?? 0);
          }
        }
      }
    }
  }
  for (const p of m.live()) {
    sys.exit(h(p), 0);
    m.exit(p);
  }
  if (sys instanceof IsoOs) {
    expect(sys.frames.size, "frames left after every process exited").toBe(0);
    expect(sys.memory().regions).toBe(0);
  } else {
    expect(sim.allVms()).toHaveLength(0);
  }
}

const opArb = fc.record({ op: fc.nat(OPS.length * 4), a: fc.nat(1000), b: fc.nat(1000), c: fc.nat(1 << 12) });
const seqArb = fc.array(opArb, { minLength: 10, maxLength: 60, size: "max" });

describe("permissions match an independent model over random action sequences", () => {
  const cases: [Design, boolean][] = [
    ["iso-unik", false],
    ["shared-as", true],
    ["shared-as", false],
    ["none", false],
    ["linux", false],
    ["vm-per-process", false],
  ];
  for (const [design, virt] of cases) {
    it(`${design}${virt ? " with key virtualisation" : ""}`, async () => {
      await fc.assert(
        fc.asyncProperty(seqArb, async (ops) => {
          await run(design, virt, ops);
        }),
        { numRuns: design === "vm-per-process" ? 15 : 40 },
      );
    }, 120_000);
  }
});
