// Builds the Wasm core (release and debug) and bundles the host with esbuild.
// `--if-needed` skips the work when every output is newer than every input.
import { readdirSync, statSync, mkdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build");

/** Bundles: [entry, outfile, platform]. Bundles sit two levels deep so that
 * `../../build/unimmu.wasm` resolves the same from `src/core/` and from them. */
const bundles = [
  ["src/index.ts", "build/node/unimmu.js", "node"],
  ["src/cli/main.ts", "build/node/cli.js", "node"],
  ["src/bench/main.ts", "build/node/bench.js", "node"],
  ["src/sim/worker.ts", "build/node/worker.js", "node"],
  ["src/core/line-worker.ts", "build/node/line-worker.js", "node"],
  ["src/workloads/ycsb/run-worker.ts", "build/node/ycsb-worker.js", "node"],
  ["src/index.ts", "build/browser/unimmu.js", "browser"],
].filter(([entry]) => existsSync(join(root, entry)));

// each with a twin whose memory is shared (the same code), for cores with a line thread
const wasmTargets = ["release", "debug", "release-shared", "debug-shared"];
const wasmOutputs = ["build/unimmu.wasm", "build/unimmu.debug.wasm", "build/unimmu.shared.wasm", "build/unimmu.debug.shared.wasm"];

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(join(root, p)).mtimeMs);
  }
  return t;
}
function oldest(files) {
  let t = Infinity;
  for (const f of files) {
    if (!existsSync(join(root, f))) return 0;
    t = Math.min(t, statSync(join(root, f)).mtimeMs);
  }
  return t;
}

const ifNeeded = process.argv.includes("--if-needed");
const coreOnly = process.argv.includes("--core");
const configs = ["asconfig.json", "package.json", "scripts/build.mjs"].map((f) => statSync(join(root, f)).mtimeMs);
const coreInputs = Math.max(newest("assembly"), ...configs);
const hostInputs = Math.max(newest("src"), coreInputs);

mkdirSync(out, { recursive: true });

if (!ifNeeded || oldest(wasmOutputs) < coreInputs) {
  for (const target of wasmTargets) {
    const { error, stderr } = await asc.main(["--target", target], { stdout: process.stdout, stderr: process.stderr });
    if (error) {
      console.error(`asc (${target}) failed: ${error.message}`);
      process.exit(1);
    }
    void stderr;
  }
}

if (!coreOnly && bundles.length && (!ifNeeded || oldest(bundles.map((b) => b[1])) < hostInputs)) {
  await Promise.all(
    bundles.map(([entry, outfile, platform]) =>
      build({
        entryPoints: [join(root, entry)],
        outfile: join(root, outfile),
        bundle: true,
        format: "esm",
        platform,
        target: platform === "node" ? "node20" : "es2022",
        sourcemap: true,
        logLevel: "warning",
        // CommonJS dependencies bundled into ESM need a require() for Node built-ins.
        banner: platform === "node" ? { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } : undefined,
        external: platform === "node" ? ["piscina", "playwright-core"] : [],
      }),
    ),
  );
}
