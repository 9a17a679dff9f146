// Replacement in a full set: LRU, FIFO and seeded random (xorshift32), and the rule that
// invalid ways are filled first (lowest-numbered), observed through the 4-way DTLB 4K.
import { describe, expect, it } from "vitest";
import { READ, type Replacement } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { TestVm, plainConfig, probe } from "./setup.js";

// DTLB 4K: 64 entries, 4 ways, 16 sets. Pages 16 VPNs apart share DTLB set 0 and sit in
// distinct STLB sets (128 sets): VPN 0x10000 + 16k -> STLB set 16k, k < 8.
const BASE = 0x1000_0000;
const P = (k: number) => BASE + k * 16 * 4096;

/** xorshift32 as docs/core.md section 3 gives it, written again here. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    return x;
  };
}

describe.each(implementations)("$name: replacement", ({ create }) => {
  function setup(replacement: Replacement, seed = 1, pages = 6): TestVm {
    const vm = new TestVm(create(plainConfig({ replacement, seed })));
    for (let k = 0; k < pages; k++) vm.map(P(k));
    return vm;
  }
  const read = (vm: TestVm, k: number) => expect(vm.access(P(k), READ)).toBeNull();

  it("xorshift32 reference values (seed 1: 270369, 67634689, 2647435461)", () => {
    const next = xorshift(1);
    expect([next(), next(), next()]).toEqual([270369, 67634689, 2647435461]);
  });

  it("lru: a hit protects a way; the least recently used is evicted", () => {
    const vm = setup("lru");
    for (const k of [0, 1, 2, 3]) read(vm, k);
    expect(probe(vm, P(0))).toBe("l1"); // order now 1 2 3 0
    read(vm, 4); // evicts 1
    expect(probe(vm, P(0))).toBe("l1");
    expect(probe(vm, P(2))).toBe("l1");
    expect(probe(vm, P(3))).toBe("l1");
    expect(probe(vm, P(4))).toBe("l1");
    expect(probe(vm, P(1))).toBe("stlb"); // evicts 0, the least recent of 0 2 3 4
    expect(probe(vm, P(2))).toBe("l1");
    expect(probe(vm, P(0))).toBe("stlb");
  });

  it("fifo: a hit does not protect; the longest resident is evicted", () => {
    const vm = setup("fifo");
    for (const k of [0, 1, 2, 3]) read(vm, k);
    expect(probe(vm, P(0))).toBe("l1");
    read(vm, 4); // evicts 0 (filled first)
    expect(probe(vm, P(1))).toBe("l1");
    expect(probe(vm, P(2))).toBe("l1");
    expect(probe(vm, P(3))).toBe("l1");
    expect(probe(vm, P(4))).toBe("l1");
    expect(probe(vm, P(0))).toBe("stlb"); // evicts 1
    expect(probe(vm, P(2))).toBe("l1");
    expect(probe(vm, P(1))).toBe("stlb"); // evicts 2
    expect(probe(vm, P(2))).toBe("stlb");
  });

  it.each([0, 1, 12345, 0xdeadbeef])("random (seed %i): the way is next() mod 4, drawn only on evictions", (seed) => {
    const vm = setup("random", seed);
    const next = xorshift(seed);
    const ways = [0, 1, 2, 3];
    for (const k of ways) read(vm, k); // fills ways 0..3, no draw
    read(vm, 4);
    const w1 = next() % 4;
    const victim1 = ways[w1]!;
    ways[w1] = 4;
    for (const k of ways) expect(probe(vm, P(k))).toBe("l1");
    expect(probe(vm, P(victim1))).toBe("stlb"); // fills with a second draw
    const w2 = next() % 4;
    const victim2 = ways[w2]!;
    ways[w2] = victim1;
    for (const k of ways) expect(probe(vm, P(k))).toBe("l1");
    expect(probe(vm, P(victim2))).toBe("stlb");
  });

  it("lru: an invalidated way is refilled first, without evicting", () => {
    const vm = setup("lru");
    for (const k of [0, 1, 2, 3]) read(vm, k);
    vm.core.invlpg(vm.vcpu, P(2));
    read(vm, 4); // into way 2
    for (const k of [0, 1, 3, 4]) expect(probe(vm, P(k))).toBe("l1");
    expect(probe(vm, P(2))).toBe("walk"); // INVLPG dropped it from the STLB too; evicts 0
    expect(probe(vm, P(0))).toBe("stlb");
  });

  it("fifo: a refilled invalid way counts as the newest", () => {
    const vm = setup("fifo");
    for (const k of [0, 1, 2, 3]) read(vm, k);
    vm.core.invlpg(vm.vcpu, P(1));
    read(vm, 4); // into way 1, the newest
    read(vm, 5); // evicts 0
    for (const k of [2, 3, 4, 5]) expect(probe(vm, P(k))).toBe("l1");
    expect(probe(vm, P(0))).toBe("stlb"); // evicts 2
    expect(probe(vm, P(3))).toBe("l1");
    expect(probe(vm, P(2))).toBe("stlb"); // evicts 3
  });

  it("random: filling an invalid way draws nothing", () => {
    const seed = 777;
    const vm = setup("random", seed);
    const next = xorshift(seed);
    for (const k of [0, 1, 2, 3]) read(vm, k);
    vm.core.invlpg(vm.vcpu, P(3));
    read(vm, 4); // way 3, no draw
    read(vm, 5); // first draw
    const ways = [0, 1, 2, 4];
    const w = next() % 4;
    const victim = ways[w]!;
    ways[w] = 5;
    for (const k of ways) expect(probe(vm, P(k))).toBe("l1");
    expect(probe(vm, P(victim))).toBe("stlb");
  });
});
