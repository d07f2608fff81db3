// Builds the two OCI image shapes the gateway can pull, in memory (a plugin is a few hundred KiB).
// What "can pull" means is decided by Istio's Wasm image fetcher, which Higress runs in its Istio
// fork (istio/istio and higress-group/istio pkg/wasm/imagefetcher.go; docs/cli.md, "What the
// gateway accepts"); tests/cli/wasm-fetcher.ts re-implements that decision and
// tests/cli/image-conformance.test.ts runs every format through it.
//
// "higress" — Higress's own multi-layer image, as its plugin CI pushes with oras
//   (alibaba/higress .github/workflows/build-and-push-wasm-plugin-image.yaml, hgctl
//   pkg/plugin/build/build.go) and as its "Wasm Plugin Image Specification" page describes:
//   one file per layer, spec.yaml / README*.md layers typed by file, and plugin.wasm inside a
//   tar+gzip layer that must be the LAST layer: the fetcher's compat path
//   (extractOCIStandardImage) looks only at the last layer and wants
//   application/vnd.oci.image.layer.v1.tar+gzip with a plugin.wasm entry.
// "wasm" — the Wasm OCI artifact (solo-io/wasm spec/spec.md, the "oci" variant): TWO layers, the
//   runtime config (application/vnd.module.wasm.config.v1+json) and the raw module
//   (application/vnd.module.wasm.content.layer.v1+wasm). The fetcher's extractOCIArtifactImage
//   refuses any other number of layers ("number of layers must be 2 but got 1" was what a
//   one-layer artifact got). The runtime config is also the manifest's config.
//
// Everything is deterministic (no timestamps, fixed tar header fields), so building the same
// inputs twice gives the same manifest digest and a re-push uploads nothing.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";

export const MediaType = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  index: "application/vnd.oci.image.index.v1+json",
  // oras 1.x writes this config (content "{}") when pushing files without --config; Higress's
  // published plugin images carry it.
  unknownConfig: "application/vnd.unknown.config.v1+json",
  spec: "application/vnd.module.wasm.spec.v1+yaml",
  doc: "application/vnd.module.wasm.doc.v1+markdown",
  docLang: (lang: string) => `application/vnd.module.wasm.doc.v1.${lang.toLowerCase()}+markdown`,
  tarGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  wasmConfig: "application/vnd.module.wasm.config.v1+json",
  wasmLayer: "application/vnd.module.wasm.content.layer.v1+wasm",
} as const;

export const TITLE = "org.opencontainers.image.title";

export const FORMATS = ["higress", "wasm"] as const;
export type Format = (typeof FORMATS)[number];

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
  annotations?: Record<string, string>;
}

export interface Image {
  format: Format;
  config: Blob;
  layers: Blob[];
  manifest: Buffer; // exact bytes pushed; the digest is over these
  digest: string;
}

export interface ImageInputs {
  format: Format;
  wasm: Buffer;
  spec?: Buffer; // plugin.yaml, pushed as spec.yaml
  docs: { file: string; lang?: string; data: Buffer }[]; // README.md, README_EN.md, …
  annotations: Record<string, string>; // manifest annotations (title, version, source)
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function blob(mediaType: string, data: Buffer, title?: string): Blob {
  return {
    mediaType,
    digest: sha256(data),
    size: data.length,
    data,
    ...(title ? { annotations: { [TITLE]: title } } : {}),
  };
}

/** A gzip tar holding one file, plugin.wasm, with fixed metadata (mtime 0, root, 0644). */
export async function pluginTarGz(wasm: Buffer): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: unknown) => chunks.push(c as Buffer));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  pack.entry(
    {
      name: "plugin.wasm",
      size: wasm.length,
      mode: 0o644,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      uname: "",
      gname: "",
      type: "file",
    },
    wasm,
  );
  pack.finalize();
  await done;
  // node:zlib writes mtime 0 and a fixed OS byte in the gzip header, so this is reproducible.
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

export async function buildImage(inp: ImageInputs): Promise<Image> {
  let config: Blob;
  const layers: Blob[] = [];
  if (inp.format === "higress") {
    config = blob(MediaType.unknownConfig, Buffer.from("{}"));
    if (inp.spec) layers.push(blob(MediaType.spec, inp.spec, "spec.yaml"));
    for (const d of inp.docs) {
      layers.push(blob(d.lang ? MediaType.docLang(d.lang) : MediaType.doc, d.data, d.file));
    }
    // Last, as the image spec requires.
    layers.push(blob(MediaType.tarGzip, await pluginTarGz(inp.wasm), "plugin.tar.gz"));
  } else {
    // Runtime config per solo-io/wasm spec/spec.md ("Envoy WASM Filter Specification": type,
    // abiVersions, config.root_ids); the plugin speaks proxy-wasm ABI 0.2.1 and registers no
    // named root context. The fetcher never reads it, but it must be there as a layer.
    const runtime = { type: "envoy_proxy", abiVersions: ["0.2.1"], config: { root_ids: [] } };
    const data = Buffer.from(JSON.stringify(runtime));
    config = blob(MediaType.wasmConfig, data);
    // In the spec's order: runtime config, then the module.
    layers.push(blob(MediaType.wasmConfig, data, "runtime-config.json"));
    layers.push(blob(MediaType.wasmLayer, inp.wasm, "plugin.wasm"));
  }
  const descriptor = (b: Blob) => ({
    mediaType: b.mediaType,
    digest: b.digest,
    size: b.size,
    ...(b.annotations ? { annotations: b.annotations } : {}),
  });
  const manifestObj = {
    schemaVersion: 2,
    mediaType: MediaType.manifest,
    config: descriptor(config),
    layers: layers.map(descriptor),
    ...(Object.keys(inp.annotations).length > 0 ? { annotations: inp.annotations } : {}),
  };
  const manifest = Buffer.from(JSON.stringify(manifestObj));
  return { format: inp.format, config, layers, manifest, digest: sha256(manifest) };
}
