// Crowds of real WebSocket players for the end-to-end tests, and the clients' own view of them.
import { joinGame, type Player } from "../../gateway/demo/players.js";

/** Joins `n` players to `host`, `parallel` handshakes at a time. */
export async function joinMany(
  gatewayUrl: string,
  host: string,
  n: number,
  firstId: number,
  parallel = 25,
): Promise<Player[]> {
  const out: Player[] = [];
  for (let i = 0; i < n; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, n - i) }, (_, k) =>
      joinGame(gatewayUrl, host, firstId + i + k),
    );
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Connected players per host, as the clients themselves see it. */
export function clientView(players: Player[], hosts: string[]): Record<string, number> {
  const view: Record<string, number> = Object.fromEntries(hosts.map((h) => [h, 0]));
  for (const p of players) if (p.connected) view[p.host] = (view[p.host] ?? 0) + 1;
  return view;
}

/** Active per host from an admin view, hosts the plugin never saw as 0. */
export function adminView(counts: Record<string, number>, hosts: string[]): Record<string, number> {
  return Object.fromEntries(hosts.map((h) => [h, counts[h] ?? 0]));
}
