// Just enough of a Kubernetes client for server-side apply: kubeconfig resolution as kubectl
// (client-go) does it, the in-cluster fallback, and one request. Server-side apply: PATCH
// …?fieldManager=conn-drain with Content-Type application/apply-patch+yaml (Kubernetes docs,
// "Server-Side Apply"). Applying the same object again changes nothing, so the command is
// idempotent. Why this and not @kubernetes/client-node: docs/cli.md, "Kubernetes access".
//
// The rules below are client-go's (kubernetes/client-go):
// - tools/clientcmd/loader.go ClientConfigLoadingRules.Load: KUBECONFIG is a list; missing files
//   are skipped; the first file to define a cluster/user/context name wins, and so does the first
//   non-empty current-context. An explicit --kubeconfig must exist. ResolveLocalPaths /
//   GetAuthInfoFileReferences: certificate, key and tokenFile paths, and an exec command that
//   contains a path separator, are relative to the file that defined them.
// - tools/clientcmd/validation.go ConfirmUsable/validateContext: a context naming a user or
//   cluster that is not defined is an error, not anonymous access.
// - tools/clientcmd/merged_client_builder.go DeferredLoadingClientConfig.ClientConfig with
//   client_config.go inClusterClientConfig.Possible/Namespace and rest/config.go
//   InClusterConfig: with no kubeconfig, a pod uses KUBERNETES_SERVICE_HOST/PORT, the
//   ServiceAccount token and ca.crt; the namespace is POD_NAMESPACE or the mounted namespace file.
// - plugin/pkg/client/auth/exec/exec.go Authenticator.refreshCredsLocked: KUBERNETES_EXEC_INFO
//   always set (spec.interactive, spec.cluster when provideClusterInfo); the answer must be an
//   ExecCredential of the configured apiVersion with a token or a certificate/key pair.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { type Io, str, type Values } from "./args.js";
import { CliError, ExitCode, unreachable } from "./errors.js";

interface Named<T> {
  name: string;
  [k: string]: unknown;
  value?: T;
}
type Dict = Record<string, unknown>;

export interface KubeTarget {
  context: string;
  server: string;
  namespace?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure: boolean;
  authorization?: string;
}

/** Where the kubelet mounts a pod's ServiceAccount token, CA and namespace. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

const EXEC_API_VERSIONS = [
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
];

const noContext = (why: string, more = "") =>
  new CliError(
    `no usable kube context: ${why}`,
    `point KUBECONFIG (or --kubeconfig) at a cluster and pick one with 'kubectl config use-context NAME' or --context${more}`,
    ExitCode.usage,
  );

function readRef(base: string, file: string): Buffer {
  const path = isAbsolute(file) ? file : join(base, file);
  try {
    return readFileSync(path);
  } catch (err) {
    throw noContext(`cannot read ${path}: ${(err as Error).message}`);
  }
}

function fileOrData(base: string, file: unknown, data: unknown): Buffer | undefined {
  if (typeof data === "string" && data) return Buffer.from(data, "base64");
  if (typeof file === "string" && file) return readRef(base, file);
  return undefined;
}

const execFailed = (command: string, what: string, hint: string) =>
  new CliError(`kube credential plugin "${command}" ${what}`, hint, ExitCode.auth);

/** client.authentication.k8s.io ExecCredential: run the plugin, use status.token or the cert. */
function execCredential(
  exec: Dict,
  base: string,
  cluster: Dict,
  t: KubeTarget,
  env: NodeJS.ProcessEnv,
  canPrompt: boolean,
): Dict {
  const configured = String(exec.command ?? "");
  if (!configured) throw noContext("the user's exec plugin has no command");
  // client-go resolves a command with a path separator against the kubeconfig's folder; a bare
  // name is looked up on PATH.
  const command =
    configured.includes(sep) && !isAbsolute(configured) ? resolve(base, configured) : configured;
  const apiVersion = String(exec.apiVersion ?? "");
  if (!EXEC_API_VERSIONS.includes(apiVersion))
    throw noContext(
      `exec plugin "${configured}" has apiVersion "${apiVersion}"; expected one of ${EXEC_API_VERSIONS.join(", ")}`,
    );
  const args = ((exec.args as unknown[] | null | undefined) ?? []).map(String);
  const extra: Record<string, string> = {};
  for (const e of (exec.env as { name: string; value: string }[] | null | undefined) ?? [])
    extra[e.name] = String(e.value ?? "");
  // interactiveMode (v1 requires it; v1beta1 defaults to IfAvailable): the plugin may prompt
  // only when a person is at a terminal.
  const mode = String(exec.interactiveMode ?? "IfAvailable");
  if (mode === "Always" && !canPrompt)
    throw execFailed(
      configured,
      "needs a terminal (interactiveMode: Always) and standard input is not one",
      "run it from a terminal, or log in first so it need not prompt",
    );
  const interactive = mode !== "Never" && canPrompt;
  const spec: Dict = { interactive };
  if (exec.provideClusterInfo === true) {
    const ext = ((cluster.extensions as Named<Dict>[] | null | undefined) ?? []).find(
      (e) => e.name === "client.authentication.k8s.io/exec",
    );
    spec.cluster = {
      server: t.server,
      ...(t.ca ? { "certificate-authority-data": t.ca.toString("base64") } : {}),
      ...(t.insecure ? { "insecure-skip-tls-verify": true } : {}),
      ...(cluster["tls-server-name"] ? { "tls-server-name": cluster["tls-server-name"] } : {}),
      ...(ext?.extension !== undefined ? { config: ext.extension } : {}),
    };
  }
  let out: string;
  try {
    out = execFileSync(command, args, {
      encoding: "utf8",
      env: {
        ...env,
        ...extra,
        KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion, kind: "ExecCredential", spec }),
      },
      // kubectl hands the plugin its terminal when it may prompt; otherwise its stderr is kept
      // for the one-line error.
      stdio: interactive ? ["inherit", "pipe", "inherit"] : ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
  } catch (err) {
    const e = err as Error & { code?: string; status?: number | null; stderr?: string };
    if (e.code === "ENOENT")
      throw execFailed(
        configured,
        `not found${command !== configured ? ` (at ${command})` : ""}`,
        String(exec.installHint ?? "").trim() || "install it, or fix its path in the kubeconfig",
      );
    const said = (e.stderr ?? "").trim().split("\n").filter(Boolean).at(-1);
    const how =
      e.code === "ETIMEDOUT"
        ? "did not answer within 60 s"
        : `failed with exit code ${e.status ?? "?"}`;
    throw execFailed(
      configured,
      `${how}${said ? `: ${said}` : ""}`,
      "run it by hand to see why (log in to the cloud CLI?)",
    );
  }
  let cred: Dict;
  try {
    cred = JSON.parse(out) as Dict;
  } catch (err) {
    throw execFailed(
      configured,
      `printed no ExecCredential JSON: ${(err as Error).message}`,
      "run it by hand and check its output",
    );
  }
  if (cred.apiVersion !== apiVersion)
    throw execFailed(
      configured,
      `answered with apiVersion "${String(cred.apiVersion)}", but the kubeconfig asks for ${apiVersion}`,
      "match exec.apiVersion in the kubeconfig to the plugin's version",
    );
  const status = cred.status as Dict | undefined;
  const has = (k: string) => typeof status?.[k] === "string" && status[k] !== "";
  if (!status || !(has("token") || has("clientCertificateData") || has("clientKeyData")))
    throw execFailed(
      configured,
      "returned no token and no certificate/key pair",
      "run it by hand and check its output",
    );
  if (has("clientCertificateData") !== has("clientKeyData"))
    throw execFailed(
      configured,
      "returned a certificate without its key, or a key without its certificate",
      "run it by hand and check its output",
    );
  return status;
}

interface Origin {
  item: Dict;
  base: string;
}

/** In-cluster config as client-go builds it, or undefined when this is not a pod. */
function inCluster(env: NodeJS.ProcessEnv, dir: string): KubeTarget | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenFile = join(dir, "token");
  if (!host || !port || !existsSync(tokenFile) || statSync(tokenFile).isDirectory())
    return undefined;
  const caFile = join(dir, "ca.crt");
  const nsFile = join(dir, "namespace");
  const namespace =
    env.POD_NAMESPACE ||
    (existsSync(nsFile) ? readFileSync(nsFile, "utf8").trim() : "") ||
    "default";
  return {
    context: "in-cluster",
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    namespace,
    // client-go carries on without the CA file (it logs); the TLS error then names the problem.
    ca: existsSync(caFile) ? readFileSync(caFile) : undefined,
    insecure: false,
    authorization: `Bearer ${readFileSync(tokenFile, "utf8").trim()}`,
  };
}

export function loadKubeTarget(opts: {
  kubeconfig?: string;
  context?: string;
  env: NodeJS.ProcessEnv;
  /** The pod's ServiceAccount mount (tests point it elsewhere). */
  serviceAccountDir?: string;
  /** Whether an exec plugin may prompt (kubectl: standard input is a terminal). */
  interactive?: boolean;
}): KubeTarget {
  const home = opts.env.HOME ?? homedir();
  let files: string[];
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig))
      throw noContext(`--kubeconfig ${opts.kubeconfig} does not exist`);
    files = [opts.kubeconfig];
  } else {
    const list = opts.env.KUBECONFIG
      ? opts.env.KUBECONFIG.split(delimiter)
      : [join(home, ".kube", "config")];
    files = list.filter((f) => f && existsSync(f));
  }
  // Merge as kubectl does: the first file to define a name (or current-context) wins.
  const pick = {
    clusters: new Map<string, Origin>(),
    users: new Map<string, Origin>(),
    contexts: new Map<string, Origin>(),
  };
  let current: string | undefined;
  for (const f of files) {
    let doc: Dict;
    try {
      doc = (parseYaml(readFileSync(f, "utf8")) ?? {}) as Dict;
    } catch (err) {
      throw new CliError(
        `kubeconfig ${f} cannot be read: ${(err as Error).message.split("\n")[0]}`,
        "fix the file, or leave it out of KUBECONFIG",
        ExitCode.invalid,
      );
    }
    current ??= (doc["current-context"] as string | undefined) || undefined;
    for (const kind of ["clusters", "users", "contexts"] as const) {
      const inner = kind === "clusters" ? "cluster" : kind === "users" ? "user" : "context";
      for (const item of (doc[kind] as Named<Dict>[] | null | undefined) ?? []) {
        if (!pick[kind].has(item.name))
          pick[kind].set(item.name, {
            item: (item[inner] ?? {}) as Dict,
            base: dirname(resolve(f)),
          });
      }
    }
  }
  const empty = !current && pick.clusters.size + pick.users.size + pick.contexts.size === 0;
  if (empty && !opts.context) {
    const pod = inCluster(opts.env, opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
    if (pod) return pod;
    throw noContext(
      files.length === 0 ? "no kubeconfig file found" : `${files.join(", ")} defines no context`,
      "; in a pod, its ServiceAccount is used (KUBERNETES_SERVICE_HOST/PORT and the token mounted)",
    );
  }
  const name = opts.context ?? current;
  if (!name) throw noContext("the kubeconfig has no current-context");
  const ctx = pick.contexts.get(name)?.item;
  if (!ctx) throw noContext(`context "${name}" is not in the kubeconfig`);
  const clusterRef = pick.clusters.get(String(ctx.cluster));
  if (!clusterRef)
    throw noContext(`context "${name}" names cluster "${ctx.cluster}", which is not defined`);
  const cluster = clusterRef.item;
  if (!cluster.server)
    throw noContext(`context "${name}" names cluster "${ctx.cluster}", which has no server`);
  let userRef: Origin = { item: {}, base: "" };
  if (ctx.user) {
    const found = pick.users.get(String(ctx.user));
    if (!found) throw noContext(`context "${name}" names user "${ctx.user}", which is not defined`);
    userRef = found;
  }
  const { item: user, base: ubase } = userRef;
  const t: KubeTarget = {
    context: name,
    server: String(cluster.server).replace(/\/$/, ""),
    namespace: (ctx.namespace as string | undefined) || undefined,
    ca: fileOrData(
      clusterRef.base,
      cluster["certificate-authority"],
      cluster["certificate-authority-data"],
    ),
    insecure: cluster["insecure-skip-tls-verify"] === true,
    cert: fileOrData(ubase, user["client-certificate"], user["client-certificate-data"]),
    key: fileOrData(ubase, user["client-key"], user["client-key-data"]),
  };
  let token =
    (user.token as string | undefined) ||
    (user.tokenFile ? readRef(ubase, String(user.tokenFile)).toString("utf8").trim() : undefined);
  if (user.exec) {
    const status = execCredential(
      user.exec as Dict,
      ubase,
      cluster,
      t,
      opts.env,
      opts.interactive ?? process.stdin.isTTY === true,
    );
    token = (status.token as string | undefined) || token;
    if (status.clientCertificateData) t.cert = Buffer.from(String(status.clientCertificateData));
    if (status.clientKeyData) t.key = Buffer.from(String(status.clientKeyData));
  }
  if (token) t.authorization = `Bearer ${token}`;
  else if (user.username)
    t.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  return t;
}

/** The target a command's --kubeconfig and --context flags name (with its environment). */
export function kubeTarget(values: Values, io: Io): KubeTarget {
  return loadKubeTarget({
    kubeconfig: str(values, "kubeconfig"),
    context: str(values, "context"),
    env: io.env,
  });
}

export interface KubeResponse {
  status: number;
  body: Dict;
}

export function kubeRequest(
  t: KubeTarget,
  method: string,
  path: string,
  body?: string,
  contentType?: string,
): Promise<KubeResponse> {
  const url = new URL(t.server + path);
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      {
        method,
        headers: {
          accept: "application/json",
          ...(t.authorization ? { authorization: t.authorization } : {}),
          ...(body !== undefined
            ? {
                "content-type": contentType ?? "application/json",
                "content-length": Buffer.byteLength(body),
              }
            : {}),
        },
        ...(url.protocol === "https:"
          ? { ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: !t.insecure }
          : {}),
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: Dict = {};
          try {
            parsed = text ? (JSON.parse(text) as Dict) : {};
          } catch {
            parsed = { message: text.slice(0, 200) };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (err) =>
      reject(
        unreachable(
          `Kubernetes API server (context "${t.context}")`,
          t.server,
          err,
          "check the cluster is up and the kube context is right",
        ),
      ),
    );
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Server-side apply of one namespaced custom resource; returns the object the server holds. */
export async function serverSideApply(
  t: KubeTarget,
  obj: { apiVersion: string; kind: string; metadata: { name: string; namespace: string } },
  plural: string,
  opts: { fieldManager: string; force: boolean },
): Promise<Dict> {
  const q = new URLSearchParams({ fieldManager: opts.fieldManager });
  if (opts.force) q.set("force", "true");
  const path = `/apis/${obj.apiVersion}/namespaces/${encodeURIComponent(obj.metadata.namespace)}/${plural}/${encodeURIComponent(obj.metadata.name)}?${q}`;
  const res = await kubeRequest(t, "PATCH", path, stringify(obj), "application/apply-patch+yaml");
  if (res.status === 200 || res.status === 201) return res.body;
  // Failures come as a metav1.Status: {kind: Status, status: Failure, message, reason, code}.
  const message = String(res.body.message ?? `HTTP ${res.status}`);
  const reason = String(res.body.reason ?? "");
  const at = `applying ${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name} to context "${t.context}"`;
  if (res.status === 401 || res.status === 403) {
    throw new CliError(
      `${at}: ${reason || "refused"}: ${message}`,
      "check your kube credentials and RBAC (patch on wasmplugins.extensions.higress.io)",
      ExitCode.auth,
    );
  }
  if (res.status === 404) {
    throw new CliError(
      `${at}: ${message}`,
      "is Higress installed in this cluster (the WasmPlugin CRD) and does the namespace exist?",
      ExitCode.failure,
    );
  }
  if (res.status === 409) {
    throw new CliError(
      `${at}: ${message}`,
      "another field manager owns these fields; rerun with --force-conflicts to take them over",
      ExitCode.conflict,
    );
  }
  if (res.status === 422 || res.status === 400) {
    throw new CliError(
      `${at}: the API server rejected it: ${message}`,
      "fix the field it names",
      ExitCode.invalid,
    );
  }
  throw new CliError(
    `${at}: HTTP ${res.status} ${reason}: ${message}`,
    "check the API server",
    ExitCode.failure,
  );
}
