// The three modules the portable figures compare, each as its release bytes (what runs and is
// timed) and a copy with a names section (only to find the allocator functions by name):
//   no-op    build/noop.wasm, and the noop target rebuilt with --debug;
//   845b441  today's module before the rewrite, built from that commit in a temporary git
//            worktree (node_modules linked from this checkout), cached by commit and asc version
//            in build/bench-cache so a rerun does not rebuild it;
//   current  build/plugin.wasm, and the release target rebuilt with --debug, cached by the
//            release bytes' sha256.
// `--debug` only adds the names section: the other sections of the named copy must equal the
// release build's byte for byte, which sameCode checks, so names found by function index in the
// named copy are the release build's too.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { NOOP_WASM, PLUGIN_WASM } from "./driver.js";
import { note } from "./util.js";

const run = promisify(execFile);

export const BASELINE_COMMIT = "845b441";
export const CACHE = "build/bench-cache";
const ASC = resolve("node_modules/assemblyscript/bin/asc.js");

export type BuildLabel = "no-op" | "845b441" | "current";
export const BUILD_LABELS: readonly BuildLabel[] = ["no-op", BASELINE_COMMIT, "current"];

export interface CountedBuild {
  label: BuildLabel;
  /** Where the release bytes came from. */
  source: string;
  release: Uint8Array;
  named: Uint8Array;
  sha256: string;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function ascVersion(): string {
  const pkg = JSON.parse(readFileSync("node_modules/assemblyscript/package.json", "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** The sections of a module other than custom ones (names, source map URL), in order. */
function coreSections(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 8;
  const leb = () => {
    let r = 0;
    let shift = 0;
    let b: number;
    do {
      b = bytes[p++] as number;
      r += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return r;
  };
  while (p < bytes.length) {
    const id = bytes[p++] as number;
    const len = leb();
    if (id !== 0) out.push(bytes.subarray(p, p + len));
    p += len;
  }
  return out;
}

/** True when two modules differ at most in their custom sections (e.g. one has names). */
export function sameCode(a: Uint8Array, b: Uint8Array): boolean {
  const x = coreSections(a);
  const y = coreSections(b);
  return x.length === y.length && x.every((s, i) => Buffer.compare(s, y[i] as Uint8Array) === 0);
}

/** asc with the project's target, writing only to `out` (and a .wat next to it, then removed). */
async function asc(cwd: string, entry: string, target: string, out: string, debug: boolean) {
  const wat = `${out}.wat`;
  const args = [ASC, entry, "--target", target, "--outFile", out, "--textFile", wat];
  if (debug) args.push("--debug");
  await run(process.execPath, args, { cwd, maxBuffer: 16 << 20 });
  rmSync(wat, { force: true });
}

/** A named copy of a release build of this checkout, cached by the release bytes' sha256. */
async function namedCopy(
  release: Uint8Array,
  entry: string,
  target: string,
  releaseFile: string,
): Promise<Uint8Array> {
  const dir = join(CACHE, "named");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${target}-${sha256(release).slice(0, 16)}.wasm`);
  if (!existsSync(file)) {
    note(`builds: ${target} with --debug (names) for the allocator`);
    const tmp = `${file}.${process.pid}.tmp`;
    await asc(process.cwd(), entry, target, tmp, true);
    const named = new Uint8Array(readFileSync(tmp));
    if (!sameCode(named, release)) {
      rmSync(tmp, { force: true });
      throw new Error(
        `${releaseFile} is not the release build of the current sources (a named rebuild ` +
          "differs in code): assembly/ changed since it was built; run `make build` and retry",
      );
    }
    renameSync(tmp, file);
    // Older copies of this target are for builds that are gone.
    for (const old of readdirSync(dir)) {
      const stale = old.startsWith(`${target}-`) && old.endsWith(".wasm");
      if (stale && join(dir, old) !== file) rmSync(join(dir, old), { force: true });
    }
  }
  return new Uint8Array(readFileSync(file));
}

/** Release and named builds of BASELINE_COMMIT, from a temporary worktree; cached. */
async function baseline(): Promise<{ release: Uint8Array; named: Uint8Array; dir: string }> {
  const dir = join(CACHE, `${BASELINE_COMMIT}-asc${ascVersion()}`);
  const releaseFile = join(dir, "plugin.wasm");
  const namedFile = join(dir, "plugin.named.wasm");
  if (!existsSync(releaseFile) || !existsSync(namedFile)) {
    mkdirSync(dir, { recursive: true });
    const tree = mkdtempSync(join(tmpdir(), `conn-drain-bench-${BASELINE_COMMIT}-`));
    note(`builds: ${BASELINE_COMMIT} in a temporary worktree (${tree})`);
    try {
      await run("git", ["worktree", "add", "--detach", "--force", tree, BASELINE_COMMIT]);
      symlinkSync(resolve("node_modules"), join(tree, "node_modules"), "dir");
      const absRelease = resolve(`${releaseFile}.${process.pid}.tmp`);
      const absNamed = resolve(`${namedFile}.${process.pid}.tmp`);
      await Promise.all([
        asc(tree, "assembly/index.ts", "release", absRelease, false),
        asc(tree, "assembly/index.ts", "release", absNamed, true),
      ]);
      renameSync(absRelease, releaseFile);
      renameSync(absNamed, namedFile);
    } finally {
      await run("git", ["worktree", "remove", "--force", tree]).catch((e: unknown) => {
        note(`builds: could not remove worktree ${tree}: ${e instanceof Error ? e.message : e}`);
      });
      rmSync(tree, { recursive: true, force: true });
    }
  }
  return {
    release: new Uint8Array(readFileSync(releaseFile)),
    named: new Uint8Array(readFileSync(namedFile)),
    dir,
  };
}

/**
 * The three builds: the release bytes of build/ as the bench read them at its start (a rebuild
 * while the bench runs does not change what is counted), each with its named copy checked
 * against it.
 */
export async function countedBuilds(
  pluginRelease: Uint8Array,
  noopRelease: Uint8Array,
): Promise<CountedBuild[]> {
  const [noopNamed, pluginNamed, old] = await Promise.all([
    namedCopy(noopRelease, "assembly/noop.ts", "noop", NOOP_WASM),
    namedCopy(pluginRelease, "assembly/index.ts", "release", PLUGIN_WASM),
    baseline(),
  ]);
  if (!sameCode(old.named, old.release)) {
    throw new Error(`the named build of ${BASELINE_COMMIT} differs from its release build in code`);
  }
  return [
    {
      label: "no-op",
      source: NOOP_WASM,
      release: noopRelease,
      named: noopNamed,
      sha256: sha256(noopRelease),
    },
    {
      label: BASELINE_COMMIT,
      source: `${old.dir}/plugin.wasm (commit ${BASELINE_COMMIT}, built in a temporary worktree)`,
      release: old.release,
      named: old.named,
      sha256: sha256(old.release),
    },
    {
      label: "current",
      source: PLUGIN_WASM,
      release: pluginRelease,
      named: pluginNamed,
      sha256: sha256(pluginRelease),
    },
  ];
}
