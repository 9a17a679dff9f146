/**
 * The hypervisor (the back-end): how each VM's guest-physical memory is laid out and
 * backed by host frames through the EPT.
 *
 * - `osv` (the baseline, QEMU/KVM without hugepage backing): the guest sees one flat
 *   guest-physical range; it is backed on first touch with 4 KiB EPT pages, from the
 *   tiers in order (DRAM first, then NVM) or interleaved page by page.
 * - `ucat` (inferred from UCat and HMvisor, REFERENCE.md section 1): each tier is its
 *   own guest-physical range, a virtual NUMA node the guest allocates from by name;
 *   it is backed with the largest EPT page the node's alignment and the host's free
 *   frames allow (1 GiB, 2 MiB, else 4 KiB), and every fall-back is counted.
 *
 * EPT table pages are host frames of the page-table tier (DRAM by default: host
 * kernels allocate them from ordinary memory). When no allowed tier has a frame, the
 * back-end either falls back to the next tier or reports out-of-memory to the guest;
 * it never over-commits.
 *
 * @example
 * const hv = new Hypervisor(core, host, { policy: "ucat" });
 * const vm = hv.createVm(0, [{ tier: "dram", bytes: 2 * GiB }, { tier: "nvm", bytes: 8 * GiB }]);
 * hv.back(0, 0x1000);          // backs the 2 MiB or 1 GiB page around gPA 0x1000
 */
import type { WasmCore } from "../core/wasm.js";
import type { PageSizeCode } from "../core/types.js";
import { PAGE_BYTES } from "../core/types.js";
import type { HostMemory } from "./memory.js";
import { ORDER_1G, ORDER_2M, ORDER_4K, sizeName } from "./buddy.js";
import { formatIssue, type PresetIssue } from "../cost/schema.js";

/** The keys of `frames` by page size code. */
const FRAME_KEYS = ["4k", "2m", "1g"] as const;

export type BackendPolicy = "osv" | "ucat";

export interface HypervisorOptions {
  policy: BackendPolicy;
  /** When a tier is full: take the next tier, or fail with out-of-memory. Default: next-tier. */
  onTierFull?: "next-tier" | "fail";
  /** osv: fill DRAM first, or interleave tiers page by page. Default: dram-first. */
  osvPlacement?: "tier-order" | "interleave";
  /**
   * Largest EPT page ucat backs a first touch with (1 = 2 MiB, the default; 2 = 1 GiB).
   * A 1 GiB EPT page on first touch would hold a whole GiB of host memory for one
   * byte; the guest asks for 1 GiB backing explicitly for its 1 GiB allocations.
   */
  maxEptPage?: PageSizeCode;
  /** Tier of EPT table pages. Default: the first tier. */
  pageTableTier?: string;
  /** Back every guest page when the VM is created instead of on first touch. */
  prepopulate?: boolean;
  /**
   * osv: let the core back first touches itself, from host frames drawn ahead in the
   * order this back-end would take them (src/host/first-touch.ts): the same frames,
   * tables and statistics, without a trip to the host per fault. Default true; false
   * handles every EPT violation here (the reference the tests compare it with).
   */
  backInCore?: boolean;
}

/** A guest-physical node: a range the guest allocates from, backed by one tier (ucat) or by the tier order (osv). */
export interface GuestNode {
  index: number;
  /** Tier the node stands for (osv: the first tier of the order). */
  tier: string;
  base: number;
  bytes: number;
}

export interface BackedPage {
  hpa: number;
  order: number;
  tier: string;
}

/** Per VM accounting of the back-end. */
export interface BackingStats {
  /** Host bytes backing guest memory, by tier. */
  bytesByTier: Record<string, number>;
  /** Host frames backing guest memory by size: 4k, 2m, 1g. */
  frames: { "4k": number; "2m": number; "1g": number };
  /** EPT table pages and the tiers they live in. */
  eptTablePages: number;
  eptTableBytesByTier: Record<string, number>;
  /** Backings that got a smaller page than the node asked for, or another tier. */
  smallerFallbacks: number;
  tierFallbacks: number;
  outOfMemory: number;
}

interface VmBacking {
  id: number;
  nodes: GuestNode[];
  // Backed pages are not recorded here: the EPT in the core is the record (eptEntry,
  // eptLeaves), so a backed page costs the host no memory of its own.
  eptTables: { hpa: number; tier: string }[];
  interleave: number;
  stats: BackingStats;
}

/** Guest-physical nodes sit 1 TiB apart so any node can hold 1 GiB pages (ucat). */
export const NODE_STRIDE = 2 ** 40;
const ORDER_OF: Record<PageSizeCode, number> = { 0: ORDER_4K, 1: ORDER_2M, 2: ORDER_1G };
const CODE_OF: Record<number, PageSizeCode> = { [ORDER_4K]: 0, [ORDER_2M]: 1, [ORDER_1G]: 2 };
const RWX = { r: true, w: true, x: true, memType: 6 };

export class OutOfMemoryError extends Error {
  constructor(
    readonly vm: number,
    readonly gpa: number,
  ) {
    super(`vm ${vm}: out of host memory backing gPA 0x${gpa.toString(16)}`);
    this.name = "OutOfMemoryError";
  }
}

/**
 * Every problem of back-end `options` on a host with tiers `tierNames` that
 * `new Hypervisor` would refuse, without a host or a core (paths under the options,
 * e.g. `pageTableTier`): callers check a configuration with it before they build one.
 *
 * @example
 * backendIssues({ policy: "osv", pageTableTier: "hbm" }, ["dram"]); // [{ path: "pageTableTier", value: "hbm", allowed: "expected one of the host's tiers: dram" }]
 */
export function backendIssues(options: HypervisorOptions, tierNames: readonly string[]): PresetIssue[] {
  const issues: PresetIssue[] = [];
  if (options.policy !== "osv" && options.policy !== "ucat") issues.push({ path: "policy", value: options.policy, allowed: `expected "osv" or "ucat"` });
  const pt = options.pageTableTier;
  if (pt !== undefined && !tierNames.includes(pt)) issues.push({ path: "pageTableTier", value: pt, allowed: `expected one of the host's tiers: ${tierNames.join(", ")}` });
  return issues;
}

/**
 * Every problem of a VM's guest memory `nodes` that `createVm` would refuse on a host
 * with tiers `tierNames` (paths under the nodes' list, e.g. `nodes.0.bytes`), without
 * a host or a core.
 *
 * @example
 * nodeIssues("osv", [{ tier: "dram", bytes: 3 * MiB }], ["dram"])[0].path; // "nodes.0.bytes"
 */
export function nodeIssues(policy: BackendPolicy, nodes: readonly { tier: string; bytes: number }[], tierNames: readonly string[]): PresetIssue[] {
  if (!Array.isArray(nodes) || nodes.length === 0) return [{ path: "nodes", value: nodes, allowed: "expected at least one { tier, bytes }" }];
  const issues: PresetIssue[] = [];
  nodes.forEach((n, i) => {
    if (!tierNames.includes(n?.tier)) issues.push({ path: `nodes.${i}.tier`, value: n?.tier, allowed: `expected one of the host's tiers: ${tierNames.join(", ")}` });
    // whole 2 MiB pages (the EPT's large pages); up to the 1 TiB stride between ucat's nodes
    if (!Number.isInteger(n?.bytes) || n.bytes <= 0 || n.bytes % PAGE_BYTES[1] !== 0 || n.bytes > NODE_STRIDE) {
      issues.push({ path: `nodes.${i}.bytes`, value: n?.bytes, allowed: "expected a positive multiple of 2 MiB up to 1 TiB" });
    }
  });
  if (!issues.length && guestLayout(policy, nodes).some((n) => n.base + n.bytes > 2 ** 46)) {
    issues.push({ path: "nodes", value: nodes, allowed: `expected guest memory below 2^46 (ucat places node i at i TiB: at most 64 nodes; osv's one range at most 64 TiB)` });
  }
  return issues;
}

/**
 * The problem, if any, of prepopulating (backing every page when the VM is made) a VM of
 * these `nodes` on a host with `hostBytes` to give (its free bytes, or, before it has
 * any VM, its capacity): a VM larger than that cannot be. One that fits the total may
 * still miss its tiers' room, or its tables': that is found as it is backed.
 *
 * @example
 * prepopulateIssue([{ tier: "dram", bytes: 2 * GiB }], GiB)?.path; // "prepopulate"
 */
export function prepopulateIssue(nodes: readonly { bytes: number }[], hostBytes: number): PresetIssue | null {
  const guest = nodes.reduce((a, n) => a + n.bytes, 0);
  if (guest <= hostBytes) return null;
  return { path: "prepopulate", value: true, allowed: `expected false, or nodes that fit the host: it backs all ${sizeName(guest)} of the VM's nodes when the VM is made, and the host has ${sizeName(hostBytes)} to give` };
}

/** The guest-physical nodes of a VM: osv's one flat range of all the bytes, or ucat's node per tier 1 TiB apart. */
function guestLayout(policy: BackendPolicy, nodes: readonly { tier: string; bytes: number }[]): GuestNode[] {
  return policy === "osv"
    ? [{ index: 0, tier: nodes[0].tier, base: 0, bytes: nodes.reduce((a, n) => a + n.bytes, 0) }]
    : nodes.map((n, i) => ({ index: i, tier: n.tier, base: i * NODE_STRIDE, bytes: n.bytes }));
}

export class Hypervisor {
  readonly policy: BackendPolicy;
  private readonly vms = new Map<number, VmBacking>();
  private readonly tierOrder: string[];
  private readonly ptTier: string;
  /** Tier orders by tier index, resolved once (a fault allocates with one): all tiers in order, the page-table tier's order, and each tier's own first (ucat). */
  private readonly tierIdx: number[];
  private readonly ptIdx: number[];
  private readonly firstIdx: number[][];

  constructor(
    readonly core: WasmCore,
    readonly host: HostMemory,
    readonly options: HypervisorOptions,
  ) {
    const problem = backendIssues(options, host.tierNames())[0];
    if (problem) throw new RangeError(formatIssue(problem));
    this.policy = options.policy;
    this.tierOrder = host.tierNames();
    this.ptTier = options.pageTableTier ?? this.tierOrder[0];
    this.tierIdx = this.tierOrder.map((t) => host.tierIndex(t));
    this.firstIdx = this.tierIdx.map((i) => [i, ...this.tierIdx.filter((j) => j !== i)]);
    const pt = host.tierIndex(this.ptTier);
    this.ptIdx = options.onTierFull === "fail" ? [pt] : this.firstIdx[this.tierIdx.indexOf(pt)];
  }

  /**
   * Creates VM `id` with guest memory of `nodes` ({ tier, bytes } each; osv takes the
   * sum as one flat range). Node sizes must be whole 2 MiB pages.
   */
  createVm(id: number, nodes: { tier: string; bytes: number }[]): GuestNode[] {
    if (this.vms.has(id)) throw new RangeError(`vm: ${id} already exists`);
    const problem = nodeIssues(this.policy, nodes, this.host.tierNames())[0];
    if (problem) throw new RangeError(formatIssue(problem));
    if (this.options.prepopulate) {
      const free = this.host.tierNames().reduce((a, t) => a + this.host.usage(t).bytesFree, 0);
      const full = prepopulateIssue(nodes, free);
      if (full) throw new RangeError(formatIssue(full));
    }
    const layout = guestLayout(this.policy, nodes);
    const root = this.tableFrame();
    if (root === null) throw new OutOfMemoryError(id, 0);
    this.core.addEptFrames(id, [root.hpa]);
    this.core.createVm(id);
    const vm: VmBacking = {
      id,
      nodes: layout,
      eptTables: [root],
      interleave: 0,
      stats: {
        bytesByTier: Object.fromEntries(this.tierOrder.map((t) => [t, 0])),
        frames: { "4k": 0, "2m": 0, "1g": 0 },
        eptTablePages: 1,
        eptTableBytesByTier: Object.fromEntries(this.tierOrder.map((t) => [t, t === root.tier ? 4096 : 0])),
        smallerFallbacks: 0,
        tierFallbacks: 0,
        outOfMemory: 0,
      },
    };
    this.vms.set(id, vm);
    if (this.options.prepopulate) {
      for (const n of layout) for (let g = n.base; g < n.base + n.bytes; ) g = this.backOrThrow(vm, g);
    }
    return layout;
  }

  nodes(id: number): GuestNode[] {
    return this.vm(id).nodes;
  }

  private vm(id: number): VmBacking {
    const vm = this.vms.get(id);
    if (!vm) throw new RangeError(`vm: ${id} does not exist`);
    return vm;
  }

  private tableFrame(): { hpa: number; tier: string } | null {
    const r = this.host.allocInTiers(ORDER_4K, this.ptIdx);
    return r ? { hpa: r.hpa, tier: r.tier } : null;
  }

  /** Keeps the core's EPT frame pool at 3, the most one map can take. */
  private refillEptPool(vm: VmBacking): boolean {
    for (let need = 3 - this.core.eptFramesQueued(vm.id); need > 0; need--) {
      const f = this.tableFrame();
      if (!f) return false;
      vm.eptTables.push(f);
      vm.stats.eptTablePages++;
      vm.stats.eptTableBytesByTier[f.tier] += 4096;
      this.core.addEptFrames(vm.id, [f.hpa]);
    }
    return true;
  }

  private nodeOf(vm: VmBacking, gpa: number): GuestNode {
    const n = vm.nodes.find((x) => gpa >= x.base && gpa < x.base + x.bytes);
    if (!n) throw new RangeError(`vm ${vm.id}: gPA 0x${gpa.toString(16)} is in no guest memory node`);
    return n;
  }

  /** The largest EPT page size this policy may use at `gpa` (alignment, node bounds, nothing mapped inside). */
  private largestFit(vm: VmBacking, node: GuestNode, gpa: number, want?: PageSizeCode): PageSizeCode {
    if (this.policy === "osv") return 0;
    const max = Math.max(want ?? 0, this.options.maxEptPage ?? 1);
    const e = this.core.eptEntry(vm.id, gpa);
    for (let size = max; size >= 1; size--) {
      const bytes = PAGE_BYTES[size];
      const base = gpa - (gpa % bytes);
      // empty at that level: the entry that would hold the leaf is not present
      const emptyAt = e.level >= size + 1 && (e.raw & 7n) === 0n;
      if (emptyAt && base >= node.base && base + bytes <= node.base + node.bytes) return size as PageSizeCode;
    }
    return 0;
  }

  /**
   * Backs the guest page holding `gpa` (an EPT violation's fix, or the guest asking
   * ahead for a page-table frame). Returns the backed page, or null when out of memory
   * (the guest sees it). A page already backed is returned as it is. `want` asks for
   * a larger EPT page than the policy's first-touch size (ucat's 1 GiB allocations).
   */
  back(id: number, gpa: number, want?: PageSizeCode): BackedPage | null {
    const vm = this.vm(id);
    // (the numeric lookup first: the entry's BigInt read only for a page already backed)
    const hit = this.core.eptLookup(vm.id, gpa) === null ? null : this.lookup(vm, gpa);
    if (hit) return hit;
    const node = this.nodeOf(vm, gpa);
    let size = this.largestFit(vm, node, gpa, want);
    const tiers = this.tiersFor(vm, node);
    const wanted = size;
    let got: { hpa: number; tier: string; order: number } | null = null;
    for (; ; size--) {
      got = this.host.allocInTiers(ORDER_OF[size as PageSizeCode], tiers);
      if (got || size === 0) break;
    }
    if (!got) {
      vm.stats.outOfMemory++;
      return null;
    }
    if (size < wanted) vm.stats.smallerFallbacks++;
    if (got.tier !== this.tierOrder[tiers[0]]) vm.stats.tierFallbacks++;
    const bytes = PAGE_BYTES[size as PageSizeCode];
    // (by division, exact for a power of two: `%` of a gPA above 2^31 is a slow call)
    const base = Math.floor(gpa / bytes) * bytes;
    if (!this.refillEptPool(vm)) {
      this.host.free(got.hpa, got.order);
      vm.stats.outOfMemory++;
      return null;
    }
    const st = this.core.eptMap(vm.id, base, got.hpa, size as PageSizeCode, RWX);
    if (st !== "ok") throw new Error(`vm ${vm.id}: eptMap of gPA 0x${base.toString(16)} failed: ${st}`);
    const page: BackedPage = { hpa: got.hpa, order: got.order, tier: got.tier };
    vm.stats.bytesByTier[got.tier] += bytes;
    vm.stats.frames[FRAME_KEYS[size as PageSizeCode]]++;
    return page;
  }

  private backOrThrow(vm: VmBacking, gpa: number): number {
    const p = this.back(vm.id, gpa);
    if (!p) throw new OutOfMemoryError(vm.id, gpa);
    const bytes = 4096 * 2 ** p.order;
    return gpa - (gpa % bytes) + bytes;
  }

  /**
   * The tier (an index) whose next 4 KiB frames the core may take for this back-end's
   * first touches, or -1 when it must not: only osv in tier order, whose data pages and
   * EPT tables both come first from that tier (then a frame drawn ahead is the one
   * `back` would take, whichever of the two takes it).
   */
  inCoreTier(): number {
    if (this.policy !== "osv" || this.options.backInCore === false || this.options.osvPlacement === "interleave") return -1;
    return this.ptIdx[0] === this.tierIdx[0] ? this.tierIdx[0]! : -1;
  }

  /**
   * Accounts backings the core made itself (src/host/first-touch.ts): `log[i]` names the
   * VM and the use of `frames[i]`, as `WasmCore.firstTouchEnd` returns them: a data
   * page (`vm << 1`) or an EPT table frame added to the VM's pool (`vm << 1 | 1`).
   */
  recordCoreBackings(log: Uint32Array, frames: Float64Array): void {
    for (let i = 0; i < log.length; i++) {
      const vm = this.vm(log[i]! >>> 1);
      const tier = this.host.tiers[this.host.tierIndexOf(frames[i]!)]!.name;
      if (log[i]! & 1) {
        vm.eptTables.push({ hpa: frames[i]!, tier });
        vm.stats.eptTablePages++;
        vm.stats.eptTableBytesByTier[tier] += 4096;
      } else {
        vm.stats.bytesByTier[tier] += 4096;
        vm.stats.frames["4k"]++;
      }
    }
  }

  /** Tiers (by index) to take frames from for a node, in order. */
  private tiersFor(vm: VmBacking, node: GuestNode): readonly number[] {
    const fail = this.options.onTierFull === "fail";
    if (this.policy === "ucat") {
      const order = this.firstIdx[this.host.tierIndex(node.tier)];
      return fail ? [order[0]] : order;
    }
    if (this.options.osvPlacement === "interleave") {
      const k = vm.interleave++ % this.tierIdx.length;
      const order = [...this.tierIdx.slice(k), ...this.tierIdx.slice(0, k)];
      return fail ? [order[0]] : order;
    }
    return this.tierIdx;
  }

  /** The backed page that holds `gpa`, if any (read from the EPT). */
  lookup(vm: VmBacking | number, gpa: number): BackedPage | null {
    const v = typeof vm === "number" ? this.vm(vm) : vm;
    const e = this.core.eptEntry(v.id, gpa);
    if (e.level === 0 || (e.raw & 7n) === 0n) return null;
    const size = (e.level - 1) as PageSizeCode;
    const hpa = Number(e.raw & 0x3fff_ffff_f000n) - (size > 0 ? Number(e.raw & 0x3fff_ffff_f000n) % PAGE_BYTES[size] : 0);
    return { hpa, order: ORDER_OF[size], tier: this.host.tierOf(hpa) ?? this.tierOrder[0] };
  }

  /**
   * The tier of the backed page holding `gpa`, or null when none is: `lookup(id, gpa)?.tier`
   * by a numeric walk (no entry read as a BigInt, no object), for callers that ask per page.
   */
  tierAt(id: number, gpa: number): string | null {
    const h = this.core.eptLookup(this.vm(id).id, gpa);
    // (a page lies in one tier, so its exact address names the tier its base does)
    return h === null ? null : (this.host.tierOf(h) ?? this.tierOrder[0]!);
  }

  /**
   * The index (in the host's tier order) of the tier of the backed page holding `gpa`, or
   * -1 when none is: {@link tierAt} with no name, for per-page statistics.
   */
  tierIndexAt(id: number, gpa: number): number {
    const i = this.core.eptTierIndex(this.vm(id).id, gpa);
    return i !== -2 ? i : this.tierIndexByName(id, gpa);
  }

  /** The core's -2 (a host address past the core's tiers, which are the host's in its order): the index by the tier's name. */
  private tierIndexByName(id: number, gpa: number): number {
    return this.host.tierIndex(this.tierAt(id, gpa)!);
  }

  /**
   * {@link tierIndexAt} of `n` (1..4096) consecutive 4 KiB pages from `gpa` (aligned), into
   * `out`: one call into the core for a run of pages.
   */
  tierIndicesAt(id: number, gpa: number, n: number, out: Int32Array): void {
    this.core.eptTierIndices(this.vm(id).id, gpa, n, out);
    for (let i = 0; i < n; i++) if (out[i] === -2) out[i] = this.tierIndexByName(id, gpa + i * 4096);
  }

  /** Host address of a backed gPA (for the guest's table frames). */
  hpaOf(id: number, gpa: number): number | null {
    const p = this.lookup(id, gpa);
    if (!p) return null;
    const bytes = 4096 * 2 ** p.order;
    return p.hpa + (gpa % bytes);
  }

  stats(id: number): BackingStats {
    return structuredClone(this.vm(id).stats);
  }

  /** Destroys a VM: its core state, every backing frame and every EPT table page. */
  destroyVm(id: number): void {
    const vm = this.vm(id);
    for (const leaf of this.core.eptLeaves(id)) this.host.free(leaf.hpa, ORDER_OF[leaf.size]);
    this.core.destroyVm(id);
    for (const t of vm.eptTables) this.host.free(t.hpa, ORDER_4K);
    this.vms.delete(id);
  }

  /** Page-size code of a backed page's frame order. */
  static sizeOfOrder(order: number): PageSizeCode {
    return CODE_OF[order];
  }
}
