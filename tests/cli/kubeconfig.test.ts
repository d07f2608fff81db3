// cli/kube.ts reads kubeconfigs the way kubectl (client-go) does, and runs exec credential
// plugins as client-go does; each case ends with a server-side apply against the API stand-in
// (kube-standin.ts), so a target that looks right but would not authenticate still fails.
// The client-go rules each test follows are cited in cli/kube.ts's header.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CliError, ExitCode } from "../../cli/errors.js";
import { type KubeTarget, loadKubeTarget, serverSideApply } from "../../cli/kube.js";
import { type KubeStandIn, startKubeStandIn } from "./kube-standin.js";
import { missingTools } from "./registry.js";

let n = 0;
const plugin = (name: string) => ({
  apiVersion: "extensions.higress.io/v1alpha1",
  kind: "WasmPlugin",
  metadata: { name, namespace: "higress-system" },
  spec: { phase: "STATS", priority: 100 },
});
/** Applies a fresh object: 201 means the stand-in accepted the TLS session and the credentials. */
async function applyWith(t: KubeTarget): Promise<string | undefined> {
  const live = await serverSideApply(t, plugin(`kubeconfig-test-${++n}`), "wasmplugins", {
    fieldManager: "conn-drain",
    force: false,
  });
  return (live.metadata as { uid?: string } | undefined)?.uid;
}

function thrown(f: () => unknown): CliError {
  try {
    f();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw new Error(`expected a CliError, got ${(err as Error).stack}`);
  }
  throw new Error("expected an error");
}

describe.skipIf(Boolean(missingTools()?.includes("openssl")))("kubeconfig and exec plugins", () => {
  let kube: KubeStandIn;
  let root: string;
  // The environment the CLI would see: no KUBECONFIG of the machine, an empty HOME.
  const env = (extra: Record<string, string> = {}) => ({
    HOME: join(root, "home"),
    PATH: process.env.PATH ?? "",
    ...extra,
  });
  const file = (rel: string, text: string, mode?: number) => {
    const p = join(root, rel);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, text);
    if (mode) chmodSync(p, mode);
    return p;
  };
  const config = (rel: string, doc: object) =>
    file(rel, stringify({ apiVersion: "v1", kind: "Config", ...doc }));
  const standin = () => ({
    server: kube.server,
    "certificate-authority-data": Buffer.from(kube.caPem).toString("base64"),
  });
  /** A kubeconfig whose only user authenticates through `exec`. */
  const execConfig = (rel: string, exec: object, cluster: object = standin()) =>
    config(rel, {
      "current-context": "x",
      clusters: [{ name: "c", cluster }],
      users: [{ name: "u", user: { exec } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    });

  beforeAll(async () => {
    kube = await startKubeStandIn();
    root = mkdtempSync(join(tmpdir(), "conn-drain-kubeconfig-"));
    mkdirSync(join(root, "home"));
    // An exec credential plugin: records what client-go would hand it, then answers as told
    // by CRED_MODE (set through the kubeconfig's exec.env).
    file(
      "bin/cred",
      `#!/bin/sh
printf '%s' "$KUBERNETES_EXEC_INFO" > "$CRED_SEEN"
case "$CRED_MODE" in
  fail) echo "starting login" >&2; echo "error: not logged in, run 'cloud auth login'" >&2; exit 3 ;;
  garbage) echo "Please visit https://login.example" ;;
  beta) printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}' "$CRED_TOKEN" ;;
  notoken) printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}' ;;
  certonly) printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"-----BEGIN CERTIFICATE-----"}}' ;;
  *) printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}' "$CRED_TOKEN" ;;
esac
`,
      0o755,
    );
  });
  afterAll(async () => {
    await kube?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("merges a KUBECONFIG list like kubectl: missing entries skipped, first name and first current-context win, paths relative to their own file", async () => {
    // a/config: the real cluster (CA file and token file given relative to a/), current-context.
    file("a/ca.crt", kube.caPem);
    file("a/token", `${kube.token}\n`);
    const a = config("a/config", {
      "current-context": "standin",
      clusters: [
        { name: "c", cluster: { server: kube.server, "certificate-authority": "ca.crt" } },
      ],
      users: [{ name: "ops", user: { tokenFile: "token" } }],
    });
    // b/config: the context, plus a second "c" and "ops" and current-context that must lose.
    const b = config("b/config", {
      "current-context": "elsewhere",
      clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:9" } }],
      users: [{ name: "ops", user: { token: "from-the-second-file" } }],
      contexts: [
        { name: "standin", context: { cluster: "c", user: "ops", namespace: "games" } },
        { name: "elsewhere", context: { cluster: "c", user: "ops" } },
      ],
    });
    const t = loadKubeTarget({
      env: env({ KUBECONFIG: [join(root, "missing"), a, "", b].join(delimiter) }),
    });
    expect(t).toMatchObject({
      context: "standin",
      server: kube.server,
      namespace: "games",
      authorization: `Bearer ${kube.token}`,
    });
    expect(await applyWith(t)).toBeDefined();
  });

  it("takes --kubeconfig as one file that must exist, and ~/.kube/config without KUBECONFIG", async () => {
    const one = thrown(() => loadKubeTarget({ kubeconfig: join(root, "nope"), env: env() }));
    expect(one.code).toBe(ExitCode.usage);
    expect(one.message).toMatch(/--kubeconfig .*nope does not exist/);
    const home = join(root, "home2");
    const cfg = execConfig("home2/.kube/config", {
      apiVersion: "client.authentication.k8s.io/v1",
      command: join(root, "bin/cred"),
      interactiveMode: "Never",
      env: [
        { name: "CRED_TOKEN", value: kube.token },
        { name: "CRED_SEEN", value: join(root, "seen-home") },
      ],
    });
    const t = loadKubeTarget({ env: { ...env(), HOME: home } });
    expect(t.server).toBe(kube.server);
    expect(loadKubeTarget({ kubeconfig: cfg, env: env() }).server).toBe(kube.server);
    expect(await applyWith(t)).toBeDefined();
  });

  it("refuses a context that names an undefined user instead of calling anonymously", () => {
    const cfg = config("undefined-user/config", {
      "current-context": "x",
      clusters: [{ name: "c", cluster: standin() }],
      users: [{ name: "ops", user: { token: kube.token } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "opps" } }],
    });
    const e = thrown(() => loadKubeTarget({ env: env({ KUBECONFIG: cfg }) }));
    expect(e.code).toBe(ExitCode.usage);
    expect(e.line("wasmplugin")).toMatch(
      /^conn-drain wasmplugin: no usable kube context: context "x" names user "opps", which is not defined — /,
    );
  });

  it("names a kubeconfig that is not YAML in a one-line error", () => {
    const bad = file("bad/config", "clusters: [\n  - name: c\n    cluster: {server: x\n");
    const e = thrown(() => loadKubeTarget({ env: env({ KUBECONFIG: bad }) }));
    expect(e.code).toBe(ExitCode.invalid);
    expect(e.line("status")).toMatch(
      /^conn-drain status: kubeconfig .*bad\/config cannot be read: .* — fix the file/,
    );
    expect(e.line("status")).not.toContain("\n");
  });

  it("runs an exec plugin given relative to the kubeconfig, hands it KUBERNETES_EXEC_INFO as client-go does, and applies with its token", async () => {
    const seen = join(root, "seen-v1");
    const cfg = execConfig(
      "exec/config",
      {
        apiVersion: "client.authentication.k8s.io/v1",
        command: "../bin/cred",
        args: ["get-token"],
        env: [
          { name: "CRED_TOKEN", value: kube.token },
          { name: "CRED_SEEN", value: seen },
        ],
        interactiveMode: "IfAvailable",
        provideClusterInfo: true,
      },
      {
        ...standin(),
        extensions: [
          { name: "client.authentication.k8s.io/exec", extension: { audience: "games" } },
        ],
      },
    );
    const t = loadKubeTarget({ env: env({ KUBECONFIG: cfg }), interactive: false });
    expect(t.authorization).toBe(`Bearer ${kube.token}`);
    expect(JSON.parse(readFileSync(seen, "utf8"))).toEqual({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      spec: {
        interactive: false,
        cluster: {
          server: kube.server,
          "certificate-authority-data": Buffer.from(kube.caPem).toString("base64"),
          config: { audience: "games" },
        },
      },
    });
    expect(await applyWith(t)).toBeDefined();
  });

  it("takes a v1beta1 plugin's answer, and gives no cluster to a plugin that did not ask", async () => {
    const seen = join(root, "seen-beta");
    const cfg = execConfig("beta/config", {
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: join(root, "bin/cred"),
      env: [
        { name: "CRED_MODE", value: "beta" },
        { name: "CRED_TOKEN", value: kube.token },
        { name: "CRED_SEEN", value: seen },
      ],
    });
    const t = loadKubeTarget({ env: env({ KUBECONFIG: cfg }), interactive: false });
    expect(JSON.parse(readFileSync(seen, "utf8"))).toEqual({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      kind: "ExecCredential",
      spec: { interactive: false },
    });
    expect(await applyWith(t)).toBeDefined();
  });

  it("turns every way a plugin can fail into one line that says what happened", () => {
    const failWith = (mode: string, exec: object = {}) => {
      const cfg = execConfig(`fail-${mode}/config`, {
        apiVersion: "client.authentication.k8s.io/v1",
        command: join(root, "bin/cred"),
        interactiveMode: "IfAvailable",
        env: [
          { name: "CRED_MODE", value: mode },
          { name: "CRED_SEEN", value: join(root, `seen-${mode}`) },
        ],
        ...exec,
      });
      const e = thrown(() => loadKubeTarget({ env: env({ KUBECONFIG: cfg }), interactive: false }));
      expect(e.line("wasmplugin")).not.toContain("\n");
      return e;
    };
    const exit = failWith("fail");
    expect(exit.code).toBe(ExitCode.auth);
    expect(exit.message).toMatch(
      /cred" failed with exit code 3: error: not logged in, run 'cloud auth login'$/,
    );
    const missing = failWith("x", {
      command: "./no-such-plugin",
      installHint: "install it with: apt-get install cloud-auth-plugin",
    });
    expect(missing.message).toMatch(
      /"\.\/no-such-plugin" not found \(at .*fail-x\/no-such-plugin\)/,
    );
    expect(missing.hint).toBe("install it with: apt-get install cloud-auth-plugin");
    expect(failWith("garbage").message).toMatch(/printed no ExecCredential JSON/);
    expect(failWith("beta").message).toMatch(
      /answered with apiVersion "client.authentication.k8s.io\/v1beta1", but the kubeconfig asks for client.authentication.k8s.io\/v1/,
    );
    expect(failWith("notoken").message).toMatch(/returned no token and no certificate\/key pair/);
    expect(failWith("certonly").message).toMatch(/a certificate without its key/);
    expect(failWith("x", { interactiveMode: "Always" }).message).toMatch(
      /needs a terminal \(interactiveMode: Always\)/,
    );
    expect(failWith("x", { apiVersion: "client.authentication.k8s.io/v1alpha1" }).message).toMatch(
      /apiVersion "client.authentication.k8s.io\/v1alpha1"; expected one of/,
    );
  });
});
