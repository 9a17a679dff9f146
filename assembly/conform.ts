// The conformance model's page map (REFERENCE.md section 9): which pages have been
// touched, as a two-level bitmap over page numbers of the policy's size. A leaf covers
// 2^18 pages (32 KiB of bits); the top level has one u32 pointer per leaf, allocated
// at configuration (1 MiB for 48-bit addresses at 4 KiB pages).
import { CFG_CONF_TOP, CFG_PCPUS, CFG_PCPU_TAB, CFG_PCPU_BYTES } from "./layout";
import { alloc } from "./heap";
import { tagsInit } from "./tlb";

export const CONF_LEAF_BITS: u64 = 18;

export function confInit(pageShift: u32): bool {
  const topEntries = <usize>1 << <usize>(48 - pageShift - <u32>CONF_LEAF_BITS);
  const top = alloc(topEntries << 2, 4096);
  store<u32>(CFG_CONF_TOP, <u32>top);
  if (top == 0) return false;
  // the structures' tags (tlb.ts), every way invalid
  const bytes = <usize>load<u32>(CFG_PCPUS) * <usize>load<u32>(CFG_PCPU_BYTES);
  const shadow = alloc(bytes, 64);
  if (shadow == 0) return false;
  memory.fill(shadow, 0xFF, bytes);
  tagsInit(shadow - <usize>load<u32>(CFG_PCPU_TAB), pageShift == 12 ? 32 : 28);
  return true;
}

/** The bitmap leaf of page `vpn`, or 0 when none is allocated yet. */
// @ts-ignore: decorator
@inline export function confLeaf(vpn: u64): usize {
  return <usize>load<u32>(<usize>load<u32>(CFG_CONF_TOP) + (<usize>(vpn >> CONF_LEAF_BITS) << 2));
}

/** Whether page `vpn` was touched before; marks it touched. */
export function confMapped(vpn: u64): bool {
  const top = <usize>load<u32>(CFG_CONF_TOP);
  const ta = top + (<usize>(vpn >> CONF_LEAF_BITS) << 2);
  let leaf = <usize>load<u32>(ta);
  if (leaf == 0) {
    leaf = alloc(<usize>1 << <usize>(CONF_LEAF_BITS - 3), 64);
    // out of memory: the page counts as touched rather than corrupting state
    if (leaf == 0) return true;
    store<u32>(ta, <u32>leaf);
  }
  const bit = <u32>vpn & ((1 << <u32>CONF_LEAF_BITS) - 1);
  const a = leaf + <usize>(bit >> 3);
  const b = load<u8>(a);
  const m = <u8>(<u32>1 << (bit & 7));
  if ((b & m) != 0) return true;
  store<u8>(a, b | m);
  return false;
}
