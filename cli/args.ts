// Command table and flag parsing on node:util parseArgs. Each command declares its flags once,
// with the help line next to the flag, so `--help` can never drift from what is parsed.
//
// Conventions every command shares (docs/cli.md, "Conventions"): -h/--help, --version,
// -q/--quiet (no progress on stderr; errors still print), flag errors are one line with a
// did-you-mean and exit 2, and a flag with `choices` refuses any other value the same way.
import { parseArgs } from "node:util";
import { CliError, ExitCode } from "./errors.js";

export interface Io {
  out: (s: string) => void; // machine-readable results (a reference, YAML)
  err: (s: string) => void; // progress and notes for a person
  env: NodeJS.ProcessEnv;
  cwd: string;
  isTTY: boolean; // stderr is a terminal
  /** stdout is a terminal: only then may a command write terminal escapes (clear, home) to it. */
  outIsTTY?: boolean;
  /** Reads all of standard input (for --password-stdin); tests substitute a string. */
  stdin: () => Promise<string>;
}

export interface Flag {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean;
  arg?: string; // placeholder shown in help, e.g. DIR
  /** The only values the flag takes; anything else is a usage error (exit 2) with a suggestion. */
  choices?: readonly string[];
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

/** Flags every command takes, parsed before the command sees its own. */
export const commonFlags: Record<string, Flag> = {
  quiet: { type: "boolean", short: "q", help: "no progress on stderr (errors still print)" },
  version: { type: "boolean", help: "print the version and exit" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

/** Damerau–Levenshtein (optimal string alignment) distance, for did-you-mean suggestions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      row[j] = Math.min(
        (up[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (up[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The candidate closest to `input`, if it is close enough to be what was meant. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    // A unique prefix ("--form") or a case slip ("fail_open") is as good as a typo.
    const d =
      cl === lower ? 0 : cl.startsWith(lower) && lower.length >= 3 ? 1 : editDistance(lower, cl);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(input.length / 3)));
  return bestD <= limit ? best : undefined;
}

function flagError(message: string, command: string, suggestion?: string): CliError {
  const help = command ? `'conn-drain ${command} --help'` : "'conn-drain --help'";
  return new CliError(
    message,
    suggestion ? `did you mean ${suggestion}? See ${help}` : `see ${help}`,
    ExitCode.usage,
  );
}

export function parse(cmd: Command, argv: string[]): { values: Values; positionals: string[] } {
  const all: Record<string, Flag> = { ...cmd.flags, ...commonFlags };
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const [name, f] of Object.entries(all)) {
    // parseArgs rejects keys that are present but undefined, so copy only what is set.
    const o: (typeof options)[string] = { type: f.type };
    if (f.short) o.short = f.short;
    if (f.multiple) o.multiple = true;
    options[name] = o;
  }
  const longs = Object.keys(all).map((n) => `--${n}`);
  // Unknown flags first, so the message can name what was typed and suggest the flag that was
  // meant (parseArgs' own message has neither). The loose pass still knows which flags take a
  // value, so a value such as "-5" after --priority is never mistaken for a flag.
  const loose = parseArgs({
    args: argv,
    options,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const t of loose.tokens ?? []) {
    if (t.kind !== "option" || t.name in all) continue;
    const raw = argv[t.index] ?? t.rawName;
    if (t.rawName.startsWith("--"))
      throw flagError(`Unknown option '${t.rawName}'`, cmd.name, closest(t.rawName, longs));
    // "-format" is a group of short flags to parseArgs, and a single-dash slip to a person.
    const word = raw.split("=")[0]?.slice(1) ?? "";
    const meant = longs.includes(`--${word}`) ? `--${word}` : closest(`--${word}`, longs);
    throw flagError(
      `Unknown option '${t.rawName}'${raw !== t.rawName ? ` (in '${raw}')` : ""}`,
      cmd.name,
      word.length > 1 ? meant : undefined,
    );
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as {
      values: Values;
      positionals: string[];
    };
  } catch (err) {
    throw flagError(
      (err as Error).message.split("\n")[0]?.replace(/\. To specify .*$/, "") ?? "bad arguments",
      cmd.name,
    );
  }
  for (const [name, f] of Object.entries(all)) {
    if (!f.choices) continue;
    const v = parsed.values[name];
    for (const one of Array.isArray(v) ? v : typeof v === "string" ? [v] : []) {
      if (f.choices.includes(one)) continue;
      throw flagError(
        `--${name} must be ${f.choices.length === 2 ? f.choices.join(" or ") : `one of ${f.choices.join(", ")}`}, not "${one}"`,
        cmd.name,
        closest(one, f.choices),
      );
    }
  }
  return parsed;
}

export function helpText(cmd: Command): string {
  const lines = [`Usage: conn-drain ${cmd.usage}`, "", cmd.summary, "", cmd.description.trim(), ""];
  lines.push("Options:");
  const rows: [string, string][] = [];
  for (const [name, f] of Object.entries({ ...cmd.flags, ...commonFlags })) {
    const arg = f.choices && !f.arg ? f.choices.join("|") : (f.arg ?? "VALUE");
    const left = `${f.short ? `-${f.short}, ` : "    "}--${name}${f.type === "string" ? ` ${arg}` : ""}`;
    const def = f.default !== undefined && f.default !== false ? ` (default: ${f.default})` : "";
    rows.push([left, `${f.help}${f.multiple ? " (repeatable)" : ""}${def}`]);
  }
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  for (const [l, r] of rows) {
    lines.push(
      l.length >= width ? `  ${l}\n  ${" ".repeat(width)}${r}` : `  ${l.padEnd(width)}${r}`,
    );
  }
  if (cmd.examples.length > 0) lines.push("", "Examples:", ...cmd.examples.map((e) => `  ${e}`));
  lines.push("", "Exit codes: 0 ok, 1 failure, 2 bad flag or argument, 3 unreachable, 4 auth,");
  lines.push("5 invalid input, 6 conflict (docs/cli.md).");
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
