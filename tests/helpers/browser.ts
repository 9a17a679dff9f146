/** Headless Chromium (Debian's package) driven by playwright-core, for the browser tests. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";

export function findChromium(): string | undefined {
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const p = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
      if (p && existsSync(p)) return p;
    } catch {
      // not installed under this name
    }
  }
  return undefined;
}

/** The message a test skips with when Chromium is missing (CI installs it). */
export const NO_CHROMIUM = "chromium is not installed (apt-get install -y chromium): the browser test is skipped";

/** Launches Chromium with the flags that work as root on a machine with no network. */
export async function launchChromium(executablePath: string, viewport = { width: 1100, height: 900 }): Promise<BrowserContext> {
  const { chromium } = await import("playwright-core");
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "unimmu-chromium-")), {
    executablePath,
    viewport,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
