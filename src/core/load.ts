/**
 * The one loader of the Wasm core, for Node and browsers. Compiled modules are cached,
 * so creating many cores compiles once.
 *
 * @example
 * const module = await loadCoreModule();              // build/unimmu.wasm
 * const debug = await loadCoreModule({ variant: "debug" });
 * const shared = await loadCoreModule({ shared: true }); // build/unimmu.shared.wasm
 */
import { wasmBytes } from "#wasm-bytes";

export type CoreVariant = "release" | "debug";

export interface LoadOptions {
  /** `release` (-O3, no assertions) or `debug` (assertions). Default: release. */
  variant?: CoreVariant;
  /**
   * The build whose memory is shared (a SharedArrayBuffer; the same code): what a core
   * with a line thread needs, whose thread reads the core's line records where the core
   * wrote them. Node, or a cross-origin isolated page. Default: false.
   */
  shared?: boolean;
  /** Bytes, a compiled module, or a URL to load instead of the built file. */
  source?: BufferSource | WebAssembly.Module | URL;
}

const cache = new Map<string, Promise<WebAssembly.Module>>();

function defaultUrl(variant: CoreVariant, shared: boolean): URL {
  const name = `unimmu${variant === "debug" ? ".debug" : ""}${shared ? ".shared" : ""}.wasm`;
  // Resolves the same from src/core/ and from the bundles in build/node/ and build/browser/.
  return new URL(`../../build/${name}`, import.meta.url);
}

/** A worker bundle of build/node/ (`line-worker.js`, `ycsb-worker.js`), resolved as the core's files are. */
export function workerUrl(file: string): URL {
  return new URL(`../../build/node/${file}`, import.meta.url);
}

export function loadCoreModule(options: LoadOptions = {}): Promise<WebAssembly.Module> {
  const { source } = options;
  if (source instanceof WebAssembly.Module) return Promise.resolve(source);
  if (source && !(source instanceof URL)) return WebAssembly.compile(source);
  const url = source ?? defaultUrl(options.variant ?? "release", options.shared ?? false);
  let p = cache.get(url.href);
  if (!p) {
    p = wasmBytes(url).then((b) => WebAssembly.compile(b));
    p.catch(() => cache.delete(url.href));
    cache.set(url.href, p);
  }
  return p;
}

/** Where a core's calls to its host go: `linesOut` takes its recorded line-cache uses (src/core/line-thread.ts). */
export interface CoreSink {
  linesOut?: (at: number, bytes: number) => void;
  /** The guest allocator for the core's YCSB load phase (src/workloads/ycsb/core-run.ts). */
  kvMalloc?: (bytes: number, meta: number, queued: number, room: number) => number;
  /** The memcached model's guest allocations and frees, and its full queue (src/workloads/memcached/core-run.ts). */
  mcMalloc?: (bytes: number, kind: number, queued: number) => number;
  mcFree?: (va: number, queued: number) => number;
  queueFull?: (queued: number) => number;
}

/**
 * The core imports `env.abort` (debug assertions), `env.pow` (Math.pow), `env.linesOut`
 * (a line thread's records, to `sink`), `env.kvMalloc` (an allocation of the core's
 * YCSB phases, to `sink`) and `env.mcMalloc`, `env.mcFree`, `env.queueFull` (the
 * memcached model's allocations and frees, and its full request queue, to `sink`).
 */
export function coreImports(sink: CoreSink = {}): WebAssembly.Imports {
  return {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new Error(`unimmu core assertion failed at ${line}:${col}`);
      },
      // the YCSB generator's rare exact powers: V8's own, as the TypeScript reference's
      pow: Math.pow,
      kvMalloc(bytes: number, meta: number, queued: number, room: number): number {
        if (!sink.kvMalloc) throw new Error("the core asked for a guest allocation but no YCSB load phase is running");
        return sink.kvMalloc(bytes >>> 0, meta, queued >>> 0, room >>> 0);
      },
      mcMalloc(bytes: number, kind: number, queued: number): number {
        if (!sink.mcMalloc) throw new Error("the core asked for a guest allocation but no memcached run is on");
        return sink.mcMalloc(bytes >>> 0, kind >>> 0, queued >>> 0);
      },
      mcFree(va: number, queued: number): number {
        if (!sink.mcFree) throw new Error("the core freed guest memory but no memcached run is on");
        return sink.mcFree(va, queued >>> 0);
      },
      queueFull(queued: number): number {
        if (!sink.queueFull) throw new Error("the core filled the request queue but no run takes it");
        return sink.queueFull(queued >>> 0);
      },
      linesOut(at: number, bytes: number) {
        if (!sink.linesOut) throw new Error("the core recorded line-cache uses but has no line thread to take them");
        sink.linesOut(at >>> 0, bytes >>> 0);
      },
    },
  };
}

export async function instantiateCore(options: LoadOptions = {}): Promise<WebAssembly.Instance> {
  return WebAssembly.instantiate(await loadCoreModule(options), coreImports());
}
