/** Every implementation of the MmuCore contract; each test file runs over all of them. */
import type { CoreConfig, MmuCore } from "../../src/core/types.js";
import { createReferenceCore } from "../reference/index.js";
import { WasmCore } from "../../src/core/wasm.js";
import { loadCoreModule } from "../../src/core/load.js";

// The debug build keeps the core's assertions on.
const debugModule = await loadCoreModule({ variant: "debug" });
const releaseModule = await loadCoreModule({ variant: "release" });

export const implementations: { name: string; create(config: CoreConfig): MmuCore }[] = [
  { name: "reference", create: createReferenceCore },
  { name: "wasm-debug", create: (c) => WasmCore.fromModule(c, debugModule) },
  { name: "wasm", create: (c) => WasmCore.fromModule(c, releaseModule) },
];
