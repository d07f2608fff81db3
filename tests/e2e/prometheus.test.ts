// The observability path for real: Debian's Prometheus, started on loopback, scrapes the local
// gateway's admin path in Prometheus format; its HTTP query API must report conn_drain_active
// per host equal to what the WebSocket clients see, before and after players leave.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Player } from "../../gateway/demo/players.js";
import { ADMIN_TOKEN, hostOf, startTestbed, type Testbed } from "../../gateway/demo/testbed.js";
import { waitFor } from "../../gateway/demo/wait.js";
import { clientView, joinMany } from "./players.js";
import { freePort, requireTool } from "./tools.js";

const HOSTS = ["game0", "game1", "game2"].map(hostOf);
const run = requireTool("prometheus");

let tb: Testbed;
let prom: ChildProcess | undefined;
let promUrl = "";
let dir = "";
let promLog = "";
const players: Player[] = [];

async function query(
  q: string,
): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`, {
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await res.json()) as { status: string; data: { result: never[] } };
  if (body.status !== "success") throw new Error(`query ${q}: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** conn_drain_active per host as Prometheus has it now. */
async function promView(): Promise<Record<string, number>> {
  const rows = await query("conn_drain_active");
  const out: Record<string, number> = Object.fromEntries(HOSTS.map((h) => [h, 0]));
  for (const r of rows) if (r.metric.host) out[r.metric.host] = Number(r.value[1]);
  return out;
}

async function expectPrometheusAgrees(): Promise<Record<string, number>> {
  const mine = clientView(players, HOSTS);
  await waitFor(
    "Prometheus's conn_drain_active == clients' view",
    async () => {
      const seen = await promView();
      return HOSTS.every((h) => seen[h] === mine[h]);
    },
    20_000,
    250,
  );
  return promView();
}

/** deploy/probe.sh in its Prometheus mode, for a game server in PreDelete. */
function probe(host: string): Promise<{ code: number; out: string }> {
  writeFileSync(join(dir, "state"), "PreDelete\n");
  return new Promise((resolve) => {
    execFile(
      "sh",
      ["deploy/probe.sh", "--prometheus", promUrl],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          GS_STATE_FILE: join(dir, "state"),
          GS_HOST: host,
        },
        timeout: 20_000,
      },
      (err, stdout) => {
        resolve({
          code: err ? (typeof err.code === "number" ? err.code : -1) : 0,
          out: stdout.trim(),
        });
      },
    );
  });
}

describe.runIf(run)("Prometheus scrapes the admin path (real prometheus on loopback)", () => {
  beforeAll(async () => {
    tb = await startTestbed({ workers: 4, nodeId: "local-gateway-0" });
    dir = mkdtempSync(join(tmpdir(), "conn-drain-prom-"));
    const config = [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 900ms",
      "scrape_configs:",
      "  - job_name: conn-drain",
      "    metrics_path: /.conn-drain",
      "    params:",
      "      format: [prometheus]",
      "    authorization:",
      "      type: Bearer",
      `      credentials: ${ADMIN_TOKEN}`,
      "    static_configs:",
      `      - targets: ["127.0.0.1:${tb.gateway.port}"]`,
      "",
    ].join("\n");
    writeFileSync(join(dir, "prometheus.yml"), config);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    prom.stderr?.on("data", (c: Buffer) => {
      promLog += c.toString();
    });
    await waitFor(
      "prometheus to be ready",
      async () => {
        if (prom?.exitCode !== null) throw new Error(`prometheus exited: ${promLog}`);
        return (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok;
      },
      30_000,
      200,
    );
  });

  afterAll(async () => {
    await Promise.allSettled(players.map((p) => p.leave(2_000)));
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom?.once("exit", r));
      prom.kill("SIGTERM");
      await exited;
    }
    await tb?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reports the players per game server the clients see", async () => {
    let id = 0;
    for (const [host, n] of [
      [HOSTS[0], 12],
      [HOSTS[1], 9],
      [HOSTS[2], 5],
    ] as Array<[string, number]>) {
      players.push(...(await joinMany(tb.gateway.url, host, n, id)));
      id += n;
    }
    expect(await expectPrometheusAgrees()).toEqual({
      [HOSTS[0] as string]: 12,
      [HOSTS[1] as string]: 9,
      [HOSTS[2] as string]: 5,
    });
    const up = await query('up{job="conn-drain"}');
    expect(up[0]?.value[1]).toBe("1");
    const labels = (await query("conn_drain_active"))[0]?.metric;
    expect(labels).toMatchObject({ gateway: "local-gateway-0", job: "conn-drain" });
  });

  it("probe.sh --prometheus waits while the host has players", async () => {
    expect(await probe(HOSTS[1] as string)).toEqual({ code: 1, out: "waiting" });
  });

  it("follows players leaving and a drain", async () => {
    await tb.admin.startDrain(HOSTS[1] as string);
    await Promise.all(players.filter((p) => p.host === HOSTS[1]).map((p) => p.leave()));
    await Promise.all(
      players
        .filter((p) => p.host === HOSTS[0])
        .slice(0, 4)
        .map((p) => p.leave()),
    );
    expect(await expectPrometheusAgrees()).toEqual({
      [HOSTS[0] as string]: 8,
      [HOSTS[1] as string]: 0,
      [HOSTS[2] as string]: 5,
    });
    expect(await probe(HOSTS[1] as string)).toEqual({ code: 0, out: "done" });
    expect(await probe(HOSTS[0] as string)).toEqual({ code: 1, out: "waiting" });
  });
});
