/**
 * A flat, demand-mapped VM on a core: the guest's pages and the EPT's pages are of
 * one size (the `4k` and `2m` policies of REFERENCE.md section 9), guest-physical and
 * host-physical frames are handed out in order, and the guest's page-table pages come
 * from the same guest-physical space (backed by EPT pages of the same size). This is
 * what the trace command and the benchmarks replay addresses on; the OSv and UCat
 * guests (src/guest/) place memory by their own policies.
 *
 * @example
 * const core = await WasmCore.create(fullConfig);
 * const vm = new FlatVm(core, { pageSize: 0 });
 * vm.runRequests([{ vcpu: vm.vcpu, va: 0x400000, kind: READ, size: 8 }]);
 */
import type { CoreEvent, MmuCore, PageSizeCode, Request } from "./types.js";
import { PAGE_BYTES, PF_P } from "./types.js";

export interface FlatVmOptions {
  /** Page size of every guest and EPT page: 0 (4 KiB) or 1 (2 MiB). */
  pageSize: PageSizeCode;
  vm?: number;
  vcpu?: number;
  pcpu?: number;
  /** First host-physical address handed out (default 4 GiB). */
  hostBase?: number;
  /** Guest attributes of demand-mapped pages (default: user, writable, key 0). */
  user?: boolean;
}

export class FlatVm {
  readonly vm: number;
  readonly vcpu: number;
  readonly root: number;
  private nextGpa = 0;
  private nextHpa: number;
  private tableChunk = -1; // gPA of the current page that table frames are carved from
  private tableChunkHpa = 0;
  private tableUsed = 0;
  /** Guest pages mapped on demand. */
  demandMaps = 0;

  constructor(
    readonly core: MmuCore,
    readonly options: FlatVmOptions,
  ) {
    this.vm = options.vm ?? 0;
    this.vcpu = options.vcpu ?? 0;
    this.nextHpa = options.hostBase ?? 2 ** 32;
    // The EPT's own tables are host frames outside the guest's memory.
    core.addEptFrames(this.vm, [this.hostFrame4k()]);
    core.createVm(this.vm);
    this.refillEpt();
    this.tableFrame();
    this.root = core.gptNewRoot(this.vm);
    core.createVcpu(this.vcpu, this.vm, options.pcpu ?? 0);
    core.setCr3(this.vcpu, this.root, 0, false);
  }

  private hostFrame4k(): number {
    // EPT table frames: 4 KiB host frames from a region far above guest memory.
    const a = this.eptTableNext;
    this.eptTableNext += 4096;
    return a;
  }
  private eptTableNext = 2 ** 45;

  private refillEpt(): void {
    const need = 3 - this.core.framesAvailable(this.vm).ept;
    if (need > 0) this.core.addEptFrames(this.vm, Array.from({ length: need }, () => this.hostFrame4k()));
  }

  /** Backs a guest page (of the policy's size) with a new host page. */
  private back(gpa: number): number {
    const size = PAGE_BYTES[this.options.pageSize];
    this.refillEpt();
    const hpa = this.nextHpa;
    this.nextHpa += size;
    const st = this.core.eptMap(this.vm, gpa, hpa, this.options.pageSize, { r: true, w: true, x: true, memType: 6 });
    if (st !== "ok") throw new Error(`FlatVm: eptMap of ${gpa.toString(16)} failed: ${st}`);
    return hpa;
  }

  /** A new guest page of the policy's size, backed in the EPT; returns [gpa, hpa]. */
  private guestPage(): [number, number] {
    const size = PAGE_BYTES[this.options.pageSize];
    const gpa = this.nextGpa;
    this.nextGpa += size;
    return [gpa, this.back(gpa)];
  }

  /** A 4 KiB guest frame for a page-table page (carved from policy-sized pages). */
  private tableFrame(): number {
    const size = PAGE_BYTES[this.options.pageSize];
    if (this.tableChunk < 0 || this.tableUsed + 4096 > size) {
      [this.tableChunk, this.tableChunkHpa] = this.guestPage();
      this.tableUsed = 0;
    }
    const gpa = this.tableChunk + this.tableUsed;
    const hpa = this.tableChunkHpa + this.tableUsed;
    this.tableUsed += 4096;
    this.core.addGuestFrames(this.vm, [{ gpa, hpa }]);
    return gpa;
  }

  private refillGuest(): void {
    while (this.core.framesAvailable(this.vm).guest < 3) this.tableFrame();
  }

  /** Maps the page holding `va` (a guest page fault's fix). */
  mapPage(va: number): void {
    const size = PAGE_BYTES[this.options.pageSize];
    const base = va - (va % size);
    this.refillGuest();
    const [gpa] = this.guestPage();
    const st = this.core.gptMap(this.vm, this.root, base, gpa, this.options.pageSize, {
      w: true,
      u: this.options.user ?? true,
      xd: false,
      g: false,
      key: 0,
    });
    if (st !== "ok") throw new Error(`FlatVm: gptMap of ${base.toString(16)} failed: ${st}`);
    this.demandMaps++;
  }

  /**
   * Handles an event the way a demand-paging guest and hypervisor would: a not-present
   * #PF maps the page. Anything else is returned (the caller decides).
   */
  handle(ev: CoreEvent): boolean {
    if (ev.type === "page-fault" && (ev.error & PF_P) === 0) {
      this.mapPage(ev.va);
      return true;
    }
    return false;
  }

  /** Runs requests to the end, mapping on demand; other events throw. */
  runRequests(requests: Request[]): void {
    this.core.submit(requests);
    for (let ev = this.core.run(); ev; ev = this.core.run()) {
      if (!this.handle(ev)) throw new Error(`unexpected ${ev.type} at request ${ev.index} (va 0x${ev.va.toString(16)})`);
    }
  }
}
