import { describe, expect, it } from "vitest";
import { KeyManager, PARKED_KEY, type VirtualKey } from "../../src/guest/isolation/keys.js";
import { KeyExhaustedError } from "../../src/guest/isolation/config.js";

function manager(virtualise: boolean, keys = [1, 2, 3]) {
  const log: [string, number][] = [];
  const m = new KeyManager({ userKeys: keys, virtualise, retag: (v: VirtualKey, to: number) => (log.push([v.label, to]), 10) });
  return { m, log };
}

describe("protection keys", () => {
  it("hands out the user keys in order and fails clearly without virtualisation", () => {
    const { m } = manager(false);
    expect(["a", "b", "c"].map((l) => m.create(l).hw)).toEqual([1, 2, 3]);
    expect(() => m.create("d")).toThrow(KeyExhaustedError);
    expect(() => m.create("d")).toThrow(/no protection key left for d: all 3 user keys are in use \(key 1: a, key 2: b, key 3: c\).*keyVirtualisation/);
  });

  it("a released key is handed out again", () => {
    const { m } = manager(false);
    const a = m.create("a");
    m.create("b");
    m.create("c");
    m.release(a);
    expect(m.create("d").hw).toBe(1);
  });

  it("virtualises: a new key starts parked, loading it evicts the least recently used and re-tags both", () => {
    const { m, log } = manager(true);
    const [a, b, c] = ["a", "b", "c"].map((l) => m.create(l));
    m.ensure([a]);
    m.ensure([c]); // b is now the least recently used
    const d = m.create("d");
    expect(d.hw).toBeNull();
    expect(m.ensure([d])).toBe(20);
    expect(b.hw).toBeNull();
    expect(d.hw).toBe(2);
    expect(log).toEqual([["b", PARKED_KEY], ["d", 2]]);
    expect(m.stats).toMatchObject({ evictions: 1, pagesRetagged: 20, resident: 3 });
  });

  it("never evicts a key the caller keeps; with more keys needed than exist the rest stay parked", () => {
    const { m } = manager(true, [1, 2]);
    const ks = ["a", "b", "c"].map((l) => m.create(l));
    m.ensure(ks);
    expect(ks.filter((k) => k.hw !== null)).toHaveLength(2);
    expect(ks[2].hw).toBeNull();
  });

  it("refuses key 0 (the kernel's) as a user key", () => {
    expect(() => new KeyManager({ userKeys: [0, 1], virtualise: false, retag: () => 0 })).toThrow(/key 0 is the kernel's/);
  });
});
