// The request buffer as the workload models in the core write it (the layout of
// src/core/wasm.ts RequestWriter.put: u64 address, u32 kind | vCPU << 8, u32 bytes).
// The host says where the queue stands (queueAt) and reads back where it ends (queued).
import { CFG_REQ_BUF, REQ_BYTES } from "./layout";

let reqAt: usize = 0;
let vcpuBits: u32 = 0;

/** The vCPU the following requests run on. */
export function requestsVcpu(vcpu: u32): void {
  vcpuBits = vcpu << 8;
}

/** Writes requests from request `at` on. */
export function queueAt(at: u32): void {
  reqAt = <usize>load<u32>(CFG_REQ_BUF) + <usize>at * REQ_BYTES;
}

/** The requests queued (the next one's index). */
export function queued(): u32 {
  return <u32>((reqAt - <usize>load<u32>(CFG_REQ_BUF)) / REQ_BYTES);
}

/** One request in the buffer (the caller makes sure it has room). */
// @ts-ignore: decorator
@inline export function put(va: u64, bytes: u32, kind: u32): void {
  const p = reqAt;
  store<u32>(p, <u32>va);
  store<u32>(p, <u32>(va >> 32), 4);
  store<u32>(p, kind | vcpuBits, 8);
  store<u32>(p, bytes, 12);
  reqAt = p + REQ_BYTES;
}
