/**
 * Replaying a trace's addresses as the application of an OSv or UCat VM
 * (`unimmu trace --policy osv|ucat`): a Simulator host with a DRAM tier and an NVM tier,
 * one VM with that back-end and guest, and one process whose accesses are the trace's.
 *
 * - Guest memory: `dram` bytes on the DRAM node and `nvm` bytes on the NVM node
 *   (defaults 1 GiB and 3 GiB, the guest memory of `unimmu compare`: a little DRAM and
 *   much NVM, UCat's setting). `osv` sees their sum as one flat guest-physical range,
 *   backed on first touch by 4 KiB EPT pages from host DRAM first, then NVM; `ucat` sees
 *   a node per tier, backed by 2 MiB EPT pages.
 * - Host memory: DRAM of `dram` bytes plus room for the EPT's table pages, and NVM
 *   (Optane cost preset) of `nvm` bytes; no NVM tier when `nvm` is 0.
 * - The trace's addresses: a trace does not say where the program's mappings were, so
 *   the guest covers the address space lazily: the first fault in a 1 GiB region of
 *   virtual space makes one fixed mapping (`GuestOs.mapFixed`) over the part of that
 *   region no other mapping or the linear map holds, and the fault is then served by the
 *   guest's policy: `osv` maps with OSv's fault policy (a 2 MiB page in a mapping's
 *   2 MiB-aligned interior when a 2 MiB frame is free, else 4 KiB), so nearly every page
 *   is a 2 MiB one; `ucat` maps 2 MiB pages, asking the back-end for 2 MiB EPT pages
 *   (both layers large). Any 48-bit address works; addresses in the guest's linear map
 *   (from 0x800000000000) are its own memory, already mapped.
 * - Frames come from the DRAM node; under `ucat`, when the DRAM node is down to
 *   `TABLE_RESERVE` bytes (kept for the guest's page tables, which live there), new pages
 *   come from the NVM node (a spill, counted). Under `osv` the one node is the whole
 *   memory. A fault the guest cannot serve (out of memory) drops that access; the
 *   drops are counted.
 *
 * @example
 * const vm = await TraceVm.create("ucat", { dram: 512 * MiB, nvm: 2 * GiB });
 * vm.put(0x400000, 0, 4);          // a fetch: queued, run in batches
 * const { stats, memory } = vm.finish();
 * memory.backing.frames;           // { "4k": 0, "2m": ..., "1g": 0 }
 */
import type { PageSizeCode } from "../../core/types.js";
import { PAGE_BYTES } from "../../core/types.js";
import { GuestOutOfMemory, SegmentationFault, type Vma } from "../../guest/guest.js";
import { fullStats, type FullStats } from "../../report/stats.js";
import { Process } from "../../sim/process.js";
import { DEFAULT_CPU, Simulator, type TierConfig } from "../../sim/simulator.js";
import { vmStats, type VmStats } from "../../sim/stats.js";
import type { Vm } from "../../sim/vm.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export const VM_POLICY_NAMES = ["osv", "ucat"] as const;
export type VmPolicy = (typeof VM_POLICY_NAMES)[number];

/** Default guest memory: 1 GiB on the DRAM node, 3 GiB on the NVM node (as `unimmu compare`); the simulator's default CPU. */
export const TRACE_VM_DEFAULTS = { dram: 1 * GiB, nvm: 3 * GiB, cpu: DEFAULT_CPU } as const;
/** Largest node: the hypervisor's limit (nodes sit 1 TiB apart). */
export const TRACE_VM_MAX_NODE = 2 ** 40;
/** Virtual space one covering mapping spans at most (a region of the address space). */
export const REGION_BYTES = GiB;
/**
 * Bytes of the DRAM node kept for the guest's page tables under `ucat` before data
 * spills to the NVM node. A guess: 2048 table pages, far more than a trace's tables need
 * (2 MiB pages take one table page per GiB of virtual space touched, plus the levels above).
 */
export const TABLE_RESERVE = 8 * MiB;

export interface TraceVmOptions {
  /** Guest memory on the DRAM node, bytes (a positive multiple of 2 MiB; default 1 GiB). */
  dram?: number;
  /** Guest memory on the NVM node, bytes (0, or a multiple of 2 MiB; default 3 GiB). */
  nvm?: number;
  /** Model 1 line-cache set in this many and estimate the line counts (`SimulatorOptions.lineSampling`; default 1, exact). */
  lineSampling?: number;
  /** Run the line cache on a worker thread (`SimulatorOptions.lineThread`; default false): the same counts, sooner on a multi-core host. */
  lineThread?: boolean;
}

/** The memory figures of a trace VM (docs/accounting.md defines those of `VmStats`). */
export interface TraceVmMemory {
  /** Guest memory by node tier, as the VM was given it. */
  guestBytesByTier: Record<string, number>;
  /** Host tiers' capacities. */
  hostCapacityByTier: Record<string, number>;
  /** Fixed mappings made to cover the trace's addresses (about one per 1 GiB region touched). */
  mappings: number;
  /** ucat: mappings whose pages moved to the NVM node because the DRAM node was full. */
  spills: number;
  /** Accesses dropped because the guest could not map them (out of guest or host memory). */
  droppedAccesses: number;
  /** Host bytes the VM holds (backing + EPT table pages), and by tier. */
  memoryBytes: number;
  memoryBytesByTier: Record<string, number>;
  /** Bytes of guest and EPT table pages. */
  pageTableBytes: number;
  backing: VmStats["backing"];
  guestPages: VmStats["guestPages"];
  guestTables: VmStats["guestTables"];
  eptTables: VmStats["eptTables"];
}

function checkBytes(name: string, v: number, allowZero: boolean): number {
  if (!Number.isSafeInteger(v) || v < 0 || (v === 0 && !allowZero) || v % (2 * MiB) !== 0 || v > TRACE_VM_MAX_NODE) {
    throw new RangeError(`${name}: ${v} is not allowed; expected ${allowZero ? "0 or " : ""}a positive multiple of 2 MiB up to 1 TiB`);
  }
  return v;
}

/**
 * The application of a trace VM: its page faults first cover the faulting address's
 * region with a fixed mapping, then fault the page in as any process does.
 */
class TraceProcess extends Process {
  mappings = 0;
  spills = 0;
  /** Node new mappings take frames from (the next one once a node is full). */
  private node = 0;

  constructor(
    vm: Vm,
    /** The page size of covering mappings: OSv's fault policy, or UCat's 2 MiB pages. */
    private readonly page: "policy" | PageSizeCode,
  ) {
    super(vm, vm.process.pid, vm.vcpu, vm.guest.kernelRoot, vm.allocator, vm.process.pcid);
  }

  override pageFault(va: number): void {
    const guest = this.vm.guest;
    const vma = guest.vmaOf(va) ?? this.cover(va);
    const last = guest.nodes.length - 1;
    for (;;) {
      // keep the metadata node's last bytes for page tables while another node has room
      if (vma.node < last && vma.node === guest.metadataNode && guest.nodes[vma.node].frames.freeBytes < TABLE_RESERVE) {
        this.spill(vma);
        continue;
      }
      try {
        guest.faultIn(vma, va, this.root);
        return;
      } catch (e) {
        if (!(e instanceof GuestOutOfMemory) || vma.node >= last) throw e;
        this.spill(vma);
      }
    }
  }

  private spill(vma: Vma): void {
    vma.node++;
    this.node = Math.max(this.node, vma.node);
    this.spills++;
  }

  /** A fixed mapping over the free part of `va`'s 1 GiB region (2 MiB-aligned for 2 MiB pages). */
  private cover(va: number): Vma {
    const guest = this.vm.guest;
    const lo = va - (va % REGION_BYTES);
    const free = guest.freeAround(va, lo, lo + REGION_BYTES);
    if (!free) throw new SegmentationFault(this.vm.id, va); // not reached: va is in no mapping
    let { start, end } = free;
    let page = this.page;
    if (page !== "policy" && page > 0) {
      const bytes = PAGE_BYTES[page];
      const s = Math.ceil(start / bytes) * bytes;
      const e = Math.floor(end / bytes) * bytes;
      if (s <= va && va < e) {
        start = s;
        end = e;
      } else {
        page = 0; // a sliver beside another mapping, too small for a large page
      }
    }
    this.mappings++;
    return guest.mapFixed(start, end, { node: this.node, page });
  }
}

/**
 * A Simulator host with one OSv or UCat VM whose application makes the trace's
 * accesses. `put` queues an access (the simulator runs its queue in batches, letting the
 * guest and the hypervisor handle faults); `finish` runs the rest and reads the figures.
 */
export class TraceVm {
  private constructor(
    readonly sim: Simulator,
    readonly vm: Vm,
    private readonly app: TraceProcess,
    readonly guestBytesByTier: Record<string, number>,
  ) {}

  static async create(policy: VmPolicy, opts: TraceVmOptions = {}): Promise<TraceVm> {
    if (policy !== "osv" && policy !== "ucat") {
      throw new RangeError(`policy: ${JSON.stringify(policy)} is not allowed; expected one of ${VM_POLICY_NAMES.join(", ")}`);
    }
    const dram = checkBytes("dram", opts.dram ?? TRACE_VM_DEFAULTS.dram, false);
    const nvm = checkBytes("nvm", opts.nvm ?? TRACE_VM_DEFAULTS.nvm, true);
    // room for the EPT's tables in host DRAM: 4 KiB EPT pages take 1/512 of the memory
    // they map in last-level tables; 1/256 covers the levels above and the pool (a guess)
    const eptRoom = Math.max(2 * MiB, Math.ceil((dram + nvm) / 256 / (2 * MiB)) * 2 * MiB);
    const tiers: TierConfig[] = [{ name: "dram", preset: "dram", capacity: dram + eptRoom }];
    if (nvm > 0) tiers.push({ name: "nvm", preset: "optane", capacity: nvm });
    const sim = await Simulator.create({
      tiers, cpu: TRACE_VM_DEFAULTS.cpu, maxVms: 1, maxVcpus: 4, ...(opts.lineSampling !== undefined ? { lineSampling: opts.lineSampling } : {}), ...(opts.lineThread ? { lineThread: true } : {}),
    });
    const nodes = [{ tier: "dram", bytes: dram }, ...(nvm > 0 ? [{ tier: "nvm", bytes: nvm }] : [])];
    const vm = sim.createVm({ policy, nodes });
    const app = new TraceProcess(vm, policy === "ucat" ? 1 : "policy");
    vm.switchTo(vm.vcpu, app);
    return new TraceVm(sim, vm, app, Object.fromEntries(nodes.map((n) => [n.tier, n.bytes])));
  }

  /** The vCPU the accesses run on. */
  get vcpu(): number {
    return this.vm.vcpu;
  }

  /** Queues one access (kind 0 fetch, 1 read, 2 write). */
  put(va: number, kind: 0 | 1 | 2, size: number): void {
    this.sim.enqueue(this.vm.vcpu, va, kind, size);
  }

  /** Runs the queued accesses. */
  flush(): void {
    this.sim.flush();
  }

  /** Gives back the line cache's thread, if any (no more accesses can run). */
  close(): void {
    this.sim.close();
  }

  /** Runs the queued accesses and returns every counter and the VM's memory figures. */
  finish(): { stats: FullStats; memory: TraceVmMemory } {
    this.sim.flush();
    const stats = fullStats(this.sim.counters(this.vm.vcpu));
    const v = vmStats(this.vm);
    const hostCapacityByTier = Object.fromEntries(this.sim.options.tiers.map((t) => [t.name, t.capacity]));
    return {
      stats,
      memory: {
        guestBytesByTier: { ...this.guestBytesByTier },
        hostCapacityByTier,
        mappings: this.app.mappings,
        spills: this.app.spills,
        droppedAccesses: this.sim.faultCount,
        memoryBytes: v.memoryBytes,
        memoryBytesByTier: v.memoryBytesByTier,
        pageTableBytes: v.pageTableBytes,
        backing: v.backing,
        guestPages: v.guestPages,
        guestTables: v.guestTables,
        eptTables: v.eptTables,
      },
    };
  }
}
