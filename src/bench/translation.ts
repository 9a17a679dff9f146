/**
 * Translation speed: requests per second of the three benchmark streams under the
 * conformance model, the full default model and the TypeScript reference model.
 */
import { WasmCore } from "../core/wasm.js";
import { FlatVm } from "../core/flat.js";
import { modelConfig } from "../core/models.js";
import type { MmuCore, Request } from "../core/types.js";
import { READ } from "../core/types.js";
import { Rng } from "../util/rng.js";
import { STREAMS, STREAM_BASE, streamChunk, type Stream } from "./streams.js";

export type TranslationModel = "conformance" | "default" | "reference";

export interface StreamResult {
  requestsPerSecond: number;
  requests: number;
  runs: number[];
  l1Hits: number;
  stlbHits: number;
  walks: number;
}

const CHUNK = 1 << 20;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A fresh core with every page of the stream mapped, counters cleared. */
async function prepared(model: "conformance" | "default", pages: number): Promise<WasmCore> {
  if (model === "conformance") {
    const core = await WasmCore.create(modelConfig("skylake-lru", { policy: "4k" }));
    const w = core.writer();
    for (let base = 0; base < pages; base += CHUNK) {
      const n = Math.min(CHUNK, pages - base);
      for (let i = 0; i < n; i++) w.put(i, STREAM_BASE + (base + i) * 4096, READ, 8, 0);
      core.runBuffer(n);
    }
    core.resetCounters();
    return core;
  }
  const core = await WasmCore.create(modelConfig("default"));
  const vm = new FlatVm(core, { pageSize: 0 });
  for (let p = 0; p < pages; p++) vm.mapPage(STREAM_BASE + p * 4096);
  core.resetCounters();
  return core;
}

/** Runs one stream once on the Wasm core; returns requests per second. */
async function timeWasm(model: "conformance" | "default", stream: Stream, requests: number, seed: number): Promise<[number, WasmCore]> {
  const core = await prepared(model, stream.pages);
  const rng = new Rng(seed);
  const addrs = new Float64Array(CHUNK);
  const fill = (n: number): void => {
    streamChunk(rng, stream.pages, addrs, n);
    const w = core.writer();
    for (let i = 0; i < n; i++) w.put(i, addrs[i], READ, 8, 0);
  };
  // warm-up: V8 moves a Wasm function to its optimising tier between calls
  for (let k = 0; k < 3; k++) {
    fill(CHUNK);
    if (core.runBuffer(CHUNK) !== null) throw new Error("benchmark stream raised an event");
  }
  core.resetCounters();
  let ms = 0;
  for (let done = 0; done < requests; ) {
    const n = Math.min(CHUNK, requests - done);
    fill(n);
    const t0 = performance.now();
    const ev = core.runBuffer(n);
    ms += performance.now() - t0;
    if (ev !== null) throw new Error("benchmark stream raised an event");
    done += n;
  }
  return [requests / (ms / 1000), core];
}

async function timeReference(stream: Stream, requests: number, seed: number, create: (cfg: ReturnType<typeof modelConfig>) => MmuCore): Promise<[number, MmuCore]> {
  const core = create(modelConfig("skylake-lru", { policy: "4k" }));
  const warm: Request[] = Array.from({ length: stream.pages }, (_, p) => ({ vcpu: 0, va: STREAM_BASE + p * 4096, kind: READ, size: 8 }));
  core.submit(warm);
  while (core.run()) core.skip();
  core.resetCounters();
  const rng = new Rng(seed);
  const addrs = new Float64Array(CHUNK);
  let ms = 0;
  for (let done = 0; done < requests; ) {
    const n = Math.min(CHUNK, requests - done);
    streamChunk(rng, stream.pages, addrs, n);
    const batch: Request[] = new Array(n);
    for (let i = 0; i < n; i++) batch[i] = { vcpu: 0, va: addrs[i], kind: READ, size: 8 };
    const t0 = performance.now();
    core.submit(batch);
    while (core.run()) core.skip();
    ms += performance.now() - t0;
    done += n;
  }
  return [requests / (ms / 1000), core];
}

export interface TranslationOptions {
  runs: number;
  /** Scales every stream's request count (e.g. 0.05 for a quick look). */
  scale: number;
  /** Request count of the reference model's streams (it is far slower). */
  referenceRequests: number;
  models: TranslationModel[];
  /** Stream names to run (default: all). */
  streams?: string[];
  /** The reference model's factory (it lives with the tests). */
  reference?: (cfg: ReturnType<typeof modelConfig>) => MmuCore;
  onProgress?: (label: string) => void;
}

export async function benchTranslation(o: TranslationOptions): Promise<Record<string, Record<string, StreamResult>>> {
  const out: Record<string, Record<string, StreamResult>> = {};
  for (const model of o.models) {
    if (model === "reference" && !o.reference) continue;
    out[model] = {};
    for (const stream of STREAMS.filter((s) => !o.streams || o.streams.includes(s.name))) {
      const requests = model === "reference" ? o.referenceRequests : Math.max(CHUNK, Math.round(stream.requests * o.scale));
      const runs: number[] = [];
      let last: MmuCore | undefined;
      for (let r = 0; r < o.runs; r++) {
        o.onProgress?.(`${model} ${stream.name} run ${r + 1}/${o.runs}`);
        const [rate, core] =
          model === "reference" ? await timeReference(stream, requests, 1 + r, o.reference!) : await timeWasm(model, stream, requests, 1 + r);
        runs.push(rate);
        last = core;
      }
      const c = last!.counters(0);
      out[model][stream.name] = {
        requestsPerSecond: Math.round(median(runs)),
        requests,
        runs: runs.map(Math.round),
        l1Hits: c.l1Hits,
        stlbHits: c.stlbHits,
        walks: c.walks,
      };
    }
  }
  return out;
}
