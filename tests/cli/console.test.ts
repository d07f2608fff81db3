// `conn-drain console` against the console stand-in in console-standin.ts (the real Higress
// console cannot run here; the stand-in follows its controllers' paths, statuses and bodies, and
// keeps custom plugins as WasmPlugin resources in the Kubernetes stand-in, which the command
// reads for a resource `conn-drain wasmplugin` made).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { compile } from "../../cli/validate.js";
import { type ConsoleStandIn, startConsoleStandIn } from "./console-standin.js";
import { repoRoot, runCli, scratchProject, setPluginVersion } from "./helpers.js";
import { type KubeStandIn, standInKubeconfig, startKubeStandIn } from "./kube-standin.js";
import { freePort, missingTools } from "./registry.js";

const DIGEST = `sha256:${"ef".repeat(32)}`;
const IMAGE = `registry.example.com/plugins/conn-drain:0.1.0@${DIGEST}`;
const PASSWORD = "console-Passw0rd";

const noOpenssl = Boolean(missingTools()?.includes("openssl"));

describe.skipIf(noOpenssl)("console (Higress console and Kubernetes stand-ins)", () => {
  let kube: KubeStandIn;
  let con: ConsoleStandIn;
  let dir: string;
  let KUBECONFIG: string;
  beforeAll(async () => {
    kube = await startKubeStandIn();
    con = await startConsoleStandIn("admin", PASSWORD, kube.objects);
    dir = scratchProject();
    KUBECONFIG = join(dir, "kubeconfig");
    writeFileSync(KUBECONFIG, stringify(standInKubeconfig(kube)));
    writeFileSync(
      join(dir, "config.yaml"),
      stringify({ keyBy: "authority", admin: { token: "a-long-enough-admin-token" } }),
    );
  });
  afterAll(async () => {
    await con?.stop();
    await kube?.stop();
  });
  const run = (args: string[], env: Record<string, string> = {}) =>
    runCli(["console", "--url", con.url, "--image", IMAGE, ...args], {
      cwd: dir,
      env: { CONN_DRAIN_CONSOLE_PASSWORD: PASSWORD, KUBECONFIG, ...env },
    });

  it("logs in, creates the custom plugin from plugin.yaml, then updates it with its version", async () => {
    const r = await run([]);
    expect(r.err).toContain(
      "created plugin conn-drain (oci://registry.example.com/plugins/conn-drain:0.1.0@sha256:",
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name: "conn-drain", created: true, enabled: [] });
    const p = con.plugin("conn-drain");
    expect(p).toMatchObject({
      title: "Connection Drain",
      phase: "STATS",
      priority: 100,
      pluginVersion: "0.1.0",
      category: "custom",
    });
    // The console keeps it as <name>-<version>; the url it builds stays pinned by digest.
    const cr = kube.objects.get("higress-system/conn-drain-0.1.0");
    expect(cr?.spec.url).toBe(`oci://${IMAGE}`);
    expect(cr?.spec.failStrategy).toBe("FAIL_OPEN");
    expect(kube.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      "GET /apis/extensions.higress.io/v1alpha1/namespaces/higress-system/wasmplugins",
    ]);
    expect(con.requests.slice(0, 3).map((q) => `${q.method} ${q.path}`)).toEqual([
      "POST /session/login",
      "GET /v1/wasm-plugins/conn-drain",
      "POST /v1/wasm-plugins",
    ]);
    expect(con.requests[1]?.cookie).toBeTruthy();
    const version = p?.version;
    const u = await run([]);
    expect(u.code).toBe(0);
    expect(u.err).toContain("updated plugin conn-drain");
    const put = con.requests.at(-1);
    expect(`${put?.method} ${put?.path}`).toBe("PUT /v1/wasm-plugins/conn-drain");
    expect(con.plugin("conn-drain")?.version).not.toBe(version);
  });

  it("enables the plugin globally with a checked config", async () => {
    const r = await run(["--enable", "global", "--config", "config.yaml"]);
    expect(r.err).toMatch(/enabled globally/);
    expect(r.code).toBe(0);
    expect(con.instances.get("global/conn-drain")).toMatchObject({
      pluginName: "conn-drain",
      enabled: true,
      configurations: { keyBy: "authority" },
    });
  });

  it.each(["route:lobby", "domain:play.example.com", "service:game.default"])(
    "refuses --enable %s before sending anything: the plugin has no per-route settings",
    async (scope) => {
      const before = con.requests.length;
      const r = await run(["--enable", scope, "--config", "config.yaml"]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /no per-route settings and must count every stream; use --enable global/,
      );
      expect(con.requests.length).toBe(before);
    },
  );

  it("reports the console's own refusal: built-in name, bad config", async () => {
    const builtIn = await run(["--name", "key-auth"]);
    expect(builtIn.code).toBe(6);
    expect(builtIn.err).toMatch(
      /"key-auth" is a built-in plugin of the console — choose another --name/,
    );
    writeFileSync(join(dir, "bad.yaml"), stringify({ keyBy: "ip" }));
    const bad = await run(["--enable", "global", "--config", "bad.yaml"]);
    expect(bad.code).toBe(5);
    expect(bad.err).toMatch(/schema violation at config\.keyBy: must be one of/);
  });

  it("says when login fails or the console is unreachable", async () => {
    const wrong = await run([], { CONN_DRAIN_CONSOLE_PASSWORD: "nope" });
    expect(wrong.code).toBe(4);
    expect(wrong.err).toMatch(
      /^conn-drain console: console login failed for "admin": Incorrect username or password — check --username/m,
    );
    const port = await freePort();
    const down = await runCli(
      ["console", "--url", `http://127.0.0.1:${port}`, "--image", IMAGE, "--password-stdin"],
      { cwd: dir, stdin: `${PASSWORD}\n`, env: { KUBECONFIG } },
    );
    expect(down.code).toBe(3);
    expect(down.err).toMatch(
      /Higress console unreachable at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
    );
  });
  // Issue 12, finding 2: the console path refuses a resource the wasmplugin path made.
  it("refuses when 'conn-drain wasmplugin' applied the plugin, or a bare resource exists", async () => {
    kube.objects.clear();
    const before = con.requests.length;
    const applied = await runCli(
      ["wasmplugin", "--image", IMAGE, "--config", "config.yaml", "--apply"],
      { cwd: dir, env: { KUBECONFIG } },
    );
    expect(applied.code).toBe(0);
    const r = await run([]);
    expect(r.code).toBe(6);
    expect(r.err).toBe(
      "conn-drain console: higress-system/conn-drain-0.1.0 (version 0.1.0) was applied by 'conn-drain wasmplugin'; the console would take it over or replace it — choose one path: keep using 'conn-drain wasmplugin --apply', or delete it (kubectl delete wasmplugins.extensions.higress.io -n higress-system conn-drain-0.1.0) before registering in the console\n",
    );
    expect(con.requests.length).toBe(before); // nothing sent to the console, not even a login
    kube.objects.clear();
    kube.objects.set("higress-system/conn-drain", {
      apiVersion: "extensions.higress.io/v1alpha1",
      kind: "WasmPlugin",
      metadata: { name: "conn-drain", namespace: "higress-system" },
      spec: { url: `oci://${IMAGE}` },
    });
    const bare = await run([]);
    expect(bare.code).toBe(6);
    expect(bare.err).toMatch(
      /^conn-drain console: higress-system\/conn-drain has no higress\.io\/wasm-plugin-name label, so the console cannot see it; registering conn-drain there would load the plugin twice — choose one path: delete it first/,
    );
    expect(con.requests.length).toBe(before);
    kube.objects.clear();
  });

  it("without a kube context it says so, and --skip-cluster-check goes on", async () => {
    const r = await run([], { KUBECONFIG: join(dir, "no-such-kubeconfig") });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^conn-drain console: cannot check the cluster for a WasmPlugin of conn-drain that 'conn-drain wasmplugin' applied: no usable kube context: .* — give --kubeconfig\/--context, or --skip-cluster-check/,
    );
    const skip = await run(["--skip-cluster-check"], {
      KUBECONFIG: join(dir, "no-such-kubeconfig"),
    });
    expect(skip.code).toBe(0);
    kube.objects.clear();
  });

  it("a new plugin version needs --replace; the console then replaces the resource", async () => {
    kube.objects.clear();
    setPluginVersion(dir, "0.1.0");
    expect((await run(["--enable", "global", "--config", "config.yaml"])).code).toBe(0);
    setPluginVersion(dir, "0.2.0");
    const r = await run([]);
    expect(r.code).toBe(6);
    expect(r.err).toMatch(
      /^conn-drain console: the console has conn-drain at version 0\.1\.0; updating it to 0\.2\.0 makes the console replace conn-drain-0\.1\.0 with conn-drain-0\.2\.0 — pass --replace .*can cut long connections/,
    );
    expect([...kube.objects.keys()]).toEqual(["higress-system/conn-drain-0.1.0"]);
    const ok = await run(["--replace"]);
    expect(ok.err).toContain("the console replaced conn-drain-0.1.0 with conn-drain-0.2.0");
    expect(ok.code).toBe(0);
    // WasmPluginServiceImpl.updateCustom: created under the new name, config carried over, the
    // old one deleted.
    expect([...kube.objects.keys()]).toEqual(["higress-system/conn-drain-0.2.0"]);
    expect(kube.objects.get("higress-system/conn-drain-0.2.0")?.spec).toMatchObject({
      defaultConfig: { keyBy: "authority" },
      defaultConfigDisable: false,
    });
    setPluginVersion(dir, "0.1.0");
    kube.objects.clear();
  });

  // Issue 12, finding 4: the console reads no image layer for a custom plugin
  // (WasmPluginServiceImpl.queryConfig answers an empty object schema for it).
  it("--help does not promise a config form from the image's spec layer", async () => {
    const h = await runCli(["console", "--help"], { cwd: dir });
    expect(h.code).toBe(0);
    const text = h.out.replace(/\s+/g, " ");
    expect(text).not.toMatch(/renders? the plugin's config form/);
    expect(text).not.toMatch(/spec\.yaml layer/);
    expect(text).toMatch(/reads none of the image's layers and has no config form/);
  });
});

// Issue 12, finding 4: plugin.yaml is the image's spec.yaml; its parts must be where Higress's
// readers look. hgctl decodes it into WasmPluginMeta (alibaba/higress
// hgctl/pkg/plugin/types/meta.go): the example is spec.configSchema.openAPIV3Schema.example
// (GetConfigExample) and info.category one of its Category constants. The console reads a
// spec.yaml line by line (higress-console WasmPluginServiceImpl.extractConfigExample): the
// `example:` that is a direct child of `openAPIV3Schema:` under `configSchema:`.
const CATEGORIES = ["auth", "security", "protocol", "flow-control", "flow-monitor", "custom"];

/** The example's text as the console's line reader finds it (written from its logic). */
function consoleExample(text: string): string {
  const out: string[] = [];
  let state: "configSchema" | "openAPIV3Schema" | "children" | "example" = "configSchema";
  let schemaIndent = "";
  let childIndent: string | undefined;
  let innerIndent: string | undefined;
  for (const line of text.split("\n")) {
    const m = /^(\s*)(\S.*?)\s*$/.exec(line);
    if (!m) continue; // blank
    const [, indent = "", content = ""] = m;
    if (state === "configSchema") {
      if (content.startsWith("configSchema:")) state = "openAPIV3Schema";
    } else if (state === "openAPIV3Schema") {
      if (content.startsWith("openAPIV3Schema:")) {
        state = "children";
        schemaIndent = indent;
      }
    } else if (state === "children") {
      if (indent.length <= schemaIndent.length) break;
      childIndent ??= indent;
      if (indent === childIndent && content.startsWith("example:")) state = "example";
    } else {
      if (indent.length <= (childIndent ?? "").length) break;
      innerIndent ??= indent;
      out.push(line.slice(innerIndent.length));
    }
  }
  return out.join("\n");
}

describe("plugin.yaml as Higress reads a spec.yaml", () => {
  const text = readFileSync(join(repoRoot, "plugin.yaml"), "utf8");
  const doc = parseYaml(text);
  const schema = doc.spec.configSchema.openAPIV3Schema;

  it("info.category is one of the image spec's categories", () => {
    expect(CATEGORIES).toContain(doc.info.category);
  });

  it("the example is under configSchema.openAPIV3Schema, the console's reader finds it, and it is valid", () => {
    expect(doc.spec.example).toBeUndefined();
    expect(schema.example).toBeTypeOf("object");
    expect(parseYaml(consoleExample(text))).toEqual(schema.example);
    expect(compile(schema)(schema.example, "example")).toEqual([]);
  });

  it("its comments no longer say the console renders a form from the image", () => {
    const comments = text
      .split("\n")
      .filter((l) => l.trim().startsWith("#"))
      .map((l) => l.replace(/^\s*#\s?/, ""))
      .join(" ")
      .replace(/\s+/g, " ");
    expect(comments).not.toMatch(/console renders its config form/);
    expect(comments).toMatch(/for a custom plugin it reads no image layer/);
  });
});
