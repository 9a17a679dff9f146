/** Every implementation of the MmuCore contract; each test file runs over all of them. */
import type { CoreConfig, MmuCore } from "../../src/core/types.js";
import { createReferenceCore } from "../reference/index.js";

export const implementations: { name: string; create(config: CoreConfig): MmuCore }[] = [
  { name: "reference", create: createReferenceCore },
];
