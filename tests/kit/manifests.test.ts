// Every manifest in deploy/ parses and matches its schema (tests/kit/schemas.ts, with sources),
// the WasmPlugin's config is one the plugin accepts (plugin.yaml's schema), the pieces of the
// kit agree with each other (hosts, names, secrets, cluster names), and promtool accepts the
// scrape jobs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { gameServerFor, loadConfig } from "../../receiver/config.js";
import { KIT_OUTPUT, renderKitWasmPlugin } from "../../scripts/kit-wasmplugin.js";
import { requireTool } from "../e2e/tools.js";
import { KIT_YAML_FILES, kitDocs } from "./deploy-docs.js";
import { GRAFANA_DASHBOARD, PROMETHEUS_CONFIG } from "./observability-schemas.js";
import { KUBE_SCHEMAS } from "./schemas.js";

type Doc = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { name: string; namespace: string };
};

const ajv = new Ajv({ allErrors: true, strict: false });
function check(schema: object, value: unknown, where: string): void {
  const validate = ajv.compile(schema);
  if (!validate(value)) throw new Error(`${where}: ${ajv.errorsText(validate.errors)}`);
}

const kube = kitDocs<Doc>();
const find = (kind: string, name: string) =>
  kube.find((d) => d.doc.kind === kind && d.doc.metadata?.name === name)?.doc as Doc;
// The WasmPlugin carries the console's identity (conn-drain-<version>, labelled with the name).
const kitWasmPlugin = () =>
  kube.find(
    (d) =>
      d.doc.kind === "WasmPlugin" &&
      at(d.doc, "metadata", "labels", "higress.io/wasm-plugin-name") === "conn-drain",
  )?.doc as Doc;
const at = (o: unknown, ...path: Array<string | number>): unknown =>
  path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], o);

describe("deploy/ manifests", () => {
  it("has the kit's files", () => {
    expect(KIT_YAML_FILES.length).toBeGreaterThanOrEqual(8);
    for (const f of [
      "deploy/probe.sh",
      "deploy/grafana/conn-drain-dashboard.json",
      "deploy/receiver/Dockerfile",
    ]) {
      expect(statSync(f).isFile()).toBe(true);
    }
  });

  it.each(kube.map((d) => [`${d.file}: ${d.doc.kind}/${d.doc.metadata?.name}`, d.doc]))(
    "%s matches its schema",
    (where, doc) => {
      const schema = KUBE_SCHEMAS[`${doc.apiVersion}/${doc.kind}`];
      expect(schema, `no schema for ${doc.apiVersion}/${doc.kind}`).toBeDefined();
      check(schema as object, doc, where as string);
    },
  );

  it("the WasmPlugin's defaultConfig is valid conn-drain configuration (plugin.yaml)", () => {
    const spec = parse(readFileSync("plugin.yaml", "utf8")) as Doc;
    const schema = at(spec, "spec", "configSchema", "openAPIV3Schema") as object;
    check(schema, at(kitWasmPlugin(), "spec", "defaultConfig"), "defaultConfig");
  });

  it("the pieces agree: hosts, GameServer names, secrets, the receiver's cluster", () => {
    const gss = find("GameServerSet", "postio");
    const conf = at(gss, "spec", "network", "networkConf") as Array<{
      name: string;
      value: string;
    }>;
    const host = conf.find((c) => c.name === "Host")?.value ?? "";
    expect(host.split("<id>")).toHaveLength(2);
    const env = (o: Doc, ...p: Array<string | number>) =>
      Object.fromEntries(
        (at(o, ...p) as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]),
      );
    const gameEnv = env(gss, "spec", "gameServerTemplate", "spec", "containers", 0, "env");
    expect(gameEnv.GS_HOST_TEMPLATE).toBe(host);
    const rx = find("Deployment", "conn-drain-receiver");
    const rxEnv = env(rx, "spec", "template", "spec", "containers", 0, "env");
    // The receiver, configured as deployed, maps the set's hosts to its GameServers (<set>-<id>).
    const rxConfig = loadConfig({
      ...rxEnv,
      WEBHOOK_SECRET_FILE: undefined,
      WEBHOOK_SECRET: "a-stand-in-secret-0123456789",
    });
    expect(gameServerFor(rxConfig, host.replace("<id>", "7"))).toEqual({
      namespace: gss.metadata?.namespace,
      name: `${gss.metadata?.name}-7`,
    });
    // The block label: set at birth, awaited by the hook, released by the probe's action.
    const label = "gs-sync/delete-block";
    expect(at(gss, "spec", "lifecycle", "preDelete", "labelsHandler", label)).toBe("true");
    // In the endpoints while draining, so returning players can get back (the plugin refuses others).
    expect(at(gss, "spec", "lifecycle", "preDelete", "markPodNotReady")).toBe(false);
    const drain = at(kitWasmPlugin(), "spec", "defaultConfig", "drain") as Record<string, unknown>;
    expect(drain).toMatchObject({ rejectNew: true });
    expect(drain.reconnectGraceSeconds).toBeGreaterThan(0);
    expect(at(gss, "spec", "gameServerTemplate", "metadata", "labels", label)).toBe("true");
    expect(at(gss, "spec", "serviceQualities", 0, "serviceQualityAction", 0)).toMatchObject({
      state: true,
      result: "done",
      labels: { [label]: "false" },
    });
    // The plugin's hosts cover the game's hosts; the webhook cluster is the receiver Service.
    const wp = kitWasmPlugin();
    const cfg = at(wp, "spec", "defaultConfig") as Record<string, Record<string, string>>;
    expect((cfg.hosts as unknown as string[])[0]).toBe(`*${host.slice(host.indexOf("."))}`);
    const svc = find("Service", "conn-drain-receiver");
    const svcPort = at(svc, "spec", "ports", 0, "port");
    expect(cfg.webhook?.cluster).toBe(
      `outbound|${svcPort}||${svc.metadata?.name}.${svc.metadata?.namespace}.svc.cluster.local`,
    );
    expect(at(find("Secret", "conn-drain-webhook"), "stringData", "secret")).toBe(
      cfg.webhook?.secret,
    );
    // Every copy of the admin token (the probe's, the PodMonitor's) is the plugin's.
    const adminSecrets = kube.filter(
      (d) => d.doc.kind === "Secret" && d.doc.metadata?.name === "conn-drain-admin",
    );
    expect(adminSecrets.length).toBeGreaterThanOrEqual(2);
    for (const d of adminSecrets) expect(at(d.doc, "stringData", "token")).toBe(cfg.admin?.token);
    // Replicas: the probe's DNS name and the receiver's Service are the headless one.
    const replicas = find("Service", "higress-gateway-replicas");
    expect(at(replicas, "spec", "clusterIP")).toBe("None");
    expect(at(replicas, "spec", "publishNotReadyAddresses")).toBe(true);
    expect(gameEnv.GATEWAY_SERVICE).toBe(
      "higress-gateway-replicas.higress-system.svc.cluster.local",
    );
    expect(rxEnv.GATEWAY_SERVICE).toBe("higress-system/higress-gateway-replicas");
  });

  it("the receiver's Roles grant only get/patch on gameservers and list on endpointslices", () => {
    const rules = kube
      .filter((d) => d.doc.kind === "Role")
      .flatMap((d) =>
        (d.doc.rules as Array<Record<string, string[]>>).map((r) => ({
          ...r,
          ns: d.doc.metadata?.namespace,
        })),
      );
    expect(rules).toEqual([
      {
        apiGroups: ["game.kruise.io"],
        resources: ["gameservers"],
        verbs: ["get", "patch"],
        ns: "default",
      },
      {
        apiGroups: ["discovery.k8s.io"],
        resources: ["endpointslices"],
        verbs: ["list"],
        ns: "higress-system",
      },
    ]);
  });

  it("the Prometheus scrape jobs match the schema", () => {
    const cfg = parse(readFileSync("deploy/prometheus/scrape-config.yaml", "utf8"));
    check(PROMETHEUS_CONFIG, cfg, "scrape-config.yaml");
  });

  it.runIf(requireTool("promtool"))("promtool accepts the scrape jobs", () => {
    // Debian's Prometheus is built without Kubernetes service discovery, so promtool checks a
    // copy whose kubernetes_sd_configs are replaced by a static target; the rest is as shipped.
    const text = readFileSync("deploy/prometheus/scrape-config.yaml", "utf8").replace(
      /kubernetes_sd_configs:\n(\s+)- role: pod\n\s+namespaces:\n\s+names: \[[a-z-]+\]\n/g,
      (_m, indent: string) => `static_configs:\n${indent}- targets: ["127.0.0.1:80"]\n`,
    );
    expect(text).not.toContain("kubernetes_sd_configs");
    const dir = mkdtempSync(join(tmpdir(), "conn-drain-promtool-"));
    try {
      const file = join(dir, "prometheus.yml");
      writeFileSync(file, text);
      execFileSync("promtool", ["check", "config", "--syntax-only", file], { stdio: "pipe" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the Grafana dashboard matches the schema and queries conn-drain's metrics", () => {
    const dash = JSON.parse(readFileSync("deploy/grafana/conn-drain-dashboard.json", "utf8"));
    check(GRAFANA_DASHBOARD, dash, "conn-drain-dashboard.json");
    const exprs = (dash.panels as Array<{ targets: Array<{ expr: string }> }>).flatMap((p) =>
      p.targets.map((t) => t.expr),
    );
    for (const e of exprs) {
      expect(e).toMatch(
        /conn_drain_(active|draining|overflow|players|episode_(returning|refused)|receiver_)/,
      );
    }
    const ids = (dash.panels as Array<{ id: number }>).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

// Issue 12, finding 3: the kit's WasmPlugin is the CLI's output, so it cannot drift from what
// `conn-drain wasmplugin` writes (the console's identity, failStrategy FAIL_OPEN).
describe("deploy/higress/wasmplugin.yaml", () => {
  it("is exactly what `conn-drain wasmplugin` prints for the kit's config (make kit-wasmplugin)", async () => {
    const rendered = await renderKitWasmPlugin();
    expect(readFileSync(KIT_OUTPUT, "utf8"), "run `make kit-wasmplugin`").toBe(rendered);
    const wp = kitWasmPlugin();
    expect(wp.metadata?.name).toBe("conn-drain-0.1.0");
    expect(at(wp, "spec", "failStrategy")).toBe("FAIL_OPEN");
  });
});
