// A STAND-IN for the Kubernetes API server, for the receiver's tests only: it serves the few
// paths the receiver uses with the real paths, verbs, content types and status codes
// (GameServer GET/PATCH under /apis/game.kruise.io/v1alpha1, EndpointSlice list under
// /apis/discovery.k8s.io/v1 with a labelSelector, Status objects for errors, merge-patch
// semantics of RFC 7386, resourceVersion preconditions answered 409). It is not Kubernetes:
// no admission, no watch, no other resources.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

type Obj = Record<string, unknown>;

export interface Recorded {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      code,
    }),
  );
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Obj =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? { ...(target as Obj) }
      : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKube {
  readonly requests: Recorded[] = [];
  private readonly gameServers = new Map<string, Obj>();
  private readonly slices = new Map<string, Obj[]>();
  private server: Server | undefined;
  private rv = 1000;
  url = "";

  constructor(readonly token: string) {}

  setGameServer(
    ns: string,
    name: string,
    state: string,
    labels: Record<string, string>,
    creationTimestamp = "2026-01-01T00:00:00Z",
  ): void {
    this.gameServers.set(`${ns}/${name}`, {
      apiVersion: "game.kruise.io/v1alpha1",
      kind: "GameServer",
      metadata: {
        name,
        namespace: ns,
        resourceVersion: String(++this.rv),
        creationTimestamp,
        labels,
      },
      spec: { opsState: "None" },
      status: { currentState: state },
    });
  }

  gameServer(ns: string, name: string): Obj | undefined {
    return this.gameServers.get(`${ns}/${name}`);
  }

  /** Changes the object as a controller would (bumps resourceVersion). */
  touch(ns: string, name: string, change: (o: Obj) => void): void {
    const o = this.gameServers.get(`${ns}/${name}`);
    if (!o) return;
    change(o);
    (o.metadata as Obj).resourceVersion = String(++this.rv);
  }

  setEndpoints(
    ns: string,
    service: string,
    endpoints: Array<{ ip: string; pod: string; ready: boolean }>,
  ): void {
    this.slices.set(`${ns}/${service}`, [
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: `${service}-abcde`,
          namespace: ns,
          labels: { "kubernetes.io/service-name": service },
        },
        addressType: "IPv4",
        endpoints: endpoints.map((e) => ({
          addresses: [e.ip],
          conditions: { ready: e.ready, serving: e.ready, terminating: false },
          targetRef: { kind: "Pod", name: e.pod, namespace: ns },
        })),
        ports: [{ name: "http", port: 80, protocol: "TCP" }],
      },
    ]);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, res, Buffer.concat(chunks).toString("utf8")));
    });
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? "/", "http://x");
    const method = req.method ?? "GET";
    this.requests.push({
      method,
      path: url.pathname + url.search,
      contentType: req.headers["content-type"],
      body,
    });
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return status(res, 401, "Unauthorized", "Unauthorized");
    }
    const gs =
      /^\/apis\/game\.kruise\.io\/v1alpha1\/namespaces\/([^/]+)\/gameservers\/([^/]+)$/.exec(
        url.pathname,
      );
    if (gs)
      return this.gameServerVerb(
        res,
        method,
        `${gs[1]}/${gs[2]}`,
        req.headers["content-type"],
        body,
      );
    const eps = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/.exec(
      url.pathname,
    );
    if (eps && method === "GET") {
      const sel = /^kubernetes\.io\/service-name=(.+)$/.exec(
        url.searchParams.get("labelSelector") ?? "",
      );
      const items = sel
        ? (this.slices.get(`${eps[1]}/${sel[1]}`) ?? [])
        : [...this.slices.values()].flat();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSliceList",
          metadata: {},
          items,
        }),
      );
      return;
    }
    if (eps) return status(res, 405, "MethodNotAllowed", `${method} is not supported here`);
    return status(res, 404, "NotFound", "the server could not find the requested resource");
  }

  private gameServerVerb(
    res: ServerResponse,
    method: string,
    key: string,
    type: string | undefined,
    body: string,
  ) {
    const obj = this.gameServers.get(key);
    const name = key.split("/")[1];
    if (method !== "GET" && method !== "PATCH") {
      return status(res, 405, "MethodNotAllowed", `${method} is not allowed by this stand-in`);
    }
    if (!obj) return status(res, 404, "NotFound", `gameservers.game.kruise.io "${name}" not found`);
    if (method === "PATCH") {
      // The API server accepts json-patch, merge-patch and apply for custom resources;
      // strategic merge patch is refused with 415 for them.
      if (type !== "application/merge-patch+json") {
        return status(
          res,
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
        );
      }
      let patch: Obj;
      try {
        patch = JSON.parse(body) as Obj;
      } catch {
        return status(res, 400, "BadRequest", "error decoding patch");
      }
      const wantRv = (patch.metadata as Obj | undefined)?.resourceVersion;
      const haveRv = (obj.metadata as Obj).resourceVersion;
      if (wantRv !== undefined && wantRv !== haveRv) {
        return status(
          res,
          409,
          "Conflict",
          `Operation cannot be fulfilled on gameservers.game.kruise.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      }
      const next = mergePatch(obj, patch) as Obj;
      (next.metadata as Obj).resourceVersion = String(++this.rv);
      this.gameServers.set(key, next);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(next));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(obj));
  }
}
