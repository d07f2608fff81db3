// Every image `conn-drain image` can make, judged the way the gateway judges it: pushed to a real
// registry (Debian's docker-registry), pulled back over the Distribution API and run through
// tests/cli/wasm-fetcher.ts, our re-implementation of Istio's Wasm image fetcher (which Higress
// runs). The module the fetcher extracts must be build/plugin.wasm, byte for byte. The formats
// come from `image --help`, so a format added to the CLI is covered without editing this file.
//
// The first block checks the re-implementation itself against cases and error texts from
// Istio's own pkg/wasm/imagefetcher_test.go, so the model is held to upstream, not to us.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { helpText } from "../../cli/args.js";
import { imageCommand } from "../../cli/commands/image.js";
import { repoRoot, runCli, scratchProject, skopeo } from "./helpers.js";
import { missingTools, type Registry, startRegistry } from "./registry.js";
import {
  FetchError,
  fetchWasm,
  MT,
  memorySource,
  registrySource,
  type Variant,
} from "./wasm-fetcher.js";

const why = missingTools();
const skip = Boolean(why) && !process.env.CI;
if (skip) console.warn(`tests/cli/image-conformance.test.ts: skipping registry tests: ${why}`);

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function desc(mediaType: string, b: Buffer) {
  return { mediaType, digest: sha(b), size: b.length };
}

async function tarGz(entries: Record<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((r) => pack.on("end", () => r()));
  pack.on("data", (c: unknown) => chunks.push(c as Buffer));
  for (const [name, data] of Object.entries(entries)) pack.entry({ name, size: data.length }, data);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

const EMPTY_CONFIG = Buffer.from("{}");

describe("the fetcher model against Istio's own imagefetcher_test.go", () => {
  const module = Buffer.from("this is wasm binary");

  it("refuses an OCI image whose only layer is an uncompressed tar, with Istio's exact message", async () => {
    const layer = Buffer.from("not gzipped");
    const m = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: desc("application/vnd.oci.image.config.v1+json", EMPTY_CONFIG),
      layers: [desc("application/vnd.oci.image.layer.v1.tar", layer)],
    };
    const err = await fetchWasm(memorySource(m, [EMPTY_CONFIG, layer])).catch((e) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as Error).message.trim()).toBe(
      `the given image is in invalid format as an OCI image: 2 errors occurred:
\t* could not parse as compat variant: invalid media type application/vnd.oci.image.layer.v1.tar (expect application/vnd.oci.image.layer.v1.tar+gzip)
\t* could not parse as oci variant: number of layers must be 2 but got 1`,
    );
  });

  it("takes plugin.wasm from the last layer of a Docker image with more than one layer", async () => {
    const first = await tarGz({ "other.txt": Buffer.from("x") });
    const last = await tarGz({ "plugin.wasm": module });
    const m = {
      schemaVersion: 2,
      mediaType: MT.dockerManifest,
      config: desc("application/vnd.docker.container.image.v1+json", EMPTY_CONFIG),
      layers: [desc(MT.dockerLayer, first), desc(MT.dockerLayer, last)],
    };
    const got = await fetchWasm(memorySource(m, [EMPTY_CONFIG, first, last]));
    expect(got).toMatchObject({ variant: "docker", layer: 1 });
    expect(got.wasm.equals(module)).toBe(true);
  });

  it('accepts "./plugin.wasm" and skips other entries (istio #35683)', async () => {
    const layer = await tarGz({ "README.md": Buffer.from("doc"), "./plugin.wasm": module });
    const m = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: desc(MT.wasmConfig, EMPTY_CONFIG),
      layers: [desc(MT.ociLayer, layer)],
    };
    const got = await fetchWasm(memorySource(m, [EMPTY_CONFIG, layer]));
    expect(got.variant).toBe("compat");
    expect(got.wasm.equals(module)).toBe(true);
  });

  it("an OCI artifact needs exactly two layers and returns the wasm layer raw", async () => {
    const cfg = Buffer.from('{"type":"envoy_proxy"}');
    const two = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: desc(MT.wasmConfig, cfg),
      layers: [desc(MT.wasmLayer, module), desc(MT.wasmConfig, cfg)],
    };
    const got = await fetchWasm(memorySource(two, [cfg, module]));
    expect(got).toMatchObject({ variant: "oci", layer: 0 });
    expect(got.wasm.equals(module)).toBe(true);
    const one = { ...two, layers: [desc(MT.wasmLayer, module)] };
    await expect(fetchWasm(memorySource(one, [cfg, module]))).rejects.toThrow(
      /could not parse as oci variant: number of layers must be 2 but got 1/,
    );
  });

  it("Higress's multi-layer image loads from its last layer; Istio before 1.16 refused it", async () => {
    const spec = Buffer.from("apiVersion: 1.0.0\n");
    const layer = await tarGz({ "plugin.wasm": module });
    const m = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: desc("application/vnd.unknown.config.v1+json", EMPTY_CONFIG),
      layers: [desc("application/vnd.module.wasm.spec.v1+yaml", spec), desc(MT.ociLayer, layer)],
    };
    const src = memorySource(m, [EMPTY_CONFIG, spec, layer]);
    expect((await fetchWasm(src)).wasm.equals(module)).toBe(true);
    await expect(fetchWasm(src, { compatLayers: "single" })).rejects.toThrow(
      /compat variant: number of layers must be 1 but got 2/,
    );
  });

  it("a tar+gzip last layer without plugin.wasm is refused with the archive's reason", async () => {
    const layer = await tarGz({ "filter.wasm": module });
    const m = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: desc(MT.wasmConfig, EMPTY_CONFIG),
      layers: [desc(MT.ociLayer, layer)],
    };
    await expect(fetchWasm(memorySource(m, [EMPTY_CONFIG, layer]))).rejects.toThrow(
      /compat variant: could not extract wasm binary: plugin\.wasm not found in the archive/,
    );
  });
});

/** The --format values the options table of `image --help` offers ("--format higress|wasm"). */
function offeredFormats(): string[] {
  const m = /^ {2}(?:-\w, | {4})--format ([a-z|]+)/m.exec(helpText(imageCommand));
  if (!m?.[1]) throw new Error("image --help names no --format values");
  return m[1].split("|");
}

/** Where each format's module must come from, per the fetcher's decision. */
const EXPECTED: Record<string, { variant: Variant; layer: "last" | number }> = {
  higress: { variant: "compat", layer: "last" },
  wasm: { variant: "oci", layer: 1 },
};

describe.skipIf(skip)("every --format `image` offers loads in the gateway's fetcher", () => {
  const wasmFile = join(repoRoot, "build", "plugin.wasm");
  let registry: Registry;
  let built: Buffer;

  beforeAll(async () => {
    if (why) throw new Error(`CI is set but the registry tests cannot run: ${why}`);
    if (!existsSync(wasmFile))
      throw new Error(`${wasmFile} is missing: run 'npm run build' before these tests`);
    built = readFileSync(wasmFile);
    registry = await startRegistry("anonymous");
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it("offers at least the formats this file knows where to look in", () => {
    const formats = offeredFormats();
    expect(formats).toContain("higress");
    for (const f of formats) expect(Object.keys(EXPECTED), `--format ${f}`).toContain(f);
  });

  for (const format of offeredFormats()) {
    it(`--format ${format}: pushed, pulled by tag and by digest, the fetcher extracts build/plugin.wasm`, async () => {
      const project = scratchProject(built);
      const repo = `conformance/${format}`;
      const r = await runCli(["image", `${registry.host}/${repo}:1`, "--format", format, "-q"], {
        cwd: project,
      });
      expect(r.code, r.err).toBe(0);
      const digest = r.out.trim().split("@")[1] as string;
      const manifest = (await (
        await fetch(`http://${registry.host}/v2/${repo}/manifests/${digest}`, {
          headers: { accept: MT.ociManifest },
        })
      ).json()) as { layers: unknown[] };
      for (const ref of ["1", digest]) {
        const got = await fetchWasm(registrySource(registry.host, repo, ref));
        expect(got.digest).toBe(digest);
        expect(got.variant).toBe(EXPECTED[format]?.variant);
        const where = EXPECTED[format]?.layer;
        expect(got.layer).toBe(where === "last" ? manifest.layers.length - 1 : where);
        expect(got.wasm.length).toBe(built.length);
        expect(got.wasm.equals(built)).toBe(true);
      }
    });

    it(`--format ${format}: an OCI layout, copied to the registry by skopeo, loads the same`, async () => {
      const project = scratchProject(built);
      const r = await runCli(["image", "--oci-layout", "out", "--format", format, "-q"], {
        cwd: project,
      });
      expect(r.code).toBe(0);
      const digest = r.out.trim().split("@")[1] as string;
      const repo = `conformance-layout/${format}`;
      await skopeo([
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        `oci:${join(project, "out")}:0.1.0`,
        `docker://${registry.host}/${repo}:1`,
      ]);
      const got = await fetchWasm(registrySource(registry.host, repo, "1"));
      expect(got.digest).toBe(digest);
      expect(got.wasm.equals(built)).toBe(true);
    });
  }
});
