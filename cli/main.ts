// conn-drain's command-line companion. One table of commands; each command module exports a
// Command (flags + help + run). The operator commands `status` and `drain` share replicas.ts
// (gateway list or EndpointSlice discovery through kube.ts) and admin-client.ts.
import { type Command, helpText, type Io, parse } from "./args.js";
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
    "Run 'conn-drain <command> --help' for a command's options.",
    "",
  ].join("\n");
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(topHelp());
    return name ? ExitCode.ok : ExitCode.usage;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`conn-drain: unknown command "${name}" — run 'conn-drain --help' for the list\n`);
    return ExitCode.usage;
  }
  try {
    const { values, positionals } = parse(cmd, rest);
    if (values.help) {
      io.out(helpText(cmd));
      return ExitCode.ok;
    }
    await cmd.run(values, positionals, io);
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
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}
