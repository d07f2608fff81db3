// plugin.yaml: the plugin's spec in the shape of Higress's spec.yaml (see the "Wasm 插件镜像规范" /
// "Wasm Plugin Image Specification" page, higress.cn/docs/latest/user/wasm-image-spec, section 3).
// The CLI reads name, version, title, description, phase, priority and the config schema.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { CliError, ExitCode } from "./errors.js";

export interface PluginSpec {
  file: string;
  raw: Buffer; // the file as it is, for the image's spec.yaml layer
  name: string;
  version: string;
  title: string;
  description: string;
  iconUrl?: string;
  phase: string;
  priority: number;
  configSchema: Record<string, unknown>;
  routeConfigSchema?: Record<string, unknown>;
}

const PHASES = ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"];

export function loadSpec(file: string): PluginSpec {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw new CliError(
      `cannot read plugin spec ${file}: ${(err as Error).message}`,
      "run from the repository root or pass --spec PATH",
      ExitCode.invalid,
    );
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseYaml(raw.toString("utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${file} is not valid YAML: ${(err as Error).message}`, "fix the file", 5);
  }
  const bad = (path: string, what: string) =>
    new CliError(`${file}: ${path} ${what}`, "fix plugin.yaml (Higress spec.yaml shape)", 5);
  const info = (doc?.info ?? {}) as Record<string, unknown>;
  const spec = (doc?.spec ?? {}) as Record<string, unknown>;
  for (const k of ["name", "version", "title"]) {
    if (typeof info[k] !== "string" || info[k] === "") throw bad(`info.${k}`, "must be a string");
  }
  const phase = (spec.phase as string | undefined) ?? "UNSPECIFIED_PHASE";
  if (!PHASES.includes(phase)) throw bad("spec.phase", `must be one of ${PHASES.join(", ")}`);
  const priority = (spec.priority as number | undefined) ?? 0;
  if (!Number.isInteger(priority)) throw bad("spec.priority", "must be an integer");
  const cs = (spec.configSchema as Record<string, unknown> | undefined)?.openAPIV3Schema;
  if (typeof cs !== "object" || cs === null) {
    throw bad("spec.configSchema.openAPIV3Schema", "must be an object");
  }
  const rcs = (spec.routeConfigSchema as Record<string, unknown> | undefined)?.openAPIV3Schema;
  return {
    file,
    raw,
    name: info.name as string,
    version: info.version as string,
    title: info.title as string,
    description: typeof info.description === "string" ? info.description.trim() : "",
    iconUrl: typeof info.iconUrl === "string" && info.iconUrl ? info.iconUrl : undefined,
    phase,
    priority,
    configSchema: cs as Record<string, unknown>,
    routeConfigSchema:
      typeof rcs === "object" && rcs ? (rcs as Record<string, unknown>) : undefined,
  };
}
