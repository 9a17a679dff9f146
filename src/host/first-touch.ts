/**
 * First touches backed in the core (docs/core.md section 5d). The osv back-end backs a
 * guest page on its first touch with the next 4 KiB frame of its first tier and tops
 * the VM's EPT table pool up to 3 frames from the same tier. Each such EPT violation
 * used to stop the core's run, cross to the host, allocate and map, and cross back.
 *
 * Instead, around each of the core's runs this draws the tier's next frames from the
 * host's allocator ahead of time (`begin`), in the order single allocations would
 * return them, and the core takes them one fault at a time, data page then pool frames,
 * exactly as `Hypervisor.back` would. After the run (`end`) the frames taken are
 * accounted to their VMs and the host, and the rest go back to the allocator, which is
 * then as if only the taken ones had been allocated. Between runs nothing is held, so
 * no other allocation can come between: results are identical to handling every fault
 * on the host (the tests compare the two).
 *
 * How many frames a run gets follows the last run's use (between 4 and the core's
 * 4096): a run that needs more stops at an EPT violation as before, the host backs that
 * page itself, and the next run gets twice as many.
 *
 * @example
 * const ft = new FirstTouch(core, host, hv);   // hv: the osv back-end (hv.inCoreTier() >= 0)
 * ft.enable(vm.id, 4 * GiB);
 * ft.begin(); try { core.run(); } finally { ft.end(); }
 */
import type { WasmCore } from "../core/wasm.js";
import { BACKING } from "../core/layout.js";
import type { Hypervisor } from "./hypervisor.js";
import type { HostMemory } from "./memory.js";

/** Frames a run gets at least (one fault with a pool to top up takes up to 4). */
const MIN_FRAMES = 4;

export class FirstTouch {
  private readonly frames = new Float64Array(BACKING.CAPACITY);
  private drawn = 0;
  private want = MIN_FRAMES;
  private readonly tier: number;
  private readonly enabled = new Set<number>();
  private started = false;

  constructor(
    private readonly core: WasmCore,
    private readonly host: HostMemory,
    private readonly hv: Hypervisor,
  ) {
    this.tier = hv.inCoreTier();
    if (this.tier < 0) throw new RangeError("FirstTouch: this back-end's first touches cannot be backed in the core (osv in tier order only, its EPT tables in its first tier)");
  }

  /** Lets the core back `vm`'s first touches below guest-physical `limit` (its memory's bytes). */
  enable(vm: number, limit: number): void {
    this.core.firstTouchVm(vm, limit);
    this.enabled.add(vm);
  }

  /** Stops backing `vm`'s first touches in the core (a destroyed VM needs no call). */
  disable(vm: number): void {
    if (this.enabled.delete(vm)) this.core.firstTouchVm(vm, 0);
  }

  /** Whether any VM is enabled: without one, runs need no frames. */
  get active(): boolean {
    return this.enabled.size > 0;
  }

  /** Before a run: draws frames for it and hands them to the core. */
  begin(): void {
    if (this.started) throw new Error("FirstTouch.begin: the last run has not ended");
    this.drawn = this.host.reserve(this.tier, this.want, this.frames);
    this.core.firstTouchStart(this.frames, this.drawn);
    this.started = true;
  }

  /** After a run (also when it threw): accounts the frames taken and gives the rest back. */
  end(): void {
    if (!this.started) return;
    this.started = false;
    const log = this.core.firstTouchEnd();
    const taken = log.length;
    this.hv.recordCoreBackings(log, this.frames.subarray(0, taken));
    this.host.countTaken(taken);
    this.host.unreserve(this.frames, taken, this.drawn);
    // the next run's frames: twice as many after a run that took them all (it may have
    // needed more), else a quarter more than this run took (what is not taken costs a
    // free, and a run short of frames costs one fault on the host and one more run)
    this.want = taken === this.drawn ? Math.min(BACKING.CAPACITY, Math.max(this.want, taken) * 2) : Math.min(BACKING.CAPACITY, MIN_FRAMES + taken + (taken >> 2));
  }

  /** VMs whose first touches the core backs. */
  vms(): number[] {
    return [...this.enabled];
  }
}
