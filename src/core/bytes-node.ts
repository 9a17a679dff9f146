// Reads the core's bytes in Node (the browser build uses bytes-browser.ts instead).
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export async function wasmBytes(url: URL): Promise<BufferSource> {
  try {
    return await readFile(fileURLToPath(url));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read the Wasm core at ${fileURLToPath(url)} (${code ?? String(e)}): run \`npm run build\` first`);
  }
}
