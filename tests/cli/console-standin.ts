// STAND-IN for the Higress console — the real one (a Spring Boot app over Kubernetes) cannot run
// here. It implements only the endpoints `conn-drain console` uses, with the paths, verbs,
// statuses and bodies read from higress-group/higress-console:
//   SessionController        POST /session/login → 201 with the User as the body (ControllerUtil
//                            answers POST with CREATED and the raw result) + cookie _hi_sess;
//                            400 missing fields (ValidationException), 401 wrong password
//   ApiStandardizationAspect every /v1 call needs the session (401 "Login required."); errors are
//                            {success:false, message:"<exception class>: <text>", data:null}
//                            with 400 Validation, 401 Auth, 409 ResourceConflict, 502 NotFound
//   WasmPluginsController    GET /{name} → 200 {success,data} or 404 empty; POST → 201 raw;
//                            PUT /{name} → 200 raw; WasmPlugin.validate() rules
//   WasmPluginInstancesController  PUT /v1/global|routes/{r}|domains/{d}|services/{s}
//                            /plugin-instances/{name} → 200 raw instance; unknown route/domain
//                            or plugin → 400
// Custom plugins live where the real console keeps them: as WasmPlugin resources in a cluster
// (pass the Kubernetes stand-in's `objects` to share one), written and read the way the SDK does:
//   KubernetesModelConverter.wasmPluginToCr/wasmPluginFromCr  name <name>-<pluginVersion>, the
//       higress.io/wasm-plugin-{name,version,category,built-in} labels, title/description/icon
//       annotations, url repository:version, failStrategy FAIL_OPEN (setDefaultValues)
//   KubernetesClientService.listWasmPlugin + renderDefaultMetadata  only resources labelled
//       higress.io/resource-definer=higress (and the name label) are seen; writes add that label
//   WasmPluginServiceImpl  addCustom (create <name>-<version>, 409 if it exists; category forced to
//       custom; defaultConfigDisable true); query (highest priority of the name's resources);
//       updateCustom (same name: replace, spec's config merged from the live one; new name: create
//       it and delete the others); a create that carries a resourceVersion is refused by the API
//       server (500), as the real console's would be
//   WasmPluginInstanceServiceImpl.addOrUpdateAll  the instance lands in the current version's
//       resource: global → defaultConfig, else a match rule
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

type Cr = {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  spec: Record<string, unknown>;
};
const NS = "higress-system";
const L = {
  definer: "higress.io/resource-definer",
  name: "higress.io/wasm-plugin-name",
  version: "higress.io/wasm-plugin-version",
  category: "higress.io/wasm-plugin-category",
  builtIn: "higress.io/wasm-plugin-built-in",
};
const A = {
  title: "higress.io/wasm-plugin-title",
  description: "higress.io/wasm-plugin-description",
  icon: "higress.io/wasm-plugin-icon",
};

function toCr(p: Record<string, unknown>): Cr {
  const name = String(p.name);
  const version = String(p.pluginVersion);
  const annotations: Record<string, string> = { [A.title]: String(p.title) };
  if (p.description) annotations[A.description] = String(p.description);
  if (p.icon) annotations[A.icon] = String(p.icon);
  const repo = String(p.imageRepository);
  return {
    apiVersion: "extensions.higress.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: {
      name: `${name}-${version}`,
      namespace: NS,
      labels: {
        [L.definer]: "higress",
        [L.name]: name,
        [L.version]: version,
        [L.category]: String(p.category),
        [L.builtIn]: "false",
      },
      annotations,
      ...(p.version ? { resourceVersion: String(p.version) } : {}),
    },
    spec: {
      phase: p.phase ?? "UNSPECIFIED_PHASE",
      priority: p.priority,
      url: `${repo.includes("://") ? "" : "oci://"}${repo}${p.imageVersion ? `:${p.imageVersion}` : ""}`,
      imagePullPolicy: p.imagePullPolicy ?? "UNSPECIFIED_POLICY",
      ...(p.imagePullSecret ? { imagePullSecret: p.imagePullSecret } : {}),
      failStrategy: "FAIL_OPEN",
      defaultConfigDisable: true,
    },
  };
}

function fromCr(cr: Cr): Record<string, unknown> {
  const l = cr.metadata.labels ?? {};
  const a = cr.metadata.annotations ?? {};
  const url = String(cr.spec.url ?? "");
  // ImageUrl.parse splits at the last colon after "oci://", so "repo:tag@sha256:hex" reads as
  // repository "repo:tag@sha256" and version "hex"; repository + ":" + version gives it back.
  const last = url.lastIndexOf(":");
  const colon = last > url.indexOf("://") + 2 ? last : -1;
  return {
    name: l[L.name],
    pluginVersion: l[L.version],
    category: l[L.category],
    builtIn: l[L.builtIn] === "true",
    title: a[A.title],
    description: a[A.description],
    icon: a[A.icon],
    phase: cr.spec.phase,
    priority: cr.spec.priority,
    imageRepository: colon < 0 ? url : url.slice(0, colon),
    imageVersion: colon < 0 ? undefined : url.slice(colon + 1),
    imagePullPolicy: cr.spec.imagePullPolicy,
    imagePullSecret: cr.spec.imagePullSecret,
    version: cr.metadata.resourceVersion,
  };
}

const EX = {
  internal: "com.alibaba.higress.sdk.exception.BusinessException",
  validation: "com.alibaba.higress.sdk.exception.ValidationException",
  auth: "com.alibaba.higress.console.controller.exception.AuthException",
  conflict: "com.alibaba.higress.sdk.exception.ResourceConflictException",
  notFound: "com.alibaba.higress.sdk.exception.NotFoundException",
};
const STATUS = {
  internal: 500,
  validation: 400,
  auth: 401,
  conflict: 409,
  notFound: 502,
} as const;

export interface ConsoleStandIn {
  url: string;
  plugins: Map<string, Record<string, unknown>>; // built-in plugins
  cluster: Map<string, Cr>; // "namespace/name" → WasmPlugin resource
  /** The custom plugin as the console shows it (from its resources), or undefined. */
  plugin(name: string): Record<string, unknown> | undefined;
  instances: Map<string, Record<string, unknown>>; // "global|route:r|domain:d/<plugin>"
  routes: Set<string>;
  domains: Set<string>;
  requests: { method: string; path: string; cookie?: string }[];
  stop(): Promise<void>;
}

export async function startConsoleStandIn(
  user = "admin",
  password = "console-Passw0rd",
  cluster: Map<string, Cr> = new Map(),
): Promise<ConsoleStandIn> {
  const sessions = new Set<string>();
  let rv = 5000;
  const crsOf = (name: string) =>
    [...cluster.values()].filter(
      (c) =>
        c.metadata.namespace === NS &&
        c.metadata.labels?.[L.definer] === "higress" &&
        c.metadata.labels?.[L.name] === name,
    );
  const topCr = (name: string) =>
    crsOf(name).sort((x, y) => Number(y.spec.priority ?? 0) - Number(x.spec.priority ?? 0))[0];
  const save = (cr: Cr, create: boolean): string | undefined => {
    const key = `${NS}/${cr.metadata.name}`;
    if (create && cr.metadata.resourceVersion)
      return "resourceVersion should not be set on objects to be created";
    if (create && cluster.has(key)) return "conflict";
    const cur = cluster.get(key);
    if (!create && cur?.metadata.resourceVersion !== cr.metadata.resourceVersion) return "conflict";
    cr.metadata.resourceVersion = String(++rv);
    cluster.set(key, cr);
    return undefined;
  };
  const st: ConsoleStandIn = {
    url: "",
    cluster,
    plugin: (name) => {
      const cr = topCr(name);
      return cr ? fromCr(cr) : undefined;
    },
    plugins: new Map([
      [
        "key-auth",
        { name: "key-auth", builtIn: true, category: "auth", title: "Key Auth", version: "1" },
      ],
    ]),
    instances: new Map(),
    routes: new Set(["lobby"]),
    domains: new Set(["play.example.com"]),
    requests: [],
    stop: async () => {},
  };
  const fail = (res: ServerResponse, kind: keyof typeof EX, msg: string) => {
    res.writeHead(STATUS[kind], { "content-type": "application/json" });
    res.end(JSON.stringify({ success: false, message: `${EX[kind]}: ${msg}`, data: null }));
  };
  const ok = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const validate = (p: Record<string, unknown>): string | undefined => {
    const blank = (k: string) => typeof p[k] !== "string" || !(p[k] as string).trim();
    if (blank("name")) return "name cannot be blank.";
    if (!/^(?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9]$/.test(p.name as string))
      return "Invalid name format.";
    if (blank("title")) return "title cannot be blank.";
    if (blank("category")) return "category cannot be blank.";
    if (blank("imageRepository")) return "imageRepository cannot be blank.";
    if (
      p.phase &&
      !["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS", "unspecified", "default"].includes(
        p.phase as string,
      )
    )
      return `Invalid phase: ${p.phase}`;
    return undefined;
  };
  const handle = async (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    const cookie = /(?:^|;\s*)_hi_sess=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
    st.requests.push({ method: req.method ?? "", path, cookie });
    const json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    if (path === "/session/login" && req.method === "POST") {
      if (!json.username || !json.password)
        return fail(res, "validation", "Missing user name or password.");
      if (json.username !== user || json.password !== password)
        return fail(res, "auth", "Incorrect username or password");
      const token = randomUUID();
      sessions.add(token);
      res.setHeader("set-cookie", `_hi_sess=${token}; Path=/; HttpOnly`);
      return ok(res, 201, { name: user, displayName: user, type: "admin" });
    }
    if (!cookie || !sessions.has(cookie)) return fail(res, "auth", "Login required.");
    let m = /^\/v1\/wasm-plugins(?:\/([^/]+))?$/.exec(path);
    if (m) {
      const name = m[1] ? decodeURIComponent(m[1]) : undefined;
      const builtIn = name ? st.plugins.get(name) : undefined;
      if (req.method === "GET" && name) {
        const found = builtIn ?? st.plugin(name);
        if (!found) {
          res.writeHead(404);
          return res.end();
        }
        return ok(res, 200, { success: true, message: null, data: found });
      }
      if (req.method === "POST" && !name) {
        const bad = validate(json);
        if (bad) return fail(res, "validation", bad);
        if (st.plugins.has(json.name as string))
          return fail(res, "conflict", "Name conflicted with a built-in plugin.");
        const cr = toCr({
          ...json,
          category: "custom",
          pluginVersion: json.pluginVersion || "1.0.0",
        });
        const why = save(cr, true);
        if (why === "conflict") return fail(res, "conflict", "null");
        if (why) return fail(res, "internal", `Error occurs when adding a new Wasm plugin. ${why}`);
        return ok(res, 201, fromCr(cr));
      }
      if (req.method === "PUT" && name) {
        if (json.name && json.name !== name)
          return fail(
            res,
            "validation",
            "Plugin name in the URL doesn't match the one in the body.",
          );
        json.name = name;
        const bad = validate(json);
        if (bad) return fail(res, "validation", bad);
        if (builtIn || json.builtIn)
          return fail(res, "conflict", "Updating a built-in plugin is not allowed.");
        const existed = crsOf(name);
        if (existed.length === 0)
          return fail(res, "notFound", `No Wasm plugin with name "${name}" is found.`);
        const cr = toCr({
          ...json,
          category: "custom",
          pluginVersion: json.pluginVersion || "1.0.0",
        });
        const merge = (from: Cr) => {
          cr.spec.defaultConfig = from.spec.defaultConfig;
          cr.spec.defaultConfigDisable = from.spec.defaultConfigDisable ?? true;
          if (from.spec.matchRules) cr.spec.matchRules = from.spec.matchRules;
        };
        const same = existed.find((e) => e.metadata.name === cr.metadata.name);
        if (same) {
          merge(same);
          cr.metadata.resourceVersion ??= same.metadata.resourceVersion;
          const why = save(cr, false);
          if (why) return fail(res, "conflict", "null");
          return ok(res, 200, fromCr(cr));
        }
        for (const e of existed) merge(e);
        const why = save(cr, true);
        if (why === "conflict") return fail(res, "conflict", "null");
        if (why)
          return fail(res, "internal", `Error occurs when adding the Wasm plugin CR. ${why}`);
        for (const e of existed) cluster.delete(`${NS}/${e.metadata.name}`);
        return ok(res, 200, fromCr(cr));
      }
    }
    m = /^\/v1\/(?:(global)|(routes|domains|services)\/([^/]+))\/plugin-instances\/([^/]+)$/.exec(
      path,
    );
    if (m && req.method === "PUT") {
      const [, global, kind, target, pname] = m;
      const plugin = decodeURIComponent(pname ?? "");
      const t = target ? decodeURIComponent(target) : undefined;
      if (kind === "routes" && !st.routes.has(t ?? ""))
        return fail(res, "validation", `Unknown route: ${t}`);
      if (kind === "domains" && !st.domains.has(t ?? ""))
        return fail(res, "validation", `Unknown domain: ${t}`);
      if (json.pluginName && json.pluginName !== plugin)
        return fail(res, "validation", "Plugin name in the URL doesn't match the one in the body.");
      const cr = topCr(plugin);
      if (!st.plugins.has(plugin) && !cr)
        return fail(res, "validation", `Unsupported plugin: ${plugin}`);
      const scope = global ? "GLOBAL" : (kind ?? "").slice(0, -1).toUpperCase();
      if (cr) {
        const config = (json.configurations ?? {}) as Record<string, unknown>;
        if (global) {
          cr.spec.defaultConfig = config;
          cr.spec.defaultConfigDisable = json.enabled !== true;
        } else {
          const key = { route: "ingress", domain: "domain", service: "service" }[
            (kind ?? "").slice(0, -1) as "route" | "domain" | "service"
          ];
          const rules = ((cr.spec.matchRules as Record<string, unknown>[]) ?? []).filter(
            (r) => !(Array.isArray(r[key]) && (r[key] as string[])[0] === t),
          );
          rules.push({ [key]: [t], config, configDisable: json.enabled !== true });
          cr.spec.matchRules = rules;
        }
        cr.metadata.resourceVersion = String(++rv);
      }
      const inst = {
        ...json,
        pluginName: plugin,
        scope,
        target: t ?? null,
        targets: { [scope]: t ?? null },
        version: String(++rv),
      };
      st.instances.set(
        `${global ? "global" : `${(kind ?? "").slice(0, -1)}:${t}`}/${plugin}`,
        inst,
      );
      return ok(res, 200, inst);
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        timestamp: new Date().toISOString(),
        status: 404,
        error: "Not Found",
        path,
      }),
    );
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    await handle(req, res, Buffer.concat(chunks).toString("utf8"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  st.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  st.stop = () => new Promise((r) => server.close(() => r()));
  return st;
}
