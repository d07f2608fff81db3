// Every manifest in deploy/ of a kind defined by a CRD we have upstream (OpenKruiseGame's
// GameServerSet, the Prometheus Operator's PodMonitor, Higress's WasmPlugin;
// tests/kit/crds/README.md has source and commit) validates against that CRD's own schema, with
// unknown fields refused as the API server refuses them under `kubectl apply`, and so does what
// `conn-drain wasmplugin` prints.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CRD_FIXTURES, crdErrors } from "./crd-schema.js";
import { kitDocs } from "./deploy-docs.js";

type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string } } & Record<
  string,
  unknown
>;

const docs = kitDocs<Doc>();
const hasCrd = (d: Doc) =>
  CRD_FIXTURES.some((c) => c.apiVersion === d.apiVersion && c.kind === d.kind);
const checked = docs.filter((d) => hasCrd(d.doc));

describe("deploy/ against the upstream CRD schemas", () => {
  it("covers the kit's GameServerSet, PodMonitors and WasmPlugin", () => {
    const kinds = checked.map((d) => d.doc.kind);
    expect(kinds).toContain("GameServerSet");
    expect(kinds).toContain("WasmPlugin");
    expect(kinds.filter((k) => k === "PodMonitor").length).toBeGreaterThanOrEqual(2);
  });

  it.each(checked.map((d) => [`${d.file}: ${d.doc.kind}/${d.doc.metadata?.name}`, d.doc]))(
    "%s",
    (_where, doc) => {
      expect(crdErrors(doc as Doc)).toBe("");
    },
  );

  it("the README names the source and commit of every fixture", () => {
    const readme = readFileSync("tests/kit/crds/README.md", "utf8");
    for (const c of CRD_FIXTURES) {
      const row = readme.split("\n").find((l) => l.includes(`\`${c.file}\``));
      expect(row, c.file).toMatch(/commit [0-9a-f]{40}/);
    }
  });

  it("refuses what the API server refuses: an unknown field, a wrong type, a bad enum", () => {
    const gss = structuredClone(checked.find((d) => d.doc.kind === "GameServerSet")?.doc) as Doc;
    const spec = gss.spec as Record<string, unknown>;
    expect(crdErrors({ ...gss, spec: { ...spec, serviceQualites: [] } })).toMatch(
      /additional properties/,
    );
    expect(crdErrors({ ...gss, spec: { ...spec, replicas: "three" } })).toMatch(/integer/);
    const pm = structuredClone(checked.find((d) => d.doc.kind === "PodMonitor")?.doc) as Doc;
    const ep = (pm.spec as { podMetricsEndpoints: Array<Record<string, unknown>> })
      .podMetricsEndpoints[0] as Record<string, unknown>;
    ep.scheme = "tcp";
    expect(crdErrors(pm)).toMatch(/allowed values/);
    // int-or-string: a GameServerSet's maxUnavailable takes "25%" and 1, not true.
    const update = (maxUnavailable: unknown) => ({
      ...gss,
      spec: {
        ...spec,
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable } },
      },
    });
    expect(crdErrors(update("25%"))).toBe("");
    expect(crdErrors(update(1))).toBe("");
    expect(crdErrors(update(true))).not.toBe("");
    // The WasmPlugin: Higress's enums and the fields its CRD declares, nothing else.
    const wp = structuredClone(checked.find((d) => d.doc.kind === "WasmPlugin")?.doc) as Doc;
    const wpSpec = wp.spec as Record<string, unknown>;
    expect(crdErrors({ ...wp, spec: { ...wpSpec, failStrategy: "FAIL_SOFT" } })).toMatch(
      /allowed values/,
    );
    expect(crdErrors({ ...wp, spec: { ...wpSpec, routeType: "http" } })).toMatch(
      /additional properties/,
    );
  });
});
