// Writes an OCI image layout directory (opencontainers/image-spec image-layout.md): the
// "oci-layout" marker, blobs/sha256/<hex>, and index.json naming the manifest with the
// org.opencontainers.image.ref.name annotation per tag (what `skopeo copy oci:DIR:TAG …` reads).
// An existing layout is extended: other tags stay, a tag we write is moved to the new manifest.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliError, ExitCode } from "../errors.js";
import { type Image, MediaType } from "./image.js";

const REF_NAME = "org.opencontainers.image.ref.name";

interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

function writeAtomic(file: string, data: Buffer | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function writeLayout(dir: string, image: Image, tags: string[]): void {
  const blobs = join(dir, "blobs", "sha256");
  try {
    mkdirSync(blobs, { recursive: true });
  } catch (err) {
    throw new CliError(
      `cannot create OCI layout ${dir}: ${(err as Error).message}`,
      "choose a writable --oci-layout directory",
      ExitCode.failure,
    );
  }
  const marker = join(dir, "oci-layout");
  if (existsSync(marker)) {
    const v = JSON.parse(readFileSync(marker, "utf8")).imageLayoutVersion;
    if (v !== "1.0.0") {
      throw new CliError(`${dir} is an OCI layout of version ${v}`, "use an empty directory", 5);
    }
  }
  // Blobs first, index last: a reader never sees an index entry whose blobs are missing.
  for (const b of [image.config, ...image.layers]) {
    const f = join(blobs, b.digest.slice("sha256:".length));
    if (!existsSync(f)) writeAtomic(f, b.data);
  }
  writeAtomic(join(blobs, image.digest.slice("sha256:".length)), image.manifest);
  if (!existsSync(marker)) writeAtomic(marker, JSON.stringify({ imageLayoutVersion: "1.0.0" }));

  const indexFile = join(dir, "index.json");
  let manifests: IndexEntry[] = [];
  if (existsSync(indexFile)) {
    manifests = (JSON.parse(readFileSync(indexFile, "utf8")).manifests ?? []) as IndexEntry[];
  }
  manifests = manifests.filter((m) => !tags.includes(m.annotations?.[REF_NAME] ?? "\0"));
  for (const tag of tags) {
    manifests.push({
      mediaType: MediaType.manifest,
      digest: image.digest,
      size: image.manifest.length,
      annotations: { [REF_NAME]: tag },
    });
  }
  const index = { schemaVersion: 2, mediaType: MediaType.index, manifests };
  writeAtomic(indexFile, `${JSON.stringify(index, null, 2)}\n`);
}
