/**
 * The shared-address-space alternative: every process lives in the kernel's one
 * address space (one root, PCID 0, no CR3 write on a switch), and processes differ
 * only by protection key: each isolated process's private memory carries its own key,
 * each shared region its own, and a process's PKRU opens exactly its keys. x86 has 15
 * user keys, so without virtualisation the 16th key user is an error; with it, keys are
 * virtualised libmpk-style (keys.ts), re-tagging pages on eviction and load.
 *
 * fork cannot be copy-on-write here: one address means one page-table entry for every
 * process, so the child cannot see its own copy at the parent's address. The child's
 * private memory is copied eagerly to new addresses, tagged with the child's key; its
 * regions keep their names, so `addressOf(child, name)` finds them. Pointers in the
 * copied memory would have to be rebased to the new addresses; uFork (SOSP'25) does
 * that with CHERI capabilities, which identify pointers during the copy. The simulator
 * charges the copy and the new mappings and takes the rebasing as part of the copy pass
 * (an inferred choice, docs/iso-unik.md). Shared regions are simply joined: the child's
 * PKRU opens their keys.
 *
 * @example
 * const os = new IsoOs(vm, { design: "shared-as", keyVirtualisation: true });
 * const { child, cost } = os.fork(parent);
 * cost.steps["copy4k.dram"].count;          // the parent's private pages
 * os.addressOf(child, "heap") !== os.addressOf(parent, "heap");   // true
 */
import type { PageSizeCode } from "../../core/types.js";
import type { ProcessConfig } from "./config.js";
import { pageCopyCycles, type Ledger } from "./costs.js";
import { syscallLedger } from "./gate.js";
import type { IsoOs, IsoProcess, Region } from "./processes.js";

export function forkSharedAs(os: IsoOs, parent: IsoProcess, cfg: Required<ProcessConfig>): { child: IsoProcess; ledger: Ledger } {
  const c = os.costs;
  const P = c.params;
  const l = syscallLedger(os.design, c);
  l.charge("processCreate", 1, P.processCreateUnikernel);
  // the child's key first: exhaustion (without virtualisation) fails before anything is made
  const child = os.newProcess(cfg, parent);
  l.charge("keySetup", 1, P.keySetup);
  child.copyHeapPointer(parent);

  const maps: { va: number; gpa: number; size: PageSizeCode; w: boolean; key: number }[] = [];
  let frames = 0;
  for (const r of parent.regions) {
    if (r.kind === "shared") {
      r.members.set(child, r.members.get(parent)!);
      child.regions.push(r);
      continue;
    }
    const start = os.reserveVa(r.end - r.start);
    const nr: Region = {
      ...r,
      id: os.regionId(),
      start,
      end: start + (r.end - r.start),
      owner: child,
      members: new Map([[child, "rw"]]),
      pages: new Map(),
      vkey: child.vkey,
    };
    const key = os.keyFor(nr);
    for (const [va, pg] of r.pages) {
      const nf = os.allocFrame(r.pageSize, r.node);
      nf.content = pg.frame.content;
      nf.refs = 1;
      const nva = start + (va - r.start);
      nr.pages.set(nva, { frame: nf, w: r.writable });
      maps.push({ va: nva, gpa: nf.gpa, size: r.pageSize, w: r.writable, key });
      const tier = os.tierOf(pg.frame);
      l.charge(`copy${r.pageSize === 0 ? "4k" : "2m"}.${tier}`, 1, pageCopyCycles(c, r.pageSize, tier));
      frames++;
    }
    os.addRegion(child, nr);
  }
  // one root for everyone: the new addresses need only the table pages not there yet, which the core counts
  const before = os.core.tableFrames(os.vm.id).guest.length;
  os.mapPages(os.vm.guest.kernelRoot, maps);
  const tables = { pages: os.core.tableFrames(os.vm.id).guest.length - before };
  child.pkru = os.pkruOf(child);
  l.charge("frameAlloc", frames, P.tableAlloc);
  l.charge("entriesWritten", maps.length, P.pteWrite);
  l.charge("tablePages", tables.pages, P.tableAlloc + c.cpu.pageZero4k);
  l.charge("tableLinks", tables.pages, P.pteWrite);
  return { child, ledger: l };
}
