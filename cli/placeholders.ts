// Placeholder secrets. The README, plugin.yaml's example and the deploy kit show secrets as
// placeholders ("<a long random token>", "change-me-to-a-long-random-token",
// "replace-with-the-webhook-secret", "..."); copied as they are, they would become a real admin
// token or webhook secret that anyone who has read the README knows. So every place the CLI
// takes a token, password or secret refuses the known placeholder shapes, with a hint to make a
// real one.
import { CliError, ExitCode } from "./errors.js";

const SHAPES: { test: (v: string) => boolean; what: string }[] = [
  { test: (v) => /^<[^<>]*>$/.test(v), what: "an <angle-bracket> placeholder" },
  { test: (v) => /^(\.{2,}|…+)$/.test(v), what: "an ellipsis" },
  { test: (v) => /^replace[-_ ]?(with|me)\b/i.test(v), what: "a replace-with-… placeholder" },
  { test: (v) => /^change[-_ ]?me/i.test(v), what: "a changeme placeholder" },
  {
    test: (v) => /^(your[-_ ].*|x{3,}|placeholder)$/i.test(v),
    what: "a placeholder word",
  },
];

/** Why `value` is a placeholder, or undefined when it looks like a real secret. */
function placeholderKind(value: string): string | undefined {
  const v = value.trim();
  return SHAPES.find((s) => s.test(v))?.what;
}

const MAKE_ONE = "make one with `openssl rand -hex 32`";

/** Throws a usage error (exit 2) when `value`, given as `what`, is a known placeholder. */
export function refusePlaceholder(value: string | undefined, what: string, hint: string): void {
  if (value === undefined) return;
  const kind = placeholderKind(value);
  if (!kind) return;
  const shown = value.length > 40 ? `${value.slice(0, 37)}…` : value;
  throw new CliError(`${what} is ${kind} ("${shown}"), not a real value`, hint, ExitCode.usage);
}

/**
 * The plugin config's secrets (admin.token, webhook.secret) in a config file, in defaultConfig
 * and in each match rule's config: each refused when it is a placeholder (exit 5, the file is
 * the bad input).
 */
export function refusePlaceholderSecrets(config: unknown, file: string): void {
  const check = (c: unknown, where: string) => {
    if (typeof c !== "object" || c === null) return;
    const o = c as Record<string, Record<string, unknown> | undefined>;
    for (const [section, key] of [
      ["admin", "token"],
      ["webhook", "secret"],
    ] as const) {
      const v = o[section]?.[key];
      if (typeof v !== "string") continue;
      const kind = placeholderKind(v);
      if (kind)
        throw new CliError(
          `${where}${section}.${key} in ${file} is ${kind} ("${v}"), not a real ${key}`,
          `${MAKE_ONE} and put it there (and in the receiver/operators' copy)`,
          ExitCode.invalid,
        );
    }
  };
  if (!Array.isArray(config)) {
    check(config, "");
    return;
  }
  for (const [i, r] of config.entries())
    check((r as { config?: unknown })?.config, `[${i}].config.`);
}
