// `conn-drain image` against real parts: Debian's docker-registry (anonymous, htpasswd basic
// auth, and bearer tokens from a stand-in issuer), skopeo to read what was pushed and written,
// and tar to open the plugin layer. Every pushed image is pulled back and checked byte for byte
// against its inputs. Without the tools these tests skip — except under CI, where they fail.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy } from "./fault-proxy.js";
import { fixtureWasm, type Pulled, pull, runCli, scratchProject, skopeo } from "./helpers.js";
import {
  freePort,
  missingTools,
  PASSWORD,
  type Registry,
  startRegistry,
  startTokenIssuer,
  USER,
} from "./registry.js";

const why = missingTools();
const skip = Boolean(why) && !process.env.CI;
if (skip) console.warn(`tests/cli/image.test.ts: skipping registry and skopeo tests: ${why}`);

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

interface Manifest {
  mediaType: string;
  config: { mediaType: string; digest: string; size: number };
  layers: {
    mediaType: string;
    digest: string;
    size: number;
    annotations?: Record<string, string>;
  }[];
}

/** Opens plugin.tar.gz with the system tar and returns the bytes of plugin.wasm in it. */
function untar(tgz: Buffer): { names: string[]; wasm: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "conn-drain-untar-"));
  try {
    writeFileSync(join(dir, "p.tgz"), tgz);
    const names = execFileSync("tar", ["-tzf", join(dir, "p.tgz")], { encoding: "utf8" })
      .trim()
      .split("\n");
    execFileSync("tar", ["-xzf", join(dir, "p.tgz"), "-C", dir]);
    return { names, wasm: readFileSync(join(dir, "plugin.wasm")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The byte-for-byte check of a Higress-format image against the scratch project's files. */
function checkHigress(p: Pulled, project: string, digest: string): void {
  expect(sha(p.manifest)).toBe(digest);
  const m = JSON.parse(p.manifest.toString()) as Manifest;
  expect(m.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
  expect(
    m.layers.map((l) => [l.mediaType, l.annotations?.["org.opencontainers.image.title"]]),
  ).toEqual([
    ["application/vnd.module.wasm.spec.v1+yaml", "spec.yaml"],
    ["application/vnd.module.wasm.doc.v1+markdown", "README.md"],
    ["application/vnd.module.wasm.doc.v1.en+markdown", "README_EN.md"],
    ["application/vnd.oci.image.layer.v1.tar+gzip", "plugin.tar.gz"],
  ]);
  for (const d of [m.config, ...m.layers]) {
    const b = p.blobs.get(d.digest) as Buffer;
    expect(sha(b)).toBe(d.digest);
    expect(b.length).toBe(d.size);
  }
  const blob = (i: number) => p.blobs.get(m.layers[i]?.digest ?? "") as Buffer;
  expect(blob(0).equals(readFileSync(join(project, "plugin.yaml")))).toBe(true);
  expect(blob(1).equals(readFileSync(join(project, "README.md")))).toBe(true);
  expect(blob(2).equals(readFileSync(join(project, "README_EN.md")))).toBe(true);
  const t = untar(blob(3));
  expect(t.names).toEqual(["plugin.wasm"]);
  expect(t.wasm.equals(readFileSync(join(project, "build", "plugin.wasm")))).toBe(true);
}

describe.skipIf(skip)("image: OCI layout (read back by skopeo)", () => {
  it("writes a Higress-format layout that skopeo reads, reproducibly", async () => {
    const project = scratchProject();
    const r = await runCli(["image", "--oci-layout", "out"], { cwd: project });
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const [, digest] = /^oci:out:0\.1\.0@(sha256:[a-f0-9]{64})\n$/.exec(r.out) ?? [];
    expect(digest).toBeDefined();
    const raw = Buffer.from(
      await skopeo(["inspect", "--raw", `oci:${join(project, "out")}:0.1.0`]),
    );
    expect(sha(raw)).toBe(digest);
    // skopeo copies it out of the layout: every blob verified by skopeo against its digest.
    const copy = join(project, "copy");
    await skopeo(["copy", `oci:${join(project, "out")}:0.1.0`, `oci:${copy}:x`]);
    const m = JSON.parse(raw.toString()) as Manifest;
    const blobs = new Map<string, Buffer>();
    for (const d of [m.config, ...m.layers])
      blobs.set(d.digest, readFileSync(join(copy, "blobs", "sha256", d.digest.slice(7))));
    checkHigress({ manifest: raw, contentType: "", blobs }, project, digest as string);
    // Same inputs, same digest: a second run into a fresh layout.
    const again = await runCli(["image", "--oci-layout", "out2"], { cwd: project });
    expect(again.out).toBe(r.out.replace("oci:out:", "oci:out2:"));
  });

  it("writes the Wasm OCI artifact with --format wasm", async () => {
    const project = scratchProject();
    const r = await runCli(
      ["image", "--oci-layout", "out", "--format", "wasm", "--tag", "latest"],
      { cwd: project },
    );
    expect(r.code).toBe(0);
    for (const tag of ["0.1.0", "latest"]) {
      const raw = await skopeo(["inspect", "--raw", `oci:${join(project, "out")}:${tag}`]);
      const m = JSON.parse(raw) as Manifest;
      expect(m.config.mediaType).toBe("application/vnd.module.wasm.config.v1+json");
      // Two layers, as Istio's extractOCIArtifactImage requires: runtime config, then module.
      expect(m.layers.map((l) => l.mediaType)).toEqual([
        "application/vnd.module.wasm.config.v1+json",
        "application/vnd.module.wasm.content.layer.v1+wasm",
      ]);
      const blob = (i: number) =>
        readFileSync(join(project, "out", "blobs", "sha256", (m.layers[i]?.digest ?? "").slice(7)));
      expect(JSON.parse(blob(0).toString())).toMatchObject({ type: "envoy_proxy" });
      expect(m.layers[0]?.digest).toBe(m.config.digest);
      expect(blob(1).equals(readFileSync(join(project, "build", "plugin.wasm")))).toBe(true);
    }
  });

  it("fails with one line when there is no module to package", async () => {
    const project = scratchProject();
    const r = await runCli(["image", "--oci-layout", "out", "--wasm", "missing.wasm"], {
      cwd: project,
    });
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split("\n").at(-1)).toMatch(
      /^conn-drain image: no plugin module at .*missing\.wasm — run `make build`/,
    );
  });
});

describe.skipIf(skip)("image: push to a real registry", () => {
  let anon: Registry;
  let basic: Registry;
  let token: Registry;
  let issuer: Awaited<ReturnType<typeof startTokenIssuer>>;
  const basicAuth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;

  beforeAll(async () => {
    if (why) throw new Error(`CI is set but the registry tests cannot run: ${why}`);
    issuer = await startTokenIssuer();
    [anon, basic, token] = await Promise.all([
      startRegistry("anonymous"),
      startRegistry("basic"),
      startRegistry(issuer),
    ]);
  });
  afterAll(async () => {
    await Promise.all([anon?.stop(), basic?.stop(), token?.stop(), issuer?.stop()]);
  });

  it("pushes anonymously in chunks, tags after the manifest, and pulls back byte for byte", async () => {
    const project = scratchProject();
    const r = await runCli(
      ["image", `${anon.host}/plugins/conn-drain`, "--tag", "latest", "--chunk-size", "65536"],
      { cwd: project },
    );
    expect(r.err).toContain("plugin.tar.gz");
    expect(r.code).toBe(0);
    const [, digest] =
      new RegExp(`^${anon.host}/plugins/conn-drain:0\\.1\\.0@(sha256:[a-f0-9]{64})\\n$`).exec(
        r.out,
      ) ?? [];
    expect(digest).toBeDefined();
    // Progress: several chunk lines for the ~300 KiB layer, then the manifest, then the tags.
    expect(r.err.match(/plugin\.tar\.gz \w+ [\d.]+ KiB\/[\d.]+ KiB \d+%/g)?.length).toBeGreaterThan(
      2,
    );
    expect(r.err.indexOf("manifest sha256:")).toBeLessThan(r.err.indexOf("tagged 0.1.0"));
    for (const tag of ["0.1.0", "latest", digest as string]) {
      checkHigress(await pull(anon.host, "plugins/conn-drain", tag), project, digest as string);
    }
    // skopeo, a client we did not write, sees the same manifest and media types.
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${anon.host}/plugins/conn-drain:latest`,
    ]);
    expect(sha(Buffer.from(raw))).toBe(digest);
    const copy = join(project, "copy");
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      `docker://${anon.host}/plugins/conn-drain:0.1.0`,
      `oci:${copy}:x`,
    ]);
    // A second push finds every blob already there and uploads nothing.
    const again = await runCli(["image", `${anon.host}/plugins/conn-drain`], { cwd: project });
    expect(again.code).toBe(0);
    expect(again.err.match(/already in the registry/g)?.length).toBe(5);
  });

  it("pushes the Wasm OCI artifact format", async () => {
    const project = scratchProject(fixtureWasm(5000, 7));
    const r = await runCli(["image", `${anon.host}/wasm-artifact:1`, "--format", "wasm"], {
      cwd: project,
    });
    expect(r.code).toBe(0);
    const digest = r.out.trim().split("@")[1] as string;
    const p = await pull(anon.host, "wasm-artifact", "1");
    expect(sha(p.manifest)).toBe(digest);
    const m = JSON.parse(p.manifest.toString()) as Manifest;
    expect(m.config.mediaType).toBe("application/vnd.module.wasm.config.v1+json");
    expect(m.layers.map((l) => l.mediaType)).toEqual([
      "application/vnd.module.wasm.config.v1+json",
      "application/vnd.module.wasm.content.layer.v1+wasm",
    ]);
    expect(
      p.blobs
        .get(m.layers[1]?.digest ?? "")
        ?.equals(readFileSync(join(project, "build", "plugin.wasm"))),
    ).toBe(true);
    // The runtime config is both the config and a layer: uploaded once.
    expect(r.err.match(/runtime-config\.json|config \w+ already/g)?.length).toBe(1);
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${anon.host}/wasm-artifact:1`,
    ]);
    expect(JSON.parse(raw).layers[1].digest).toBe(m.layers[1]?.digest);
  });

  it("uses basic auth from flags, the environment, and the docker config file", async () => {
    const project = scratchProject();
    const viaFlags = await runCli(
      ["image", `${basic.host}/conn-drain:flags`, "-u", USER, "--password-stdin"],
      { cwd: project, stdin: `${PASSWORD}\n` },
    );
    expect(viaFlags.err).toContain(`as ${USER}`);
    expect(viaFlags.code).toBe(0);
    const viaEnv = await runCli(["image", `${basic.host}/conn-drain:env`, "-q"], {
      cwd: project,
      env: { CONN_DRAIN_REGISTRY_USERNAME: USER, CONN_DRAIN_REGISTRY_PASSWORD: PASSWORD },
    });
    expect(viaEnv.code).toBe(0);
    const dockerDir = join(project, "docker");
    execFileSync("mkdir", ["-p", dockerDir]);
    writeFileSync(
      join(dockerDir, "config.json"),
      JSON.stringify({
        auths: { [basic.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString("base64") } },
      }),
    );
    const viaConfig = await runCli(["image", `${basic.host}/conn-drain:cfg`, "-q"], {
      cwd: project,
      env: { DOCKER_CONFIG: dockerDir },
    });
    expect(viaConfig.code).toBe(0);
    const digest = viaConfig.out.trim().split("@")[1] as string;
    checkHigress(await pull(basic.host, "conn-drain", "cfg", basicAuth), project, digest);
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      "--creds",
      `${USER}:${PASSWORD}`,
      `docker://${basic.host}/conn-drain:env`,
    ]);
    expect(sha(Buffer.from(raw))).toBe(digest);
  });

  it("says when auth is missing or refused", async () => {
    const project = scratchProject();
    const none = await runCli(["image", `${basic.host}/conn-drain`], { cwd: project });
    expect(none.code).toBe(4);
    expect(none.err).toMatch(
      /conn-drain image: registry 127\.0\.0\.1:\d+ requires authentication: .* — pass --username/,
    );
    const wrong = await runCli(
      ["image", `${basic.host}/conn-drain`, "-u", USER, "--password", "nope"],
      { cwd: project },
    );
    expect(wrong.code).toBe(4);
    expect(wrong.err).toMatch(/refused the credentials of "alice" \(from flags\)/);
    const badToken = await runCli(
      ["image", `${token.host}/conn-drain`, "-u", USER, "--password", "nope"],
      { cwd: project },
    );
    expect(badToken.code).toBe(4);
    expect(badToken.err).toMatch(/refused the credentials of "alice".*token service said 401/);
  });

  it("answers a bearer-token challenge with a token from the realm", async () => {
    const project = scratchProject();
    const r = await runCli(["image", `${token.host}/team/conn-drain:t1`, "-q"], {
      cwd: project,
      env: { CONN_DRAIN_REGISTRY_USERNAME: USER, CONN_DRAIN_REGISTRY_PASSWORD: PASSWORD },
    });
    expect(r.err).not.toMatch(/—/);
    expect(r.code).toBe(0);
    expect(
      issuer.requests.some((q) => q.includes("scope=repository%3Ateam%2Fconn-drain%3Apull%2Cpush")),
    ).toBe(true);
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      "--creds",
      `${USER}:${PASSWORD}`,
      `docker://${token.host}/team/conn-drain:t1`,
    ]);
    expect(sha(Buffer.from(raw))).toBe(r.out.trim().split("@")[1]);
  });

  it("reports an unreachable registry", async () => {
    const project = scratchProject();
    const port = await freePort(); // nothing listens there
    const r = await runCli(["image", `127.0.0.1:${port}/conn-drain`], { cwd: project });
    expect(r.code).toBe(3);
    expect(r.err.trim().split("\n").at(-1)).toMatch(
      /^conn-drain image: registry unreachable at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED.* — check the registry address/,
    );
  });

  it("leaves no tag when the manifest put fails, and catches a digest mismatch", async () => {
    const project = scratchProject(fixtureWasm(2000, 3));
    const failing = await startFaultProxy(anon.host, (req) =>
      req.method === "PUT" && req.url?.includes("/manifests/") ? "fail" : undefined,
    );
    const r = await runCli(["image", `${failing.host}/half:1`], { cwd: project });
    await failing.stop();
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/registry answered 500 while putting the manifest .* nothing was tagged/);
    const tags = await fetch(`http://${anon.host}/v2/half/tags/list`);
    expect(
      tags.status === 404 || ((await tags.json()) as { tags: string[] | null }).tags === null,
    ).toBe(true);

    const lying = await startFaultProxy(anon.host, (req) =>
      req.method === "PUT" && req.url?.includes("/manifests/") ? "wrong-digest" : undefined,
    );
    const m = await runCli(["image", `${lying.host}/lied:1`], { cwd: project });
    await lying.stop();
    expect(m.code).toBe(5);
    expect(m.err).toMatch(
      /digest mismatch for manifest: sent sha256:\w+, registry stored sha256:0{64}/,
    );
    const t2 = await fetch(`http://${anon.host}/v2/lied/manifests/1`, { method: "HEAD" });
    expect(t2.status).toBe(404);
  });
});
