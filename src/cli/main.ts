/**
 * Entry point of the `unimmu` command (bundled to build/node/cli.js, which
 * bin/unimmu.js imports). The commands are in `program.ts`.
 *
 * @example
 * // unimmu trace app.lackey.gz --model skylake-lru --json
 * // unimmu run --seed 7 --json
 */
import { runCli } from "./program.js";

process.exitCode = await runCli(process.argv);
