// Fetches the core's bytes in a browser (no Node built-ins on this path).
export async function wasmBytes(url: URL): Promise<BufferSource> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch the Wasm core at ${url.href}: HTTP ${res.status}`);
  return await res.arrayBuffer();
}
