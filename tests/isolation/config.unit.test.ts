import { describe, expect, it } from "vitest";
import { checkProcessConfig, IsolationConfigError } from "../../src/guest/isolation/config.js";

describe("isolation configuration", () => {
  it("fills defaults", () => {
    expect(checkProcessConfig({ name: "a" })).toEqual({ name: "a", isolation: "isolated", onViolation: "kill" });
  });

  it("names the field, the value and what is allowed", () => {
    expect(() => checkProcessConfig({ name: "" })).toThrow(/config.name: "" is not allowed; expected a non-empty string/);
    expect(() => checkProcessConfig({ name: "a", isolation: "open" })).toThrow(/config.isolation: "open" is not allowed/);
    expect(() => checkProcessConfig({ name: "a", onViolation: "ignore" })).toThrow(/onViolation: "ignore" is not allowed; expected "kill" or "report"/);
    expect(() => checkProcessConfig({ name: "a", isolation: { share: [{ region: "r", with: "b" }] } })).toThrow(/share\[0\].with/);
    expect(() => checkProcessConfig({ name: "a", isolation: { share: [{ region: "r", with: ["a"] }] } })).toThrow(/names the process itself/);
    expect(() => checkProcessConfig({ name: "a", isolation: { share: [{ region: "r", with: [] }, { region: "r", with: [] }] } })).toThrow(/shared twice/);
    expect(() => checkProcessConfig({ name: "a", isolation: { share: [{ region: "r", with: [], access: "wo" }] } })).toThrow(/access: "wo"/);
    expect(() => checkProcessConfig(null)).toThrow(IsolationConfigError);
  });
});
