// A client for the Higress console's REST API, as read from higress-group/higress-console:
// backend/console/.../controller/SessionController.java, WasmPluginsController.java,
// WasmPluginInstancesController.java, ControllerUtil.java and aop/ApiStandardizationAspect.java;
// models backend/sdk/.../sdk/model/WasmPlugin.java and WasmPluginInstance.java.
//   POST /session/login {username, password}   sets the "_hi_sess" cookie (SessionServiceImpl)
//   GET  /v1/wasm-plugins/{name}               200 {success, data} or 404 with no body
//   POST /v1/wasm-plugins                      201, the plugin itself (ControllerUtil's POST case)
//   PUT  /v1/wasm-plugins/{name}               200, the plugin; needs it to exist
//   PUT  /v1/{global|routes/R|domains/D|services/S}/plugin-instances/{name}   200, the instance
// Failures: {success: false, message: "<ExceptionClass>: <text>"} with 400 (validation),
// 401 (AuthException: login required / wrong password), 409 (conflict), 502 (NotFoundException),
// 500. Like the console's own frontend (frontend/src/services/request.tsx), a 2xx answer is read
// as body.data when present, else as the body.
import { CliError, ExitCode, unreachable } from "./errors.js";

export interface ConsolePlugin {
  name: string;
  version?: string;
  pluginVersion?: string;
  category?: string;
  title?: string;
  description?: string;
  icon?: string;
  imageRepository?: string;
  imageVersion?: string;
  imagePullPolicy?: string;
  imagePullSecret?: string;
  phase?: string;
  priority?: number;
  builtIn?: boolean;
}

/** Where an instance is enabled. Only globally: conn-drain has no per-route settings and must
 * count every stream, so `console` refuses route/domain/service scopes (commands/console.ts). */
export type Scope = { kind: "global" };

/** The category the console files every custom plugin under (PluginCategory.CUSTOM, in
 * addCustom/updateCustom), whatever plugin.yaml's info.category says. */
export const CUSTOM_CATEGORY = "custom";

export class ConsoleClient {
  private cookie = "";

  constructor(private readonly base: string) {}

  private async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        headers: {
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(this.cookie ? { cookie: this.cookie } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      throw unreachable(
        "Higress console",
        this.base,
        err,
        "check --url (the console's address, e.g. http://localhost:8080)",
      );
    }
    const text = await res.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = { message: text.slice(0, 200) };
    }
    const setCookie = res.headers.getSetCookie?.() ?? [];
    for (const c of setCookie) {
      const pair = c.split(";")[0] ?? "";
      if (pair.startsWith("_hi_sess=") || !this.cookie) this.cookie = pair;
    }
    return { status: res.status, json };
  }

  private fail(doing: string, status: number, json: Record<string, unknown> | undefined): CliError {
    const msg =
      String(json?.message ?? "").replace(/^[\w.$]+Exception:\s*/, "") || `HTTP ${status}`;
    if (status === 401)
      return new CliError(
        `console refused ${doing}: ${msg}`,
        "log in again: check --username and the password",
        ExitCode.auth,
      );
    if (status === 409)
      return new CliError(
        `console refused ${doing}: ${msg}`,
        "the name is taken (by a built-in plugin?); choose another --name",
        ExitCode.conflict,
      );
    if (status === 400)
      return new CliError(
        `console rejected ${doing}: ${msg}`,
        "fix the value it names",
        ExitCode.invalid,
      );
    return new CliError(
      `console failed ${doing}: HTTP ${status}: ${msg}`,
      "check the console's logs",
      ExitCode.failure,
    );
  }

  private static data<T>(json: Record<string, unknown> | undefined): T {
    return (json && "data" in json && json.data ? json.data : json) as T;
  }

  async login(username: string, password: string): Promise<void> {
    const { status, json } = await this.call("POST", "/session/login", { username, password });
    if (status === 401 || status === 400) {
      const msg = String(json?.message ?? "").replace(/^[\w.$]+Exception:\s*/, "");
      throw new CliError(
        `console login failed for "${username}": ${msg || `HTTP ${status}`}`,
        "check --username and the password (CONN_DRAIN_CONSOLE_PASSWORD or --password-stdin)",
        ExitCode.auth,
      );
    }
    if (status >= 300) throw this.fail("the login", status, json);
    if (!this.cookie)
      throw new CliError(
        "console login sent no session cookie",
        "check --url points at the Higress console",
        ExitCode.auth,
      );
  }

  async getPlugin(name: string): Promise<ConsolePlugin | undefined> {
    const { status, json } = await this.call("GET", `/v1/wasm-plugins/${encodeURIComponent(name)}`);
    if (status === 404) return undefined;
    if (status !== 200) throw this.fail(`reading plugin ${name}`, status, json);
    return ConsoleClient.data<ConsolePlugin>(json);
  }

  /** Creates the custom plugin, or updates it (with the resource version read just before). A
   * new pluginVersion needs allowVersionChange: the console then replaces the resource (below). */
  async upsertPlugin(
    p: ConsolePlugin,
    opts: { allowVersionChange: boolean } = { allowVersionChange: false },
  ): Promise<{ plugin: ConsolePlugin; created: boolean; replaced?: string }> {
    const existing = await this.getPlugin(p.name);
    if (!existing) {
      const { status, json } = await this.call("POST", "/v1/wasm-plugins", p);
      if (status !== 200 && status !== 201)
        throw this.fail(`creating plugin ${p.name}`, status, json);
      return { plugin: ConsoleClient.data<ConsolePlugin>(json), created: true };
    }
    if (existing.builtIn) {
      throw new CliError(
        `"${p.name}" is a built-in plugin of the console`,
        "choose another --name",
        ExitCode.conflict,
      );
    }
    // WasmPluginServiceImpl.updateCustom names the resource <name>-<pluginVersion>; when that
    // name is new it creates it and deletes the old ones, and the gateway swaps filters.
    const old = existing.pluginVersion;
    const replaced = old && old !== p.pluginVersion ? old : undefined;
    if (replaced && !opts.allowVersionChange)
      throw new CliError(
        `the console has ${p.name} at version ${replaced}; updating it to ${p.pluginVersion} makes the console replace ${p.name}-${replaced} with ${p.name}-${p.pluginVersion}`,
        "pass --replace to go ahead (a new resource name changes the gateway's filter chain, which can cut long connections), or keep plugin.yaml info.version",
        ExitCode.conflict,
      );
    // On a version change the console creates the new resource from what it is sent, and the API
    // server refuses to create an object that carries a resourceVersion: send none then (the
    // field is optional on update).
    const body = replaced ? { ...p } : { ...p, version: existing.version };
    const { status, json } = await this.call(
      "PUT",
      `/v1/wasm-plugins/${encodeURIComponent(p.name)}`,
      body,
    );
    if (status !== 200) throw this.fail(`updating plugin ${p.name}`, status, json);
    return { plugin: ConsoleClient.data<ConsolePlugin>(json), created: false, replaced };
  }

  async putInstance(
    plugin: string,
    scope: Scope,
    enabled: boolean,
    configurations: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const path = `/v1/${scope.kind}/plugin-instances/${encodeURIComponent(plugin)}`;
    const { status, json } = await this.call("PUT", path, {
      pluginName: plugin,
      enabled,
      configurations,
    });
    if (status !== 200) throw this.fail(`enabling ${plugin} globally`, status, json);
    return ConsoleClient.data<Record<string, unknown>>(json);
  }
}
