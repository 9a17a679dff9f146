// The progress bar: silent off a TTY, drawn (throttled) on one, cheap per tick.
import { describe, expect, it } from "vitest";
import { formatCount, progress, type ProgressStream } from "../../src/report/progress.js";

class FakeStream implements ProgressStream {
  out: string[] = [];
  constructor(
    public isTTY: boolean,
    public columns = 120,
  ) {}
  write(chunk: string): boolean {
    this.out.push(chunk);
    return true;
  }
  // readline.cursorTo / clearLine call these on TTY streams that have them; they also
  // work by writing escapes when absent.
  get text(): string {
    return this.out.join("");
  }
}

/** The visible lines: the text after the last carriage-return-like redraw on each line. */
const strip = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "");

describe("progress", () => {
  it("writes nothing when the stream is not a TTY, but still counts", () => {
    const s = new FakeStream(false);
    const p = progress({ total: 100, label: "run", stream: s });
    expect(p.enabled).toBe(false);
    for (let i = 0; i < 100; i++) p.tick();
    p.update(150);
    p.setTotal(200);
    p.stop();
    p.stop();
    expect(p.done).toBe(150);
    expect(p.total).toBe(200);
    expect(s.out).toEqual([]);
  });

  it("draws a bar with the count, rate and ETA on a TTY, throttled, and ends the line", () => {
    const s = new FakeStream(true);
    let now = 1_000_000;
    const p = progress({ total: 1000, label: "replay", unit: "req", stream: s, now: () => now });
    expect(p.enabled).toBe(true);
    for (let i = 0; i < 1000; i++) {
      now += 1; // 1 ms per item: 1000 items/s
      p.tick();
    }
    p.stop();
    const text = strip(s.text);
    expect(text).toContain("replay [");
    expect(text).toMatch(/\| \d{3}\/1000 \|/);
    expect(text).toMatch(/ETA 0s/);
    expect(text).toMatch(/\| 1000 req\/s \|/);
    expect(text.endsWith("\n")).toBe(true);
    // at most one redraw per 100 ms of the 1000 ms, plus the start and the stop
    const draws = s.out.filter((c) => c.includes("replay [")).length;
    expect(draws).toBeGreaterThan(5);
    expect(draws).toBeLessThanOrEqual(13);
    const last = strip(s.out.filter((c) => c.includes("replay [")).at(-1) ?? "");
    expect(last).toContain("100%");
    expect(last).toContain("1000/1000");
    // calls after stop() draw nothing
    const n = s.out.length;
    p.tick(5);
    p.stop();
    expect(s.out.length).toBe(n);
  });

  it("shows the ETA from the rate", () => {
    const s = new FakeStream(true);
    let now = 0;
    const p = progress({ total: 10_000, label: "sweep", stream: s, now: () => now });
    now = 10_000; // 10 s for 1000 items: 9000 left at 100/s = 90 s
    p.update(1000);
    expect(strip(s.text)).toMatch(/sweep \[.*\] 10% \| 1000\/10\.0k \| 100 it\/s \| ETA 1m30s/);
    p.stop();
  });

  it("shows the count and rate when the total is unknown", () => {
    const s = new FakeStream(true);
    let now = 0;
    const p = progress({ total: 0, label: "trace", unit: "rec", stream: s, now: () => now });
    now = 2000;
    p.update(4_000_000);
    p.stop();
    expect(strip(s.text)).toContain("trace 4.00M | 2.00M rec/s | 2s");
  });

  it("reads the clock rarely in a hot loop", () => {
    const s = new FakeStream(true);
    let reads = 0;
    let t = 0;
    const p = progress({
      total: 5_000_000,
      stream: s,
      now: () => {
        reads++;
        return (t += 0.001); // the clock barely moves between reads: the stride grows
      },
    });
    for (let i = 0; i < 5_000_000; i++) p.tick();
    p.stop();
    expect(p.done).toBe(5_000_000);
    expect(reads).toBeLessThan(200);
  });

  it("draws on a non-TTY stream only when forced", () => {
    const s = new FakeStream(false);
    const p = progress({ total: 10, label: "forced", stream: s, force: true });
    p.update(10);
    p.stop();
    expect(s.text).toContain("forced [");
    expect(s.text).toContain("10/10");
  });

  it("rejects a bad total", () => {
    expect(() => progress({ total: -1 })).toThrow("total: -1 is not a number >= 0");
  });

  it("formats counts compactly", () => {
    expect([0, 999, 9999, 10_000, 12_345, 56_789, 1_234_567, 12e9, 2.5].map(formatCount)).toEqual([
      "0",
      "999",
      "9999",
      "10.0k",
      "12.3k",
      "56.8k",
      "1.23M",
      "12.0G",
      "2.50",
    ]);
  });
});
