import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CPU_NAMES, CPU_PRESETS_SOURCED, TIER_NAMES, TIER_PRESETS_SOURCED, leaves, parametersMarkdown } from "../../src/cost/index.js";

const DOC = new URL("../../docs/parameters.md", import.meta.url);

describe("docs/parameters.md", () => {
  const generated = parametersMarkdown();

  it("is in sync with the presets (regenerate: UPDATE_DOCS=1 npx vitest run tests/cost/docs.test.ts)", () => {
    if (process.env.UPDATE_DOCS === "1") writeFileSync(DOC, generated);
    expect(existsSync(DOC)).toBe(true);
    expect(readFileSync(DOC, "utf8")).toBe(generated);
  });

  it("has one table per preset and a row per number", () => {
    for (const name of CPU_NAMES) {
      expect(generated).toContain(`### \`${name}\``);
      for (const l of leaves(CPU_PRESETS_SOURCED[name])) expect(generated).toContain(`| \`${l.path}\` |`);
    }
    for (const name of TIER_NAMES) {
      expect(generated).toContain(`### \`${name}\``);
      for (const l of leaves(TIER_PRESETS_SOURCED[name])) expect(generated).toContain(`| \`${l.path}\` |`);
    }
  });

  it("lists every guess with its reason", () => {
    const section = generated.slice(generated.indexOf("## Guesses"), generated.indexOf("## References"));
    for (const name of CPU_NAMES) {
      for (const l of leaves(CPU_PRESETS_SOURCED[name]).filter((x) => x.guess)) expect(section).toContain(`\`${name}.${l.path}\``);
    }
    for (const name of TIER_NAMES) {
      for (const l of leaves(TIER_PRESETS_SOURCED[name]).filter((x) => x.guess)) expect(section).toContain(`\`${name}.${l.path}\``);
    }
  });
});
