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
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

const EX = {
  validation: "com.alibaba.higress.sdk.exception.ValidationException",
  auth: "com.alibaba.higress.console.controller.exception.AuthException",
  conflict: "com.alibaba.higress.sdk.exception.ResourceConflictException",
  notFound: "com.alibaba.higress.sdk.exception.NotFoundException",
};
const STATUS = { validation: 400, auth: 401, conflict: 409, notFound: 502 } as const;

export interface ConsoleStandIn {
  url: string;
  plugins: Map<string, Record<string, unknown>>;
  instances: Map<string, Record<string, unknown>>; // "global|route:r|domain:d/<plugin>"
  routes: Set<string>;
  domains: Set<string>;
  requests: { method: string; path: string; cookie?: string }[];
  stop(): Promise<void>;
}

export async function startConsoleStandIn(
  user = "admin",
  password = "console-Passw0rd",
): Promise<ConsoleStandIn> {
  const sessions = new Set<string>();
  let rv = 100;
  const st: ConsoleStandIn = {
    url: "",
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
      const existing = name ? st.plugins.get(name) : undefined;
      if (req.method === "GET" && name) {
        if (!existing) {
          res.writeHead(404);
          return res.end();
        }
        return ok(res, 200, { success: true, message: null, data: existing });
      }
      if (req.method === "POST" && !name) {
        const bad = validate(json);
        if (bad) return fail(res, "validation", bad);
        const cur = st.plugins.get(json.name as string);
        if (cur?.builtIn) return fail(res, "conflict", "Name conflicted with a built-in plugin.");
        if (cur) return fail(res, "conflict", "null");
        const saved = {
          ...json,
          builtIn: false,
          category: "custom",
          pluginVersion: json.pluginVersion || "1.0.0",
          version: String(++rv),
        };
        st.plugins.set(json.name as string, saved);
        return ok(res, 201, saved);
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
        if (existing?.builtIn || json.builtIn)
          return fail(res, "conflict", "Updating a built-in plugin is not allowed.");
        if (!existing) return fail(res, "notFound", `No Wasm plugin with name "${name}" is found.`);
        if (json.version && json.version !== existing.version) return fail(res, "conflict", "null");
        const saved = { ...json, builtIn: false, category: "custom", version: String(++rv) };
        st.plugins.set(name, saved);
        return ok(res, 200, saved);
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
      if (!st.plugins.has(plugin)) return fail(res, "validation", `Unsupported plugin: ${plugin}`);
      const scope = global ? "GLOBAL" : (kind ?? "").slice(0, -1).toUpperCase();
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
