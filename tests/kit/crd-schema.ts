// Validating manifests against the OpenAPI v3 schemas of upstream CRDs (tests/kit/crds/, see
// the README there) with ajv, the way the API server treats them under `kubectl apply`:
// - unknown fields are errors: kubectl's default `--validate=strict` asks the server for Strict
//   field validation, which refuses a field the structural schema does not declare, except
//   under `x-kubernetes-preserve-unknown-fields`;
// - `x-kubernetes-int-or-string` takes an integer or a string; `nullable` also takes null;
// - the OpenAPI formats the CRDs use (int32, int64, date-time, byte) are checked.
// What ajv cannot do here: CEL rules (x-kubernetes-validations; none in the fixtures) and
// admission webhooks (Kruise's and OKG's own checks), which no schema carries.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";

type Node = Record<string, unknown>;

/** The structural schema, rewritten into plain JSON Schema with Kubernetes' semantics. */
export function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== "object") return node;
  const n = node as Node;
  const out: Node = {};
  for (const [k, v] of Object.entries(n)) {
    if (k.startsWith("x-kubernetes-") || k === "nullable" || k === "default") continue;
    if (k === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(v as Node).map(([p, s]) => [p, toJsonSchema(s)]),
      );
    } else out[k] = toJsonSchema(v);
  }
  if (n["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (n.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  const preserve = n["x-kubernetes-preserve-unknown-fields"] === true;
  if (n.properties && !preserve && n.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat("int32", {
  type: "number",
  validate: (x: number) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31,
});
ajv.addFormat("int64", { type: "number", validate: (x: number) => Number.isInteger(x) });
ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
ajv.addFormat("byte", /^[A-Za-z0-9+/]*={0,2}$/);

export interface CrdFixture {
  /** `group/version`, as in a manifest's apiVersion. */
  apiVersion: string;
  kind: string;
  file: string;
}

/** The upstream CRD schemas kept in tests/kit/crds/ (source and commit in its README). */
export const CRD_FIXTURES: CrdFixture[] = [
  {
    apiVersion: "game.kruise.io/v1alpha1",
    kind: "GameServerSet",
    file: "game.kruise.io_gameserversets.v1alpha1.json",
  },
  {
    apiVersion: "game.kruise.io/v1alpha1",
    kind: "GameServer",
    file: "game.kruise.io_gameservers.v1alpha1.json",
  },
  {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    file: "monitoring.coreos.com_podmonitors.v1.json",
  },
  {
    apiVersion: "extensions.higress.io/v1alpha1",
    kind: "WasmPlugin",
    file: "extensions.higress.io_wasmplugins.v1alpha1.json",
  },
];

const DIR = "tests/kit/crds";

export function crdSchema(apiVersion: string, kind: string): Node | undefined {
  const f = CRD_FIXTURES.find((c) => c.apiVersion === apiVersion && c.kind === kind);
  return f ? (JSON.parse(readFileSync(join(DIR, f.file), "utf8")) as Node) : undefined;
}

const compiled = new Map<string, ValidateFunction>();

/**
 * The API server accepts apiVersion, kind and metadata at the root of every custom resource
 * whether or not the CRD's schema lists them (apiextensions-apiserver validates metadata as
 * ObjectMeta itself); kubebuilder's CRDs list them, the Cue-generated Istio and Higress ones do not.
 */
function withObjectMeta(schema: Node): Node {
  const properties = { ...((schema.properties as Node | undefined) ?? {}) };
  properties.apiVersion ??= { type: "string" };
  properties.kind ??= { type: "string" };
  properties.metadata ??= { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  return { ...schema, properties };
}

/** The error text for `doc` against its kind's upstream schema ("" when valid). */
export function crdErrors(doc: {
  apiVersion?: string;
  kind?: string;
  [k: string]: unknown;
}): string {
  const key = `${doc.apiVersion}/${doc.kind}`;
  let validate = compiled.get(key);
  if (!validate) {
    const schema = crdSchema(doc.apiVersion ?? "", doc.kind ?? "");
    if (!schema) throw new Error(`no upstream schema for ${key}`);
    validate = ajv.compile(toJsonSchema(withObjectMeta(schema)) as object);
    compiled.set(key, validate);
  }
  return validate(doc) ? "" : ajv.errorsText(validate.errors, { separator: "; " });
}

/**
 * The schema node at a kubectl JSONPath like `{.status.serviceQualitiesConditions}` or
 * `{.status.conditions[0].type}`, or undefined when the schema declares no such field.
 */
export function schemaAt(root: Node, jsonPath: string): Node | undefined {
  // Filters and indexes (`[0]`, `[?(@.name=="x")]`) only step into the array's items.
  const inner = jsonPath
    .replace(/^\{|\}$/g, "")
    .trim()
    .replace(/\[[^\]]*\]/g, "[]");
  if (!inner.startsWith(".")) return undefined;
  let node: Node | undefined = root;
  for (const part of inner.slice(1).split(".")) {
    const m = /^([A-Za-z0-9_-]+)((?:\[[^\]]*\])*)$/.exec(part);
    if (!m || !node) return undefined;
    node = (node.properties as Record<string, Node> | undefined)?.[m[1] as string];
    for (let i = 0; node && i < (m[2]?.match(/\[/g)?.length ?? 0); i++) {
      node = node.items as Node | undefined;
    }
  }
  return node;
}
