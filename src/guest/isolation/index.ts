/** Multi-process unikernels (Iso-UniK) and the designs compared with it; see docs/iso-unik.md. */
export * from "./config.js";
export * from "./costs.js";
export * from "./gate.js";
export * from "./inspect.js";
export * from "./keys.js";
export * from "./processes.js";
export { forkMultiAs, resolveCow } from "./fork.js";
export { forkSharedAs } from "./sharedas.js";
export * from "./kylinx.js";
export * from "./model.js";
