// `conn-drain console` against the console stand-in in console-standin.ts (the real Higress
// console cannot run here; the stand-in follows its controllers' paths, statuses and bodies).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type ConsoleStandIn, startConsoleStandIn } from "./console-standin.js";
import { runCli, scratchProject } from "./helpers.js";
import { freePort } from "./registry.js";

const DIGEST = `sha256:${"ef".repeat(32)}`;
const IMAGE = `registry.example.com/plugins/conn-drain:0.1.0@${DIGEST}`;
const PASSWORD = "console-Passw0rd";

describe("console (Higress console stand-in)", () => {
  let con: ConsoleStandIn;
  let dir: string;
  beforeAll(async () => {
    con = await startConsoleStandIn("admin", PASSWORD);
    dir = scratchProject();
    writeFileSync(
      join(dir, "config.yaml"),
      stringify({ keyBy: "authority", admin: { token: "a-long-enough-admin-token" } }),
    );
  });
  afterAll(() => con?.stop());
  const run = (
    args: string[],
    env: Record<string, string> = { CONN_DRAIN_CONSOLE_PASSWORD: PASSWORD },
  ) => runCli(["console", "--url", con.url, "--image", IMAGE, ...args], { cwd: dir, env });

  it("logs in, creates the custom plugin from plugin.yaml, then updates it with its version", async () => {
    const r = await run([]);
    expect(r.err).toContain(
      "created plugin conn-drain (oci://registry.example.com/plugins/conn-drain:0.1.0@sha256:",
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name: "conn-drain", created: true, enabled: [] });
    const p = con.plugins.get("conn-drain");
    expect(p).toMatchObject({
      title: "Connection Drain",
      phase: "STATS",
      priority: 100,
      pluginVersion: "0.1.0",
      imageRepository: "oci://registry.example.com/plugins/conn-drain",
      imageVersion: `0.1.0@${DIGEST}`,
    });
    expect(con.requests.slice(0, 3).map((q) => `${q.method} ${q.path}`)).toEqual([
      "POST /session/login",
      "GET /v1/wasm-plugins/conn-drain",
      "POST /v1/wasm-plugins",
    ]);
    expect(con.requests[1]?.cookie).toBeTruthy();
    const version = p?.version;
    const u = await run([]);
    expect(u.code).toBe(0);
    expect(u.err).toContain("updated plugin conn-drain");
    const put = con.requests.at(-1);
    expect(`${put?.method} ${put?.path}`).toBe("PUT /v1/wasm-plugins/conn-drain");
    expect(con.plugins.get("conn-drain")?.version).not.toBe(version);
  });

  it("enables the plugin globally and on a route with a checked config", async () => {
    const r = await run([
      "--enable",
      "global",
      "--enable",
      "route:lobby",
      "--config",
      "config.yaml",
    ]);
    expect(r.err).toMatch(/enabled globally\n {2}enabled on route lobby/);
    expect(r.code).toBe(0);
    expect(con.instances.get("global/conn-drain")).toMatchObject({
      pluginName: "conn-drain",
      enabled: true,
      configurations: { keyBy: "authority" },
    });
    expect(con.instances.get("route:lobby/conn-drain")).toMatchObject({
      enabled: true,
      targets: { ROUTE: "lobby" },
    });
  });

  it("reports the console's own refusal: unknown route, built-in name, bad config", async () => {
    const route = await run(["--enable", "route:nowhere", "--config", "config.yaml"]);
    expect(route.code).toBe(5);
    expect(route.err).toMatch(
      /^conn-drain console: console rejected enabling conn-drain on route nowhere: Unknown route: nowhere — fix the value it names/m,
    );
    const builtIn = await run(["--name", "key-auth"]);
    expect(builtIn.code).toBe(6);
    expect(builtIn.err).toMatch(
      /"key-auth" is a built-in plugin of the console — choose another --name/,
    );
    writeFileSync(join(dir, "bad.yaml"), stringify({ keyBy: "ip" }));
    const bad = await run(["--enable", "global", "--config", "bad.yaml"]);
    expect(bad.code).toBe(5);
    expect(bad.err).toMatch(/schema violation at config\.keyBy: must be one of/);
  });

  it("says when login fails or the console is unreachable", async () => {
    const wrong = await run([], { CONN_DRAIN_CONSOLE_PASSWORD: "nope" });
    expect(wrong.code).toBe(4);
    expect(wrong.err).toMatch(
      /^conn-drain console: console login failed for "admin": Incorrect username or password — check --username/m,
    );
    const port = await freePort();
    const down = await runCli(
      ["console", "--url", `http://127.0.0.1:${port}`, "--image", IMAGE, "--password-stdin"],
      { cwd: dir, stdin: `${PASSWORD}\n` },
    );
    expect(down.code).toBe(3);
    expect(down.err).toMatch(
      /Higress console unreachable at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
    );
  });
});
