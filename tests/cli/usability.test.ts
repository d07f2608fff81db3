// The CLI as a new user meets it (issue 12, finding 7): how it is started outside a checkout,
// --version, flag mistakes (one line, a suggestion, exit 2), -q, no terminal escapes in a pipe,
// Docker credential problems named, Docker Hub's credential key, and placeholder secrets from
// the README and the kit refused. The installed entry point runs in child processes where what
// is tested is the process (a pipe, PATH, the cwd); the rest runs in-process through main().
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { helpText, type Io } from "../../cli/args.js";
import { commands, main } from "../../cli/main.js";
import { resolveCredentials } from "../../cli/oci/auth.js";
import { parseReference } from "../../cli/oci/reference.js";
import { ADMIN_TOKEN, pluginConfig } from "../../gateway/demo/testbed.js";
import { type LocalGateway, startLocalGateway } from "../../gateway/server.js";
import { repoRoot, runBin, runCli, runProcess, scratchProject, tempDir } from "./helpers.js";
import { freePort } from "./registry.js";

const VERSION = (
  JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }
).version;

/** A directory outside the repository (the user's own project, say). */
const outside = () => tempDir("conn-drain-user-");

/** Child processes of the installed entry point and of docs' shell lines get this long. */
const CHILD_TIMEOUT = 90_000;

describe("starting the CLI outside a checkout", () => {
  it("--version prints package.json's version, at the top and after a command", async () => {
    const dir = outside();
    const top = await runBin(["--version"], dir, { timeout: CHILD_TIMEOUT });
    expect(top).toEqual({ code: 0, out: `${VERSION}\n`, err: "" });
    for (const c of commands) {
      const r = await runCli([c.name, "--version"], { cwd: dir });
      expect(r, c.name).toEqual({ code: 0, out: `${VERSION}\n`, err: "" });
    }
  });

  it("docs/cli.md's commands for elsewhere run as written, with no npm registry reachable", async () => {
    const doc = readFileSync(join(repoRoot, "docs", "cli.md"), "utf8");
    const section = /^### Outside a checkout\n([\s\S]*?)(?=^#{2,3} )/m.exec(doc)?.[1] ?? "";
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const lines = block
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    expect(
      lines.length,
      "docs/cli.md has a sh block under '### Outside a checkout'",
    ).toBeGreaterThan(1);
    // Plain npx there would ask the registry for an unclaimed package name: the section must
    // not offer it.
    expect(lines.filter((l) => /^npx\b/.test(l))).toEqual([]);
    const dir = outside();
    const dead = await freePort();
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      REPO: repoRoot,
      // Any registry request fails: the commands must not need one.
      npm_config_registry: `http://127.0.0.1:${dead}/`,
      npm_config_cache: join(dir, "npm-cache"),
      npm_config_update_notifier: "false",
    };
    for (const line of lines) {
      const r = await runProcess("sh", ["-c", line], { cwd: dir, env, timeout: CHILD_TIMEOUT });
      expect(r.err, line).not.toMatch(/ENOTCACHED|registry|ECONNREFUSED/);
      expect(r.code, `${line}: ${r.err}`).toBe(0);
      if (line.endsWith("--version")) expect(r.out, line).toBe(`${VERSION}\n`);
    }
  });

  it("README says npx conn-drain is for inside a checkout and links the way elsewhere", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const intro = readme.slice(readme.indexOf("## Publishing and deploying"));
    const firstNpx = intro.indexOf("npx conn-drain");
    expect(firstNpx).toBeGreaterThan(0);
    const para = intro.slice(0, intro.indexOf("```sh"));
    expect(para).toMatch(/inside a checkout/);
    expect(para).toContain("docs/cli.md#outside-a-checkout");
  });
});

describe("flag mistakes: one line, a suggestion, exit 2", () => {
  it("an unknown flag in every command names the flag that was meant", async () => {
    const dir = outside();
    for (const c of commands) {
      // Drop one letter of the command's first long flag of 5+ letters: a typo.
      const flag = Object.keys(c.flags).find((f) => f.length >= 5) as string;
      const typo = `--${flag.slice(0, 2)}${flag.slice(3)}`;
      const r = await runCli([c.name, typo, "x"], { cwd: dir });
      expect(r.code, `${c.name} ${typo}`).toBe(2);
      expect(r.out).toBe("");
      expect(r.err.trim().split("\n"), r.err).toHaveLength(1);
      expect(r.err).toBe(
        `conn-drain ${c.name}: Unknown option '${typo}' — did you mean --${flag}? See 'conn-drain ${c.name} --help'\n`,
      );
    }
  });

  it("a single-dash long flag and a misspelt command get a suggestion too", async () => {
    const dir = outside();
    const single = await runCli(["image", "-format", "wasm"], { cwd: dir });
    expect(single.code).toBe(2);
    expect(single.err).toMatch(
      /^conn-drain image: Unknown option '-f' \(in '-format'\) — did you mean --format\?/,
    );
    const cmd = await runCli(["imgae"], { cwd: dir });
    expect(cmd.code).toBe(2);
    expect(cmd.err).toBe(
      `conn-drain: unknown command "imgae" — did you mean image? run 'conn-drain --help' for the list\n`,
    );
  });

  it("a value outside a flag's choices is a flag error (exit 2) with the closest choice", async () => {
    const dir = scratchProject();
    const cases: [string[], RegExp][] = [
      [
        ["image", "--oci-layout", "out", "--format", "wsam"],
        /--format must be higress or wasm, not "wsam" — did you mean wasm\?/,
      ],
      [
        ["wasmplugin", "--image", "r/x:1", "--config", "c.yaml", "--phase", "stats"],
        /--phase must be one of .*STATS.*, not "stats" — did you mean STATS\?/,
      ],
      [
        ["wasmplugin", "--image", "r/x:1", "--config", "c.yaml", "--fail-strategy", "FAIL_OPNE"],
        /--fail-strategy must be FAIL_OPEN or FAIL_CLOSE, not "FAIL_OPNE" — did you mean FAIL_OPEN\?/,
      ],
      [
        ["wasmplugin", "--image", "r/x:1", "--config", "c.yaml", "-o", "xml"],
        /--output must be yaml or json, not "xml"/,
      ],
      [
        ["wasmplugin", "--image", "r/x:1", "--config", "c.yaml", "--image-pull-policy", "always"],
        /--image-pull-policy must be one of .*, not "always" — did you mean Always\?/,
      ],
      [
        [
          "console",
          "--url",
          "http://127.0.0.1:1",
          "--image",
          "r/x:1",
          "--image-pull-policy",
          "ifnotpresent",
        ],
        /did you mean IfNotPresent\?/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err, args.join(" ")).toMatch(re);
    }
  });
});

describe("-q and terminals", () => {
  it("-q leaves stderr empty on success and stdout with the one result line", async () => {
    const dir = scratchProject();
    const r = await runCli(["image", "--oci-layout", "out", "-q"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^oci:out:0\.1\.0@sha256:[a-f0-9]{64}\n$/);
    const loud = await runCli(["image", "--oci-layout", "out2"], { cwd: dir });
    expect(loud.err).toContain("wrote OCI layout");
    // Every command takes -q, and says so in its help.
    for (const c of commands) expect(helpText(c), c.name).toMatch(/-q, --quiet +no progress/);
  });

  it("-q keeps the error line", async () => {
    const r = await runCli(["image", "--oci-layout", "out", "-q", "--wasm", "nope.wasm"], {
      cwd: scratchProject(),
    });
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/^conn-drain image: no plugin module at .*nope\.wasm — /);
  });

  describe("status --watch", () => {
    let gw: LocalGateway;
    beforeAll(async () => {
      gw = await startLocalGateway({
        workers: 1,
        config: pluginConfig({ webhook: undefined }),
        routes: [],
      });
    });
    afterAll(async () => {
      await gw?.close();
    });

    it("writes no escape bytes when stdout is a pipe", async () => {
      const dir = outside();
      const r = await runBin(
        ["status", "--watch", "--count", "2", "--interval", "0.1", "-g", `127.0.0.1:${gw.port}`],
        dir,
        { env: { CONN_DRAIN_ADMIN_TOKEN: ADMIN_TOKEN }, timeout: CHILD_TIMEOUT },
      );
      expect(r.code, r.err).toBe(0);
      expect(r.out).not.toContain("\x1b");
      expect(r.out.match(/^Every 0\.1s: conn-drain status/gm)).toHaveLength(2);
    });

    it("clears and homes the screen when stdout is a terminal", async () => {
      let out = "";
      const io: Io = {
        out: (s) => {
          out += s;
        },
        err: () => {},
        env: { PATH: process.env.PATH ?? "", CONN_DRAIN_ADMIN_TOKEN: ADMIN_TOKEN },
        cwd: outside(),
        isTTY: true,
        outIsTTY: true,
        stdin: async () => "",
      };
      const code = await main(
        ["status", "--watch", "--count", "2", "--interval", "0.1", "-g", `127.0.0.1:${gw.port}`],
        io,
      );
      expect(code).toBe(0);
      expect(out.split("\x1b[H\x1b[2J")).toHaveLength(3);
    });
  });
});

describe("Docker credentials", () => {
  /** A docker config dir and a bin dir with docker-credential-<name> scripts. */
  function dockerSetup(config: string, helpers: Record<string, string> = {}) {
    const dir = outside();
    mkdirSync(join(dir, "docker"));
    writeFileSync(join(dir, "docker", "config.json"), config);
    mkdirSync(join(dir, "bin"));
    for (const [name, script] of Object.entries(helpers)) {
      const f = join(dir, "bin", `docker-credential-${name}`);
      writeFileSync(f, `#!/bin/sh\n${script}\n`);
      chmodSync(f, 0o755);
    }
    return {
      dir,
      env: {
        DOCKER_CONFIG: join(dir, "docker"),
        PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`,
      },
    };
  }

  /** `conn-drain image` to a port nothing listens on, from a scratch project, under `env`. */
  async function imageToFreePort(env: Record<string, string>) {
    const port = await freePort();
    return runCli(["image", `127.0.0.1:${port}/conn-drain`], { cwd: scratchProject(), env });
  }

  it("names a credential helper that is not installed", async () => {
    const { env } = dockerSetup(JSON.stringify({ credsStore: "desktop-missing" }));
    const r = await imageToFreePort(env);
    expect(r.code).toBe(4);
    expect(r.err.trim().split("\n").at(-1)).toMatch(
      /^conn-drain image: docker credential helper docker-credential-desktop-missing \(credsStore in .*config\.json\) is not installed or not on PATH — install docker-credential-desktop-missing/,
    );
  });

  it("names a credential helper that fails, with what it said", async () => {
    const { env } = dockerSetup(JSON.stringify({ credsStore: "locked" }), {
      locked: 'echo "keychain cannot be accessed: the session is locked" >&2; exit 1',
    });
    const r = await imageToFreePort(env);
    expect(r.code).toBe(4);
    expect(r.err.trim().split("\n").at(-1)).toMatch(
      /docker credential helper docker-credential-locked \(credsStore in .*\) failed for 127\.0\.0\.1:\d+: keychain cannot be accessed: the session is locked/,
    );
  });

  it("names a docker config.json that is not JSON", async () => {
    const { dir, env } = dockerSetup('{"auths": {"registry.example.com": {"auth": "x"}');
    const r = await imageToFreePort(env);
    expect(r.code).toBe(5);
    expect(r.err.trim().split("\n").at(-1)).toContain(
      `conn-drain image: the docker config ${join(dir, "docker", "config.json")} is not valid JSON: `,
    );
  });

  it("asks a helper for Docker Hub under Docker's key, https://index.docker.io/v1/", () => {
    // The helper answers only for the key docker login stores Hub credentials under, and logs
    // what it was asked.
    const helper = (log: string) =>
      `read -r url; echo "$url" >> ${log}\nif [ "$url" = "https://index.docker.io/v1/" ]; then echo '{"ServerURL":"'"$url"'","Username":"hubuser","Secret":"hub-Secret-123"}'; else echo "credentials not found in native keychain"; exit 1; fi`;
    for (const cfg of [
      { credsStore: "hub" },
      { credHelpers: { "https://index.docker.io/v1/": "hub" } },
    ]) {
      const base = outside();
      const log = join(base, "asked.log");
      const { env } = dockerSetup(JSON.stringify(cfg), { hub: helper(log) });
      // Hub references in all of Docker's spellings are one registry.
      for (const ref of [
        "team/conn-drain",
        "docker.io/team/conn-drain",
        "index.docker.io/team/conn-drain",
      ]) {
        const r = parseReference(ref);
        expect(r.registry, ref).toBe("docker.io");
        expect(r.apiHost).toBe("registry-1.docker.io");
        // The keychain lookup runs with the caller's PATH (and, in older builds, the process's).
        const saved = process.env.PATH;
        process.env.PATH = env.PATH;
        try {
          expect(
            resolveCredentials(r.registry, {}, { HOME: base, ...env }),
            JSON.stringify(cfg),
          ).toMatchObject({
            username: "hubuser",
            password: "hub-Secret-123",
          });
        } finally {
          process.env.PATH = saved;
        }
      }
      expect(new Set(readFileSync(log, "utf8").trim().split("\n"))).toEqual(
        new Set(["https://index.docker.io/v1/"]),
      );
    }
  });
});

describe("placeholder secrets are refused with a hint", () => {
  it("README's conn-drain.yaml, as written, fails wasmplugin and console with the way out", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const yaml = /`conn-drain\.yaml` is the plugin config[^\n]*\n\n```yaml\n([\s\S]*?)```/.exec(
      readme,
    )?.[1];
    expect(yaml, "README's conn-drain.yaml example").toBeDefined();
    const dir = scratchProject();
    writeFileSync(join(dir, "conn-drain.yaml"), yaml as string);
    const ref = `registry.example.com/plugins/conn-drain:0.1.0@sha256:${"ab".repeat(32)}`;
    const r = await runCli(["wasmplugin", "--image", ref, "--config", "conn-drain.yaml"], {
      cwd: dir,
    });
    expect(r.code).toBe(5);
    expect(r.out).toBe("");
    expect(r.err).toMatch(
      /^conn-drain wasmplugin: admin\.token in conn-drain\.yaml is an <angle-bracket> placeholder \("<a long random token>"\), not a real token — make one with `openssl rand -hex 32`/,
    );
    const c = await runCli(
      ["console", "--url", "http://127.0.0.1:1", "--image", ref, "--config", "conn-drain.yaml"],
      { cwd: dir, env: { CONN_DRAIN_CONSOLE_PASSWORD: "a-real-Passw0rd" } },
    );
    expect(c.code).toBe(5);
    expect(c.err).toMatch(/admin\.token in conn-drain\.yaml is an <angle-bracket> placeholder/);
  });

  it("plugin.yaml's and the kit's placeholders are refused in a config; --allow-placeholders writes a template", async () => {
    const dir = scratchProject();
    const ref = `registry.example.com/plugins/conn-drain:0.1.0@sha256:${"ab".repeat(32)}`;
    for (const [token, secret, re] of [
      [
        "change-me-to-a-long-random-token",
        "a-real-webhook-secret-123",
        /admin\.token .* is a changeme placeholder/,
      ],
      [
        "a-real-admin-token-12345",
        "replace-with-the-webhook-secret",
        /webhook\.secret .* is a replace-with-… placeholder/,
      ],
      [
        "changemechangemechangeme",
        "a-real-webhook-secret-123",
        /admin\.token .* is a changeme placeholder/,
      ],
    ] as const) {
      writeFileSync(
        join(dir, "c.yaml"),
        `hosts: ["*.example.com"]\nadmin:\n  token: ${token}\nwebhook:\n  cluster: outbound|80||hook.ops.svc.cluster.local\n  authority: hook.ops.svc.cluster.local\n  path: /drained\n  secret: ${secret}\n`,
      );
      const r = await runCli(["wasmplugin", "--image", ref, "--config", "c.yaml"], { cwd: dir });
      expect(r.code, token).toBe(5);
      expect(r.err).toMatch(re);
      const t = await runCli(
        ["wasmplugin", "--image", ref, "--config", "c.yaml", "--allow-placeholders"],
        {
          cwd: dir,
        },
      );
      expect(t.code, t.err).toBe(0);
      expect(t.out).toContain(token);
    }
  });

  it("README's `export CONN_DRAIN_ADMIN_TOKEN=...` and the kit's token are refused before any replica is asked", async () => {
    const port = await freePort(); // nothing there: a refusal must come first
    const dir = outside();
    for (const [env, args] of [
      [{ CONN_DRAIN_ADMIN_TOKEN: "..." }, []],
      [{ CONN_DRAIN_ADMIN_TOKEN: "…" }, []],
      [{}, ["--token", "replace-with-a-long-random-token"]],
      [{}, ["--token", "changeme"]],
    ] as const) {
      for (const c of ["status", "drain"]) {
        const r = await runCli(
          [
            c,
            "-g",
            `127.0.0.1:${port}`,
            ...(c === "drain" ? ["--host", "g.example.com"] : []),
            ...args,
          ],
          {
            cwd: dir,
            env: { ...env },
          },
        );
        expect(r.code, `${c} ${JSON.stringify(env)} ${args.join(" ")}`).toBe(2);
        expect(r.err).toMatch(
          /^conn-drain \w+: the admin token \(.*\) is (an ellipsis|an? .*placeholder)/,
        );
        expect(r.err).toContain("give the plugin's real admin.token");
      }
    }
  });

  it("a placeholder registry or console password is refused", async () => {
    const port = await freePort();
    const dir = scratchProject();
    const reg = await runCli(
      ["image", `127.0.0.1:${port}/conn-drain`, "-u", "ci", "--password-stdin"],
      {
        cwd: dir,
        stdin: "changeme\n",
      },
    );
    expect(reg.code).toBe(2);
    expect(reg.err).toMatch(/the registry password is a changeme placeholder/);
    const env = await runCli(["image", `127.0.0.1:${port}/conn-drain`], {
      cwd: dir,
      env: {
        CONN_DRAIN_REGISTRY_USERNAME: "ci",
        CONN_DRAIN_REGISTRY_PASSWORD: "replace-with-the-token",
      },
    });
    expect(env.code).toBe(2);
    const con = await runCli(
      ["console", "--url", `http://127.0.0.1:${port}`, "--image", "r.example.com/x:1"],
      { cwd: dir, env: { CONN_DRAIN_CONSOLE_PASSWORD: "..." } },
    );
    expect(con.code).toBe(2);
    expect(con.err).toMatch(/the console password is an ellipsis/);
  });
});
