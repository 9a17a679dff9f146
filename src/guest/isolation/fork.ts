/**
 * Copy-on-write fork for the multi-address-space designs (iso-unik, none, linux), and
 * the copy-on-write fault.
 *
 * fork copies the parent's page tables: a new root (with the kernel's PML4 entries), the
 * table pages its user mappings need, and one leaf per mapped page pointing at the
 * parent's frame; every writable private page is write-protected in both (the parent's
 * entry is changed, so the parent's PCID is flushed once), and each frame's reference
 * count goes up. Shared regions stay writable in both; text stays read-only and shared.
 *
 * How the parent's mappings are found: from this module's own record of each process's
 * regions and pages, not by reading the parent's entries back with `gptEntry`. The record
 * is needed anyway (frames' reference counts, which region a page belongs to, content
 * versions), it is the authority the page tables mirror, and reading 4 KiB entries back
 * one Wasm call at a time would cost a walk per page in the simulator for nothing the
 * record does not know. The *cost* charged is what the real kernel pays walking the
 * parent's tables: per table page created, per entry copied, per reference count, per
 * write-protected entry; the number of table pages is computed exactly from the pages
 * mapped (one PDPT per 512 GiB, one PD per GiB, one PT per 2 MiB of 4 KiB pages), as
 * Linux's copy_page_range allocates only the tables that map something.
 *
 * @example
 * const { child, cost } = os.fork(parent);
 * cost.steps.entriesCopied.count;   // the parent's mapped pages
 */
import type { PageSizeCode } from "../../core/types.js";
import type { ProcessConfig } from "./config.js";
import { Ledger, pageCopyCycles } from "./costs.js";
import { syscallLedger } from "./gate.js";
import { countTables, type IsoOs, type IsoProcess, type Region } from "./processes.js";

/** Forks `parent` in a design with an address space per process. */
export function forkMultiAs(os: IsoOs, parent: IsoProcess, cfg: Required<ProcessConfig>): { child: IsoProcess; ledger: Ledger } {
  const c = os.costs;
  const P = c.params;
  const linux = os.design === "linux";
  const l = syscallLedger(os.design, c);
  if (linux) l.charge("linuxForkFixed", 1, P.linuxForkFixed);
  else l.charge("processCreate", 1, P.processCreateUnikernel);

  const child = os.newProcess(cfg, parent);
  l.charge("rootTable", 1, P.tableAlloc + c.cpu.pageZero4k);
  l.charge("kernelEntries", os.kernelEntryCount(), P.pteWrite);
  l.charge("pcidAlloc", 1, P.pcidAlloc);
  if (os.design === "iso-unik") l.charge("keySetup", 1, P.keySetup);
  child.copyHeapPointer(parent);

  const maps: { va: number; gpa: number; size: PageSizeCode; w: boolean; key: number }[] = [];
  const protect: { va: number; size: PageSizeCode; key: number }[] = [];
  const lines = new Set<number>();
  let leaves = 0;
  for (const r of parent.regions) {
    const key = os.keyFor(r);
    if (r.kind === "shared") {
      // shared memory stays shared: the child maps the same frames with the parent's rights
      const acc = r.members.get(parent)!;
      r.members.set(child, acc);
      child.regions.push(r);
      for (const [va, pg] of r.pages) {
        maps.push({ va, gpa: pg.frame.gpa, size: r.pageSize, w: r.writable && acc === "rw", key });
        pg.frame.refs++;
        lines.add(Math.floor(pg.frame.gpa / 4096 / P.refcountsPerLine));
        leaves++;
      }
      continue;
    }
    const nr: Region = { ...r, id: os.regionId(), owner: child, members: new Map([[child, "rw"]]), pages: new Map(), vkey: null };
    for (const [va, pg] of r.pages) {
      if (r.writable && pg.w) {
        protect.push({ va, size: r.pageSize, key });
        pg.w = false;
      }
      nr.pages.set(va, { frame: pg.frame, w: false });
      pg.frame.refs++;
      maps.push({ va, gpa: pg.frame.gpa, size: r.pageSize, w: false, key });
      lines.add(Math.floor(pg.frame.gpa / 4096 / P.refcountsPerLine));
      leaves++;
    }
    os.addRegion(child, nr);
  }
  os.mapPages(child.root, maps);
  for (const x of protect) {
    const st = os.core.gptProtect(os.vm.id, parent.root, x.va, x.size, { w: false, u: true, xd: false, g: false, key: x.key });
    if (st !== "ok") throw new Error(`fork: write-protect 0x${x.va.toString(16)}: ${st}`);
  }
  // the parent's TLB may hold writable entries for the pages just protected
  if (protect.length > 0) os.core.invpcid(os.vcpu, 1, parent.pcid, 0);
  child.pkru = os.pkruOf(child);

  const tables = countTables(maps);
  l.charge("tablePages", tables.pages, P.tableAlloc + c.cpu.pageZero4k);
  l.charge("tableLinks", tables.pages, P.pteWrite);
  l.charge("entriesCopied", leaves, P.pteCopy);
  l.charge("refcountIncrements", leaves, P.atomicRmw);
  if (linux) {
    // Linux keeps the count and the map count in struct page (64 B, a line per frame) and duplicates each VMA
    l.charge("rmapIncrements", leaves, P.atomicRmw);
    l.charge("structPageMisses", leaves, c.dramMiss);
    l.charge("vmaDup", parent.regions.length, P.linuxVmaDup);
  } else {
    l.charge("refcountLineMisses", lines.size, c.dramMiss);
  }
  l.charge("writeProtect", protect.length, P.atomicRmw);
  if (protect.length > 0) l.charge("parentTlbFlush", 1, P.invpcidSingle);
  return { child, ledger: l };
}

/**
 * A write to a copy-on-write page of `p` at `base`: the last user takes the page back
 * (writable again, no copy); otherwise the page is copied to a new frame of the same
 * size on the same node, charged by size and tier (a 2 MiB copy costs 512 4 KiB ones),
 * and mapped writable in place of the shared one. The #PF already dropped the TLB entry
 * for the address (docs/core.md section 4), so no INVLPG is needed.
 */
export function resolveCow(os: IsoOs, p: IsoProcess, r: Region, base: number): void {
  const c = os.costs;
  const P = c.params;
  const pg = r.pages.get(base)!;
  const f = pg.frame;
  const key = os.keyFor(r);
  const l = new Ledger(c.frequencyHz);
  l.charge("entry", 1, os.design === "linux" ? c.cpu.pageFaultLinux : c.cpu.pageFaultUnikernel);
  l.charge("refcountRead", 1, P.atomicRmw);
  if (f.refs === 1) {
    const st = os.core.gptProtect(os.vm.id, p.root, base, r.pageSize, { w: true, u: true, xd: false, g: false, key });
    if (st !== "ok") throw new Error(`cow reuse 0x${base.toString(16)}: ${st}`);
    pg.w = true;
    l.charge("reuse.pteWrite", 1, P.pteWrite);
  } else {
    const nf = os.allocFrame(r.pageSize, r.node);
    nf.content = f.content;
    const tier = os.tierOf(f);
    l.charge(`copy${r.pageSize === 0 ? "4k" : r.pageSize === 1 ? "2m" : "1g"}.${tier}`, 1, pageCopyCycles(c, r.pageSize, tier));
    l.charge("frameAlloc", 1, P.tableAlloc);
    const st = os.core.gptUnmap(os.vm.id, p.root, base, r.pageSize);
    if (st !== "ok") throw new Error(`cow unmap 0x${base.toString(16)}: ${st}`);
    os.vm.guest.map(p.root, base, nf.gpa, r.pageSize, 1, true, key);
    nf.refs = 1;
    os.unref(f);
    pg.frame = nf;
    pg.w = true;
    l.charge("pteWrite", 1, P.pteWrite);
    l.charge("refcountDecrement", 1, P.atomicRmw);
  }
  os.ledger.add(l, "cowFault.");
  os.cowFaults[r.pageSize]++;
}
