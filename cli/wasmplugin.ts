// The WasmPlugin resource (extensions.higress.io/v1alpha1) for conn-drain, built from plugin.yaml,
// the pushed image and the user's config, then validated twice: the config against plugin.yaml's
// configSchema, the resource against schemas/wasmplugin.v1alpha1.schema.json (written for this
// project from Higress's wasmplugin.proto and CRD). Field meanings: alibaba/higress
// api/extensions/v1alpha1/wasmplugin.proto.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { CliError, ExitCode } from "./errors.js";
import { formatReference, parseReference } from "./oci/reference.js";
import type { PluginSpec } from "./spec.js";
import { compile } from "./validate.js";

export interface WasmPluginInputs {
  spec: PluginSpec;
  image: string; // REGISTRY/REPO[:TAG]@sha256:… or REGISTRY/REPO:TAG with sha256
  sha256?: string;
  name: string;
  namespace: string;
  config: Record<string, unknown>;
  matchRules?: unknown[];
  failStrategy?: string;
  imagePullPolicy?: string;
  imagePullSecret?: string;
  phase?: string;
  priority?: number;
}

export type WasmPluginResource = {
  apiVersion: "extensions.higress.io/v1alpha1";
  kind: "WasmPlugin";
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
};

const schemaFile = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "schemas",
  "wasmplugin.v1alpha1.schema.json",
);
let resourceValidator: ReturnType<typeof compile> | undefined;

/** Reads a YAML or JSON file (JSON is YAML) into a value. */
export function readData(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(
      `cannot read ${what} ${file}: ${(err as Error).message}`,
      "check the path",
      ExitCode.invalid,
    );
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new CliError(
      `${what} ${file} is not valid YAML/JSON: ${(err as Error).message.split("\n")[0]}`,
      "fix the file",
      ExitCode.invalid,
    );
  }
}

function schemaError(errors: string[], hint: string): CliError {
  const more =
    errors.length > 1 ? ` (and ${errors.length - 1} more: ${errors.slice(1).join("; ")})` : "";
  return new CliError(`schema violation at ${errors[0]}${more}`, hint, ExitCode.invalid);
}

export function buildWasmPlugin(inp: WasmPluginInputs): WasmPluginResource {
  const ref = parseReference(inp.image);
  let sha = inp.sha256?.replace(/^sha256:/, "");
  if (ref.digest && sha && `sha256:${sha}` !== ref.digest) {
    // wasmplugin.proto: "If the url field already references a SHA256 … it must match".
    throw new CliError(
      `digest mismatch: --sha256 ${sha} differs from the image's ${ref.digest}`,
      "drop --sha256 or pass the digest that conn-drain image printed",
      ExitCode.invalid,
    );
  }
  if (!ref.digest && !sha) {
    throw new CliError(
      `image ${inp.image} is not pinned by digest`,
      "pass the REF@sha256:… line that 'conn-drain image' printed, or add --sha256",
      ExitCode.usage,
    );
  }
  if (ref.digest) sha = undefined; // the url pins it already
  const spec: Record<string, unknown> = { url: `oci://${formatReference(ref)}` };
  if (sha) spec.sha256 = sha;
  if (inp.imagePullPolicy) spec.imagePullPolicy = inp.imagePullPolicy;
  if (inp.imagePullSecret) spec.imagePullSecret = inp.imagePullSecret;
  spec.phase = inp.phase ?? inp.spec.phase;
  spec.priority = inp.priority ?? inp.spec.priority;
  if (inp.failStrategy) spec.failStrategy = inp.failStrategy;
  spec.defaultConfig = inp.config;
  spec.defaultConfigDisable = false;
  if (inp.matchRules) spec.matchRules = inp.matchRules;
  return {
    apiVersion: "extensions.higress.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: {
      name: inp.name,
      namespace: inp.namespace,
      labels: {
        "app.kubernetes.io/managed-by": "conn-drain",
        "app.kubernetes.io/version": inp.spec.version,
      },
    },
    spec,
  };
}

/** Throws a CliError naming the first bad field's path. */
export function validateWasmPlugin(res: WasmPluginResource, plugin: PluginSpec): void {
  resourceValidator ??= compile(JSON.parse(readFileSync(schemaFile, "utf8")));
  const errs = resourceValidator(res, "");
  if (errs.length > 0)
    throw schemaError(
      errs,
      "fix the flag or file that sets it (the WasmPlugin schema: schemas/wasmplugin.v1alpha1.schema.json)",
    );
  const config = compile(plugin.configSchema);
  const hint = `fix the config to match ${plugin.file} (spec.configSchema)`;
  const e1 = config(res.spec.defaultConfig, "spec.defaultConfig");
  if (e1.length > 0) throw schemaError(e1, hint);
  const rule = plugin.routeConfigSchema ? compile(plugin.routeConfigSchema) : config;
  const rules = (res.spec.matchRules ?? []) as { config?: unknown }[];
  rules.forEach((r, i) => {
    if (r.config === undefined) return;
    const e = rule(r.config, `spec.matchRules[${i}].config`);
    if (e.length > 0) throw schemaError(e, hint);
  });
}
