// The WasmPlugin resource (extensions.higress.io/v1alpha1) for conn-drain, built from plugin.yaml,
// the pushed image and the user's config, then validated twice: the config against plugin.yaml's
// configSchema, the resource against schemas/wasmplugin.v1alpha1.schema.json (written for this
// project from Higress's wasmplugin.proto and CRD). Field meanings: alibaba/higress
// api/extensions/v1alpha1/wasmplugin.proto.
//
// Identity: the resource is named and labelled the way the Higress console names and labels a
// custom plugin (higress-group/higress-console, KubernetesModelConverter.wasmPluginToCr and
// KubernetesClientService.renderDefaultMetadata/listWasmPlugin), so the console lists the plugin
// the CLI applied instead of creating a second copy beside it. One more label,
// app.kubernetes.io/managed-by: conn-drain, tells which path made a resource: `wasmplugin --apply`
// and `console` refuse to act on a resource the other path made (docs/cli.md, "One plugin, one path").
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { CUSTOM_CATEGORY } from "./console.js";
import { CliError, ExitCode } from "./errors.js";
import { type KubeResponse, type KubeTarget, kubeRequest } from "./kube.js";
import { formatReference, parseReference } from "./oci/reference.js";
import type { PluginSpec } from "./spec.js";
import { compile } from "./validate.js";

export interface WasmPluginInputs {
  spec: PluginSpec;
  image: string; // REGISTRY/REPO[:TAG]@sha256:… or REGISTRY/REPO:TAG with sha256
  sha256?: string;
  /** The plugin's name (the console's higress.io/wasm-plugin-name); default plugin.yaml info.name. */
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
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: Record<string, unknown>;
};

/** Labels and annotations the console reads and writes (KubernetesConstants.Label/Annotation). */
const LABEL = {
  definer: "higress.io/resource-definer", // the console lists only resources with this = higress
  name: "higress.io/wasm-plugin-name",
  version: "higress.io/wasm-plugin-version",
  category: "higress.io/wasm-plugin-category",
  builtIn: "higress.io/wasm-plugin-built-in",
  managedBy: "app.kubernetes.io/managed-by", // ours: which path made the resource
} as const;
const ANNOTATION = {
  title: "higress.io/wasm-plugin-title",
  description: "higress.io/wasm-plugin-description",
  icon: "higress.io/wasm-plugin-icon",
} as const;
const MANAGED_BY = "conn-drain";

/** The console's resource name for a custom plugin: `<name>-<version>` (wasmPluginToCr). */
function resourceName(name: string, version: string): string {
  return `${name}-${version}`;
}

// Kubernetes label values: at most 63 characters, alphanumerics and -_. inside.
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

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
  const version = inp.spec.version;
  if (!LABEL_VALUE.test(version))
    throw new CliError(
      `${inp.spec.file}: info.version "${version}" cannot be a Kubernetes label value (the console's ${LABEL.version})`,
      "use letters, digits, '-', '_' and '.' only (e.g. 0.2.0)",
      ExitCode.invalid,
    );
  if (ref.digest) sha = undefined; // the url pins it already
  const spec: Record<string, unknown> = { url: `oci://${formatReference(ref)}` };
  if (sha) spec.sha256 = sha;
  if (inp.imagePullPolicy) spec.imagePullPolicy = inp.imagePullPolicy;
  if (inp.imagePullSecret) spec.imagePullSecret = inp.imagePullSecret;
  spec.phase = inp.phase ?? inp.spec.phase;
  spec.priority = inp.priority ?? inp.spec.priority;
  // A counting plugin must never take player traffic down with it: Higress's default is
  // FAIL_CLOSE (wasmplugin.proto, enum FailStrategy = 0), under which a plugin that fails to
  // load or traps answers every request with a 5xx. The console writes FAIL_OPEN too
  // (KubernetesModelConverter.setDefaultValues).
  spec.failStrategy = inp.failStrategy ?? "FAIL_OPEN";
  spec.defaultConfig = inp.config;
  spec.defaultConfigDisable = false;
  if (inp.matchRules) spec.matchRules = inp.matchRules;
  const annotations: Record<string, string> = { [ANNOTATION.title]: inp.spec.title };
  if (inp.spec.description) annotations[ANNOTATION.description] = inp.spec.description;
  if (inp.spec.iconUrl) annotations[ANNOTATION.icon] = inp.spec.iconUrl;
  return {
    apiVersion: "extensions.higress.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: {
      name: resourceName(inp.name, version),
      namespace: inp.namespace,
      labels: {
        [LABEL.definer]: "higress",
        [LABEL.name]: inp.name,
        [LABEL.version]: version,
        [LABEL.category]: CUSTOM_CATEGORY,
        [LABEL.builtIn]: "false",
        [LABEL.managedBy]: MANAGED_BY,
      },
      annotations,
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

// ---- One plugin, one path -------------------------------------------------------------------
// `wasmplugin --apply` and `console` both end in a WasmPlugin resource. Two resources for one
// plugin load it twice: each becomes its own filter (Istio names the filter after the resource,
// pilot/pkg/model/extensions.go convertToWasmPluginWrapper: namespace + "." + name), and each
// counts every stream. So each path refuses to act beside a resource the other one made.

export interface LiveWasmPlugin {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
}

/** Which path made a live resource: ours (`conn-drain wasmplugin`), the console (or hgctl, which
 * writes the same labels: hgctl/pkg/plugin/config/templates.go), or something else. */
type Origin = "wasmplugin" | "console" | "other";

function originOf(o: LiveWasmPlugin): Origin {
  const l = o.metadata.labels ?? {};
  if (l[LABEL.managedBy] === MANAGED_BY) return "wasmplugin";
  if (l[LABEL.definer] === "higress" && l[LABEL.name]) return "console";
  return "other";
}

/** The resources that are this plugin: the console's label, or the bare name (the identity
 * `conn-drain wasmplugin` used before it took the console's, and what a hand-written one uses). */
function resourcesOf(items: LiveWasmPlugin[], name: string): LiveWasmPlugin[] {
  return items.filter((o) => o.metadata.name === name || o.metadata.labels?.[LABEL.name] === name);
}

const kubectlDelete = (o: LiveWasmPlugin, ns: string) =>
  `kubectl delete wasmplugins.extensions.higress.io -n ${ns} ${o.metadata.name}`;

function describe(o: LiveWasmPlugin, ns: string): string {
  const v = o.metadata.labels?.[LABEL.version];
  return `${ns}/${o.metadata.name}${v ? ` (version ${v})` : ""}`;
}

/** For `wasmplugin --apply`: the stale resources of ours to delete after applying (only with
 * replace), or a CliError when another path made one of them. */
export function checkBeforeApply(
  live: LiveWasmPlugin[],
  res: WasmPluginResource,
  pluginName: string,
  replace: boolean,
): LiveWasmPlugin[] {
  const ns = res.metadata.namespace;
  const mine = resourcesOf(live, pluginName);
  const foreign = mine.find((o) => originOf(o) !== "wasmplugin");
  if (foreign) {
    const fromConsole = originOf(foreign) === "console";
    const by = fromConsole
      ? "the Higress console (or hgctl)"
      : "hand or another tool (it has no app.kubernetes.io/managed-by: conn-drain label)";
    const effect =
      foreign.metadata.name === res.metadata.name
        ? "applying would take it over from there"
        : `applying ${res.metadata.name} beside it would load the plugin twice`;
    throw new CliError(
      `${describe(foreign, ns)} was made by ${by}; ${effect}`,
      fromConsole
        ? "choose one path: keep managing it with 'conn-drain console', or delete it in the console before applying"
        : `choose one path: delete it first (${kubectlDelete(foreign, ns)})`,
      ExitCode.conflict,
    );
  }
  const stale = mine.filter((o) => o.metadata.name !== res.metadata.name);
  if (stale.length > 0 && !replace) {
    const first = stale[0] as LiveWasmPlugin;
    throw new CliError(
      `${describe(first, ns)} is applied already; applying ${res.metadata.name} beside it would load the plugin twice`,
      "pass --replace to apply this one and then delete the old (a new resource name changes the gateway's filter chain, which can cut long connections)",
      ExitCode.conflict,
    );
  }
  return stale;
}

/** For `console`: a CliError when `conn-drain wasmplugin` (or a hand) made a resource of this
 * plugin, which the console would either replace or not see at all. */
export function checkBeforeConsole(live: LiveWasmPlugin[], pluginName: string, ns: string): void {
  const foreign = resourcesOf(live, pluginName).find((o) => originOf(o) !== "console");
  if (!foreign) return;
  if (originOf(foreign) === "wasmplugin")
    throw new CliError(
      `${describe(foreign, ns)} was applied by 'conn-drain wasmplugin'; the console would take it over or replace it`,
      `choose one path: keep using 'conn-drain wasmplugin --apply', or delete it (${kubectlDelete(foreign, ns)}) before registering in the console`,
      ExitCode.conflict,
    );
  throw new CliError(
    `${describe(foreign, ns)} has no ${LABEL.name} label, so the console cannot see it; registering ${pluginName} there would load the plugin twice`,
    `choose one path: delete it first (${kubectlDelete(foreign, ns)})`,
    ExitCode.conflict,
  );
}

// The two Kubernetes calls these checks need, kept small so the client underneath can change.

const wasmPluginsPath = (ns: string) =>
  `/apis/extensions.higress.io/v1alpha1/namespaces/${encodeURIComponent(ns)}/wasmplugins`;

function kubeFailure(t: KubeTarget, doing: string, res: KubeResponse): CliError {
  const message = String(res.body.message ?? `HTTP ${res.status}`);
  const at = `${doing} in context "${t.context}"`;
  if (res.status === 401 || res.status === 403)
    return new CliError(
      `${at}: ${String(res.body.reason ?? "refused")}: ${message}`,
      "check your kube credentials and RBAC (list and delete on wasmplugins.extensions.higress.io)",
      ExitCode.auth,
    );
  if (res.status === 404)
    return new CliError(
      `${at}: ${message}`,
      "is Higress installed in this cluster (the WasmPlugin CRD)?",
      ExitCode.failure,
    );
  return new CliError(
    `${at}: HTTP ${res.status}: ${message}`,
    "check the API server",
    ExitCode.failure,
  );
}

/** Every WasmPlugin in the namespace (one list; a namespace holds a handful). */
export async function listWasmPlugins(t: KubeTarget, ns: string): Promise<LiveWasmPlugin[]> {
  const res = await kubeRequest(t, "GET", wasmPluginsPath(ns));
  if (res.status !== 200) throw kubeFailure(t, `listing WasmPlugins in ${ns}`, res);
  return ((res.body.items as LiveWasmPlugin[] | undefined) ?? []).filter((o) => o?.metadata?.name);
}

/** Deletes one WasmPlugin; one already gone counts as deleted. */
export async function deleteWasmPlugin(t: KubeTarget, ns: string, name: string): Promise<void> {
  const res = await kubeRequest(t, "DELETE", `${wasmPluginsPath(ns)}/${encodeURIComponent(name)}`);
  if (res.status === 200 || res.status === 202 || res.status === 404) return;
  throw kubeFailure(t, `deleting WasmPlugin ${ns}/${name}`, res);
}
