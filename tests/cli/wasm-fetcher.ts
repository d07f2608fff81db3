// Our own re-implementation, for tests, of how the gateway turns an OCI image into a Wasm module:
// Istio's Wasm image fetcher, which Higress runs in its Istio fork. Written from reading
//   istio/istio            pkg/wasm/imagefetcher.go  (PrepareFetch and its binaryFetcher,
//                          extractDockerImage, extractOCIStandardImage, extractWasmPluginBinary,
//                          extractOCIArtifactImage)
//   higress-group/istio    the same file: the same decision; it falls back to plain HTTP on any
//                          HTTPS error and caps the archive at 256 MiB
//   alibaba/higress        istio/1.12/patches/istio/20230319-imagefetcher-oci.patch (its 1.12
//                          fork: "the last layer", as upstream since Istio 1.16, #40647)
// and go-containerregistry, which the fetcher pulls with (pkg/v1/remote: fetchManifest's Accept
// list, Descriptor.Image; pkg/v1/partial: FSLayers, BlobDescriptor; blobs verified against
// their digest and size). No code of theirs is copied; the error texts are theirs, so a failure
// here reads like the gateway's log line.
//
// The decision, in order:
//   1. manifest.mediaType (the field in the JSON) is Docker's schema 2
//      → Docker/compat: at least one layer; the LAST layer must be
//        application/vnd.docker.image.rootfs.diff.tar.gzip; plugin.wasm from its tar.gz.
//   2. else compat (also Higress's multi-layer image): at least one layer; the LAST layer must be
//      application/vnd.oci.image.layer.v1.tar+gzip; plugin.wasm from its tar.gz.
//   3. else OCI artifact: EXACTLY two layers; the first whose media type is
//      application/vnd.module.wasm.content.layer.v1+wasm is the module, byte for byte.
//   4. else "the given image is in invalid format as an OCI image" with both reasons.
// A layer's media type is that of the first descriptor with its digest, the config first
// (partial.BlobDescriptor). In a tar, the first entry whose base name is plugin.wasm wins,
// whatever directory it is in ("./plugin.wasm" too).
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import tar from "tar-stream";

export const MT = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
  wasmLayer: "application/vnd.module.wasm.content.layer.v1+wasm",
  wasmConfig: "application/vnd.module.wasm.config.v1+json",
} as const;

/** go-containerregistry's remote.Get asks for every manifest type it knows, in this order. */
export const ACCEPT = [
  MT.dockerSchema1,
  MT.dockerSchema1Signed,
  MT.ociManifest,
  MT.dockerManifest,
  MT.ociIndex,
  MT.dockerList,
].join(",");

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  data?: string; // base64, embedded content (OCI image-spec descriptor.md)
  annotations?: Record<string, string>;
}

export interface PulledImage {
  /** The manifest bytes as served, and the Content-Type they were served with. */
  manifest: Buffer;
  contentType: string;
  /** Reads one blob; the fetcher verifies digest and size itself. */
  blob: (d: Descriptor) => Promise<Buffer>;
}

export type Variant = "docker" | "compat" | "oci";

export interface Extracted {
  variant: Variant;
  /** The manifest digest, as the gateway caches and logs it. */
  digest: string;
  /** Index in manifest.layers of the layer the module came from. */
  layer: number;
  wasm: Buffer;
}

export interface FetcherOptions {
  /**
   * "last": Higress's fork and Istio ≥ 1.16 (the compat paths read the last layer).
   * "single": Istio before 1.16 (the compat paths want exactly one layer).
   */
  compatLayers?: "last" | "single";
  /** features.MaxWasmBinarySizeBytes (ISTIO_WASM_MAX_BINARY_SIZE_BYTES), 256 MiB by default. */
  maxBinaryBytes?: number;
}

/** An image the gateway would refuse; the message is the one its log would show. */
export class FetchError extends Error {
  override name = "FetchError";
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** GET manifest and blobs over the Distribution API, like go-containerregistry's remote pull. */
export function registrySource(
  host: string,
  repository: string,
  reference: string,
  opts: { auth?: string; scheme?: "http" | "https" } = {},
): () => Promise<PulledImage> {
  const base = `${opts.scheme ?? "http"}://${host}/v2/${repository}`;
  const headers: Record<string, string> = opts.auth ? { authorization: opts.auth } : {};
  return async () => {
    const res = await fetch(`${base}/manifests/${reference}`, {
      headers: { ...headers, accept: ACCEPT },
    });
    if (!res.ok) throw new FetchError(`could not fetch manifest: GET ${reference}: ${res.status}`);
    const manifest = Buffer.from(await res.arrayBuffer());
    // fetchManifest: pulled by digest, the bytes must hash to it.
    if (reference.startsWith("sha256:") && sha256(manifest) !== reference)
      throw new FetchError(
        `could not fetch manifest: manifest digest: "${sha256(manifest)}" does not match requested digest: "${reference}"`,
      );
    return {
      manifest,
      contentType: res.headers.get("content-type") ?? "",
      blob: async (d) => {
        const r = await fetch(`${base}/blobs/${d.digest}`, { headers });
        if (!r.ok) throw new Error(`GET blob ${d.digest}: ${r.status}`);
        return Buffer.from(await r.arrayBuffer());
      },
    };
  };
}

/** An image held in memory (for building test images by hand). */
export function memorySource(
  manifest: object | Buffer,
  blobs: Buffer[],
  contentType?: string,
): () => Promise<PulledImage> {
  const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
  const byDigest = new Map(blobs.map((b) => [sha256(b), b]));
  const mt = Buffer.isBuffer(manifest) ? undefined : (manifest as { mediaType?: string }).mediaType;
  return async () => ({
    manifest: bytes,
    contentType: contentType ?? mt ?? MT.ociManifest,
    blob: async (d) => {
      const b = byDigest.get(d.digest);
      if (!b) throw new Error(`blob ${d.digest} not found`);
      return b;
    },
  });
}

interface Manifest {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
}

/** "2 errors occurred:\n\t* …" as hashicorp/go-multierror formats a list. */
function multi(errors: string[]): string {
  const points = errors.map((e) => `* ${e}`).join("\n\t");
  return errors.length === 1
    ? `1 error occurred:\n\t${points}\n\n`
    : `${errors.length} errors occurred:\n\t${points}\n\n`;
}

/** Go's filepath.Base on a slash path: trailing slashes dropped, "" → ".". */
function base(name: string): string {
  const trimmed = name.replace(/\/+$/, "");
  if (trimmed === "") return name.startsWith("/") ? "/" : ".";
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** extractWasmPluginBinary: gunzip, then the first tar entry whose base name is plugin.wasm. */
async function pluginFromTarGz(layer: Buffer, limit: number): Promise<Buffer> {
  if (layer.length < 2 || layer[0] !== 0x1f || layer[1] !== 0x8b)
    throw new FetchError("failed to parse layer as tar.gz: gzip: invalid header");
  let raw: Buffer;
  try {
    raw = gunzipSync(layer);
  } catch (err) {
    // Go reads the gzip body lazily, so a corrupt body surfaces as the tar reader's error.
    throw new FetchError(`gzip: ${(err as Error).message}`);
  }
  // io.LimitReader: past the limit the archive just ends.
  if (raw.length > limit) raw = raw.subarray(0, limit);
  return new Promise<Buffer>((resolve, reject) => {
    const ex = tar.extract();
    let found: Buffer | undefined;
    ex.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        if (found === undefined && base(header.name) === "plugin.wasm") {
          const body = Buffer.concat(chunks);
          if (body.length < (header.size ?? 0)) {
            reject(new FetchError("failed to read plugin.wasm: unexpected EOF"));
            return;
          }
          found = body;
        }
        next();
      });
      stream.resume();
    });
    ex.on("finish", () =>
      found ? resolve(found) : reject(new FetchError("plugin.wasm not found in the archive")),
    );
    ex.on("error", (err: Error) =>
      found
        ? resolve(found)
        : reject(
            new FetchError(/unexpected end/i.test(err.message) ? "unexpected EOF" : err.message),
          ),
    );
    ex.end(raw);
  });
}

/**
 * What the gateway does with the image `source` yields: the module it would load, or the
 * FetchError it would log (then, fail-closed, refuse the whole plugin config).
 */
export async function fetchWasm(
  source: () => Promise<PulledImage>,
  opts: FetcherOptions = {},
): Promise<Extracted> {
  const compat = opts.compatLayers ?? "last";
  const limit = opts.maxBinaryBytes ?? 256 * 1024 * 1024;
  const img = await source();

  // remote.Get + Descriptor.Image(): the served Content-Type decides what kind of object it is.
  const served = img.contentType.split(";")[0]?.trim() ?? "";
  if (served === MT.dockerSchema1 || served === MT.dockerSchema1Signed)
    throw new FetchError(`could not fetch image: unsupported MediaType: "${served}"`);
  if (served === MT.ociIndex || served === MT.dockerList)
    throw new FetchError(
      "an image index: the fetcher would pick the linux/amd64 entry; not modelled here",
    );
  let m: Manifest;
  try {
    m = JSON.parse(img.manifest.toString("utf8")) as Manifest;
  } catch (err) {
    throw new FetchError(`could not retrieve manifest: ${(err as Error).message}`);
  }
  const digest = sha256(img.manifest);
  const layers = m.layers ?? [];

  // partial.BlobDescriptor: the config's descriptor first, then the first layer with the digest.
  const descriptorOf = (d: Descriptor): Descriptor =>
    m.config?.digest === d.digest ? m.config : (layers.find((l) => l.digest === d.digest) ?? d);
  // remoteImageLayer.Compressed: embedded data or the registry's blob, verified either way.
  const content = async (d: Descriptor): Promise<Buffer> => {
    const desc = descriptorOf(d);
    let b: Buffer;
    try {
      b = desc.data !== undefined ? Buffer.from(desc.data, "base64") : await img.blob(desc);
    } catch (err) {
      throw new FetchError(`could not get layer content: ${(err as Error).message}`);
    }
    if (sha256(b) !== desc.digest || b.length !== desc.size)
      throw new FetchError(
        `error verifying ${desc.digest}: got ${sha256(b)} (${b.length} bytes), want ${desc.size} bytes`,
      );
    return b;
  };

  // extractDockerImage / extractOCIStandardImage: the same steps, one layer type each.
  const fromTarLayer = async (layerType: string): Promise<{ layer: number; wasm: Buffer }> => {
    let index: number;
    if (compat === "single") {
      if (layers.length !== 1)
        throw new FetchError(`number of layers must be 1 but got ${layers.length}`);
      index = 0;
    } else {
      if (layers.length === 0) throw new FetchError("number of layers must be greater than zero");
      index = layers.length - 1;
    }
    const d = layers[index] as Descriptor;
    const mt = descriptorOf(d).mediaType;
    if (mt !== layerType) throw new FetchError(`invalid media type ${mt} (expect ${layerType})`);
    const gz = await content(d);
    try {
      return { layer: index, wasm: await pluginFromTarGz(gz, limit) };
    } catch (err) {
      throw new FetchError(`could not extract wasm binary: ${(err as Error).message}`);
    }
  };

  if (m.mediaType === MT.dockerManifest) {
    try {
      return { variant: "docker", digest, ...(await fromTarLayer(MT.dockerLayer)) };
    } catch (err) {
      // Sic: upstream has no separator before the reason.
      throw new FetchError(
        `could not extract Wasm file from the image as Docker container ${(err as Error).message}`,
      );
    }
  }

  let errCompat: string;
  try {
    return { variant: "compat", digest, ...(await fromTarLayer(MT.ociLayer)) };
  } catch (err) {
    errCompat = (err as Error).message;
  }

  let errOci: string;
  try {
    if (layers.length !== 2)
      throw new FetchError(`number of layers must be 2 but got ${layers.length}`);
    const index = layers.findIndex((l) => descriptorOf(l).mediaType === MT.wasmLayer);
    if (index < 0) throw new FetchError(`could not find the layer of type ${MT.wasmLayer}`);
    const raw = await content(layers[index] as Descriptor);
    // io.ReadAll(io.LimitReader(…)): a module over the limit is cut short, not refused.
    return { variant: "oci", digest, layer: index, wasm: raw.subarray(0, limit) };
  } catch (err) {
    errOci = (err as Error).message;
  }

  throw new FetchError(
    `the given image is in invalid format as an OCI image: ${multi([
      `could not parse as compat variant: ${errCompat}`,
      `could not parse as oci variant: ${errOci}`,
    ])}`,
  );
}
