// The few Kubernetes API calls the receiver makes, over plain REST (no client library): read a
// GameServer, merge-patch its labels, list the gateway Service's EndpointSlices. In a pod it
// uses the ServiceAccount token and CA; tests point it at a stand-in server over http.
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface KubeOptions {
  /** API server base URL, e.g. https://kubernetes.default.svc */
  server: string;
  token: () => string;
  ca?: Buffer;
  timeoutMs?: number;
}

export class KubeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface GameServer {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    /** RFC 3339, set by the API server when the object was created. */
    creationTimestamp?: string;
    labels?: Record<string, string>;
  };
  status?: { currentState?: string };
}

export interface GatewayReplica {
  ip: string;
  pod?: string;
}

/**
 * In-cluster settings as client-go's rest.InClusterConfig builds them (rest/config.go):
 * https://KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, the CA from ca.crt, and the
 * ServiceAccount token, re-read on every call because the kubelet rotates it.
 * `dir` and `env` default to the pod's mount and process.env; tests point them elsewhere.
 */
export function inClusterOptions(o: { dir?: string; env?: NodeJS.ProcessEnv } = {}): KubeOptions {
  const env = o.env ?? process.env;
  const dir = o.dir ?? SA_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  if (!host) throw new Error("not in a cluster: KUBERNETES_SERVICE_HOST is unset (set KUBE_API)");
  const read = (file: string): Buffer => {
    try {
      return readFileSync(`${dir}/${file}`);
    } catch (err) {
      // One line that names the file: a pod without a mounted token
      // (automountServiceAccountToken: false) cannot reach the API server.
      throw new Error(
        `cannot read the ServiceAccount ${file} at ${dir}/${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); is a ServiceAccount token mounted?`,
      );
    }
  };
  const ca = read("ca.crt");
  read("token");
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    token: () => read("token").toString("utf8").trim(),
    ca,
  };
}

export class Kube {
  constructor(private readonly o: KubeOptions) {}

  private call(method: string, path: string, body?: string, type?: string): Promise<unknown> {
    const url = new URL(path, this.o.server);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, {
        method,
        ca: this.o.ca,
        timeout: this.o.timeoutMs ?? 5_000,
        headers: {
          authorization: `Bearer ${this.o.token()}`,
          accept: "application/json",
          ...(type ? { "content-type": type } : {}),
        },
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(new KubeError(status, `${method} ${path}: ${status} ${text.slice(0, 300)}`));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new KubeError(status, `${method} ${path}: not JSON`));
          }
        });
      });
      req.end(body);
    });
  }

  private static gsPath(ns: string, name: string): string {
    return `/apis/game.kruise.io/v1alpha1/namespaces/${encodeURIComponent(ns)}/gameservers/${encodeURIComponent(name)}`;
  }

  getGameServer(ns: string, name: string): Promise<GameServer> {
    return this.call("GET", Kube.gsPath(ns, name)) as Promise<GameServer>;
  }

  /**
   * JSON merge patch (RFC 7386) of labels. Custom resources take no strategic merge patch.
   * `resourceVersion` makes it conditional: the API answers 409 if the object changed since read.
   */
  patchGameServerLabels(
    ns: string,
    name: string,
    labels: Record<string, string>,
    resourceVersion?: string,
  ): Promise<GameServer> {
    const patch = { metadata: { labels, ...(resourceVersion ? { resourceVersion } : {}) } };
    return this.call(
      "PATCH",
      Kube.gsPath(ns, name),
      JSON.stringify(patch),
      "application/merge-patch+json",
    ) as Promise<GameServer>;
  }

  /** Every address of the Service's EndpointSlices, ready or not (a not-ready gateway may still hold players). */
  async serviceReplicas(ns: string, service: string): Promise<GatewayReplica[]> {
    const selector = encodeURIComponent(`kubernetes.io/service-name=${service}`);
    const list = (await this.call(
      "GET",
      `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/endpointslices?labelSelector=${selector}`,
    )) as {
      items?: Array<{
        endpoints?: Array<{ addresses?: string[]; targetRef?: { kind?: string; name?: string } }>;
      }>;
    };
    const out = new Map<string, GatewayReplica>();
    for (const slice of list.items ?? []) {
      for (const ep of slice.endpoints ?? []) {
        for (const ip of ep.addresses ?? []) {
          const pod = ep.targetRef?.kind === "Pod" ? ep.targetRef.name : undefined;
          out.set(ip, pod ? { ip, pod } : { ip });
        }
      }
    }
    return [...out.values()];
  }
}
