// JSON-schema validation with errors that name the field: "spec.defaultConfig.admin.token: must
// NOT have fewer than 16 characters". Used for the plugin config (plugin.yaml's OpenAPI schema)
// and for the whole WasmPlugin resource (schemas/wasmplugin.v1alpha1.schema.json).
import { Ajv, type ErrorObject } from "ajv";

/** A path like spec.matchRules[0].config.keyBy from a JSON pointer and a prefix. */
export function fieldPath(prefix: string, pointer: string, extra?: string): string {
  let out = prefix;
  const parts = pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (extra !== undefined) parts.push(extra);
  for (const p of parts) {
    if (/^\d+$/.test(p)) out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out || "(root)";
}

function describe(e: ErrorObject, prefix: string): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "additionalProperties") {
    return `${fieldPath(prefix, e.instancePath, String(params.additionalProperty))}: unknown field`;
  }
  if (e.keyword === "required") {
    return `${fieldPath(prefix, e.instancePath, String(params.missingProperty))}: is required`;
  }
  if (e.keyword === "enum") {
    return `${fieldPath(prefix, e.instancePath)}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return `${fieldPath(prefix, e.instancePath)}: ${e.message ?? e.keyword}`;
}

export type Validate = (value: unknown, prefix: string) => string[];

/**
 * OpenAPI 3 schemas (plugin.yaml, CRDs) carry keywords JSON Schema does not know (example,
 * scope, nullable, x-*): strict mode is off so they are ignored, not rejected.
 */
export function compile(schema: Record<string, unknown>): Validate {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  return (value, prefix) => {
    if (validate(value)) return [];
    const errors = validate.errors ?? [];
    // anyOf reports each branch and then itself; keep the summary line only.
    const anyOf = errors.filter((e) => e.keyword === "anyOf").map((e) => e.instancePath);
    return [
      ...new Set(
        errors
          .filter((e) => !(e.keyword === "required" && anyOf.includes(e.instancePath)))
          .map((e) =>
            e.keyword !== "anyOf"
              ? describe(e, prefix)
              : e.schemaPath.includes("matchRules")
                ? `${fieldPath(prefix, e.instancePath)}: must name at least one of ingress, domain, service`
                : `${fieldPath(prefix, e.instancePath)}: must match one of the allowed shapes`,
          ),
      ),
    ];
  };
}
