// `conn-drain console`: register (or update) the plugin in the Higress console, optionally
// enabling it globally with a config. Before anything is sent, the cluster is read for a
// resource of this plugin that `conn-drain wasmplugin` (or a hand) made: one plugin, one path
// (cli/wasmplugin.ts, docs/cli.md).
import { resolve } from "node:path";
import { type Command, type Io, list, str, type Values } from "../args.js";
import { ConsoleClient, type ConsolePlugin, CUSTOM_CATEGORY, type Scope } from "../console.js";
import { CliError, ExitCode, usage } from "../errors.js";
import { type KubeTarget, kubeTarget } from "../kube.js";
import { formatReference, parseReference } from "../oci/reference.js";
import { refusePlaceholder, refusePlaceholderSecrets } from "../placeholders.js";
import { loadSpec } from "../spec.js";
import { compile } from "../validate.js";
import { checkBeforeConsole, listWasmPlugins, readData } from "../wasmplugin.js";

function parseScope(s: string): Scope {
  if (s === "global") return { kind: "global" };
  const m = /^(route|domain|service):(.+)$/.exec(s);
  if (!m)
    throw usage(
      `--enable takes global, route:NAME, domain:NAME or service:NAME, not "${s}"`,
      "console",
    );
  // The plugin would be handed the config as a per-route rule, which it refuses: it has no
  // per-route settings, and counting must see every stream anyway.
  throw usage(
    `--enable ${s}: conn-drain has no per-route settings and must count every stream; use --enable global`,
    "console",
  );
}

async function run(values: Values, positionals: string[], io: Io): Promise<void> {
  if (positionals.length > 0) throw usage(`unexpected argument "${positionals[0]}"`, "console");
  const url = str(values, "url") ?? io.env.CONN_DRAIN_CONSOLE_URL;
  if (!url) throw usage("--url is required (or CONN_DRAIN_CONSOLE_URL)", "console");
  const username = str(values, "username") ?? io.env.CONN_DRAIN_CONSOLE_USERNAME ?? "admin";
  let password = str(values, "password") ?? io.env.CONN_DRAIN_CONSOLE_PASSWORD;
  if (values["password-stdin"]) password = (await io.stdin()).replace(/\r?\n$/, "");
  if (password === undefined)
    throw usage(
      "give the console password with --password-stdin or CONN_DRAIN_CONSOLE_PASSWORD",
      "console",
    );
  // README's "CONN_DRAIN_CONSOLE_PASSWORD=..." copied as is.
  refusePlaceholder(password, "the console password", "give the Higress console's admin password");
  const imageArg = str(values, "image");
  if (!imageArg) throw usage("--image REGISTRY/REPO:TAG[@sha256:…] is required", "console");
  const ref = parseReference(imageArg);
  if (!ref.tag)
    throw usage(
      "the console records an image as repository + tag: give --image with a :TAG",
      "console",
    );
  const spec = loadSpec(resolve(io.cwd, str(values, "spec") ?? "plugin.yaml"));
  const scopes = list(values, "enable").map(parseScope);
  const configFile = str(values, "config");
  let config: Record<string, unknown> = {};
  if (configFile) {
    const c = readData(resolve(io.cwd, configFile), "config");
    if (typeof c !== "object" || c === null || Array.isArray(c))
      throw new CliError(
        `config ${configFile} must hold a mapping`,
        "see plugin.yaml's example",
        ExitCode.invalid,
      );
    config = c as Record<string, unknown>;
    refusePlaceholderSecrets(config, configFile);
    const errs = compile(spec.configSchema)(config, "config");
    if (errs.length > 0)
      throw new CliError(
        `schema violation at ${errs[0]}`,
        `fix ${configFile} to match ${spec.file} (spec.configSchema)`,
        ExitCode.invalid,
      );
  } else if (scopes.length > 0) {
    throw usage("--enable needs --config FILE (the plugin's config there)", "console");
  }
  // The console's WasmPlugin model documents priority 0–1000 (sdk/model/WasmPlugin.java).
  if (spec.priority < 0 || spec.priority > 1000)
    throw new CliError(
      `plugin.yaml spec.priority ${spec.priority} is outside the console's 0–1000`,
      "change spec.priority",
      ExitCode.invalid,
    );

  const name = str(values, "name") ?? spec.name;
  const namespace = str(values, "namespace") ?? "higress-system";
  if (values["skip-cluster-check"] !== true) {
    let target: KubeTarget;
    try {
      target = kubeTarget(values, io);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      throw new CliError(
        `cannot check the cluster for a WasmPlugin of ${name} that 'conn-drain wasmplugin' applied: ${err.message}`,
        "give --kubeconfig/--context, or --skip-cluster-check if only the console ever manages this plugin",
        err.code,
      );
    }
    checkBeforeConsole(await listWasmPlugins(target, namespace), name, namespace);
  }
  const plugin: ConsolePlugin = {
    name,
    pluginVersion: spec.version,
    // plugin.yaml's info.category is for the image's spec.yaml.
    category: CUSTOM_CATEGORY,
    title: spec.title,
    description: spec.description,
    ...(spec.iconUrl ? { icon: spec.iconUrl } : {}),
    imageRepository: `oci://${formatReference({ ...ref, tag: undefined, digest: undefined })}`,
    // "tag@sha256:…" keeps the url the console builds (repository:version) pinned by digest.
    imageVersion: ref.digest ? `${ref.tag}@${ref.digest}` : ref.tag,
    phase: spec.phase,
    priority: spec.priority,
    ...(str(values, "image-pull-policy")
      ? { imagePullPolicy: str(values, "image-pull-policy") }
      : {}),
    ...(str(values, "image-pull-secret")
      ? { imagePullSecret: str(values, "image-pull-secret") }
      : {}),
  };
  const client = new ConsoleClient(url);
  await client.login(username, password);
  const {
    plugin: saved,
    created,
    replaced,
  } = await client.upsertPlugin(plugin, { allowVersionChange: values.replace === true });
  io.err(
    `conn-drain console: ${created ? "created" : "updated"} plugin ${name} (${plugin.imageRepository}:${plugin.imageVersion})${replaced ? `; the console replaced ${name}-${replaced} with ${name}-${spec.version}` : ""}\n`,
  );
  for (const scope of scopes) {
    await client.putInstance(name, scope, true, config);
    io.err("  enabled globally\n");
  }
  io.out(
    `${JSON.stringify({ name, created, version: saved.version ?? null, enabled: scopes.map((s) => s.kind) })}\n`,
  );
}

export const consoleCommand: Command = {
  name: "console",
  summary:
    "Create or update the plugin in the Higress console; optionally enable it with a config.",
  usage:
    "console --url URL --image REGISTRY/REPO:TAG[@sha256:…] [--enable SCOPE --config FILE] [options]",
  description: `
Logs in to the Higress console (session cookie), then creates the custom plugin by name or, if it
exists, updates it: image repository and tag, version, title, description, phase and priority
from plugin.yaml. The console keeps it as the WasmPlugin NAME-VERSION. For a custom plugin the
console reads none of the image's layers and has no config form (its config schema is an empty
object), so --config is checked against plugin.yaml's schema here before anything is sent.
--enable global turns the plugin on for the whole gateway with --config (route:, domain: and
service: scopes are refused: conn-drain has no per-route settings and must see every stream). First the cluster is read (kube context as for 'wasmplugin --apply', namespace
-n): a resource of this plugin that 'conn-drain wasmplugin' or a hand made is refused, because
the console would replace it or load the plugin a second time beside it; choose one path. A new
plugin.yaml info.version makes the console replace NAME-OLD with NAME-NEW, which changes the
gateway's filter chain and can cut long connections: that needs --replace. The password comes
from --password-stdin or CONN_DRAIN_CONSOLE_PASSWORD; the user defaults to admin. stdout gets
one JSON line.`,
  flags: {
    url: { type: "string", arg: "URL", help: "console address (or CONN_DRAIN_CONSOLE_URL)" },
    username: {
      type: "string",
      short: "u",
      arg: "USER",
      help: "console user (or CONN_DRAIN_CONSOLE_USERNAME; default admin)",
    },
    "password-stdin": { type: "boolean", help: "read the console password from stdin" },
    password: { type: "string", arg: "PASS", help: "console password (prefer --password-stdin)" },
    image: { type: "string", arg: "REF", help: "pushed image with its tag (digest optional)" },
    name: {
      type: "string",
      arg: "NAME",
      help: "plugin name in the console (default: plugin.yaml info.name)",
    },
    enable: {
      type: "string",
      multiple: true,
      arg: "SCOPE",
      help: "global (conn-drain has no per-route settings)",
    },
    config: { type: "string", arg: "FILE", help: "config for --enable, YAML or JSON" },
    "image-pull-policy": {
      type: "string",
      choices: ["IfNotPresent", "Always"],
      help: "when the gateway pulls the image again",
    },
    "image-pull-secret": { type: "string", arg: "SECRET", help: "docker pull Secret name" },
    replace: {
      type: "boolean",
      help: "allow a new plugin version (the console replaces the resource)",
    },
    namespace: {
      type: "string",
      short: "n",
      arg: "NS",
      default: "higress-system",
      help: "namespace the console keeps WasmPlugins in",
    },
    kubeconfig: {
      type: "string",
      arg: "FILE",
      help: "kubeconfig for the cluster check (default: $KUBECONFIG or ~/.kube/config)",
    },
    context: { type: "string", arg: "NAME", help: "kube context (default: current-context)" },
    "skip-cluster-check": {
      type: "boolean",
      help: "do not look for a resource 'conn-drain wasmplugin' made (no kube access)",
    },
    spec: { type: "string", arg: "FILE", default: "plugin.yaml", help: "the plugin spec" },
  },
  examples: [
    'CONN_DRAIN_CONSOLE_PASSWORD=… npx conn-drain console --url http://localhost:8080 --image "$REF" --enable global --config conn-drain.yaml',
  ],
  run,
};
