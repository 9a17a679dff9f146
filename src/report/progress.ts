/**
 * A progress bar for long runs, over cli-progress: a label, a bar, the count, the rate
 * and the ETA, redrawn at most every 100 ms. It draws only when the stream is a terminal
 * (a TTY); otherwise (CI logs, pipes, files) it writes nothing, so logs stay clean, and
 * its calls still count.
 *
 * A hot loop can call `tick()` per item: it is an add and a compare; the clock is read
 * only every `every` items, and `every` adapts so the clock is read about every 10 ms
 * whatever the cost of an item.
 *
 * @example
 * const bar = progress({ total: requests.length, label: "replay", unit: "req" });
 * for (const r of requests) {
 *   simulate(r);
 *   bar.tick();
 * }
 * bar.stop(); // final redraw and a newline; a no-op when nothing was drawn
 */
import cliProgress from "cli-progress";

/** The part of a writable stream the bar uses (process.stderr, a tty.WriteStream, ...). */
export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Items expected; 0 when unknown (then no bar, percentage nor ETA: the count and rate). */
  total: number;
  /** Text before the bar (default "progress"). */
  label?: string;
  /** Where to draw (default process.stderr). Nothing is drawn unless `stream.isTTY`. */
  stream?: ProgressStream;
  /** Name of an item in the rate, e.g. "req" gives "1.2M req/s" (default "it"). */
  unit?: string;
  /** Least time between redraws in ms (default 100). */
  intervalMs?: number;
  /** Draw even if the stream is not a TTY (default false; for tests and forced output). */
  force?: boolean;
  /** The clock in ms (default Date.now; for tests). */
  now?: () => number;
}

/** A running progress bar. All methods are cheap and safe to call after `stop()`. */
export interface Progress {
  /** Whether it draws (the stream is a TTY, or `force`). */
  readonly enabled: boolean;
  /** Items done so far. */
  readonly done: number;
  /** Items expected (0 = unknown). */
  readonly total: number;
  /** Adds `n` items (default 1). */
  tick(n?: number): void;
  /** Sets the number of items done. */
  update(done: number): void;
  /** Changes the number of items expected. */
  setTotal(total: number): void;
  /** Redraws now with the final count and ends the line. Idempotent. */
  stop(): void;
}

/** 1234567 -> "1.23M", 56789 -> "56.8k", 9999 -> "9999" (integers below 10^4 exactly). */
export function formatCount(n: number): string {
  const a = Math.abs(n);
  if (a < 10000 && Number.isInteger(n)) return String(n);
  if (a < 1000) return Number.isInteger(n) ? String(n) : n.toFixed(a < 10 ? 2 : a < 100 ? 1 : 0);
  const units = ["k", "M", "G", "T", "P"];
  let v = a;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  const s = v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
  return (n < 0 ? "-" : "") + s + units[u];
}

/** Seconds -> "42s", "3m07s", "2h05m". */
function formatSeconds(t: number): string {
  if (!Number.isFinite(t) || t < 0) return "--";
  const s = Math.round(t);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

class Disabled implements Progress {
  readonly enabled = false;
  done = 0;
  constructor(public total: number) {}
  tick(n = 1): void {
    this.done += n;
  }
  update(done: number): void {
    this.done = done;
  }
  setTotal(total: number): void {
    this.total = total;
  }
  stop(): void {}
}

/** The clock is read about this often (ms) in a hot loop. */
const CHECK_MS = 10;
const MAX_EVERY = 1 << 20;

class Bar implements Progress {
  readonly enabled = true;
  done = 0;
  private every = 1;
  private nextCheck = 1;
  private lastCheckAt: number;
  private lastDrawAt = -Infinity;
  private readonly startAt: number;
  private stopped = false;
  private readonly bar: cliProgress.SingleBar;

  constructor(
    public total: number,
    private readonly label: string,
    private readonly unit: string,
    private readonly intervalMs: number,
    private readonly now: () => number,
    stream: ProgressStream,
  ) {
    this.startAt = this.lastCheckAt = now();
    const known = total > 0;
    this.bar = new cliProgress.SingleBar({
      stream: stream as NodeJS.WritableStream,
      format: known
        ? "{label} [{bar}] {percentage}% | {count}/{all} | {rate} | ETA {etaText}"
        : "{label} {count} | {rate} | {elapsed}",
      barsize: 30,
      barCompleteChar: "=",
      barIncompleteChar: "-",
      fps: 1000 / intervalMs,
      linewrap: true, // do not send the escape that turns line wrapping off (left off if we die)
      hideCursor: false,
      noTTYOutput: true, // `force` on a non-TTY stream: one line per redraw
      notTTYSchedule: 1 << 30,
      etaBuffer: 50,
      synchronousUpdate: false, // we decide when to redraw
    });
    // cli-progress redraws on a timer too (while the loop awaits); do not let that timer
    // keep the process alive if stop() is never called.
    const bar = this.bar as unknown as { render: () => void; timer: { unref?: () => void } | null };
    const render = bar.render.bind(bar);
    bar.render = () => {
      render();
      bar.timer?.unref?.();
    };
    this.bar.start(Math.max(total, 1), 0, this.payload(this.startAt));
  }

  private payload(t: number): Record<string, string> {
    const secs = (t - this.startAt) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const eta = this.total > 0 && rate > 0 ? (this.total - this.done) / rate : Infinity;
    return {
      label: this.label,
      count: formatCount(this.done),
      all: formatCount(this.total),
      rate: `${formatCount(rate)} ${this.unit}/s`,
      etaText: this.done >= this.total ? "0s" : formatSeconds(eta),
      elapsed: formatSeconds(secs),
    };
  }

  tick(n = 1): void {
    this.done += n;
    if (this.done >= this.nextCheck) this.check();
  }

  update(done: number): void {
    this.done = done;
    if (done >= this.nextCheck || done < this.nextCheck - this.every) this.check();
  }

  setTotal(total: number): void {
    this.total = total;
    if (!this.stopped) this.bar.setTotal(Math.max(total, 1));
  }

  private check(): void {
    const t = this.now();
    // adapt the stride so the clock is read about every CHECK_MS
    const dt = t - this.lastCheckAt;
    if (dt < CHECK_MS / 2 && this.every < MAX_EVERY) this.every *= 2;
    else if (dt > CHECK_MS * 2 && this.every > 1) this.every = Math.max(1, this.every >> 1);
    this.lastCheckAt = t;
    this.nextCheck = this.done + this.every;
    if (t - this.lastDrawAt >= this.intervalMs) this.draw(t);
  }

  private draw(t: number): void {
    if (this.stopped) return;
    this.lastDrawAt = t;
    this.bar.update(Math.min(this.done, Math.max(this.total, 1)), this.payload(t));
    this.bar.render();
  }

  stop(): void {
    if (this.stopped) return;
    const t = this.now();
    this.bar.update(Math.min(this.done, Math.max(this.total, 1)), this.payload(t));
    this.stopped = true;
    this.bar.stop(); // redraws (if the line changed) and ends the line
  }
}

/**
 * Starts a progress bar on `stream` (default stderr); a silent counter when the stream
 * is not a TTY (unless `force`).
 *
 * @example
 * const bar = progress({ total: 0, label: "trace", unit: "rec" }); // total unknown
 * for await (const chunk of reader) bar.tick(chunk.count);
 * bar.stop(); // "trace 12.3M | 4.56M rec/s | 2s"
 */
export function progress(opts: ProgressOptions): Progress {
  const total = opts.total;
  if (!Number.isFinite(total) || total < 0) throw new RangeError(`total: ${total} is not a number >= 0`);
  const intervalMs = opts.intervalMs ?? 100;
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs: ${intervalMs} is not > 0`);
  const stream = opts.stream ?? process.stderr;
  if (!(stream.isTTY === true || opts.force === true)) return new Disabled(total);
  return new Bar(total, opts.label ?? "progress", opts.unit ?? "it", intervalMs, opts.now ?? Date.now, stream);
}
