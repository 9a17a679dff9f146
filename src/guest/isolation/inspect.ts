/**
 * Binary inspection of process images, as ERIM does it: an image that contains the
 * bytes of WRPKRU (0F 01 EF) anywhere outside the sanctioned gates is refused at load,
 * because x86 code can be entered at any byte offset, so a WRPKRU hidden inside a longer
 * instruction (or spanning two) is as usable to an attacker as a real one. ERIM also
 * refuses XRSTOR (0F AE /5), which can load PKRU from memory; that check is optional
 * here (`xrstor: true`) since the issue asks for WRPKRU.
 *
 * The scan is over every byte offset, not over a disassembly. A sanctioned gate is a
 * byte range of the image; an occurrence counts as sanctioned only when all of its
 * bytes lie inside one gate.
 *
 * @example
 * inspectImage(Uint8Array.of(0x90, 0x0f, 0x01, 0xef)).findings;   // [{ offset: 1, instruction: "wrpkru" }]
 * assertLoadable({ name: "app", code });                          // throws UnsafeImageError if any
 */

/** A byte range [start, end) of an image. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A process image: its code bytes and the ranges that hold the libOS's sanctioned gates. */
export interface ProcessImage {
  name: string;
  code: Uint8Array;
  gates?: ByteRange[];
}

export interface Finding {
  offset: number;
  instruction: "wrpkru" | "xrstor";
}

export interface InspectionResult {
  ok: boolean;
  /** Unsanctioned occurrences, in offset order. */
  findings: Finding[];
  /** Occurrences inside a sanctioned gate. */
  sanctioned: number;
}

export class UnsafeImageError extends Error {
  constructor(
    readonly image: string,
    readonly findings: Finding[],
  ) {
    const where = findings
      .slice(0, 8)
      .map((f) => `${f.instruction.toUpperCase()} at offset 0x${f.offset.toString(16)}`)
      .join(", ");
    super(`image ${JSON.stringify(image)} is refused: ${where}${findings.length > 8 ? `, and ${findings.length - 8} more` : ""} outside the sanctioned gates`);
    this.name = "UnsafeImageError";
  }
}

/** Scans `code` for WRPKRU (and XRSTOR when asked) at every byte offset. */
export function inspectImage(code: Uint8Array, gates: ByteRange[] = [], opts: { xrstor?: boolean } = {}): InspectionResult {
  gates.forEach((g, i) => {
    if (!Number.isInteger(g.start) || !Number.isInteger(g.end) || g.start < 0 || g.end < g.start || g.end > code.length) {
      throw new RangeError(`gates[${i}]: [${g.start}, ${g.end}) is not allowed; expected 0 <= start <= end <= ${code.length}`);
    }
  });
  const inGate = (o: number, len: number): boolean => gates.some((g) => o >= g.start && o + len <= g.end);
  const findings: Finding[] = [];
  let sanctioned = 0;
  for (let o = 0; o + 2 < code.length; o++) {
    if (code[o] !== 0x0f) continue;
    const b1 = code[o + 1];
    const b2 = code[o + 2];
    let len = 0;
    let instruction: Finding["instruction"] | null = null;
    if (b1 === 0x01 && b2 === 0xef) {
      instruction = "wrpkru";
      len = 3;
    } else if (opts.xrstor && b1 === 0xae && ((b2 >> 3) & 7) === 5 && b2 >> 6 !== 3) {
      // 0F AE /5 with a memory operand is XRSTOR (mod 3 is LFENCE)
      instruction = "xrstor";
      len = 3;
    }
    if (!instruction) continue;
    if (inGate(o, len)) sanctioned++;
    else findings.push({ offset: o, instruction });
  }
  return { ok: findings.length === 0, findings, sanctioned };
}

/** Throws UnsafeImageError when the image holds an unsanctioned WRPKRU (or XRSTOR when asked). */
export function assertLoadable(image: ProcessImage, opts: { xrstor?: boolean } = {}): InspectionResult {
  const r = inspectImage(image.code, image.gates ?? [], opts);
  if (!r.ok) throw new UnsafeImageError(image.name, r.findings);
  return r;
}
