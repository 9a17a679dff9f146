import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { assertLoadable, inspectImage, UnsafeImageError } from "../../src/guest/isolation/inspect.js";
import { gateCode } from "../../src/guest/isolation/gate.js";

const WRPKRU = [0x0f, 0x01, 0xef];

describe("binary inspection (ERIM)", () => {
  it("finds a WRPKRU at any byte offset, also inside another instruction", () => {
    // mov eax, 0xef010f90: the immediate hides 0F 01 EF
    const code = Uint8Array.of(0xb8, 0x90, 0x0f, 0x01, 0xef, 0xc3);
    const r = inspectImage(code);
    expect(r.ok).toBe(false);
    expect(r.findings).toEqual([{ offset: 2, instruction: "wrpkru" }]);
  });

  it("accepts the WRPKRUs of a sanctioned gate and refuses one just outside it", () => {
    const g = gateCode();
    const code = new Uint8Array(g.bytes.length + 16);
    code.set(g.bytes, 8);
    const gates = [{ start: 8, end: 8 + g.bytes.length }];
    expect(inspectImage(code, gates)).toEqual({ ok: true, findings: [], sanctioned: 2 });
    code.set(WRPKRU, 1);
    expect(inspectImage(code, gates).findings).toEqual([{ offset: 1, instruction: "wrpkru" }]);
  });

  it("refuses a WRPKRU that straddles a gate's boundary", () => {
    const code = Uint8Array.of(0x90, 0x0f, 0x01, 0xef, 0x90);
    expect(inspectImage(code, [{ start: 0, end: 3 }]).ok).toBe(false);
    expect(inspectImage(code, [{ start: 1, end: 4 }]).ok).toBe(true);
  });

  it("checks XRSTOR with a memory operand only when asked (LFENCE, mod 3, is no XRSTOR)", () => {
    const code = Uint8Array.of(0x0f, 0xae, 0x2f, 0x0f, 0xae, 0xe8);
    expect(inspectImage(code).ok).toBe(true);
    expect(inspectImage(code, [], { xrstor: true }).findings).toEqual([{ offset: 0, instruction: "xrstor" }]);
  });

  it("throws a clear error naming the image and the offsets", () => {
    const code = Uint8Array.of(0x0f, 0x01, 0xef);
    expect(() => assertLoadable({ name: "evil", code })).toThrow(UnsafeImageError);
    expect(() => assertLoadable({ name: "evil", code })).toThrow(/image "evil" is refused: WRPKRU at offset 0x0/);
    expect(() => inspectImage(code, [{ start: 2, end: 9 }])).toThrow(/gates\[0\]/);
  });

  it("property: an image is refused exactly when an unsanctioned 0F 01 EF occurs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.boolean(), (bytes, at, plant) => {
        const code = new Uint8Array(bytes.length + 3);
        code.set(bytes);
        if (plant) code.set(WRPKRU, at % (bytes.length + 1));
        let expected = false;
        for (let i = 0; i + 2 < code.length; i++) if (code[i] === 0x0f && code[i + 1] === 0x01 && code[i + 2] === 0xef) expected = true;
        const r = inspectImage(code);
        expect(r.ok).toBe(!expected);
        if (plant) expect(r.findings.map((f) => f.offset)).toContain(at % (bytes.length + 1));
      }),
    );
  });
});
