import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { adminConfig, connectPlayer, gateway } from "./harness.js";

// What Envoy provides to a Wasm module (proxy-wasm-cpp-host src/exports.cc and its WASI subset).
const WASI_PROVIDED = new Set([
  "fd_write",
  "fd_read",
  "fd_seek",
  "fd_close",
  "fd_fdstat_get",
  "environ_get",
  "environ_sizes_get",
  "args_get",
  "args_sizes_get",
  "clock_time_get",
  "random_get",
  "proc_exit",
]);

describe("build/plugin.wasm as Envoy loads it", () => {
  const module = new WebAssembly.Module(new Uint8Array(readFileSync("build/plugin.wasm")));

  it("imports only env.proxy_* and WASI functions Envoy provides", () => {
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.module === "env") expect(imp.name).toMatch(/^proxy_/);
      else {
        expect(imp.module).toBe("wasi_snapshot_preview1");
        expect(WASI_PROVIDED.has(imp.name)).toBe(true);
      }
    }
  });

  it("exports the ABI 0.2.1 marker, the allocator, the callbacks and a reactor start", () => {
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    for (const name of [
      "proxy_abi_version_0_2_1",
      "proxy_on_memory_allocate",
      "proxy_on_context_create",
      "proxy_on_vm_start",
      "proxy_on_configure",
      "proxy_on_tick",
      "proxy_on_request_headers",
      "proxy_on_response_headers",
      "proxy_on_log",
      "proxy_on_done",
      "proxy_on_delete",
      "proxy_on_http_call_response",
      "_initialize",
      "memory",
    ]) {
      expect(names).toContain(name);
    }
    expect(names).not.toContain("_start");
  });

  it("logs nothing above debug on the hot path (streams, admin reads, ticks)", async () => {
    const gw = await gateway(adminConfig, { logLevel: "trace" });
    gw.clearLogs();
    for (let i = 0; i < 200; i++)
      connectPlayer(gw, `game${i % 7}.example.com`, { vm: i % 4 }).close();
    gw.advance(5000);
    const loud = gw
      .logs({ source: "plugin" })
      .filter((e) => e.level !== "debug" && e.level !== "trace");
    expect(loud).toEqual([]);
  });

  it("logs at the level it means, through proxy_log, prefixed with the plugin name", async () => {
    const gw = await gateway(adminConfig);
    const info = gw.logs({ source: "plugin", minLevel: "info" });
    expect(
      info.some((e) => e.level === "info" && e.message.startsWith("conn-drain: configured:")),
    ).toBe(true);
    await gw.updateConfig("{");
    const errors = gw.logs({ source: "plugin", minLevel: "error" });
    expect(errors.every((e) => e.level === "error" && e.message.startsWith("conn-drain: "))).toBe(
      true,
    );
    expect(errors.length).toBeGreaterThan(0);
  });
});
