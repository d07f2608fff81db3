// Issue 12, "tried as a new user would": what a fresh clone's reader runs from README.md and
// docs/ must do what those pages say. Each case here is a place where it did not.
import { readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  type RunResult,
  repoRoot,
  runCli,
  runProcess,
  scratchProject,
  tempDir,
} from "./helpers.js";
import { freePort } from "./registry.js";

/** The layer titles of the one image in DIR/out (an OCI layout). */
function layerTitles(dir: string): string[] {
  const index = JSON.parse(readFileSync(join(dir, "out", "index.json"), "utf8"));
  const d = (index.manifests[0].digest as string).slice("sha256:".length);
  const manifest = JSON.parse(readFileSync(join(dir, "out", "blobs", "sha256", d), "utf8")) as {
    layers: { annotations: Record<string, string> }[];
  };
  return manifest.layers.map((l) => l.annotations["org.opencontainers.image.title"] as string);
}

describe("docs/cli.md, Outside a checkout", () => {
  it("`image --spec $REPO/plugin.yaml --wasm …` elsewhere builds the image the checkout builds", async () => {
    const checkout = scratchProject();
    const inside = await runCli(["image", "--oci-layout", "out", "-q"], { cwd: checkout });
    expect(inside.code, inside.err).toBe(0);
    const elsewhere = tempDir("conn-drain-new-user-");
    const outside = await runCli(
      [
        "image",
        "--spec",
        join(checkout, "plugin.yaml"),
        "--wasm",
        join(checkout, "build", "plugin.wasm"),
        "--oci-layout",
        "out",
        "-q",
      ],
      { cwd: elsewhere },
    );
    expect(outside.code, outside.err).toBe(0);
    const digest = (line: string) => line.trim().split("@")[1];
    // The doc layers are the plugin folder's READMEs (beside plugin.yaml), wherever the command
    // runs: a user following the page gets the same image, with the same digest.
    expect(digest(outside.out)).toBe(digest(inside.out));
    expect(layerTitles(elsewhere)).toEqual([
      "spec.yaml",
      "README.md",
      "README_EN.md",
      "plugin.tar.gz",
    ]);
  });

  it("--readme still names files relative to the current directory", async () => {
    const checkout = scratchProject();
    const dir = tempDir("conn-drain-new-user-");
    const spec = ["--spec", join(checkout, "plugin.yaml")];
    const wasm = ["--wasm", join(checkout, "build", "plugin.wasm")];
    const readme = ["--readme", relative(dir, join(checkout, "README_EN.md"))];
    const r = await runCli(["image", ...spec, ...wasm, ...readme, "--oci-layout", "out", "-q"], {
      cwd: dir,
    });
    expect(r.code, r.err).toBe(0);
    expect(layerTitles(dir)).toEqual(["spec.yaml", "README_EN.md", "plugin.tar.gz"]);
  });
});

describe("README.md, Configuration", () => {
  it("the table lists every field of plugin.yaml's config schema, with its default", () => {
    const spec = parseYaml(readFileSync(join(repoRoot, "plugin.yaml"), "utf8"));
    type Prop = { default?: unknown; properties?: Record<string, Prop> };
    const fields: [string, Prop][] = [];
    const walk = (p: Prop, at: string) => {
      for (const [k, v] of Object.entries(p.properties ?? {})) {
        const name = at ? `${at}.${k}` : k;
        if (v.properties) walk(v, name);
        else fields.push([name, v]);
      }
    };
    walk(spec.spec.configSchema.openAPIV3Schema, "");
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("## Admin"));
    const rows = new Map<string, string>();
    for (const line of section.split("\n")) {
      const m = /^\|\s*`([^`]+)`\s*\|([^|]*)\|/.exec(line);
      if (m?.[1]) rows.set(m[1], (m[2] ?? "").trim());
    }
    const missing = fields.map(([n]) => n).filter((n) => !rows.has(n));
    expect(missing, "fields of plugin.yaml missing from README's table").toEqual([]);
    for (const [name, prop] of fields) {
      if (prop.default === undefined) continue;
      // The default column shows the schema's default as JSON (an empty list as `[]`).
      expect(rows.get(name), name).toContain(`\`${JSON.stringify(prop.default)}\``);
    }
  });
});

/** `npx tsx ARGS` in the repository, as local-gateway.md runs its scripts. */
function tsx(args: string[]): Promise<RunResult> {
  return runProcess(join(repoRoot, "node_modules", ".bin", "tsx"), args, {
    cwd: repoRoot,
    timeout: 60_000,
  });
}

describe("docs/local-gateway.md, the demo with your own upstream", () => {
  it("`scripts/demo.ts --upstream game1…=ADDR` with nothing at ADDR names ADDR and exits 1", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const r = await tsx(["scripts/demo.ts", "--upstream", `game1.postio.example.com=${dead}`]);
    expect(r.code).toBe(1);
    // Before any player joins: not the first player's "HTTP 503" with no address.
    expect(r.out).not.toMatch(/players joined/);
    expect(r.err).toBe(
      `demo failed: --upstream game1.postio.example.com=${dead}: nothing accepts connections there (ECONNREFUSED); start your game server first (WebSocket upgrades on /play)\n`,
    );
  });
});

describe("README.md, Two commands: `make demo` tells the story it describes", () => {
  it("game1 drains with a stranger refused; game2's blipped player is let back in, its webhook counts it", async () => {
    const r = await tsx(["scripts/demo.ts", "--pace", "0"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    // Every expected line, in this order.
    const story = [
      /\] 4 players joined game2 \(18 connected\)$/,
      /\] a new player trying game1 is refused: 503 \(drain\.rejectNew\)/,
      /\] player 14 left game1 \(0 left\) +game0=8 +game1=0 +game2=4 +total=12$/,
      /^ +host game1\.postio\.example\.com, episode \S+, reason drained, remaining 0$/,
      /\] returning players: each player names itself in x-player-id \(players\.header\); drain\.reconnectGraceSeconds is 10$/,
      /\] POST \/\.conn-drain\/drain\?host=game2\.postio\.example\.com$/,
      /^ +episode \S+, state draining, active 4, players 4$/,
      /\] player 15's connection drops \(no close handshake\) +game0=8 +game1=0 +game2=3 \(draining\)/,
      /\] player 15 reconnects [0-9.]+s later, same x-player-id: 101, let back in \(returning within 10 s\)$/,
      /\] a stranger \(x-player-id: player-1000\) trying game2 is refused: 503 \(drain\.rejectNew\)$/,
      /^ +admin path: game2 active 4, drain returning 1, refused 1$/,
      /\] player 15 left game2 \(0 left\) +game0=8 +game1=0 +game2=0 +total=8$/,
      /^ +host game2\.postio\.example\.com, episode \S+, reason drained, remaining 0$/,
      /\] verified: HMAC-SHA256 over t \+ raw body matches/,
      /^ +reconnectGraceSeconds 10, returning 1, refused 1 +\(in the signed body\)$/,
      /^ +conn_drain_players\{host="game0\.postio\.example\.com",gateway="local-gateway-0"\} 8$/,
      /^ +webhooks: 2 deliveries, verified: drains of game1 and game2 complete$/,
      /\] done: game1 and game2 drained, each signalled exactly once/,
    ];
    let at = 0;
    for (const want of story) {
      const i = lines.findIndex((l, k) => k >= at && want.test(l));
      expect(i, `${want} after line ${at} of:\n${r.out}`).toBeGreaterThanOrEqual(0);
      at = i + 1;
    }
  });
});

describe("docs/local-gateway.md, `npx tsx gateway/main.ts` with your own routes and config", () => {
  const route = ["--upstream", "game1.postio.example.com=127.0.0.1:9"];
  it("a config the plugin refuses: the plugin's reason, then one line, exit 1", async () => {
    const config = join(tempDir("conn-drain-new-user-"), "refused.json");
    writeFileSync(config, JSON.stringify({ maxHosts: 0 }));
    const r = await tsx(["gateway/main.ts", ...route, "--config", config]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("config rejected: maxHosts");
    expect(r.err).toBe(
      "local gateway: gateway failed to start: canary on_configure returned false: the plugin refused --config (its error line above says why)\n",
    );
  });

  it("flag mistakes are one line and exit 2", async () => {
    const cases: [string[], string][] = [
      [["--bogus"], "Unknown option '--bogus'"],
      [
        ["--config", "/nonexistent/conn-drain.json"],
        "--config /nonexistent/conn-drain.json: ENOENT",
      ],
      [["--cluster", "x"], '--cluster wants name=ip:port, got "x"'],
    ];
    for (const [args, line] of cases) {
      const r = await tsx(["gateway/main.ts", ...route, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err.split("\n").filter(Boolean), r.err).toHaveLength(1);
      expect(r.err).toContain(`local gateway: ${line}`);
    }
  });
});
