// Which gateway replicas to ask, with which token, and how their failures become one exit code.
// Each Higress gateway pod counts only its own players, so the operator commands must reach every
// pod — not the Service, which would answer from one pod at random.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { AdminClient, type Failure, type Replica } from "./admin-client.js";
import type { Flag, Io, Values } from "./args.js";
import { list, str } from "./args.js";
import { CliError, ExitCode, type ExitCodeValue, usage } from "./errors.js";
import { kubeRequest, kubeTarget } from "./kube.js";
import { refusePlaceholder } from "./placeholders.js";

/** Flags shared by status and drain. */
export const replicaFlags: Record<string, Flag> = {
  gateway: {
    type: "string",
    short: "g",
    multiple: true,
    arg: "URL",
    help: "a replica's address, http://IP:PORT (comma list allowed); default: discover",
  },
  service: {
    type: "string",
    arg: "NAME",
    default: "higress-gateway",
    help: "gateway Service whose EndpointSlices list the replicas",
  },
  namespace: {
    type: "string",
    short: "n",
    arg: "NS",
    default: "higress-system",
    help: "its namespace",
  },
  port: {
    type: "string",
    arg: "PORT",
    default: "80",
    help: "endpoint port, by number or name, that serves HTTP",
  },
  kubeconfig: {
    type: "string",
    arg: "FILE",
    help: "kubeconfig (default $KUBECONFIG, ~/.kube/config)",
  },
  context: { type: "string", arg: "NAME", help: "kube context (default: current-context)" },
  token: { type: "string", arg: "TOKEN", help: "admin token (prefer --token-file or the env var)" },
  "token-file": { type: "string", arg: "FILE", help: "file holding the admin token" },
  "admin-path": {
    type: "string",
    arg: "PATH",
    default: "/.conn-drain",
    help: "the plugin's admin.path",
  },
  json: { type: "boolean", help: "print JSON instead of a table" },
};

export function parseGatewayList(values: Values, command: string): Replica[] {
  const out: Replica[] = [];
  for (const item of list(values, "gateway").flatMap((g) => g.split(","))) {
    const raw = item.trim();
    if (!raw) throw usage(`--gateway has an empty address`, command);
    let url: URL;
    try {
      // "10.0.0.5:80" is the common paste; treat a missing scheme as http.
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    } catch {
      throw usage(`--gateway "${raw}" is not an address; give http://HOST:PORT`, command);
    }
    if (
      (url.protocol !== "http:" && url.protocol !== "https:") ||
      !url.hostname ||
      (url.pathname !== "/" && url.pathname !== "") ||
      url.search ||
      url.hash
    )
      throw usage(`--gateway "${raw}" is not an address; give http://HOST:PORT (no path)`, command);
    const base = `${url.protocol}//${url.host}`;
    if (!out.some((r) => r.url === base)) out.push({ url: base, name: url.host });
  }
  return out;
}

export function adminToken(values: Values, io: Io, command: string): string | undefined {
  const flag = str(values, "token");
  const file = str(values, "token-file");
  if (flag !== undefined && file !== undefined)
    throw usage("give the token with --token or --token-file, not both", command);
  let token = flag;
  if (file !== undefined) {
    try {
      token = readFileSync(resolve(io.cwd, file), "utf8").trim();
    } catch (err) {
      throw usage(`--token-file ${file}: ${(err as Error).message.split("\n")[0]}`, command);
    }
    if (!token) throw usage(`--token-file ${file} is empty`, command);
  }
  const source =
    flag !== undefined
      ? "--token"
      : file !== undefined
        ? `--token-file ${file}`
        : "CONN_DRAIN_ADMIN_TOKEN";
  token ??= io.env.CONN_DRAIN_ADMIN_TOKEN || undefined;
  // README's "export CONN_DRAIN_ADMIN_TOKEN=..." copied as is, or the kit's replace-with-….
  refusePlaceholder(token, `the admin token (${source})`, "give the plugin's real admin.token");
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token))
    throw usage("the admin token must be printable characters without spaces", command);
  // No token is allowed: a plugin can guard its admin path with allowCidrs alone.
  return token;
}

export function adminPath(values: Values, command: string): string {
  const p = str(values, "admin-path") ?? "/.conn-drain";
  if (!/^\/[^?#\s]*[^/?#\s]$/.test(p))
    throw usage(`--admin-path "${p}" must be absolute, without query or trailing slash`, command);
  return p;
}

interface EndpointSlice {
  addressType?: string;
  ports?: { name?: string; port?: number }[] | null;
  endpoints?: {
    addresses?: string[];
    conditions?: { ready?: boolean };
    targetRef?: { name?: string };
  }[];
}

/**
 * The replicas behind the gateway Service, from its EndpointSlices (discovery.k8s.io/v1). Not-ready
 * and terminating endpoints are kept: a gateway pod on its way out still carries players, and a
 * host is only drained once that pod says so too (an unanswering pod shows as unreachable).
 */
export async function discoverReplicas(
  values: Values,
  io: Io,
  command: string,
): Promise<Replica[]> {
  const service = str(values, "service") ?? "higress-gateway";
  const namespace = str(values, "namespace") ?? "higress-system";
  const port = str(values, "port") ?? "80";
  const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  if (!dns.test(service)) throw usage(`--service "${service}" is not a Service name`, command);
  if (!dns.test(namespace)) throw usage(`--namespace "${namespace}" is not a namespace`, command);
  if (!/^([1-9][0-9]{0,4}|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.test(port) || Number(port) > 65535)
    throw usage(`--port "${port}" is neither a port number nor a port name`, command);
  const target = kubeTarget(values, io);
  const selector = encodeURIComponent(`kubernetes.io/service-name=${service}`);
  const path = `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?labelSelector=${selector}`;
  const res = await kubeRequest(target, "GET", path);
  const at = `listing EndpointSlices of ${namespace}/${service} in context "${target.context}"`;
  if (res.status === 401 || res.status === 403)
    throw new CliError(
      `${at}: ${String(res.body.message ?? `HTTP ${res.status}`)}`,
      "check your kube credentials and RBAC (list endpointslices.discovery.k8s.io), or give --gateway",
      ExitCode.auth,
    );
  if (res.status !== 200)
    throw new CliError(
      `${at}: HTTP ${res.status}: ${String(res.body.message ?? "")}`,
      "check --namespace, or give the replicas with --gateway",
    );
  const slices = (res.body.items as EndpointSlice[] | undefined) ?? [];
  const out: Replica[] = [];
  const seenPorts = new Set<string>();
  for (const s of slices) {
    const p = (s.ports ?? []).find((x) => x.name === port || String(x.port) === port);
    for (const x of s.ports ?? []) seenPorts.add(x.name ? `${x.name}=${x.port}` : String(x.port));
    if (!p?.port) continue;
    for (const e of s.endpoints ?? []) {
      for (const a of e.addresses ?? []) {
        const hostPart = s.addressType === "IPv6" ? `[${a}]` : a;
        const url = `http://${hostPart}:${p.port}`;
        if (!out.some((r) => r.url === url))
          out.push({ url, name: e.targetRef?.name ?? `${hostPart}:${p.port}` });
      }
    }
  }
  if (out.length === 0) {
    const why =
      slices.length === 0
        ? "no EndpointSlices (is the Service name right?)"
        : seenPorts.size > 0 && ![...seenPorts].some((x) => x.split("=").includes(port))
          ? `no endpoint port "${port}" (ports: ${[...seenPorts].join(", ")})`
          : "no endpoints (no gateway pod running?)";
    throw new CliError(
      `${at}: ${why}`,
      "check --service, --namespace and --port, or give the replicas with --gateway",
    );
  }
  return out;
}

export async function resolveClients(
  values: Values,
  io: Io,
  command: string,
): Promise<AdminClient[]> {
  const token = adminToken(values, io, command);
  const path = adminPath(values, command);
  let replicas = parseGatewayList(values, command);
  if (replicas.length === 0) replicas = await discoverReplicas(values, io, command);
  return replicas.map((r) => new AdminClient(r, token, path));
}

/** The exit code for a set of failed replicas: refused credentials outrank unreachable. */
export function failureCode(failures: Failure[]): ExitCodeValue {
  if (failures.some((f) => f.kind === "auth")) return ExitCode.auth;
  if (failures.some((f) => f.kind === "unreachable")) return ExitCode.unreachable;
  if (failures.some((f) => f.kind === "http" && f.status === 409)) return ExitCode.conflict;
  return ExitCode.failure;
}

/** What an operator should do about the worst failure. */
export function failureHint(failures: Failure[]): string {
  const f = failures.find((x) => x.kind === "auth") ?? failures[0];
  if (f?.kind === "auth") {
    // The plugin says which 403 it is: a state change without a configured token, or a source
    // outside admin.allowCidrs.
    if (f.status === 403 && /token is required/.test(f.message))
      return "drains need the plugin's admin.token (admin.allowCidrs alone admits reads only): set it in the plugin config and pass it with --token-file or CONN_DRAIN_ADMIN_TOKEN";
    return f.status === 403
      ? "the plugin's admin.allowCidrs does not include this machine; run from an allowed network"
      : "give the plugin's admin.token with --token-file or CONN_DRAIN_ADMIN_TOKEN";
  }
  if (f?.kind === "unreachable")
    return "check the replica is up and reachable from here (kubectl port-forward, or run inside the cluster)";
  if (f?.kind === "bad-answer") return "check --admin-path matches the plugin's admin.path";
  return "see the replica's answer above";
}
