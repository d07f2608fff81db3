// `conn-drain image`: package build/plugin.wasm and push it, or write an OCI layout.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { type Command, type Io, list, str, type Values } from "../args.js";
import { CliError, ExitCode, usage } from "../errors.js";
import { resolveCredentials } from "../oci/auth.js";
import { buildImage, FORMATS, type Format } from "../oci/image.js";
import { writeLayout } from "../oci/layout.js";
import {
  formatReference,
  isLoopback,
  isTag,
  parseReference,
  type Reference,
} from "../oci/reference.js";
import { type Progress, RegistryClient } from "../oci/registry.js";
import { loadSpec } from "../spec.js";

function kib(n: number): string {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`;
}

function progressPrinter(io: Io): (p: Progress) => void {
  return (p) => {
    if (p.kind === "blob") {
      const short = p.digest.slice(7, 19);
      if (p.exists) {
        io.err(`  ${p.title} ${short} already in the registry\n`);
      } else {
        const pct = p.size === 0 ? 100 : Math.floor((p.sent / p.size) * 100);
        io.err(`  ${p.title} ${short} ${kib(p.sent)}/${kib(p.size)} ${pct}%\n`);
      }
    } else if (p.kind === "manifest") {
      io.err(`  manifest ${p.digest} stored\n`);
    } else {
      io.err(`  tagged ${p.tag}\n`);
    }
  };
}

/**
 * Higress picks README.md, then README_<LANG>.md files, from the plugin's folder: the folder of
 * plugin.yaml. So without --readme they are looked for beside --spec, and the image built from
 * outside a checkout with `--spec "$REPO/plugin.yaml"` is the one built inside it (docs/cli.md,
 * "Outside a checkout"). --readme paths are relative to the current directory, as flags are.
 */
function readmes(
  values: Values,
  cwd: string,
  pluginDir: string,
): { file: string; lang?: string; data: Buffer }[] {
  const given = list(values, "readme");
  const files =
    given.length > 0
      ? given.map((f) => resolve(cwd, f))
      : ["README.md", "README_EN.md"]
          .map((f) => resolve(pluginDir, f))
          .filter((f) => existsSync(f));
  return files.map((f) => {
    const name = basename(f);
    const m = /^README_([A-Za-z-]+)\.md$/.exec(name);
    try {
      return { file: name, lang: m?.[1], data: readFileSync(f) };
    } catch (err) {
      throw new CliError(`cannot read ${f}: ${(err as Error).message}`, "check --readme", 5);
    }
  });
}

async function run(values: Values, positionals: string[], io: Io): Promise<void> {
  // parse() has refused any other value (Flag.choices).
  const format = (str(values, "format") ?? "higress") as Format;
  const layout = str(values, "oci-layout");
  if (positionals.length > 1) throw usage("give one image reference", "image");
  const refArg = positionals[0];
  if (!layout && !refArg) {
    throw usage(
      "give a registry reference (REGISTRY/REPOSITORY[:TAG]) or --oci-layout DIR",
      "image",
    );
  }
  const specFile = resolve(io.cwd, str(values, "spec") ?? "plugin.yaml");
  const spec = loadSpec(specFile);
  const wasmFile = resolve(io.cwd, str(values, "wasm") ?? "build/plugin.wasm");
  let wasm: Buffer;
  try {
    wasm = readFileSync(wasmFile);
  } catch {
    throw new CliError(
      `no plugin module at ${wasmFile}`,
      "run `make build` (or npm run build) first, or pass --wasm FILE",
      ExitCode.invalid,
    );
  }
  if (wasm.subarray(0, 4).toString("hex") !== "0061736d") {
    throw new CliError(
      `${wasmFile} is not a WebAssembly module`,
      "rebuild it with `make build`",
      ExitCode.invalid,
    );
  }
  const ref: Reference | undefined = refArg ? parseReference(refArg) : undefined;
  if (ref?.digest) throw usage("push to a tag, not a digest: the digest is computed", "image");
  const tags = [...new Set([ref?.tag ?? spec.version, ...list(values, "tag")])];
  for (const t of tags) if (!isTag(t)) throw usage(`"${t}" is not a valid tag`, "image");

  const image = await buildImage({
    format,
    wasm,
    spec: format === "higress" ? spec.raw : undefined,
    docs: format === "higress" ? readmes(values, io.cwd, dirname(specFile)) : [],
    annotations: {
      "org.opencontainers.image.title": spec.name,
      "org.opencontainers.image.version": spec.version,
      "org.opencontainers.image.description": spec.title,
    },
  });
  io.err(
    `conn-drain image: ${format} format, ${image.layers.length} layer(s), manifest ${image.digest}\n`,
  );

  if (layout) {
    const dir = resolve(io.cwd, layout);
    writeLayout(dir, image, tags);
    io.err(`  wrote OCI layout ${dir} (tags: ${tags.join(", ")})\n`);
    if (!ref) io.out(`oci:${layout}:${tags[0]}@${image.digest}\n`);
  }
  if (ref) {
    let password = str(values, "password");
    if (values["password-stdin"]) password = (await io.stdin()).replace(/\r?\n$/, "");
    const credentials = resolveCredentials(
      ref.registry,
      { username: str(values, "username"), password },
      io.env,
    );
    const plainHttp = values["plain-http"] === true || isLoopback(ref.apiHost);
    const chunkSize = Number(str(values, "chunk-size") ?? 1 << 20);
    if (!Number.isInteger(chunkSize) || chunkSize < 1024)
      throw usage("--chunk-size must be an integer ≥ 1024", "image");
    const client = new RegistryClient(ref, { plainHttp, credentials });
    io.err(
      `  pushing to ${formatReference({ ...ref, tag: undefined })}${credentials ? ` as ${credentials.username}` : ""}\n`,
    );
    await client.push(image, tags, {
      plainHttp,
      credentials,
      chunkSize,
      onProgress: progressPrinter(io),
    });
    io.out(`${formatReference({ ...ref, tag: tags[0], digest: image.digest })}\n`);
  }
}

export const imageCommand: Command = {
  name: "image",
  summary: "Package build/plugin.wasm as an OCI image and push it, or write an OCI image layout.",
  usage: "image [REGISTRY/REPOSITORY[:TAG]] [--oci-layout DIR] [options]",
  description: `
The default format is Higress's multi-layer plugin image: plugin.yaml as the spec.yaml layer,
README.md / README_<LANG>.md doc layers, and plugin.tar.gz holding plugin.wasm as the last,
tar+gzip layer (the gateway's image fetcher reads only that last layer). --format wasm writes the
Wasm OCI artifact instead: two layers, the runtime config and the raw module, exactly what the
fetcher's OCI-artifact path takes. Both load in Higress and Istio ≥ 1.16 (docs/cli.md).

With a reference the image is pushed over the OCI Distribution API; the tag defaults to
plugin.yaml's info.version. Progress goes to stderr; stdout gets one line, the pushed reference
with its digest (REGISTRY/REPOSITORY:TAG@sha256:…), which 'conn-drain wasmplugin --image' takes.
Tags are set only after every blob and the manifest are stored, so a failed push tags nothing.
Loopback registries are spoken to over HTTP, others over HTTPS unless --plain-http.

Credentials: --username with --password-stdin (or --password), else CONN_DRAIN_REGISTRY_USERNAME
and CONN_DRAIN_REGISTRY_PASSWORD, else the docker config file (docker login). Basic and
bearer-token registries are both handled. Without a reference, --oci-layout writes an OCI image
layout directory and needs nothing running; stdout then gets oci:DIR:TAG@sha256:….`,
  flags: {
    format: { type: "string", choices: FORMATS, default: "higress", help: "image format" },
    "oci-layout": { type: "string", arg: "DIR", help: "write an OCI image layout to DIR" },
    tag: { type: "string", multiple: true, arg: "TAG", help: "extra tag to set" },
    wasm: { type: "string", arg: "FILE", default: "build/plugin.wasm", help: "the plugin module" },
    spec: {
      type: "string",
      arg: "FILE",
      default: "plugin.yaml",
      help: "the plugin spec (spec.yaml layer)",
    },
    readme: {
      type: "string",
      multiple: true,
      arg: "FILE",
      help: "doc layer (default: README.md and README_EN.md beside --spec)",
    },
    username: { type: "string", short: "u", arg: "USER", help: "registry user" },
    "password-stdin": { type: "boolean", help: "read the registry password from stdin" },
    password: { type: "string", arg: "PASS", help: "registry password (prefer --password-stdin)" },
    "plain-http": { type: "boolean", help: "speak HTTP, not HTTPS, to a non-loopback registry" },
    "chunk-size": { type: "string", arg: "BYTES", help: "upload chunk size (default 1 MiB)" },
  },
  examples: [
    "npx conn-drain image --oci-layout out/",
    "npx conn-drain image registry.example.com/plugins/conn-drain:0.1.0 -u ci --password-stdin < token.txt",
    "npx conn-drain image localhost:5000/conn-drain --format wasm --tag latest",
  ],
  run,
};
