// Real registries for the CLI tests: Debian's docker-registry (CNCF distribution 2.8) started on
// loopback on free ports, each with its own config and storage in a temp directory:
//   anonymous — no auth section
//   basic     — auth.htpasswd with a bcrypt file made by htpasswd -B
//   token     — auth.token: the registry verifies RS256 JWTs whose x5c certificate is in
//               rootcertbundle; the token issuer is a small stand-in below (the registry is real,
//               the issuer is ours: distribution spec/auth/token.md defines what it must answer).
// Config keys per /usr/share/doc/docker-registry/configuration.md.gz.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createSign, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const USER = "alice";
export const PASSWORD = "s3cret-Passw0rd";

function which(bin: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why the registry tests cannot run here, or undefined when they can. */
export function missingTools(): string | undefined {
  const missing = ["docker-registry", "skopeo", "htpasswd", "openssl"].filter((b) => !which(b));
  return missing.length
    ? `missing ${missing.join(", ")} (run scripts/install-system-deps.sh)`
    : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export interface Registry {
  host: string; // 127.0.0.1:PORT
  dir: string;
  stop(): Promise<void>;
}

async function waitReady(url: string, proc: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    try {
      const r = await fetch(url);
      if (r.status === 200 || r.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer at ${url}: ${log()}`);
}

export async function startRegistry(
  auth: "anonymous" | "basic" | { realm: string; certFile: string },
): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), "conn-drain-registry-"));
  const port = await freePort();
  let authYaml = "";
  if (auth === "basic") {
    const line = execFileSync("htpasswd", ["-Bbn", USER, PASSWORD], { encoding: "utf8" });
    writeFileSync(join(dir, "htpasswd"), line);
    authYaml = `auth:\n  htpasswd:\n    realm: conn-drain-test\n    path: ${join(dir, "htpasswd")}\n`;
  } else if (typeof auth === "object") {
    authYaml = `auth:\n  token:\n    realm: ${auth.realm}\n    service: conn-drain-test-registry\n    issuer: conn-drain-test-issuer\n    rootcertbundle: ${auth.certFile}\n`;
  }
  const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, "data")}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  secret: conn-drain-test-secret
${authYaml}`;
  writeFileSync(join(dir, "config.yml"), config);
  let output = "";
  const proc = spawn("docker-registry", ["serve", join(dir, "config.yml")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout?.on("data", (d) => (output += d));
  proc.stderr?.on("data", (d) => (output += d));
  await waitReady(`http://127.0.0.1:${port}/v2/`, proc, () => output.slice(-2000));
  return {
    host: `127.0.0.1:${port}`,
    dir,
    stop: async () => {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/**
 * Stand-in token issuer (distribution spec/auth/token.md): GET /token?service=&scope= with
 * Basic credentials; answers {"token": JWT} or 401. The JWT carries the certificate in x5c, the
 * way the registry's token verifier accepts it against rootcertbundle.
 */
export async function startTokenIssuer(): Promise<{
  realm: string;
  certFile: string;
  requests: string[];
  stop(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), "conn-drain-issuer-"));
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/CN=conn-drain-test-issuer",
    ],
    { stdio: "ignore" },
  );
  const key = readFileSync(keyFile, "utf8");
  const der = Buffer.from(
    readFileSync(certFile, "utf8").replace(/-----[^-]+-----|\s/g, ""),
    "base64",
  );
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(url.search);
    const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
    if (url.pathname !== "/token" || req.headers.authorization !== expected) {
      res.writeHead(401, {
        "content-type": "application/json",
        "www-authenticate": 'Basic realm="token"',
      });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }));
      return;
    }
    const access = url.searchParams.getAll("scope").flatMap((s) => {
      const [type, name, actions] = s.split(":");
      return type && name && actions ? [{ type, name, actions: actions.split(",") }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "RS256", x5c: [der.toString("base64")] };
    const claims = {
      iss: "conn-drain-test-issuer",
      sub: USER,
      aud: url.searchParams.get("service"),
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign("RSA-SHA256").update(input).sign(key);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  const port = typeof a === "object" && a ? a.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certFile,
    requests,
    stop: async () => {
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
