// Shared pieces of the CLI tests: run the CLI in-process with captured output or a program in a
// child process, scratch directories and a scratch project (plugin.yaml from the repo, fixture
// wasm and READMEs), pulling an image back over the Distribution API, and skopeo.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { main } from "../../cli/main.js";
import { Rng } from "../../host/index.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

export async function runCli(
  argv: string[],
  opts: { cwd: string; env?: Record<string, string>; stdin?: string },
): Promise<RunResult> {
  let out = "";
  let err = "";
  const code = await main(argv, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    // A clean environment: no CI credentials or docker config of the machine leak in.
    env: { HOME: opts.cwd, PATH: process.env.PATH ?? "", ...opts.env },
    cwd: opts.cwd,
    isTTY: false,
    stdin: async () => opts.stdin ?? "",
  });
  return { code, out, err };
}

/**
 * FILE ARGS in a child process (stdout and stderr are pipes). env replaces the environment
 * (unset: this process's); a failed run reports its exit code, 1 when it has none (killed by a
 * signal or the timeout).
 */
export function runProcess(
  file: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeout?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, opts, (err, out, errOut) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
    });
  });
}

/**
 * bin/conn-drain.mjs, the installed entry point, in a child process (stdout and stderr are pipes,
 * not terminals) with HOME the cwd and only PATH of this environment.
 */
export function runBin(
  args: string[],
  cwd: string,
  opts: { env?: Record<string, string>; timeout?: number } = {},
): Promise<RunResult> {
  return runProcess(process.execPath, [join(repoRoot, "bin", "conn-drain.mjs"), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: cwd, ...opts.env },
    timeout: opts.timeout,
  });
}

/** A valid wasm module with a custom section of `size` pseudo-random bytes (chunked uploads). */
export function fixtureWasm(size: number, seed = 1): Buffer {
  const payload = new Rng(seed).bytes(size);
  const name = Buffer.from("fixture");
  const body = Buffer.concat([Buffer.from([name.length]), name, payload]);
  const leb: number[] = [];
  let n = body.length;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    leb.push(b);
  } while (n);
  return Buffer.concat([Buffer.from("0061736d01000000", "hex"), Buffer.from([0, ...leb]), body]);
}

// Scratch directories go when the test file that made them is done (a hook registered while the
// file is being collected belongs to its root suite).
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An empty scratch directory under the system's temporary directory, named PREFIX…. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** A scratch project: plugin.yaml from the repo, build/plugin.wasm, README.md, README_EN.md. */
export function scratchProject(wasm = fixtureWasm(300_000)): string {
  const dir = tempDir("conn-drain-cli-");
  copyFileSync(join(repoRoot, "plugin.yaml"), join(dir, "plugin.yaml"));
  mkdirSync(join(dir, "build"));
  writeFileSync(join(dir, "build", "plugin.wasm"), wasm);
  writeFileSync(join(dir, "README.md"), "# conn-drain\n\n中文说明\n");
  writeFileSync(join(dir, "README_EN.md"), "# conn-drain\n\nEnglish readme\n");
  return dir;
}

/**
 * DIR/plugin.yaml becomes FROM (the repository's plugin.yaml unless given) with its info.version
 * 0.1.0 replaced by VERSION.
 */
export function setPluginVersion(
  dir: string,
  version: string,
  from = join(repoRoot, "plugin.yaml"),
): void {
  writeFileSync(
    join(dir, "plugin.yaml"),
    readFileSync(from, "utf8").replace("\n  version: 0.1.0\n", `\n  version: ${version}\n`),
  );
}

/** Async on purpose: a token issuer stand-in runs in this process and must keep answering. */
export function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("skopeo", args, { encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(" ")}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

export interface Pulled {
  manifest: Buffer;
  contentType: string;
  blobs: Map<string, Buffer>;
}

/** GET the manifest and every blob back (anonymous or basic auth only: enough for checks). */
export async function pull(
  host: string,
  repo: string,
  ref: string,
  auth?: string,
): Promise<Pulled> {
  const headers: Record<string, string> = { accept: "application/vnd.oci.image.manifest.v1+json" };
  if (auth) headers.authorization = auth;
  const m = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { headers });
  if (!m.ok) throw new Error(`manifest ${ref}: ${m.status}`);
  const manifest = Buffer.from(await m.arrayBuffer());
  const doc = JSON.parse(manifest.toString("utf8")) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  const blobs = new Map<string, Buffer>();
  for (const d of [doc.config, ...doc.layers]) {
    const r = await fetch(`http://${host}/v2/${repo}/blobs/${d.digest}`, {
      headers: auth ? { authorization: auth } : {},
    });
    if (!r.ok) throw new Error(`blob ${d.digest}: ${r.status}`);
    blobs.set(d.digest, Buffer.from(await r.arrayBuffer()));
  }
  return { manifest, contentType: m.headers.get("content-type") ?? "", blobs };
}
