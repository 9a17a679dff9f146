// Records of VMs and vCPUs, and the tier of a host address.
import {
  CFG_VM_TAB, CFG_VCPU_TAB, VM_BYTES, VCPU_BYTES, CFG_NTIERS, CFG_TIERS, MAX_TIERS,
} from "./layout";

// @ts-ignore: decorator
@inline export function vmRec(vm: u32): usize {
  return <usize>load<u32>(CFG_VM_TAB) + <usize>vm * VM_BYTES;
}

// @ts-ignore: decorator
@inline export function vcRec(vcpu: u32): usize {
  return <usize>load<u32>(CFG_VCPU_TAB) + <usize>vcpu * VCPU_BYTES;
}

/** Index of the tier whose range holds `hpa`, or -1 when none does. */
// @ts-ignore: decorator
@inline export function tierHolding(hpa: u64): i32 {
  const n = load<u32>(CFG_NTIERS); // setTier keeps it at most MAX_TIERS
  for (let i: u32 = 0; i < n; i++) {
    const r = CFG_TIERS + (<usize>i << 4);
    if (hpa >= load<u64>(r) && hpa < load<u64>(r, 8)) return <i32>i;
  }
  return -1;
}

/** Index of the tier whose range holds `hpa`; the last tier when none does. */
export function tierOf(hpa: u64): u32 {
  const i = tierHolding(hpa);
  if (i >= 0) return <u32>i;
  const n = load<u32>(CFG_NTIERS);
  return n == 0 ? 0 : <u32>min<i32>(<i32>n, MAX_TIERS) - 1;
}
