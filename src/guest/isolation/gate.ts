/**
 * System-call paths of the process designs, as counted steps.
 *
 * Iso-UniK (and the shared-address-space design) keep the library OS behind a
 * protection key that user code's PKRU denies. A system call enters through a call
 * gate in the style of ERIM: call the gate; zero ECX/EDX and WRPKRU the value that
 * opens the kernel key; check that the value written is the expected one (so that a
 * jump into the middle of the gate cannot open more); switch to the process's kernel
 * stack; dispatch to the handler through the system-call table; on the way back,
 * WRPKRU the process's own value, check it again, switch stacks back and return.
 * Nothing changes privilege level or page tables, so no TLB entry is lost.
 *
 * The baselines: a plain OSv function call (no isolation, and the KylinX pVM whose
 * library OS shares the process's VM), and a Linux `syscall` with its mitigations.
 *
 * @example
 * const b = syscallPath("iso-unik", isolationCosts(cpuPreset("skylake")));
 * b.cycles;                    // 62 with the defaults
 * b.steps.wrpkruOpen.cycles;   // 25
 */
import { Ledger, type Breakdown, type IsolationCosts } from "./costs.js";

/** The designs compared (docs/iso-unik.md). */
export const DESIGNS = ["none", "iso-unik", "shared-as", "linux", "vm-per-process"] as const;
export type Design = (typeof DESIGNS)[number];

export function isDesign(x: unknown): x is Design {
  return typeof x === "string" && (DESIGNS as readonly string[]).includes(x);
}

/** Whether the design's user code runs with the kernel key closed (so system calls go through a gate). */
export function usesGate(design: Design): boolean {
  return design === "iso-unik" || design === "shared-as";
}

/**
 * The steps of one null system call (the handler's own work excluded) in a design.
 *
 * @example
 * syscallPath("linux", costs).cycles;   // the preset's linuxSyscall (1200 on skylake)
 */
export function syscallPath(design: Design, costs: IsolationCosts): Breakdown {
  return syscallLedger(design, costs).breakdown();
}

export function syscallLedger(design: Design, costs: IsolationCosts): Ledger {
  const l = new Ledger(costs.frequencyHz);
  const c = costs.cpu;
  const p = costs.params;
  switch (design) {
    case "none":
    case "vm-per-process":
      // the library OS is linked with the application: a system call is a function call
      l.charge("callRet", 1, c.callRet);
      break;
    case "iso-unik":
    case "shared-as":
      l.charge("callRet", 1, c.callRet);
      l.charge("wrpkruOpen", 1, c.wrpkru);
      l.charge("gateCheck", 2, p.gateCheck);
      l.charge("stackSwitch", 1, p.gateStackSwitch);
      l.charge("handlerEntry", 1, p.gateDispatch);
      l.charge("wrpkruClose", 1, c.wrpkru);
      break;
    case "linux":
      // SYSCALL, the kernel's entry with its mitigations (KPTI's CR3 writes on Skylake), SYSRET
      l.charge("linuxSyscall", 1, c.linuxSyscall);
      break;
  }
  return l;
}

/** PKRU bits of key `k`: access-disable (bit 2k) and write-disable (bit 2k+1). */
export function keyBits(k: number): number {
  return (3 << (2 * k)) >>> 0;
}

/** PKRU that denies every key. */
export const PKRU_DENY_ALL = 0xffffffff;

/** The key of the library OS's memory (the linear map and the kernel heap carry key 0). */
export const KERNEL_KEY = 0;

/** The PKRU the gate writes on entry: the caller's value with the kernel key opened. */
export function gateOpen(pkru: number): number {
  return (pkru & ~keyBits(KERNEL_KEY)) >>> 0;
}

/** One gate's code as the libOS links it, for the binary inspection: where its two WRPKRUs are. */
export interface GateCode {
  bytes: Uint8Array;
  /** Offsets of the WRPKRU instructions inside `bytes`. */
  wrpkru: number[];
}

/**
 * The machine code of an ERIM-style gate: entry (open the kernel key, check, switch
 * stack, dispatch) and exit (restore the saved PKRU, check, switch back, ret). Used by
 * tests and by images that link the gate; the inspection sanctions exactly its range.
 *
 * @example
 * const g = gateCode();
 * inspectImage(g.bytes, [{ start: 0, end: g.bytes.length }]).ok;   // true
 */
export function gateCode(): GateCode {
  const b: number[] = [];
  const wr: number[] = [];
  const emit = (...xs: number[]): void => void b.push(...xs);
  // entry
  emit(0x31, 0xc9); // xor ecx, ecx
  emit(0x31, 0xd2); // xor edx, edx
  emit(0x0f, 0x01, 0xee); // rdpkru (save the caller's value)
  emit(0x89, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00); // mov [saved], eax
  emit(0x25, 0xfc, 0xff, 0xff, 0xff); // and eax, ~3 (open key 0)
  wr.push(b.length);
  emit(0x0f, 0x01, 0xef); // wrpkru
  emit(0xa8, 0x03); // test al, 3
  emit(0x75, 0x20); // jnz abort
  emit(0x48, 0x87, 0x24, 0x25, 0x08, 0x10, 0x00, 0x00); // xchg rsp, [kstack]
  emit(0xff, 0x14, 0xc5, 0x00, 0x20, 0x00, 0x00); // call [table + rax*8]
  // exit
  emit(0x48, 0x87, 0x24, 0x25, 0x08, 0x10, 0x00, 0x00); // xchg rsp, [kstack]
  emit(0x31, 0xc9); // xor ecx, ecx
  emit(0x31, 0xd2); // xor edx, edx
  emit(0x8b, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00); // mov eax, [saved]
  wr.push(b.length);
  emit(0x0f, 0x01, 0xef); // wrpkru
  emit(0x3b, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00); // cmp eax, [saved]
  emit(0x75, 0x01); // jne abort
  emit(0xc3); // ret
  emit(0x0f, 0x0b); // abort: ud2
  return { bytes: Uint8Array.from(b), wrpkru: wr };
}
