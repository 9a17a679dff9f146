/**
 * The browser build: the page loads build/browser/unimmu.js (no Node built-ins) over
 * HTTP, the core streams from build/unimmu.wasm through the same loader as in Node,
 * and the counts equal the Node build's for the same requests; a line thread is
 * refused with a clear error (it needs Node's worker_threads).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import type { AddressInfo } from "node:net";
import { WasmCore } from "../../src/core/wasm.js";
import { FlatVm } from "../../src/core/flat.js";
import { modelConfig } from "../../src/core/models.js";
import type { Request } from "../../src/core/types.js";
import { findChromium, launchChromium, NO_CHROMIUM } from "../helpers/browser.js";

const root = join(import.meta.dirname, "../..");
const TYPES: Record<string, string> = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html", ".map": "application/json" };

// The page runs the same scenario as `scenario()` below, through the public entry point.
const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { WasmCore, FlatVm, modelConfig } from "/build/browser/unimmu.js";
const reqs = [];
let x = 12345;
for (let i = 0; i < 20000; i++) {
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
  reqs.push({ vcpu: 0, va: 0x40000000 + (x % 3000) * 4096 + (x & 0xff8), kind: x % 3, size: 8 });
}
try {
  const conf = await WasmCore.create(modelConfig("skylake-lru", { policy: "4k" }));
  conf.submit(reqs);
  while (conf.run()) conf.skip();
  const full = await WasmCore.create(modelConfig("default"));
  const vm = new FlatVm(full, { pageSize: 1 });
  vm.runRequests(reqs);
  let lineThread = "created";
  try { await WasmCore.create({ ...modelConfig("default", { lineCache: "all" }), lineThread: true }); } catch (e) { lineThread = String(e.message); }
  window.result = { conformance: conf.counters(0), full: full.counters(0), lineThread };
} catch (e) { window.result = { error: String(e && e.stack || e) }; }
</script>`;

function requests(): Request[] {
  const reqs: Request[] = [];
  let x = 12345;
  for (let i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    reqs.push({ vcpu: 0, va: 0x40000000 + (x % 3000) * 4096 + (x & 0xff8), kind: (x % 3) as 0 | 1 | 2, size: 8 });
  }
  return reqs;
}

let server: Server;
let base = "";
beforeAll(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      return;
    }
    const file = normalize(join(root, url.pathname));
    if (!file.startsWith(join(root, "build"))) return void res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("the browser build", () => {
  it("loads the core in Chromium and counts as Node does", async (ctx) => {
    const chromium = findChromium();
    if (!chromium) return ctx.skip(NO_CHROMIUM);
    const reqs = requests();
    const conf = await WasmCore.create(modelConfig("skylake-lru", { policy: "4k" }));
    conf.submit(reqs);
    while (conf.run()) conf.skip();
    const full = await WasmCore.create(modelConfig("default"));
    new FlatVm(full, { pageSize: 1 }).runRequests(reqs);

    const context = await launchChromium(chromium);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(base + "/");
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 30_000 });
      const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as Record<string, unknown>;
      expect(result.error).toBeUndefined();
      expect(errors).toEqual([]);
      expect(result.conformance).toEqual(conf.counters(0));
      expect(result.full).toEqual(full.counters(0));
      // no worker_threads in a browser: a clear error, not a hang
      expect(result.lineThread).toMatch(/lineThread: the line cache's thread needs Node's worker_threads; use lineThread: false in a browser/);
    } finally {
      await context.close();
    }
  });
});
