import { mkdir, rename, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const probeSource = resolve(repoRoot, "tests/fixtures/host-probe/assembly/probe.ts");
export const probeConfig = resolve(repoRoot, "tests/fixtures/host-probe/asconfig.json");
export const probeWasmPath = resolve(repoRoot, "build/test/host-probe.wasm");

async function mtime(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * Compiles the probe unless the .wasm is newer than its sources. Writes to a per-process file
 * and renames it into place, so parallel test workers never read a half-written module.
 * The probe has its own asconfig: the root asconfig.json belongs to the plugin.
 */
export async function buildProbe(): Promise<string> {
  const out = await mtime(probeWasmPath);
  if (out > (await mtime(probeSource)) && out > (await mtime(probeConfig))) return probeWasmPath;
  await mkdir(dirname(probeWasmPath), { recursive: true });
  const tmp = `build/test/host-probe.wasm.${process.pid}.tmp`;
  let stderr = "";
  const { error } = await asc.main(
    [
      "tests/fixtures/host-probe/assembly/probe.ts",
      "--config",
      "tests/fixtures/host-probe/asconfig.json",
      "--outFile",
      tmp,
      // relative paths (entry, asconfig `use`) resolve against the repo, whatever the cwd
      "--baseDir",
      repoRoot,
    ],
    {
      stdout: { write: () => true } as never,
      stderr: {
        write: (s: string | Uint8Array) => {
          stderr += typeof s === "string" ? s : new TextDecoder().decode(s);
          return true;
        },
      } as never,
    },
  );
  if (error) throw new Error(`building the host probe failed: ${error.message}\n${stderr}`);
  await rename(resolve(repoRoot, tmp), probeWasmPath);
  return probeWasmPath;
}
