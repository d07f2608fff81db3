import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// The plugin tests run build/plugin.wasm; rebuild it whenever the AssemblyScript sources differ
// from those it was built from (a content hash, not mtimes), so no test ever runs a stale module.
function hashTree(paths: string[], hash = createHash("sha256")): ReturnType<typeof createHash> {
  for (const path of paths.sort()) {
    if (statSync(path).isDirectory()) {
      hashTree(
        readdirSync(path).map((n) => join(path, n)),
        hash,
      );
    } else {
      hash.update(path).update(new Uint8Array(readFileSync(path)));
    }
  }
  return hash;
}

export default function setup(): void {
  process.chdir(new URL("../..", import.meta.url).pathname);
  const digest = hashTree(["assembly", "asconfig.json", "package-lock.json"]).digest("hex");
  const stamp = "build/.sources-sha256";
  const outputs = ["build/plugin.wasm", "build/plugin.debug.wasm", "build/noop.wasm"];
  const fresh =
    outputs.every(existsSync) && existsSync(stamp) && readFileSync(stamp, "utf8") === digest;
  if (fresh) return;
  execFileSync("npm", ["run", "--silent", "build"], { stdio: ["ignore", "ignore", "inherit"] });
  writeFileSync(stamp, digest);
}
