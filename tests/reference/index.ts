/** The plain TypeScript reference model of the MMU core (docs/core.md). */
export { ReferenceCore, createReferenceCore } from "./core.js";
