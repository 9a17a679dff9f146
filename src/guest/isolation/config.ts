/**
 * Per-process isolation configuration and its errors.
 *
 * A process is one of:
 * - `"isolated"`: it reaches only its own memory; the kernel only through the gate.
 * - `{ share: [{ region, with, access }] }`: isolated, and it owns named regions that
 *   the named peers map too (with a shared protection key; `access` "ro" makes the
 *   peers' view read-only, the owner always writes).
 * - `"trusted"`: no isolation: its PKRU opens every key (kernel included), so system
 *   calls need no gate; in the shared-address-space design it can reach every process.
 *
 * What happens on a violation is per process too: `"kill"` (the default: the process
 * dies with SIGSEGV's status, as a Unix process would) or `"report"` (the access is
 * dropped and recorded, the process goes on).
 *
 * @example
 * const cfg = checkProcessConfig({ name: "httpd", isolation: { share: [{ region: "scoreboard", with: ["worker"] }] } });
 */

export type OnViolation = "kill" | "report";

export interface ShareSpec {
  /** Name of the region the process owns and shares. */
  region: string;
  /** Names of the peers that map it. */
  with: string[];
  /** The peers' rights (default "rw"). */
  access?: "rw" | "ro";
}

export type Isolation = "isolated" | "trusted" | { share: ShareSpec[] };

export interface ProcessConfig {
  /** Unique among live processes; peers are named by it. */
  name: string;
  isolation?: Isolation;
  onViolation?: OnViolation;
}

/** A configuration error: names the field, the value and what is allowed. */
export class IsolationConfigError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "IsolationConfigError";
  }
}

/** A peer named in a configuration that is no live process. */
export class UnknownPeerError extends IsolationConfigError {
  constructor(
    readonly process: string,
    readonly region: string,
    readonly peer: string,
    known: string[],
  ) {
    super(
      `process ${JSON.stringify(process)}: region ${JSON.stringify(region)} names peer ${JSON.stringify(peer)}, which is no live process; live processes: ${known.map((k) => JSON.stringify(k)).join(", ") || "none"}`,
    );
    this.name = "UnknownPeerError";
  }
}

/** Every hardware key is in use and key virtualisation is off. */
export class KeyExhaustedError extends RangeError {
  constructor(
    readonly wanted: string,
    readonly holders: string[],
  ) {
    super(
      `no protection key left for ${wanted}: all ${holders.length} user keys are in use (${holders.join(", ")}); x86 has 16 keys, key 0 is the kernel's; enable key virtualisation (keyVirtualisation: true) to share them, libmpk-style`,
    );
    this.name = "KeyExhaustedError";
  }
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** Checks a process configuration and returns it with defaults filled in. */
export function checkProcessConfig(cfg: unknown, field = "config"): Required<ProcessConfig> {
  if (!isObj(cfg)) throw new IsolationConfigError(`${field}: ${JSON.stringify(cfg)} is not allowed; expected { name, isolation?, onViolation? }`);
  const name = cfg.name;
  if (typeof name !== "string" || name.length === 0) throw new IsolationConfigError(`${field}.name: ${JSON.stringify(name)} is not allowed; expected a non-empty string`);
  const onViolation = cfg.onViolation ?? "kill";
  if (onViolation !== "kill" && onViolation !== "report") {
    throw new IsolationConfigError(`${field}.onViolation: ${JSON.stringify(onViolation)} is not allowed; expected "kill" or "report"`);
  }
  const iso = cfg.isolation ?? "isolated";
  if (iso !== "isolated" && iso !== "trusted") {
    if (!isObj(iso) || !Array.isArray(iso.share)) {
      throw new IsolationConfigError(`${field}.isolation: ${JSON.stringify(iso)} is not allowed; expected "isolated", "trusted" or { share: [{ region, with, access? }] }`);
    }
    const seen = new Set<string>();
    iso.share.forEach((s: unknown, i: number) => {
      const f = `${field}.isolation.share[${i}]`;
      if (!isObj(s)) throw new IsolationConfigError(`${f}: ${JSON.stringify(s)} is not allowed; expected { region, with, access? }`);
      if (typeof s.region !== "string" || !s.region) throw new IsolationConfigError(`${f}.region: ${JSON.stringify(s.region)} is not allowed; expected a non-empty string`);
      if (seen.has(s.region)) throw new IsolationConfigError(`${f}.region: ${JSON.stringify(s.region)} is shared twice`);
      seen.add(s.region);
      if (!Array.isArray(s.with) || s.with.some((p) => typeof p !== "string" || !p)) {
        throw new IsolationConfigError(`${f}.with: ${JSON.stringify(s.with)} is not allowed; expected an array of process names`);
      }
      if (s.with.includes(name)) throw new IsolationConfigError(`${f}.with: names the process itself (${JSON.stringify(name)})`);
      if (s.access !== undefined && s.access !== "rw" && s.access !== "ro") {
        throw new IsolationConfigError(`${f}.access: ${JSON.stringify(s.access)} is not allowed; expected "rw" or "ro"`);
      }
    });
  }
  return { name, isolation: iso as Isolation, onViolation };
}

/** The share spec of `region` in a configuration, if it declares one. */
export function shareSpec(cfg: ProcessConfig, region: string): ShareSpec | undefined {
  const iso = cfg.isolation;
  return typeof iso === "object" ? iso.share.find((s) => s.region === region) : undefined;
}

export function isTrusted(cfg: ProcessConfig): boolean {
  return cfg.isolation === "trusted";
}
