// Protection keys, the whole truth table: 16 keys x AD/WD (4 combinations) x fetch/read/
// write x user/supervisor page x CR0.WP x CPL 3/0, with PKRU (PKS off) and then with
// PKRU and PKRS (PKS on), checked against an oracle written from REFERENCE.md sections
// 3-4 and the SDM (4.6), independently of the implementations.
import { describe, expect, it } from "vitest";
import { FETCH, READ, WRITE, type AccessKind } from "../../src/core/types.js";
import { implementations } from "./impls.js";
import { TestVm, plainConfig } from "./setup.js";

const USER_BASE = 0x2000_0000; // user page of key k at USER_BASE + k * 4 KiB
const SUP_BASE = 0x3000_0000; // supervisor page of key k

interface Situation {
  cpl: 0 | 3;
  wp: boolean;
  pke: boolean;
  pks: boolean;
  pkru: number;
  pkrs: number;
  userPage: boolean;
  key: number;
  kind: AccessKind;
}

/**
 * The expected #PF error code, or null. Pages are present, writable, executable;
 * NXE=1, no SMEP or SMAP.
 */
function oracle(s: Situation): number | null {
  const write = s.kind === WRITE;
  const fetch = s.kind === FETCH;
  const user = s.cpl === 3;
  // Error code: P 1, W 2, U 4, I/D 16 (a fetch; NXE=1), PK 32.
  const code = 1 | (write ? 2 : 0) | (user ? 4 : 0) | (fetch ? 16 : 0);
  // Paging rights: user mode may not touch supervisor pages.
  if (user && !s.userPage) return code;
  // Keys never apply to instruction fetches.
  if (fetch) return null;
  // User pages: PKRU when CR4.PKE; supervisor pages: PKRS when CR4.PKS.
  let reg: number | null = null;
  if (s.userPage && s.pke) reg = s.pkru;
  if (!s.userPage && s.pks) reg = s.pkrs;
  if (reg === null) return null;
  const accessDisable = Math.floor(reg / 2 ** (2 * s.key)) % 2 === 1;
  const writeDisable = Math.floor(reg / 2 ** (2 * s.key + 1)) % 2 === 1;
  if (accessDisable) return code | 32;
  // WD stops user writes always, supervisor writes only with CR0.WP.
  if (write && writeDisable && (user || s.wp)) return code | 32;
  return null;
}

/** A 32-bit register with `combo` (bit 0 AD, bit 1 WD) for `key` and the opposite bits for the other keys. */
function register(key: number, combo: number): number {
  let v = 0;
  for (let k = 0; k < 16; k++) v += (k === key ? combo : 3 - combo) * 4 ** k;
  return v;
}

describe.each(implementations)("$name: protection keys truth table", ({ create }) => {
  function setup(): TestVm {
    const vm = new TestVm(create(plainConfig()));
    for (let k = 0; k < 16; k++) {
      vm.map(USER_BASE + k * 4096, 0, { key: k });
      vm.map(SUP_BASE + k * 4096, 0, { key: k, u: false });
    }
    return vm;
  }

  it("oracle sanity (hand-checked rows)", () => {
    const base: Situation = { cpl: 3, wp: true, pke: true, pks: false, pkru: 0, pkrs: 0, userPage: true, key: 1, kind: READ };
    expect(oracle({ ...base, pkru: 0b0100 })).toBe(0x25); // AD of key 1
    expect(oracle({ ...base, pkru: 0b1000 })).toBe(null); // WD, read
    expect(oracle({ ...base, pkru: 0b1000, kind: WRITE })).toBe(0x27);
    expect(oracle({ ...base, pkru: 0b1000, kind: WRITE, cpl: 0, wp: false })).toBe(null);
    expect(oracle({ ...base, pkru: 0b1000, kind: WRITE, cpl: 0 })).toBe(0x23);
    expect(oracle({ ...base, pkru: 0b0100, kind: FETCH })).toBe(null);
    expect(oracle({ ...base, userPage: false })).toBe(0x05);
    expect(oracle({ ...base, userPage: false, cpl: 0, pks: true, pkrs: 0b0100 })).toBe(0x21);
    expect(register(1, 1)).toBe(0xaaaa_aaa6);
  });

  for (const pks of [false, true]) {
    it(`16 keys x 4 AD/WD x 3 kinds x 2 pages x WP x CPL, ${pks ? "PKRU and PKRS (PKS=1)" : "PKRU (PKS=0)"}`, () => {
      const vm = setup();
      let checked = 0;
      let faults = 0;
      for (const cpl of [3, 0] as const) {
        for (const wp of [false, true]) {
          vm.core.setControl(vm.vcpu, { cpl, wp, pke: true, pks });
          for (let combo = 0; combo < 4; combo++) {
            for (let key = 0; key < 16; key++) {
              // PKRU has `combo` for this key; PKRS the next combination, so both are exercised.
              const pkru = register(key, combo);
              const pkrs = register(key, (combo + 1) % 4);
              vm.core.setPkru(vm.vcpu, pkru);
              vm.core.setPkrs(vm.vcpu, pkrs);
              for (const userPage of [true, false]) {
                for (const kind of [FETCH, READ, WRITE] as AccessKind[]) {
                  const va = (userPage ? USER_BASE : SUP_BASE) + key * 4096 + 8;
                  const expected = oracle({ cpl, wp, pke: true, pks, pkru, pkrs, userPage, key, kind });
                  const ev = vm.access(va, kind);
                  const got = ev === null ? null : ev.type === "page-fault" ? ev.error : `${ev.type}`;
                  if (got !== expected) {
                    throw new Error(`cpl ${cpl} wp ${wp} pks ${pks} key ${key} pkru 0x${pkru.toString(16)} pkrs 0x${pkrs.toString(16)} ${userPage ? "user" : "supervisor"} page kind ${kind}: expected ${expected}, got ${got}`);
                  }
                  checked++;
                  if (expected !== null) faults++;
                }
              }
            }
          }
        }
      }
      expect(checked).toBe(2 * 2 * 4 * 16 * 2 * 3);
      const c = vm.counters();
      expect(c.faults).toBe(faults);
      expect(c.keyFaults + c.protFaults).toBe(faults);
    });
  }

  it("with PKE=0 PKRU is ignored", () => {
    const vm = setup();
    vm.core.setControl(vm.vcpu, { pke: false });
    vm.core.setPkru(vm.vcpu, 0xffff_ffff);
    for (const kind of [READ, WRITE] as AccessKind[]) expect(vm.access(USER_BASE + 5 * 4096, kind)).toBeNull();
  });

  it("the default execve PKRU 0x55555554 leaves only key 0 accessible", () => {
    const vm = setup();
    vm.core.setPkru(vm.vcpu, 0x5555_5554);
    expect(vm.access(USER_BASE, WRITE)).toBeNull();
    for (let k = 1; k < 16; k++) expect(vm.access(USER_BASE + k * 4096, READ)).toMatchObject({ error: 0x25 });
  });
});
