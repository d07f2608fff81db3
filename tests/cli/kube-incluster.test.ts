// In a pod, both Kubernetes clients use the ServiceAccount layout the kubelet mounts (token,
// ca.crt, namespace under /var/run/secrets/kubernetes.io/serviceaccount) and the
// KUBERNETES_SERVICE_HOST/PORT variables, as client-go's rest.InClusterConfig does: the CLI
// (cli/kube.ts) when it finds no kubeconfig, the receiver (receiver/kube.ts) always. The layout
// is made in a scratch folder and the API is the HTTPS stand-in (kube-standin.ts), so the CA
// must really verify its certificate and the token must really be the one it accepts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CliError, ExitCode } from "../../cli/errors.js";
import { loadKubeTarget, serverSideApply } from "../../cli/kube.js";
import { inClusterOptions, Kube, KubeError } from "../../receiver/kube.js";
import { type KubeStandIn, startKubeStandIn } from "./kube-standin.js";
import { missingTools } from "./registry.js";

describe.skipIf(Boolean(missingTools()?.includes("openssl")))("in-cluster ServiceAccount", () => {
  let kube: KubeStandIn;
  let root: string;
  let sa: string;
  let podEnv: Record<string, string>;

  beforeAll(async () => {
    kube = await startKubeStandIn();
    root = mkdtempSync(join(tmpdir(), "conn-drain-incluster-"));
    mkdirSync(join(root, "home"));
    sa = join(root, "serviceaccount");
    mkdirSync(sa);
    writeFileSync(join(sa, "token"), `${kube.token}\n`);
    writeFileSync(join(sa, "ca.crt"), kube.caPem);
    writeFileSync(join(sa, "namespace"), "ops\n");
    const url = new URL(kube.server);
    podEnv = {
      HOME: join(root, "home"),
      PATH: process.env.PATH ?? "",
      KUBERNETES_SERVICE_HOST: url.hostname,
      KUBERNETES_SERVICE_PORT: url.port,
    };
  });
  afterAll(async () => {
    await kube?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const obj = (name: string) => ({
    apiVersion: "extensions.higress.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: { name, namespace: "higress-system" },
    spec: { phase: "STATS" },
  });

  it("CLI: with no kubeconfig, a pod's ServiceAccount is used (server, CA, token, namespace) and the apply goes through", async () => {
    const t = loadKubeTarget({ env: podEnv, serviceAccountDir: sa });
    expect(t).toMatchObject({
      context: "in-cluster",
      server: kube.server,
      namespace: "ops",
      authorization: `Bearer ${kube.token}`,
    });
    const live = await serverSideApply(t, obj("in-cluster"), "wasmplugins", {
      fieldManager: "conn-drain",
      force: false,
    });
    expect(live.metadata).toMatchObject({ name: "in-cluster", namespace: "higress-system" });
    expect(kube.requests.at(-1)).toMatchObject({
      method: "PATCH",
      contentType: "application/apply-patch+yaml",
    });
    // POD_NAMESPACE (the downward API) comes before the mounted namespace file, as in client-go.
    expect(
      loadKubeTarget({ env: { ...podEnv, POD_NAMESPACE: "games" }, serviceAccountDir: sa })
        .namespace,
    ).toBe("games");
  });

  it("CLI: a kubeconfig, when there is one, wins over the pod's ServiceAccount", () => {
    const cfg = join(root, "kubeconfig");
    writeFileSync(
      cfg,
      stringify({
        "current-context": "x",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.9:6443" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      }),
    );
    const t = loadKubeTarget({ env: { ...podEnv, KUBECONFIG: cfg }, serviceAccountDir: sa });
    expect(t.context).toBe("x");
    expect(t.server).toBe("https://127.0.0.9:6443");
  });

  it("CLI: a refused ServiceAccount token is an auth failure, and outside a pod there is no context", async () => {
    const other = join(root, "other-sa");
    mkdirSync(other);
    writeFileSync(join(other, "token"), "a-stale-token");
    writeFileSync(join(other, "ca.crt"), kube.caPem);
    const t = loadKubeTarget({ env: podEnv, serviceAccountDir: other });
    expect(t.namespace).toBe("default");
    const refused = await serverSideApply(t, obj("refused"), "wasmplugins", {
      fieldManager: "conn-drain",
      force: false,
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CliError);
    expect((refused as CliError).code).toBe(ExitCode.auth);
    expect((refused as CliError).message).toMatch(/context "in-cluster": Unauthorized/);

    // Without KUBERNETES_SERVICE_PORT (client-go needs both) it is not a pod.
    const { KUBERNETES_SERVICE_PORT: _, ...noPort } = podEnv;
    let e: unknown;
    try {
      loadKubeTarget({ env: noPort, serviceAccountDir: sa });
    } catch (err) {
      e = err;
    }
    expect((e as CliError).line("status")).toMatch(
      /^conn-drain status: no usable kube context: no kubeconfig file found — point KUBECONFIG .*in a pod, its ServiceAccount is used/,
    );
  });

  it("receiver: reads the GameServer API with the mounted CA and token, and re-reads the token after the kubelet rotates it", async () => {
    const dir = join(root, "receiver-sa");
    mkdirSync(dir);
    writeFileSync(join(dir, "token"), `${kube.token}\n`);
    writeFileSync(join(dir, "ca.crt"), kube.caPem);
    const opts = inClusterOptions({ dir, env: podEnv });
    expect(opts.server).toBe(kube.server);
    const k = new Kube(opts);
    // The stand-in serves WasmPlugins only: a 404 here is an authenticated, verified answer;
    // a bad CA would fail the TLS handshake and a bad token would be 401.
    const answer = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: unknown) => (e instanceof KubeError ? e.status : String(e)),
      );
    expect(await answer(k.getGameServer("default", "gs-0"))).toBe(404);
    expect(kube.requests.at(-1)?.path).toBe(
      "/apis/game.kruise.io/v1alpha1/namespaces/default/gameservers/gs-0",
    );
    writeFileSync(join(dir, "token"), "rotated-and-not-yet-known\n");
    expect(await answer(k.getGameServer("default", "gs-0"))).toBe(401);
    writeFileSync(join(dir, "token"), kube.token);
    expect(await answer(k.getGameServer("default", "gs-0"))).toBe(404);
  });

  it("receiver: a pod without a mounted ServiceAccount gets one line naming the missing file", () => {
    const empty = join(root, "no-sa");
    mkdirSync(empty);
    expect(() => inClusterOptions({ dir: empty, env: podEnv })).toThrow(
      /^cannot read the ServiceAccount ca\.crt at .*no-sa\/ca\.crt \(ENOENT\); is a ServiceAccount token mounted\?$/,
    );
    expect(() => inClusterOptions({ dir: empty, env: {} })).toThrow(
      /KUBERNETES_SERVICE_HOST is unset/,
    );
  });
});
