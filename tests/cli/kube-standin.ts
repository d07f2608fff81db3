// STAND-IN for a Kubernetes API server — no real one can run here. It implements only what
// `conn-drain wasmplugin --apply` and `conn-drain console` use, following the real API: HTTPS
// with a bearer token; GET …/namespaces/{ns}/wasmplugins (a WasmPluginList; an unknown namespace
// lists nothing, as the real API answers); DELETE …/wasmplugins/{name} (200, 404 when absent);
// PATCH /apis/extensions.higress.io/v1alpha1/namespaces/{ns}/wasmplugins/{name}
// ?fieldManager=…[&force=true] with Content-Type application/apply-patch+yaml (server-side
// apply), 201 on create and 200 on update, resourceVersion bumped only when something changed,
// and failures as metav1.Status bodies ({kind: Status, apiVersion: v1, status: Failure,
// message, reason, code}) with the real statuses: 401 Unauthorized, 404 NotFound (namespace, or
// the CRD not installed), 409 Conflict (fields owned by another manager, unless force), 415
// UnsupportedMediaType, 422 Invalid (no fieldManager). Field ownership is tracked per top-level
// spec key, which is coarser than the real managedFields but enough to show a conflict.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

export type Obj = {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown>;
  spec: Record<string, unknown>;
};

export interface KubeStandIn {
  server: string;
  caPem: string;
  token: string;
  objects: Map<string, Obj>;
  owners: Map<string, Map<string, string>>; // object key → spec field → manager
  requests: { method: string; path: string; contentType?: string }[];
  crdInstalled: boolean;
  stop(): Promise<void>;
}

function status(code: number, reason: string, message: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
}

export async function startKubeStandIn(): Promise<KubeStandIn> {
  const dir = mkdtempSync(join(tmpdir(), "conn-drain-kube-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "k.pem"),
      "-out",
      join(dir, "c.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=kube-standin",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  const caPem = readFileSync(join(dir, "c.pem"), "utf8");
  let rv = 1000;
  const st: KubeStandIn = {
    server: "",
    caPem,
    token: "standin-token-123",
    objects: new Map(),
    owners: new Map(),
    requests: [],
    crdInstalled: true,
    stop: async () => {},
  };
  const server = createServer(
    { key: readFileSync(join(dir, "k.pem")), cert: caPem },
    async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const url = new URL(req.url ?? "/", "https://x");
      st.requests.push({
        method: req.method ?? "",
        path: url.pathname + url.search,
        contentType: req.headers["content-type"],
      });
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${st.token}`)
        return send(401, status(401, "Unauthorized", "Unauthorized"));
      const m =
        /^\/apis\/extensions\.higress\.io\/v1alpha1\/namespaces\/([^/]+)\/wasmplugins(?:\/([^/]+))?$/.exec(
          url.pathname,
        );
      if (!m || !st.crdInstalled)
        return send(
          404,
          status(404, "NotFound", "the server could not find the requested resource"),
        );
      const [, ns, name] = m as unknown as [string, string, string | undefined];
      if (!name) {
        if (req.method !== "GET")
          return send(405, status(405, "MethodNotAllowed", "method not allowed"));
        const items = [...st.objects.values()].filter((o) => o.metadata.namespace === ns);
        return send(200, {
          apiVersion: "extensions.higress.io/v1alpha1",
          kind: "WasmPluginList",
          metadata: { resourceVersion: String(rv) },
          items,
        });
      }
      if (ns !== "higress-system")
        return send(404, status(404, "NotFound", `namespaces "${ns}" not found`));
      if (req.method === "DELETE") {
        const gone = st.objects.get(`${ns}/${name}`);
        if (!gone)
          return send(
            404,
            status(404, "NotFound", `wasmplugins.extensions.higress.io "${name}" not found`),
          );
        st.objects.delete(`${ns}/${name}`);
        st.owners.delete(`${ns}/${name}`);
        return send(200, gone);
      }
      if (req.method !== "PATCH")
        return send(
          405,
          status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
          ),
        );
      if (req.headers["content-type"] !== "application/apply-patch+yaml") {
        return send(
          415,
          status(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        );
      }
      const manager = url.searchParams.get("fieldManager");
      if (!manager)
        return send(
          422,
          status(
            422,
            "Invalid",
            `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`,
          ),
        );
      const force = url.searchParams.get("force") === "true";
      const patch = parseYaml(Buffer.concat(chunks).toString("utf8")) as Obj;
      const key = `${ns}/${name}`;
      const existing = st.objects.get(key);
      const owners = st.owners.get(key) ?? new Map<string, string>();
      const conflicts = Object.keys(patch.spec ?? {}).filter((f) => {
        const o = owners.get(f);
        return (
          o && o !== manager && JSON.stringify(existing?.spec[f]) !== JSON.stringify(patch.spec[f])
        );
      });
      if (conflicts.length > 0 && !force) {
        return send(
          409,
          status(
            409,
            "Conflict",
            `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${conflicts.map((f) => `conflict with "${owners.get(f)}" using extensions.higress.io/v1alpha1: .spec.${f}`).join(", ")}`,
          ),
        );
      }
      const spec = { ...(existing?.spec ?? {}) };
      for (const [f, o] of owners) if (o === manager && !(f in (patch.spec ?? {}))) delete spec[f]; // apply removes fields we no longer set
      Object.assign(spec, patch.spec);
      for (const f of Object.keys(patch.spec ?? {})) owners.set(f, manager);
      st.owners.set(key, owners);
      const labels = {
        ...((existing?.metadata.labels as object) ?? {}),
        ...((patch.metadata.labels as object) ?? {}),
      };
      const annotations = {
        ...((existing?.metadata.annotations as object) ?? {}),
        ...((patch.metadata.annotations as object) ?? {}),
      };
      const changed =
        !existing ||
        JSON.stringify(existing.spec) !== JSON.stringify(spec) ||
        JSON.stringify(existing.metadata.labels) !== JSON.stringify(labels) ||
        JSON.stringify(existing.metadata.annotations ?? {}) !== JSON.stringify(annotations);
      const obj: Obj = {
        apiVersion: patch.apiVersion,
        kind: patch.kind,
        metadata: {
          ...(existing?.metadata ?? {
            uid: `uid-${name}`,
            creationTimestamp: new Date().toISOString(),
          }),
          name,
          namespace: ns,
          labels,
          annotations,
          resourceVersion: changed ? String(++rv) : existing?.metadata.resourceVersion,
        },
        spec,
      };
      st.objects.set(key, obj);
      send(existing ? 200 : 201, obj);
    },
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  st.server = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  st.stop = async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  };
  return st;
}

/** A kubeconfig for the stand-in: context "standin" (its token), and "wrong-user" (a refused token). */
export function standInKubeconfig(kube: KubeStandIn): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "standin",
    clusters: [
      {
        name: "standin",
        cluster: {
          server: kube.server,
          "certificate-authority-data": Buffer.from(kube.caPem).toString("base64"),
        },
      },
    ],
    // "nobody" is defined with a token the stand-in refuses: a context naming an undefined user
    // is refused before any request, as kubectl does (cli/kube.ts).
    users: [
      { name: "ops", user: { token: kube.token } },
      { name: "nobody", user: { token: "not-the-token" } },
    ],
    contexts: [
      { name: "standin", context: { cluster: "standin", user: "ops" } },
      { name: "wrong-user", context: { cluster: "standin", user: "nobody" } },
    ],
  };
}
