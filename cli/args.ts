// Command table and flag parsing on node:util parseArgs. Each command declares its flags once,
// with the help line next to the flag, so `--help` can never drift from what is parsed.
import { parseArgs } from "node:util";
import { usage } from "./errors.js";

export interface Io {
  out: (s: string) => void; // machine-readable results (a reference, YAML)
  err: (s: string) => void; // progress and notes for a person
  env: NodeJS.ProcessEnv;
  cwd: string;
  isTTY: boolean;
  /** Reads all of standard input (for --password-stdin); tests substitute a string. */
  stdin: () => Promise<string>;
}

export interface Flag {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean;
  arg?: string; // placeholder shown in help, e.g. DIR
  help: string;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage: string; // the synopsis line(s) after "conn-drain "
  description: string;
  flags: Record<string, Flag>;
  examples: string[];
  run(values: Values, positionals: string[], io: Io): Promise<void>;
}

export function parse(cmd: Command, argv: string[]): { values: Values; positionals: string[] } {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean; default?: string | boolean }
  > = { help: { type: "boolean", short: "h" } };
  for (const [name, f] of Object.entries(cmd.flags)) {
    // parseArgs rejects keys that are present but undefined, so copy only what is set.
    const o: (typeof options)[string] = { type: f.type };
    if (f.short) o.short = f.short;
    if (f.multiple) o.multiple = true;
    options[name] = o;
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Values, positionals };
  } catch (err) {
    throw usage((err as Error).message.split("\n")[0] ?? "bad arguments", cmd.name);
  }
}

export function helpText(cmd: Command): string {
  const lines = [`Usage: conn-drain ${cmd.usage}`, "", cmd.summary, "", cmd.description.trim(), ""];
  lines.push("Options:");
  const rows: [string, string][] = [];
  for (const [name, f] of Object.entries(cmd.flags)) {
    const left = `${f.short ? `-${f.short}, ` : "    "}--${name}${f.type === "string" ? ` ${f.arg ?? "VALUE"}` : ""}`;
    const def = f.default !== undefined && f.default !== false ? ` (default: ${f.default})` : "";
    rows.push([left, `${f.help}${f.multiple ? " (repeatable)" : ""}${def}`]);
  }
  rows.push(["-h, --help", "show this help"]);
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  for (const [l, r] of rows) {
    lines.push(
      l.length >= width ? `  ${l}\n  ${" ".repeat(width)}${r}` : `  ${l.padEnd(width)}${r}`,
    );
  }
  if (cmd.examples.length > 0) lines.push("", "Examples:", ...cmd.examples.map((e) => `  ${e}`));
  return `${lines.join("\n")}\n`;
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}
