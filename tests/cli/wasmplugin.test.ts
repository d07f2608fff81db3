// `conn-drain wasmplugin`: the resource it writes (the console's identity, FAIL_OPEN), the two
// schema checks with field paths, and --apply against the Kubernetes API stand-in in
// kube-standin.ts (no real API server runs here), with the console stand-in reading the same
// resources the way the console does (console-standin.ts).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { compile } from "../../cli/validate.js";
import { type ConsoleStandIn, startConsoleStandIn } from "./console-standin.js";
import { repoRoot, runCli, scratchProject, setPluginVersion } from "./helpers.js";
import { type KubeStandIn, standInKubeconfig, startKubeStandIn } from "./kube-standin.js";
import { missingTools } from "./registry.js";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const KEY = "higress-system/conn-drain-0.1.0"; // the resource's namespace/name
const IMAGE = `registry.example.com/plugins/conn-drain:0.1.0@${DIGEST}`;
const CONFIG = {
  keyBy: "authority",
  hosts: ["*.game.example.com"],
  admin: { token: "a-long-enough-admin-token" },
};

function project(): string {
  const dir = scratchProject();
  writeFileSync(join(dir, "config.yaml"), stringify(CONFIG));
  return dir;
}

describe("wasmplugin: the resource", () => {
  it("prints a WasmPlugin pinned by digest with phase and priority from plugin.yaml", async () => {
    const dir = project();
    const r = await runCli(
      [
        "wasmplugin",
        "--image",
        IMAGE,
        "--config",
        "config.yaml",
        "--image-pull-secret",
        "regcred",
        "--image-pull-policy",
        "IfNotPresent",
      ],
      { cwd: dir },
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const res = parseYaml(r.out);
    expect(res).toMatchObject({
      apiVersion: "extensions.higress.io/v1alpha1",
      kind: "WasmPlugin",
      metadata: { namespace: "higress-system" },
      spec: {
        url: `oci://${IMAGE}`,
        phase: "STATS",
        priority: 100,
        imagePullSecret: "regcred",
        imagePullPolicy: "IfNotPresent",
        defaultConfig: CONFIG,
        defaultConfigDisable: false,
      },
    });
    expect(res.spec.sha256).toBeUndefined();
  });

  // Issue 12, finding 2: one identity, the console's (KubernetesModelConverter.wasmPluginToCr).
  it("names and labels the resource as the Higress console names a custom plugin", async () => {
    const dir = project();
    const r = await runCli(["wasmplugin", "--image", IMAGE, "--config", "config.yaml"], {
      cwd: dir,
    });
    expect(r.code).toBe(0);
    const { metadata } = parseYaml(r.out);
    expect(metadata.name).toBe("conn-drain-0.1.0");
    expect(metadata.labels).toEqual({
      "higress.io/resource-definer": "higress",
      "higress.io/wasm-plugin-name": "conn-drain",
      "higress.io/wasm-plugin-version": "0.1.0",
      "higress.io/wasm-plugin-category": "custom",
      "higress.io/wasm-plugin-built-in": "false",
      "app.kubernetes.io/managed-by": "conn-drain",
    });
    expect(metadata.annotations["higress.io/wasm-plugin-title"]).toBe("Connection Drain");
    expect(metadata.annotations["higress.io/wasm-plugin-description"]).toMatch(/^Counts live/);
    const named = await runCli(
      ["wasmplugin", "--image", IMAGE, "--config", "config.yaml", "--name", "drain-b"],
      { cwd: dir },
    );
    expect(parseYaml(named.out).metadata).toMatchObject({
      name: "drain-b-0.1.0",
      labels: { "higress.io/wasm-plugin-name": "drain-b" },
    });
    setPluginVersion(dir, "0.2.0+build/7", join(dir, "plugin.yaml"));
    const bad = await runCli(["wasmplugin", "--image", IMAGE, "--config", "config.yaml"], {
      cwd: dir,
    });
    expect(bad.code).toBe(5);
    expect(bad.err).toMatch(
      /info\.version "0\.2\.0\+build\/7" cannot be a Kubernetes label value \(the console's higress\.io\/wasm-plugin-version\)/,
    );
  });

  // Issue 12, finding 3: wasmplugin.proto's FailStrategy defaults to FAIL_CLOSE (0).
  it("sets failStrategy FAIL_OPEN unless --fail-strategy FAIL_CLOSE is asked for", async () => {
    const dir = project();
    const r = await runCli(["wasmplugin", "--image", IMAGE, "--config", "config.yaml"], {
      cwd: dir,
    });
    expect(r.code).toBe(0);
    expect(parseYaml(r.out).spec.failStrategy).toBe("FAIL_OPEN");
    const closed = await runCli(
      ["wasmplugin", "--image", IMAGE, "--config", "config.yaml", "--fail-strategy", "FAIL_CLOSE"],
      { cwd: dir },
    );
    expect(closed.code).toBe(0);
    expect(parseYaml(closed.out).spec.failStrategy).toBe("FAIL_CLOSE");
    const help = await runCli(["wasmplugin", "--help"], { cwd: dir });
    expect(help.out).toMatch(/--fail-strategy FAIL_OPEN\|FAIL_CLOSE\s+.*\(default: FAIL_OPEN\)/);
  });

  it("takes a tag plus --sha256, JSON config, and match rules", async () => {
    const dir = project();
    writeFileSync(join(dir, "config.json"), JSON.stringify(CONFIG));
    writeFileSync(
      join(dir, "rules.yaml"),
      stringify([
        { domain: ["play.example.com"], config: {} },
        { ingress: ["lobby"], configDisable: true },
      ]),
    );
    const r = await runCli(
      [
        "wasmplugin",
        "--image",
        "registry.example.com/conn-drain:0.1.0",
        "--sha256",
        "ab".repeat(32),
        "--config",
        "config.json",
        "--match-rules",
        "rules.yaml",
        "-o",
        "json",
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.spec.url).toBe("oci://registry.example.com/conn-drain:0.1.0");
    expect(res.spec.sha256).toBe("ab".repeat(32));
    expect(res.spec.matchRules).toHaveLength(2);
  });

  it("names the field path of a config that breaks plugin.yaml's schema", async () => {
    const dir = project();
    writeFileSync(join(dir, "bad.yaml"), stringify({ ...CONFIG, admin: { token: "short" } }));
    const r = await runCli(["wasmplugin", "--image", IMAGE, "--config", "bad.yaml"], { cwd: dir });
    expect(r.code).toBe(5);
    expect(r.out).toBe("");
    expect(r.err).toMatch(
      /^conn-drain wasmplugin: schema violation at spec\.defaultConfig\.admin\.token: must NOT have fewer than 16 characters — fix the config to match .*plugin\.yaml/,
    );
    // conn-drain has no per-route settings (plugin.yaml routeConfigSchema allows no keys; the
    // plugin refuses any rule key but Higress's _match_*): a rule's config is refused here.
    writeFileSync(
      join(dir, "rules.yaml"),
      stringify([{ domain: ["a.example.com"], config: { maxHosts: 5 } }]),
    );
    const r2 = await runCli(
      ["wasmplugin", "--image", IMAGE, "--config", "config.yaml", "--match-rules", "rules.yaml"],
      { cwd: dir },
    );
    expect(r2.code).toBe(5);
    expect(r2.err).toMatch(
      /schema violation at spec\.matchRules\[0\]\.config\.maxHosts: unknown field/,
    );
    writeFileSync(join(dir, "typo.yaml"), stringify({ ...CONFIG, maxHost: 3 }));
    const r3 = await runCli(["wasmplugin", "--image", IMAGE, "--config", "typo.yaml"], {
      cwd: dir,
    });
    expect(r3.err).toMatch(/schema violation at spec\.defaultConfig\.maxHost: unknown field/);
  });

  it("names the field path of a resource that breaks the WasmPlugin schema", async () => {
    const dir = project();
    // --fail-strategy, --phase and --image-pull-policy values outside the enums are flag errors
    // (exit 2, did-you-mean) before any resource is built: tests/cli/usability.test.ts.
    const cases: [string[], RegExp][] = [
      [["--priority", "3000000000"], /spec\.priority: must be <= 2147483647/],
      [["--name", "Conn_Drain"], /metadata\.name: must match pattern/], // Conn_Drain-0.1.0
    ];
    for (const [flags, re] of cases) {
      const r = await runCli(
        ["wasmplugin", "--image", IMAGE, "--config", "config.yaml", ...flags],
        { cwd: dir },
      );
      expect(r.code).toBe(5);
      expect(r.err).toMatch(re);
    }
    writeFileSync(join(dir, "rules.yaml"), stringify([{ config: {} }]));
    const r = await runCli(
      ["wasmplugin", "--image", IMAGE, "--config", "config.yaml", "--match-rules", "rules.yaml"],
      { cwd: dir },
    );
    expect(r.err).toMatch(
      /schema violation at spec\.matchRules\[0\]: must name at least one of ingress, domain, service/,
    );
  });

  it("refuses a digest mismatch and an image not pinned by digest", async () => {
    const dir = project();
    const r = await runCli(
      ["wasmplugin", "--image", IMAGE, "--sha256", "cd".repeat(32), "--config", "config.yaml"],
      { cwd: dir },
    );
    expect(r.code).toBe(5);
    expect(r.err).toMatch(
      /digest mismatch: --sha256 (cd)+ differs from the image's sha256:(ab)+ — drop --sha256/,
    );
    const r2 = await runCli(
      ["wasmplugin", "--image", "registry.example.com/conn-drain:0.1.0", "--config", "config.yaml"],
      { cwd: dir },
    );
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/is not pinned by digest — pass the REF@sha256/);
  });

  it("the project's WasmPlugin schema accepts what Higress documents and rejects unknown fields", () => {
    const schema = JSON.parse(
      readFileSync(join(repoRoot, "schemas", "wasmplugin.v1alpha1.schema.json"), "utf8"),
    );
    const v = compile(schema);
    const ok = {
      apiVersion: "extensions.higress.io/v1alpha1",
      kind: "WasmPlugin",
      metadata: { name: "p", namespace: "higress-system" },
      spec: {
        url: "oci://r/p:1",
        phase: "AUTHN",
        priority: 10,
        defaultConfigDisable: true,
        matchRules: [
          { service: ["s.default.svc"], routeType: "GRPC", config: { any: { thing: 1 } } },
        ],
        vmConfig: { env: [{ name: "A", valueFrom: "HOST" }] },
      },
    };
    expect(v(ok, "")).toEqual([]);
    expect(v({ ...ok, spec: { ...ok.spec, defaultconfig: {} } }, "")).toEqual([
      "spec.defaultconfig: unknown field",
    ]);
    expect(v({ ...ok, spec: { ...ok.spec, sha256: "XYZ" } }, "")).toEqual([
      'spec.sha256: must match pattern "^[a-f0-9]{64}$"',
    ]);
  });
});

describe.skipIf(Boolean(missingTools()?.includes("openssl")))(
  "wasmplugin --apply (Kubernetes API stand-in)",
  () => {
    let kube: KubeStandIn;
    let dir: string;
    beforeAll(async () => {
      kube = await startKubeStandIn();
      dir = project();
      writeFileSync(join(dir, "kubeconfig"), stringify(standInKubeconfig(kube)));
    });
    afterAll(() => kube?.stop());
    const apply = (extra: string[] = [], env: Record<string, string> = {}) =>
      runCli(["wasmplugin", "--image", IMAGE, "--config", "config.yaml", "--apply", ...extra], {
        cwd: dir,
        env: { KUBECONFIG: join(dir, "kubeconfig"), ...env },
      });

    it("server-side applies with field manager conn-drain, idempotently", async () => {
      const first = await apply();
      expect(first.err).toMatch(/applied higress-system\/conn-drain-0\.1\.0 to context "standin"/);
      expect(first.code).toBe(0);
      expect(first.out).toBe(
        "wasmplugin.extensions.higress.io/conn-drain-0.1.0 serverside-applied\n",
      );
      expect(kube.requests.slice(-2)).toEqual([
        {
          method: "GET",
          path: "/apis/extensions.higress.io/v1alpha1/namespaces/higress-system/wasmplugins",
          contentType: undefined,
        },
        {
          method: "PATCH",
          path: "/apis/extensions.higress.io/v1alpha1/namespaces/higress-system/wasmplugins/conn-drain-0.1.0?fieldManager=conn-drain",
          contentType: "application/apply-patch+yaml",
        },
      ]);
      const obj = kube.objects.get(KEY);
      expect(obj?.spec.url).toBe(`oci://${IMAGE}`);
      const rv = obj?.metadata.resourceVersion;
      const second = await apply();
      expect(second.code).toBe(0);
      expect(kube.objects.get(KEY)?.metadata.resourceVersion).toBe(rv);
      expect(second.err).toContain(`resourceVersion ${rv}`);
    });

    it("reports a conflict with another field manager, and takes over with --force-conflicts", async () => {
      kube.owners.get(KEY)?.set("phase", "kubectl-edit");
      const obj = kube.objects.get(KEY);
      if (obj) obj.spec.phase = "AUTHN";
      const r = await apply();
      expect(r.code).toBe(6);
      expect(r.err).toMatch(
        /Apply failed with 1 conflict: conflict with "kubectl-edit".*\.spec\.phase — .*--force-conflicts/,
      );
      const f = await apply(["--force-conflicts"]);
      expect(f.code).toBe(0);
      expect(kube.requests.at(-1)?.path).toContain("force=true");
      expect(kube.objects.get(KEY)?.spec.phase).toBe("STATS");
    });

    it("explains a missing context, refused credentials, a missing CRD and an unreachable server", async () => {
      const none = await apply([], { KUBECONFIG: join(dir, "no-such-file") });
      expect(none.code).toBe(2);
      expect(none.err).toMatch(
        /^conn-drain wasmplugin: no usable kube context: no kubeconfig file found — point KUBECONFIG/,
      );
      const ctx = await apply(["--context", "prod"]);
      expect(ctx.err).toMatch(/context "prod" is not in the kubeconfig/);
      const refused = await apply(["--context", "wrong-user"]);
      expect(refused.code).toBe(4);
      expect(refused.err).toMatch(/Unauthorized.*— check your kube credentials/);
      const ns = await apply(["-n", "games"]);
      expect(ns.err).toMatch(/namespaces "games" not found — is Higress installed/);
      kube.crdInstalled = false;
      const crd = await apply();
      kube.crdInstalled = true;
      expect(crd.err).toMatch(
        /the server could not find the requested resource — is Higress installed/,
      );
      writeFileSync(
        join(dir, "down"),
        stringify({
          "current-context": "d",
          clusters: [{ name: "d", cluster: { server: "https://127.0.0.1:9" } }],
          users: [{ name: "u", user: {} }],
          contexts: [{ name: "d", context: { cluster: "d", user: "u" } }],
        }),
      );
      const down = await apply([], { KUBECONFIG: join(dir, "down") });
      expect(down.code).toBe(3);
      expect(down.err).toMatch(
        /Kubernetes API server \(context "d"\) unreachable at https:\/\/127\.0\.0\.1:9: ECONNREFUSED/,
      );
    });

    it("does not touch the cluster when validation fails", async () => {
      const before = kube.requests.length;
      writeFileSync(join(dir, "bad.yaml"), stringify({ tickMs: 5 }));
      const r = await runCli(["wasmplugin", "--image", IMAGE, "--config", "bad.yaml", "--apply"], {
        cwd: dir,
        env: { KUBECONFIG: join(dir, "kubeconfig") },
      });
      expect(r.code).toBe(5);
      expect(r.err).toMatch(/spec\.defaultConfig\.tickMs: must be >= 100/);
      expect(kube.requests.length).toBe(before);
    });
  },
);

// Issue 12, finding 2: one plugin, one path. The console stand-in keeps its custom plugins in the
// same stand-in cluster, as the real console keeps them as WasmPlugin resources.
describe.skipIf(Boolean(missingTools()?.includes("openssl")))(
  "wasmplugin --apply: one plugin, one path",
  () => {
    let kube: KubeStandIn;
    let con: ConsoleStandIn;
    let dir: string;
    const PASSWORD = "console-Passw0rd";
    beforeAll(async () => {
      kube = await startKubeStandIn();
      con = await startConsoleStandIn("admin", PASSWORD, kube.objects);
      dir = project();
      writeFileSync(join(dir, "kubeconfig"), stringify(standInKubeconfig(kube)));
    });
    afterAll(async () => {
      await con?.stop();
      await kube?.stop();
    });
    beforeEach(() => {
      kube.objects.clear();
      kube.owners.clear();
    });
    const env = { KUBECONFIG: "", CONN_DRAIN_CONSOLE_PASSWORD: PASSWORD };
    const apply = (extra: string[] = []) =>
      runCli(["wasmplugin", "--image", IMAGE, "--config", "config.yaml", "--apply", ...extra], {
        cwd: dir,
        env: { ...env, KUBECONFIG: join(dir, "kubeconfig") },
      });
    const patches = () => kube.requests.filter((q) => q.method === "PATCH").length;
    beforeEach(() => setPluginVersion(dir, "0.1.0"));

    it("the console lists the plugin that --apply wrote, as one custom plugin", async () => {
      expect((await apply()).code).toBe(0);
      expect(con.plugin("conn-drain")).toMatchObject({
        name: "conn-drain",
        pluginVersion: "0.1.0",
        category: "custom",
        builtIn: false,
        title: "Connection Drain",
        phase: "STATS",
        priority: 100,
      });
    });

    it("refuses a resource the console made, and writes nothing", async () => {
      const made = await runCli(
        ["console", "--url", con.url, "--image", IMAGE, "--skip-cluster-check"],
        { cwd: dir, env },
      );
      expect(made.code).toBe(0);
      expect([...kube.objects.keys()]).toEqual([KEY]);
      const before = patches();
      const r = await apply();
      expect(r.code).toBe(6);
      expect(r.err).toBe(
        "conn-drain wasmplugin: higress-system/conn-drain-0.1.0 (version 0.1.0) was made by the Higress console (or hgctl); applying would take it over from there — choose one path: keep managing it with 'conn-drain console', or delete it in the console before applying\n",
      );
      expect(patches()).toBe(before);
      // Another version in the console: applying beside it would load the plugin twice.
      setPluginVersion(dir, "0.2.0");
      const twice = await apply();
      expect(twice.code).toBe(6);
      expect(twice.err).toMatch(
        /conn-drain-0\.1\.0 \(version 0\.1\.0\) was made by the Higress console \(or hgctl\); applying conn-drain-0\.2\.0 beside it would load the plugin twice/,
      );
      expect(patches()).toBe(before);
    });

    it("refuses a bare conn-drain resource without the labels (by hand, or an older CLI's kit)", async () => {
      kube.objects.set("higress-system/conn-drain", {
        apiVersion: "extensions.higress.io/v1alpha1",
        kind: "WasmPlugin",
        metadata: { name: "conn-drain", namespace: "higress-system", resourceVersion: "7" },
        spec: { url: "oci://registry.example.com/conn-drain:0.1.0", phase: "STATS" },
      });
      const r = await apply();
      expect(r.code).toBe(6);
      expect(r.err).toBe(
        "conn-drain wasmplugin: higress-system/conn-drain was made by hand or another tool (it has no app.kubernetes.io/managed-by: conn-drain label); applying conn-drain-0.1.0 beside it would load the plugin twice — choose one path: delete it first (kubectl delete wasmplugins.extensions.higress.io -n higress-system conn-drain)\n",
      );
      expect(kube.objects.has(KEY)).toBe(false);
    });

    it("a new version needs --replace, which applies it and then deletes the old one", async () => {
      expect((await apply()).code).toBe(0);
      setPluginVersion(dir, "0.2.0");
      const r = await apply();
      expect(r.code).toBe(6);
      expect(r.err).toMatch(
        /^conn-drain wasmplugin: higress-system\/conn-drain-0\.1\.0 \(version 0\.1\.0\) is applied already; applying conn-drain-0\.2\.0 beside it would load the plugin twice — pass --replace .*can cut long connections\)\n$/,
      );
      expect([...kube.objects.keys()]).toEqual([KEY]);
      const ok = await apply(["--replace"]);
      expect(ok.code).toBe(0);
      expect(ok.out).toBe(
        "wasmplugin.extensions.higress.io/conn-drain-0.2.0 serverside-applied\nwasmplugin.extensions.higress.io/conn-drain-0.1.0 deleted\n",
      );
      expect([...kube.objects.keys()]).toEqual(["higress-system/conn-drain-0.2.0"]);
      const methods = kube.requests.slice(-3).map((q) => `${q.method} ${q.path.split("?")[0]}`);
      expect(methods).toEqual([
        "GET /apis/extensions.higress.io/v1alpha1/namespaces/higress-system/wasmplugins",
        "PATCH /apis/extensions.higress.io/v1alpha1/namespaces/higress-system/wasmplugins/conn-drain-0.2.0",
        "DELETE /apis/extensions.higress.io/v1alpha1/namespaces/higress-system/wasmplugins/conn-drain-0.1.0",
      ]);
      expect(con.plugin("conn-drain")).toMatchObject({ pluginVersion: "0.2.0" });
    });

    it("--replace also retires the bare name an older conn-drain wasmplugin wrote", async () => {
      kube.objects.set("higress-system/conn-drain", {
        apiVersion: "extensions.higress.io/v1alpha1",
        kind: "WasmPlugin",
        metadata: {
          name: "conn-drain",
          namespace: "higress-system",
          labels: { "app.kubernetes.io/managed-by": "conn-drain" },
        },
        spec: { url: `oci://${IMAGE}` },
      });
      const r = await apply();
      expect(r.code).toBe(6);
      expect(r.err).toMatch(/higress-system\/conn-drain is applied already/);
      expect((await apply(["--replace"])).code).toBe(0);
      expect([...kube.objects.keys()]).toEqual([KEY]);
    });
  },
);
