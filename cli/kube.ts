// Just enough of a Kubernetes client for server-side apply: kubeconfig resolution (KUBECONFIG
// list or ~/.kube/config, current-context or --context; server, CA, client certificate, token,
// basic auth and exec credential plugins, as kubectl reads them) and one PATCH request.
// Server-side apply: PATCH …?fieldManager=conn-drain with Content-Type
// application/apply-patch+yaml (Kubernetes docs, "Server-Side Apply"). Applying the same object
// again changes nothing, so the command is idempotent. Why not @kubernetes/client-node: docs/cli.md.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
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

const noContext = (why: string) =>
  new CliError(
    `no usable kube context: ${why}`,
    "point KUBECONFIG (or --kubeconfig) at a cluster and pick one with 'kubectl config use-context NAME' or --context",
    ExitCode.usage,
  );

function fileOrData(base: string, file: unknown, data: unknown): Buffer | undefined {
  if (typeof data === "string" && data) return Buffer.from(data, "base64");
  if (typeof file === "string" && file)
    return readFileSync(isAbsolute(file) ? file : join(base, file));
  return undefined;
}

/** client.authentication.k8s.io ExecCredential: run the plugin, use status.token or the cert. */
function execCredential(exec: Dict, env: NodeJS.ProcessEnv): Dict {
  const command = String(exec.command ?? "");
  const args = ((exec.args as string[] | undefined) ?? []).map(String);
  const extra: Record<string, string> = {};
  for (const e of (exec.env as { name: string; value: string }[] | undefined) ?? [])
    extra[e.name] = e.value;
  const apiVersion = String(exec.apiVersion ?? "client.authentication.k8s.io/v1");
  try {
    const out = execFileSync(command, args, {
      encoding: "utf8",
      env: {
        ...env,
        ...extra,
        KUBERNETES_EXEC_INFO: JSON.stringify({
          apiVersion,
          kind: "ExecCredential",
          spec: { interactive: false },
        }),
      },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    return (JSON.parse(out).status ?? {}) as Dict;
  } catch (err) {
    throw new CliError(
      `kube credential plugin "${command}" failed: ${(err as Error).message.split("\n")[0]}`,
      "run it by hand to see why (log in to the cloud CLI?)",
      ExitCode.auth,
    );
  }
}

export function loadKubeTarget(opts: {
  kubeconfig?: string;
  context?: string;
  env: NodeJS.ProcessEnv;
}): KubeTarget {
  const home = opts.env.HOME ?? homedir();
  const files = (opts.kubeconfig ?? opts.env.KUBECONFIG ?? join(home, ".kube", "config"))
    .split(delimiter)
    .filter((f) => f && existsSync(f));
  if (files.length === 0) throw noContext("no kubeconfig file found");
  // Merge as kubectl does: the first file to define a name (or current-context) wins.
  const pick = {
    clusters: new Map<string, [Dict, string]>(),
    users: new Map<string, [Dict, string]>(),
    contexts: new Map<string, [Dict, string]>(),
  };
  let current: string | undefined;
  for (const f of files) {
    const doc = (parseYaml(readFileSync(f, "utf8")) ?? {}) as Dict;
    current ??= (doc["current-context"] as string | undefined) || undefined;
    for (const kind of ["clusters", "users", "contexts"] as const) {
      const inner = kind === "clusters" ? "cluster" : kind === "users" ? "user" : "context";
      for (const item of (doc[kind] as Named<Dict>[] | undefined) ?? []) {
        if (!pick[kind].has(item.name))
          pick[kind].set(item.name, [(item[inner] ?? {}) as Dict, dirname(f)]);
      }
    }
  }
  const name = opts.context ?? current;
  if (!name) throw noContext("the kubeconfig has no current-context");
  const ctx = pick.contexts.get(name)?.[0];
  if (!ctx) throw noContext(`context "${name}" is not in the kubeconfig`);
  const [cluster, cbase] = pick.clusters.get(String(ctx.cluster)) ?? [];
  if (!cluster?.server)
    throw noContext(`context "${name}" names cluster "${ctx.cluster}", which has no server`);
  const [user, ubase] = pick.users.get(String(ctx.user)) ?? [{}, ""];
  const t: KubeTarget = {
    context: name,
    server: String(cluster.server).replace(/\/$/, ""),
    namespace: (ctx.namespace as string | undefined) || undefined,
    ca: fileOrData(
      cbase ?? "",
      cluster["certificate-authority"],
      cluster["certificate-authority-data"],
    ),
    insecure: cluster["insecure-skip-tls-verify"] === true,
    cert: fileOrData(ubase ?? "", user["client-certificate"], user["client-certificate-data"]),
    key: fileOrData(ubase ?? "", user["client-key"], user["client-key-data"]),
  };
  let token =
    (user.token as string | undefined) ??
    (user.tokenFile ? readFileSync(String(user.tokenFile), "utf8").trim() : undefined);
  if (user.exec) {
    const status = execCredential(user.exec as Dict, opts.env);
    token = (status.token as string | undefined) ?? token;
    if (status.clientCertificateData) t.cert = Buffer.from(String(status.clientCertificateData));
    if (status.clientKeyData) t.key = Buffer.from(String(status.clientKeyData));
  }
  if (token) t.authorization = `Bearer ${token}`;
  else if (user.username)
    t.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  return t;
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
