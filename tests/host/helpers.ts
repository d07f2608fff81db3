import { readFile } from "node:fs/promises";
import { createGateway, type Gateway, type GatewayOptions } from "../../host/index.js";
import { buildProbe } from "./build-probe.js";

let probeModule: Promise<WebAssembly.Module> | undefined;

/** The compiled probe (built on demand if no globalSetup ran, e.g. without the host config). */
export function probe(): Promise<WebAssembly.Module> {
  probeModule ??= buildProbe().then(async (p) =>
    WebAssembly.compile(new Uint8Array(await readFile(p))),
  );
  return probeModule;
}

/**
 * No gap of virtual time between the VMs' turns at start-up: every VM configures at the start
 * instant, and a test that studies a later rollout decides its interleaving itself.
 */
export const still = { rolloutGapMs: [0, 0] as const };

export async function probeGateway(options: Partial<GatewayOptions> = {}): Promise<Gateway> {
  return createGateway({ wasm: await probe(), workers: 2, config: "", ...options });
}

/** Plugin-side log messages (optionally for one VM), in order. */
export function messages(gw: Gateway, vm?: number): string[] {
  return gw.logs({ vm, source: "plugin" }).map((e) => e.message);
}

/** Callback names ("create", "request_headers", ...) the probe logged for one context on one VM. */
export function callbacks(gw: Gateway, vm: number, ctx: number): string[] {
  const out: string[] = [];
  for (const m of messages(gw, vm)) {
    const match = /^cb:(\w+) ctx=(\d+)/.exec(m);
    if (match && Number(match[2]) === ctx) out.push(match[1] as string);
  }
  return out;
}

/** Messages starting with `prefix`, for one VM. */
export function find(gw: Gateway, prefix: string, vm?: number): string[] {
  return messages(gw, vm).filter((m) => m.startsWith(prefix));
}

/** Decodes the probe's "hex=..." of a property value. */
export function hexOf(message: string | undefined): Uint8Array {
  const h = /hex=([0-9a-f]*)/.exec(message ?? "")?.[1] ?? "";
  return Uint8Array.from(h.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}
