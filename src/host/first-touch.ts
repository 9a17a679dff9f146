/**
 * First touches backed in the core (docs/core.md section 5d). The osv back-end backs a
 * guest page on its first touch with the next 4 KiB frame of its first tier and tops
 * the VM's EPT table pool up to 3 frames from the same tier. Each such EPT violation
 * used to stop the core's run, cross to the host, allocate and map, and cross back.
 *
 * Instead this draws the tier's next frames from the host's allocator ahead of time,
 * in the order single allocations would return them (`begin`, before a run), and the
 * core takes them one fault at a time, data page then pool frames, exactly as
 * `Hypervisor.back` would. After each run (`end`) the frames taken are accounted to
 * their VMs and the host; the rest stay reserved for the next run, until anything else
 * touches the host's memory (another back-end's allocation, the guest's table frames, a
 * fault the core left to the host, a report): the host then has them given back first
 * (`HostMemory.holdUntilTouched`), and is as if only the taken ones had been allocated.
 * So no other allocation comes between them: results are identical to handling every
 * fault on the host (the tests compare the two).
 *
 * The stream starts at 64 frames and doubles after a run that took half of them (up to
 * the core's 4096); after the host had it given back, it holds twice what was taken
 * since the last time (at least 8), so that a host touched often (forks, copy-on-write
 * faults) frees few. A run that needs more than the stream holds stops at an EPT
 * violation as before, and the host backs that page itself.
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

/** Frames the stream starts with (a guess: a few faults' worth); it doubles after a run that took half of them, up to the core's 4096. */
const FIRST_WANT = 64;
/** The fewest frames the stream keeps (a fault takes up to 4: its page and 3 table frames; 8 covers two). */
const MIN_WANT = 8;

export class FirstTouch {
  private readonly frames = new Float64Array(BACKING.CAPACITY);
  /** Frames reserved and not taken: `frames[0..held)`, the front of the core's stream too. */
  private held = 0;
  private want = FIRST_WANT;
  /** Frames the core took since the host last had the stream given back. */
  private takenSince = 0;
  private readonly tier: number;
  private readonly enabled = new Set<number>();
  private started = false;
  /** Gives the frames not taken back: the host calls it before anything else touches it. */
  private readonly release = (): void => {
    if (this.started) throw new Error("FirstTouch: the host's memory was touched while the core ran on reserved frames");
    this.host.unreserve(this.frames, 0, this.held);
    this.held = 0;
    // where the host's memory is touched often (forks, copy-on-write faults), hold about
    // twice what was taken between touches: giving frames back costs a free each
    this.want = Math.min(BACKING.CAPACITY, Math.max(MIN_WANT, 2 * this.takenSince));
    this.takenSince = 0;
  };

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

  /** Stops backing `vm`'s first touches in the core (before the VM is destroyed). */
  disable(vm: number): void {
    if (this.enabled.delete(vm)) this.core.firstTouchVm(vm, 0);
  }

  /** Whether any VM is enabled: without one, runs need no frames. */
  get active(): boolean {
    return this.enabled.size > 0;
  }

  /** Before a run: tops the stream up when it is half empty and hands it to the core. */
  begin(): void {
    if (this.started) throw new Error("FirstTouch.begin: the last run has not ended");
    const from = this.held;
    if (this.held * 2 < this.want) this.held += this.host.reserve(this.tier, this.want - this.held, this.frames, this.held);
    if (this.held > 0) this.host.holdUntilTouched(this.release);
    this.core.firstTouchStart(this.frames, from, this.held);
    this.started = true;
  }

  /** After a run (also when it threw): accounts the frames taken; the rest stay reserved for the next run. */
  end(): void {
    if (!this.started) return;
    this.started = false;
    const log = this.core.firstTouchEnd();
    const taken = log.length;
    if (taken === 0) return;
    this.hv.recordCoreBackings(log, this.frames.subarray(0, taken));
    this.host.countTaken(taken);
    this.frames.copyWithin(0, taken, this.held);
    this.held -= taken;
    this.takenSince += taken;
    // a run that took half of them may have needed more: the next one gets twice as many
    if (taken * 2 >= this.want) this.want = Math.min(BACKING.CAPACITY, this.want * 2);
  }
}
