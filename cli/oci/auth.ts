// Registry credentials and the Distribution auth handshake.
//
// Credentials, first found wins: --username/--password(-stdin) flags, then the environment
// (CONN_DRAIN_REGISTRY_USERNAME / CONN_DRAIN_REGISTRY_PASSWORD), then the docker config file
// ($DOCKER_CONFIG/config.json or ~/.docker/config.json: "auths" entries, "credHelpers" and
// "credsStore" through docker-credential-<helper> get, the protocol docker/docker-credential-helpers
// defines). A registry that answers 401 says how to authenticate in WWW-Authenticate: "Basic"
// (htpasswd), or "Bearer realm=…,service=…,scope=…" — then a token is fetched from the realm
// (distribution spec/auth/token.md) and sent as "Authorization: Bearer <token>".
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CliError, ExitCode } from "../errors.js";

export interface Credentials {
  username: string;
  password: string;
  source: string; // for messages: "flags", "environment", "~/.docker/config.json"
}

export interface Challenge {
  scheme: string; // lower case: "basic" or "bearer"
  params: Record<string, string>;
}

export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p = re.exec(m[2] ?? ""); p; p = re.exec(m[2] ?? "")) {
    params[(p[1] ?? "").toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
  }
  return { scheme: (m[1] ?? "").toLowerCase(), params };
}

function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), ".docker"), "config.json");
}

/** Keys docker writes for a registry: the bare host, with a scheme, and Hub's legacy URL. */
function configKeys(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`];
  if (registry === "docker.io") keys.push("https://index.docker.io/v1/", "index.docker.io");
  return keys;
}

function fromHelper(helper: string, registry: string): Credentials | undefined {
  try {
    const out = execFileSync(`docker-credential-${helper}`, ["get"], {
      input: registry,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "ignore"],
      timeout: 15_000,
    });
    const j = JSON.parse(out) as { Username?: string; Secret?: string };
    if (j.Username && j.Secret) {
      return { username: j.Username, password: j.Secret, source: `docker-credential-${helper}` };
    }
  } catch {
    // No entry in the helper (it exits non-zero) or no helper installed: go on anonymous.
  }
  return undefined;
}

export function fromDockerConfig(
  registry: string,
  env: NodeJS.ProcessEnv,
): Credentials | undefined {
  const file = dockerConfigPath(env);
  let cfg: {
    auths?: Record<string, { auth?: string; username?: string; password?: string }>;
    credHelpers?: Record<string, string>;
    credsStore?: string;
  };
  try {
    cfg = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  for (const key of configKeys(registry)) {
    const helper = cfg.credHelpers?.[key];
    if (helper) return fromHelper(helper, registry);
  }
  for (const key of configKeys(registry)) {
    const a = cfg.auths?.[key];
    if (!a) continue;
    if (a.auth) {
      const plain = Buffer.from(a.auth, "base64").toString("utf8");
      const i = plain.indexOf(":");
      if (i > 0) return { username: plain.slice(0, i), password: plain.slice(i + 1), source: file };
    }
    if (a.username && a.password)
      return { username: a.username, password: a.password, source: file };
  }
  if (cfg.credsStore) return fromHelper(cfg.credsStore, registry);
  return undefined;
}

export function resolveCredentials(
  registry: string,
  flags: { username?: string; password?: string },
  env: NodeJS.ProcessEnv,
): Credentials | undefined {
  if (flags.username !== undefined || flags.password !== undefined) {
    if (!flags.username || flags.password === undefined) {
      throw new CliError(
        "--username and a password go together",
        "pass both --username and --password-stdin (or --password)",
        ExitCode.usage,
      );
    }
    return { username: flags.username, password: flags.password, source: "flags" };
  }
  const u = env.CONN_DRAIN_REGISTRY_USERNAME;
  const p = env.CONN_DRAIN_REGISTRY_PASSWORD;
  if (u && p !== undefined) return { username: u, password: p, source: "environment" };
  return fromDockerConfig(registry, env);
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

export function refused(
  registry: string,
  creds: Credentials | undefined,
  detail: string,
): CliError {
  return new CliError(
    creds
      ? `registry ${registry} refused the credentials of "${creds.username}" (from ${creds.source}): ${detail}`
      : `registry ${registry} requires authentication: ${detail}`,
    creds
      ? "check the username and password, or run docker login again"
      : "pass --username and --password-stdin, set CONN_DRAIN_REGISTRY_USERNAME/PASSWORD, or docker login",
    ExitCode.auth,
  );
}
