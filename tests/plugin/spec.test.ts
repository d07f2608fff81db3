import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { gateway } from "./harness.js";

// plugin.yaml is the image's spec.yaml, and the schema the CLI checks every config against: it
// must describe the config the plugin really accepts.
const spec = parse(readFileSync("plugin.yaml", "utf8"));
const schema = spec.spec.configSchema.openAPIV3Schema;

describe("plugin.yaml", () => {
  it("has the spec.yaml shape Higress uses", () => {
    expect(spec.apiVersion).toBe("1.0.0");
    expect(spec.info).toMatchObject({
      name: "conn-drain",
      category: expect.any(String),
      version: expect.any(String),
    });
    expect(spec.spec.phase).toMatch(/^(UNSPECIFIED_PHASE|AUTHN|AUTHZ|STATS)$/);
    expect(Number.isInteger(spec.spec.priority)).toBe(true);
  });

  it("its example validates against its schema and the plugin accepts it", async () => {
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(schema.example), JSON.stringify(validate.errors)).toBe(true);
    const gw = await gateway(schema.example, { clusters: [schema.example.webhook.cluster] });
    expect(gw.logs({ minLevel: "error" })).toEqual([]);
  });

  it("every documented default is accepted by the plugin, and the schema rejects unknown fields like the plugin", async () => {
    const defaults: Record<string, unknown> = {};
    for (const [name, prop] of Object.entries(
      schema.properties as Record<
        string,
        { default?: unknown; properties?: Record<string, { default?: unknown }> }
      >,
    )) {
      if (prop.default !== undefined) defaults[name] = prop.default;
      else if (prop.properties && name !== "webhook") {
        const nested = Object.fromEntries(
          Object.entries(prop.properties)
            .filter(([, p]) => p.default !== undefined)
            .map(([k, p]) => [k, p.default]),
        );
        defaults[name] = nested;
      }
    }
    // players has no default source: where an identity is found is the operator's to say.
    defaults.players = { ...(defaults.players as object), header: "x-player-id" };
    const gw = await gateway(defaults);
    expect(gw.logs({ minLevel: "error" })).toEqual([]);
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate({ maxHost: 1 })).toBe(false);
    await expect(gateway({ maxHost: 1 })).rejects.toThrow();
  });
});
