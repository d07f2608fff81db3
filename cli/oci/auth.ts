// Registry credentials and the Distribution auth handshake.
//
// Credentials, first found wins: --username/--password(-stdin) flags, then the environment
// (CONN_DRAIN_REGISTRY_USERNAME / CONN_DRAIN_REGISTRY_PASSWORD), then the docker config file
// ($DOCKER_CONFIG/config.json or ~/.docker/config.json: "auths" entries, "credHelpers" and
// "credsStore" through docker-credential-<helper> get, the protocol docker/docker-credential-helpers
// defines). A registry that answers 401 says how to authenticate in WWW-Authenticate: "Basic"
// (htpasswd), or "Bearer realm=…,service=…,scope=…" — then a token is fetched from the realm
// (distribution spec/auth/token.md) and sent as "Authorization: Bearer <token>".
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CliError, ExitCode } from "../errors.js";
import { refusePlaceholder } from "../placeholders.js";

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

/**
 * Docker Hub's credentials live under the key Docker has always used for it,
 * https://index.docker.io/v1/ — the key `docker login` writes and the server URL a credential
 * helper is asked for (go-containerregistry pkg/authn/keychain.go, defaultKeychain.ResolveContext:
 * DefaultAuthKey; Istio's pkg/wasm/imagefetcher.go, wasmKeyChain.Resolve, does the same).
 */
const DOCKER_HUB_KEY = "https://index.docker.io/v1/";

/** The server address docker uses for a registry: Hub's legacy URL, else host[:port]. */
function serverAddress(registry: string): string {
  return registry === "docker.io" ? DOCKER_HUB_KEY : registry;
}

/** Keys docker writes for a registry: its server address first, then the spellings seen in files. */
function configKeys(registry: string): string[] {
  if (registry === "docker.io")
    return [DOCKER_HUB_KEY, "index.docker.io", "https://index.docker.io", "docker.io"];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`];
}

// What a helper prints (on stdout, exit 1) when it has nothing for the server: anonymous then,
// as docker does (docker/docker-credential-helpers credentials/error.go, client/client.go Get).
const NOT_FOUND = "credentials not found in native keychain";

function fromHelper(
  helper: string,
  registry: string,
  origin: string,
  env: NodeJS.ProcessEnv,
): Credentials | undefined {
  const bin = `docker-credential-${helper}`;
  const hint = `install ${bin}, fix ${origin}, or pass --username and --password-stdin`;
  const r = spawnSync(bin, ["get"], {
    input: serverAddress(registry),
    encoding: "utf8",
    env, // the caller's PATH finds the helper, as docker's does
    timeout: 15_000,
  });
  // EPIPE: the helper exited without reading the server address; its exit status says the rest.
  if (r.error && (r.error as NodeJS.ErrnoException).code !== "EPIPE") {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new CliError(
      code === "ENOENT"
        ? `docker credential helper ${bin} (${origin}) is not installed or not on PATH`
        : code === "ETIMEDOUT"
          ? `docker credential helper ${bin} (${origin}) did not answer within 15 s`
          : `docker credential helper ${bin} (${origin}) could not run: ${r.error.message}`,
      hint,
      ExitCode.auth,
    );
  }
  const out = (r.stdout ?? "").trim();
  if (r.status !== 0) {
    if (out === NOT_FOUND) return undefined;
    const why = (out || (r.stderr ?? "").trim() || `exit ${r.status ?? r.signal}`).split("\n")[0];
    throw new CliError(
      `docker credential helper ${bin} (${origin}) failed for ${serverAddress(registry)}: ${why}`,
      hint,
      ExitCode.auth,
    );
  }
  let j: { Username?: string; Secret?: string };
  try {
    j = JSON.parse(out) as { Username?: string; Secret?: string };
  } catch {
    throw new CliError(
      `docker credential helper ${bin} (${origin}) answered something that is not JSON`,
      hint,
      ExitCode.auth,
    );
  }
  if (j.Username === "<token>")
    throw new CliError(
      `docker credential helper ${bin} holds an identity token for ${serverAddress(registry)}; identity tokens are not supported`,
      "pass --username and --password-stdin",
      ExitCode.auth,
    );
  if (j.Username && j.Secret) return { username: j.Username, password: j.Secret, source: bin };
  return undefined;
}

export function fromDockerConfig(
  registry: string,
  env: NodeJS.ProcessEnv,
): Credentials | undefined {
  const file = dockerConfigPath(env);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined; // no docker login
    throw new CliError(
      `cannot read the docker config ${file}: ${(err as Error).message}`,
      "fix its permissions, or pass --username and --password-stdin",
      ExitCode.invalid,
    );
  }
  let cfg: {
    auths?: Record<string, { auth?: string; username?: string; password?: string }>;
    credHelpers?: Record<string, string>;
    credsStore?: string;
  };
  try {
    cfg = JSON.parse(text);
    if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg))
      throw new Error("not an object");
  } catch (err) {
    // Docker itself refuses such a file; going on anonymous would hide why the push is refused.
    throw new CliError(
      `the docker config ${file} is not valid JSON: ${(err as Error).message}`,
      "fix or remove the file (docker login writes it), or point DOCKER_CONFIG elsewhere",
      ExitCode.invalid,
    );
  }
  for (const key of configKeys(registry)) {
    const helper = cfg.credHelpers?.[key];
    if (helper) return fromHelper(helper, registry, `credHelpers["${key}"] in ${file}`, env);
  }
  for (const key of configKeys(registry)) {
    const a = cfg.auths?.[key];
    if (!a) continue;
    if (a.auth) {
      const plain = Buffer.from(a.auth, "base64").toString("utf8");
      const i = plain.indexOf(":");
      if (i <= 0)
        throw new CliError(
          `auths["${key}"].auth in the docker config ${file} is not base64 of user:password`,
          "run docker login again, or pass --username and --password-stdin",
          ExitCode.invalid,
        );
      return { username: plain.slice(0, i), password: plain.slice(i + 1), source: file };
    }
    if (a.username && a.password)
      return { username: a.username, password: a.password, source: file };
  }
  if (cfg.credsStore) return fromHelper(cfg.credsStore, registry, `credsStore in ${file}`, env);
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
    refusePlaceholder(
      flags.password,
      "the registry password",
      "give the registry's real password or access token",
    );
    return { username: flags.username, password: flags.password, source: "flags" };
  }
  const u = env.CONN_DRAIN_REGISTRY_USERNAME;
  const p = env.CONN_DRAIN_REGISTRY_PASSWORD;
  if (u && p !== undefined) {
    refusePlaceholder(
      p,
      "CONN_DRAIN_REGISTRY_PASSWORD",
      "set it to the registry password or token",
    );
    return { username: u, password: p, source: "environment" };
  }
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
