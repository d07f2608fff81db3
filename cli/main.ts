// conn-drain's command-line companion. One table of commands; each command module exports a
// Command (flags + help + run). The operator commands `status` and `drain` share replicas.ts
// (gateway list or EndpointSlice discovery through kube.ts) and admin-client.ts.
import { readFileSync } from "node:fs";
import { type Command, closest, commonFlags, helpText, type Io, parse } from "./args.js";
import { consoleCommand } from "./commands/console.js";
import { drainCommand } from "./commands/drain.js";
import { imageCommand } from "./commands/image.js";
import { statusCommand } from "./commands/status.js";
import { wasmpluginCommand } from "./commands/wasmplugin.js";
import { CliError, ExitCode } from "./errors.js";

export const commands: Command[] = [
  imageCommand,
  wasmpluginCommand,
  consoleCommand,
  statusCommand,
  drainCommand,
];

/** package.json's version: the one place it is written. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function topHelp(): string {
  const rows = commands.map((c) => `  ${c.name.padEnd(12)}${c.summary}`);
  return [
    "Usage: conn-drain <command> [options]",
    "",
    "Publish the conn-drain Higress plugin: build → image → wasmplugin (kubectl) or console;",
    "then operate it: status (players per host over all gateway replicas) and drain.",
    "",
    "Commands:",
    ...rows,
    "",
    "Options for every command:",
    "  -h, --help     show the command's help",
    "  -q, --quiet    no progress on stderr (errors still print)",
    "      --version  print conn-drain's version",
    "",
    "Run 'conn-drain <command> --help' for a command's options. Exit codes: 0 ok, 1 failure,",
    "2 bad flag or argument, 3 unreachable, 4 auth, 5 invalid input, 6 conflict.",
    "",
  ].join("\n");
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    io.out(topHelp());
    return name ? ExitCode.ok : ExitCode.usage;
  }
  if (name === "--version") {
    io.out(`${version()}\n`);
    return ExitCode.ok;
  }
  if (name === "help") {
    const c = commands.find((x) => x.name === rest[0]);
    io.out(c ? helpText(c) : topHelp());
    return ExitCode.ok;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    const names = commands.map((c) => c.name);
    if (name.startsWith("-")) {
      const longs = Object.keys(commonFlags).map((f) => `--${f}`);
      if (name === "-q" || name === "--quiet") {
        io.err(`conn-drain: ${name} goes after the command, e.g. 'conn-drain image ${name} …'\n`);
        return ExitCode.usage;
      }
      const meant = closest(name, longs);
      io.err(
        `conn-drain: Unknown option '${name}' — ${meant ? `did you mean ${meant}? ` : ""}options go after the command; run 'conn-drain --help'\n`,
      );
      return ExitCode.usage;
    }
    const meant = closest(name, names);
    io.err(
      `conn-drain: unknown command "${name}" — ${meant ? `did you mean ${meant}? ` : ""}run 'conn-drain --help' for the list\n`,
    );
    return ExitCode.usage;
  }
  try {
    const { values, positionals } = parse(cmd, rest);
    if (values.help) {
      io.out(helpText(cmd));
      return ExitCode.ok;
    }
    if (values.version) {
      io.out(`${version()}\n`);
      return ExitCode.ok;
    }
    // Quiet: the command's progress and notes go nowhere; its result (stdout) and the error
    // line below (written with the caller's io) still do.
    const cmdIo: Io = values.quiet ? { ...io, err: () => {} } : io;
    await cmd.run(values, positionals, cmdIo);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`${err.line(cmd.name)}\n`);
      return err.code;
    }
    // A bug, not a user error: keep the stack for the report.
    io.err(
      `conn-drain ${cmd.name}: unexpected error — please report it\n${(err as Error).stack ?? err}\n`,
    );
    return ExitCode.failure;
  }
}

export function processIo(): Io {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    env: process.env,
    cwd: process.cwd(),
    isTTY: Boolean(process.stderr.isTTY),
    outIsTTY: Boolean(process.stdout.isTTY),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}
