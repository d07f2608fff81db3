// One error type for everything the CLI reports to a user. main.ts prints it as a single line,
// "conn-drain <command>: <what failed> — <what to do>", and exits with its code, so scripts and CI
// logs get one greppable line instead of a stack trace.

export const ExitCode = {
  ok: 0,
  failure: 1, // anything not listed below
  usage: 2, // bad flags or arguments (same as most CLIs)
  unreachable: 3, // registry, API server or console could not be reached
  auth: 4, // credentials refused
  invalid: 5, // schema violation, digest mismatch, bad input file
  conflict: 6, // the server refused because of someone else's state (409)
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly code: ExitCodeValue = ExitCode.failure,
  ) {
    super(message);
    this.name = "CliError";
  }

  line(command: string): string {
    const what = this.message.replace(/\s*\n\s*/g, " ");
    return `conn-drain ${command}: ${what}${this.hint ? ` — ${this.hint}` : ""}`;
  }
}

export function usage(message: string, command: string): CliError {
  return new CliError(message, `see 'conn-drain ${command} --help'`, ExitCode.usage);
}

/** Turns a fetch/socket failure into "could not reach X" with the OS reason (ECONNREFUSED, …). */
export function unreachable(what: string, url: string, err: unknown, hint: string): CliError {
  return new CliError(`${what} unreachable at ${url}: ${reason(err)}`, hint, ExitCode.unreachable);
}

export function reason(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as Error & { code?: string }).code;
      return code ? `${code} (${cause.message})` : cause.message;
    }
    const code = (err as Error & { code?: string }).code;
    return code ? `${code} (${err.message})` : err.message;
  }
  return String(err);
}
