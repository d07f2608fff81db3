// System tools the end-to-end tests use as real parts (installed by
// scripts/install-e2e-deps.sh). Under CI=true a missing tool is a failure; elsewhere the tests
// that need it are skipped with a message saying how to install it.
import { execFileSync } from "node:child_process";
import { createServer } from "node:net";

export function which(tool: string): string | undefined {
  try {
    return (
      execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/** Whether to run tests needing `tool`; throws under CI=true when it is missing. */
export function requireTool(tool: string): boolean {
  if (which(tool)) return true;
  const why = `${tool} is not installed (run scripts/install-e2e-deps.sh)`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${why}`);
  console.warn(`skipping tests that need ${tool}: ${why}`);
  return false;
}

/**
 * A free loopback port for a program that takes its listen address on the command line
 * (Prometheus cannot report a port it picked itself). Bind, read, release.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
