// `conn-drain wasmplugin`: write (or server-side apply) the WasmPlugin resource.
import { resolve } from "node:path";
import { stringify } from "yaml";
import { type Command, type Io, str, type Values } from "../args.js";
import { CliError, ExitCode, usage } from "../errors.js";
import { kubeTarget, serverSideApply } from "../kube.js";
import { refusePlaceholderSecrets } from "../placeholders.js";
import { loadSpec } from "../spec.js";
import {
  buildWasmPlugin,
  checkBeforeApply,
  deleteWasmPlugin,
  listWasmPlugins,
  readData,
  validateWasmPlugin,
} from "../wasmplugin.js";

async function run(values: Values, positionals: string[], io: Io): Promise<void> {
  if (positionals.length > 0) throw usage(`unexpected argument "${positionals[0]}"`, "wasmplugin");
  const image = str(values, "image");
  if (!image)
    throw usage(
      "--image is required (the REF@sha256:… line 'conn-drain image' printed)",
      "wasmplugin",
    );
  const configFile = str(values, "config");
  if (!configFile)
    throw usage("--config FILE is required (YAML or JSON plugin config)", "wasmplugin");
  const spec = loadSpec(resolve(io.cwd, str(values, "spec") ?? "plugin.yaml"));
  const config = readData(resolve(io.cwd, configFile), "config");
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new CliError(
      `config ${configFile} must hold a mapping (the plugin's config object)`,
      "see plugin.yaml's example",
      ExitCode.invalid,
    );
  }
  const rulesFile = str(values, "match-rules");
  let matchRules: unknown[] | undefined;
  if (rulesFile) {
    const r = readData(resolve(io.cwd, rulesFile), "match rules");
    if (!Array.isArray(r))
      throw new CliError(
        `match rules ${rulesFile} must hold a list`,
        "write a YAML list of {ingress|domain|service, config}",
        ExitCode.invalid,
      );
    matchRules = r;
  }
  // README's "<a long random token>" or the kit's replace-with-… must not reach a gateway.
  if (values["allow-placeholders"] !== true) {
    refusePlaceholderSecrets(config, configFile);
    if (matchRules && rulesFile) refusePlaceholderSecrets(matchRules, rulesFile);
  }
  const priorityText = str(values, "priority");
  const priority = priorityText === undefined ? undefined : Number(priorityText);
  if (priority !== undefined && !Number.isInteger(priority))
    throw usage("--priority must be an integer", "wasmplugin");

  const apply = values.apply === true;
  const target = apply ? kubeTarget(values, io) : undefined;
  const namespace = str(values, "namespace") ?? "higress-system";

  const pluginName = str(values, "name") ?? spec.name;
  const res = buildWasmPlugin({
    spec,
    image,
    sha256: str(values, "sha256"),
    name: pluginName,
    namespace,
    config: config as Record<string, unknown>,
    matchRules,
    failStrategy: str(values, "fail-strategy"),
    imagePullPolicy: str(values, "image-pull-policy"),
    imagePullSecret: str(values, "image-pull-secret"),
    phase: str(values, "phase"),
    priority,
  });
  validateWasmPlugin(res, spec);

  if (!apply || !target) {
    io.out(str(values, "output") === "json" ? `${JSON.stringify(res, null, 2)}\n` : stringify(res));
    return;
  }
  // Before writing: a resource of this plugin made by the console (or by hand) is refused, and
  // one of ours under another name (another info.version, or the old bare name) needs --replace.
  const stale = checkBeforeApply(
    await listWasmPlugins(target, namespace),
    res,
    pluginName,
    values.replace === true,
  );
  const live = await serverSideApply(target, res, "wasmplugins", {
    fieldManager: "conn-drain",
    force: values["force-conflicts"] === true,
  });
  const meta = (live.metadata ?? {}) as Record<string, unknown>;
  io.err(
    `conn-drain wasmplugin: applied ${namespace}/${res.metadata.name} to context "${target.context}" (resourceVersion ${meta.resourceVersion ?? "?"})\n`,
  );
  io.out(`wasmplugin.extensions.higress.io/${res.metadata.name} serverside-applied\n`);
  // Applied first, deleted second, as the console does (WasmPluginServiceImpl.updateCustom): the
  // gateway has the new plugin before the old one goes.
  for (const old of stale) {
    await deleteWasmPlugin(target, namespace, old.metadata.name);
    io.err(`conn-drain wasmplugin: deleted ${namespace}/${old.metadata.name} (--replace)\n`);
    io.out(`wasmplugin.extensions.higress.io/${old.metadata.name} deleted\n`);
  }
}

export const wasmpluginCommand: Command = {
  name: "wasmplugin",
  summary: "Write the Higress WasmPlugin resource for the pushed image, or apply it with --apply.",
  usage: "wasmplugin --image REF@sha256:DIGEST --config FILE [--apply] [options]",
  description: `
Builds an extensions.higress.io/v1alpha1 WasmPlugin named and labelled as the Higress console
names a custom plugin, so the console lists it: NAME-VERSION (plugin.yaml info.name and
info.version), labels higress.io/wasm-plugin-{name,version,category,built-in} and
higress.io/resource-definer, plus app.kubernetes.io/managed-by: conn-drain to mark it as this
command's. Spec: url oci://REF@sha256:… (or a tag plus --sha256), phase and priority from
plugin.yaml (flags override), failStrategy FAIL_OPEN unless --fail-strategy says otherwise,
defaultConfig from --config (YAML or JSON), optional matchRules (a YAML list of
{ingress|domain|service: [...], config}). The config is checked against plugin.yaml's
configSchema and the resource against schemas/wasmplugin.v1alpha1.schema.json before anything is
printed or sent; an error names the field path. Without --apply the YAML goes to stdout for
'kubectl apply -f -'. With --apply it is server-side applied (field manager conn-drain) to the
current kube context; applying twice changes nothing. Choose this command or 'conn-drain
console' for a plugin, not both: --apply refuses when the console (or a hand) made a resource of
this plugin, and when one of ours has another version, unless --replace, which applies the new one
and then deletes the old; a new name changes the gateway's filter chain, which can cut long
connections.`,
  flags: {
    image: { type: "string", arg: "REF", help: "pushed image, REGISTRY/REPO[:TAG]@sha256:…" },
    sha256: { type: "string", arg: "HEX", help: "image digest when --image is a tag" },
    config: { type: "string", arg: "FILE", help: "plugin config (defaultConfig), YAML or JSON" },
    "match-rules": { type: "string", arg: "FILE", help: "matchRules list, YAML or JSON" },
    name: {
      type: "string",
      arg: "NAME",
      help: "plugin name; the resource is NAME-VERSION (default: plugin.yaml info.name)",
    },
    namespace: {
      type: "string",
      short: "n",
      arg: "NS",
      default: "higress-system",
      help: "namespace Higress watches",
    },
    phase: {
      type: "string",
      choices: ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"],
      help: "override plugin.yaml spec.phase",
    },
    priority: { type: "string", arg: "N", help: "override plugin.yaml spec.priority" },
    "fail-strategy": {
      type: "string",
      choices: ["FAIL_OPEN", "FAIL_CLOSE"],
      default: "FAIL_OPEN",
      help: "on a plugin that fails to load or traps: pass traffic on, or answer 5xx",
    },
    "image-pull-policy": {
      type: "string",
      choices: ["IfNotPresent", "Always", "UNSPECIFIED_POLICY"],
      help: "when the gateway pulls the image again",
    },
    "image-pull-secret": {
      type: "string",
      arg: "SECRET",
      help: "docker pull Secret in the same namespace",
    },
    spec: { type: "string", arg: "FILE", default: "plugin.yaml", help: "the plugin spec" },
    output: {
      type: "string",
      short: "o",
      choices: ["yaml", "json"],
      default: "yaml",
      help: "printed format",
    },
    apply: { type: "boolean", help: "server-side apply to the cluster instead of printing" },
    "allow-placeholders": {
      type: "boolean",
      help: "keep placeholder secrets (replace-with-…) as given: for writing a template",
    },
    replace: {
      type: "boolean",
      help: "with --apply, delete this plugin's resources of other versions after applying",
    },
    "force-conflicts": {
      type: "boolean",
      help: "with --apply, take over fields another manager owns",
    },
    kubeconfig: {
      type: "string",
      arg: "FILE",
      help: "kubeconfig (default: $KUBECONFIG or ~/.kube/config)",
    },
    context: { type: "string", arg: "NAME", help: "kube context (default: current-context)" },
  },
  examples: [
    'npx conn-drain wasmplugin --image "$REF" --config conn-drain.yaml | kubectl apply -f -',
    'npx conn-drain wasmplugin --image "$REF" --config conn-drain.yaml --apply',
    'npx conn-drain wasmplugin --image "$REF" --config conn-drain.yaml --apply --replace   # after a version bump',
  ],
  run,
};
