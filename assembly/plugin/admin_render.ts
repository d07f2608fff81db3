// Admin responses: the JSON document and the Prometheus text exposition of the counts, written
// into one byte buffer (see byte_buffer.ts for why). The fixed parts are encoded once and copied;
// host names are written from their key bytes.
import { ByteBuffer } from "./byte_buffer";
import { writeDrainFields } from "./drain_render";
import { byHost, HostCount, TableSnapshot } from "./table_view";

const HOST = String.UTF8.encode('"host":"');
const ACTIVE = String.UTF8.encode('","active":');
const EXACT_TRUE = String.UTF8.encode(',"exact":true,"overflow":');
const EXACT_FALSE = String.UTF8.encode(',"exact":false,"overflow":');
const DRAINING_TRUE = String.UTF8.encode(',"draining":true');
const DRAINING_FALSE = String.UTF8.encode(',"draining":false');
const DRAIN_OPEN = String.UTF8.encode(',"drain":{');
const PLAYERS = String.UTF8.encode(',"players":');
const PLAYERS_EXACT = String.UTF8.encode(',"playersExact":');
const PROM_ACTIVE = String.UTF8.encode('conn_drain_active{host="');
const PROM_DRAINING = String.UTF8.encode('conn_drain_draining{host="');
const PROM_QUIET = String.UTF8.encode('conn_drain_quiet_seconds{host="');
const PROM_PLAYERS = String.UTF8.encode('conn_drain_players{host="');
const PROM_RETURNING = String.UTF8.encode('conn_drain_episode_returning{host="');
const PROM_REFUSED = String.UTF8.encode('conn_drain_episode_refused{host="');
const PROM_GATEWAY = String.UTF8.encode('",gateway="');
const PROM_END = String.UTF8.encode('"} ');

/**
 * `"host":…,"active":…,"exact":…,"overflow":…,"draining":…` and, if the host ever drained, its
 * drain. `active` includes the streams of the host's overflow slot, which may belong to other
 * hosts: then `exact` is false and `active` an upper bound, never a false low.
 */
function hostFields(out: ByteBuffer, h: HostCount): void {
  const d = h.drain;
  out.raw(HOST).asciiEscaped(h.name, true).raw(ACTIVE).int(h.active);
  out.raw(h.overflow == 0 ? EXACT_TRUE : EXACT_FALSE).int(h.overflow);
  const players = h.players;
  if (players !== null) {
    out.raw(PLAYERS).int(players.players);
    out.raw(PLAYERS_EXACT).str(players.exact ? "true" : "false");
  }
  out.raw(d !== null && d.active ? DRAINING_TRUE : DRAINING_FALSE);
  if (d !== null) {
    out.raw(DRAIN_OPEN);
    writeDrainFields(out, d);
    out.byte(0x7d);
  }
}

export function renderJson(gateway: string, snapshot: TableSnapshot): ArrayBuffer {
  const hosts = snapshot.hosts.sort(byHost);
  const out = new ByteBuffer(128 + hosts.length * 110);
  out.str('{"gateway":').json(gateway);
  out.str(',"totalActive":').int(snapshot.totalActive);
  out.str(',"overflow":').int(snapshot.overflow);
  out.str(',"hosts":[');
  for (let i = 0; i < hosts.length; i++) {
    const h = unchecked(hosts[i]);
    if (i > 0) out.byte(0x2c);
    out.byte(0x7b);
    hostFields(out, h);
    out.byte(0x7d);
  }
  out.str("]}\n");
  return out.bytes();
}

export function renderHostJson(gateway: string, h: HostCount): ArrayBuffer {
  const out = new ByteBuffer(256);
  out.str('{"gateway":').json(gateway).byte(0x2c);
  hostFields(out, h);
  out.str("}\n");
  return out.bytes();
}

/** Seconds a draining host's count has stood at zero at `now` (ms), to the millisecond. */
function writeQuietSeconds(out: ByteBuffer, since: i64, now: i64): void {
  const ms: i64 = since > 0 && now > since ? now - since : 0;
  out.int(ms / 1000);
  const frac = ms % 1000;
  if (frac == 0) return;
  out.byte(0x2e);
  if (frac < 100) out.byte(0x30);
  if (frac < 10) out.byte(0x30);
  out.int(frac);
}

export function renderPrometheus(
  gateway: string,
  hosts: Array<HostCount>,
  overflow: i64,
  now: i64,
): ArrayBuffer {
  const sorted = hosts.sort(byHost);
  const out = new ByteBuffer(512 + sorted.length * 160);
  // The gateway label, escaped once for every line.
  const gw = new ByteBuffer(64).label(gateway).bytes();
  out.str("# HELP conn_drain_active Live streams per upstream host, summed over all workers ");
  out.str("(with the host's overflow share: an upper bound while conn_drain_overflow > 0).\n");
  out.str("# TYPE conn_drain_active gauge\n");
  for (let i = 0; i < sorted.length; i++) {
    const h = unchecked(sorted[i]);
    out.raw(PROM_ACTIVE).asciiEscaped(h.name, false).raw(PROM_GATEWAY).raw(gw).raw(PROM_END);
    out.int(h.active).byte(0x0a);
  }
  out.str("# HELP conn_drain_overflow Live streams whose host found no slot (maxHosts).\n");
  out.str("# TYPE conn_drain_overflow gauge\n");
  out.str('conn_drain_overflow{gateway="').raw(gw).raw(PROM_END).int(overflow).byte(0x0a);
  out.str("# HELP conn_drain_draining Whether the host is draining (1) or not (0).\n");
  out.str("# TYPE conn_drain_draining gauge\n");
  for (let i = 0; i < sorted.length; i++) {
    const h = unchecked(sorted[i]);
    const d = h.drain;
    out.raw(PROM_DRAINING).asciiEscaped(h.name, false).raw(PROM_GATEWAY).raw(gw).raw(PROM_END);
    out.byte(d !== null && d.active ? 0x31 : 0x30).byte(0x0a);
  }
  writePlayers(out, sorted, gw);
  // Only draining hosts have a quiet clock and episode figures; with none, the families are left
  // out (as before them).
  writeEpisodeFamily(out, sorted, gw, EpisodeFigure.QuietSeconds, now);
  writeEpisodeFamily(out, sorted, gw, EpisodeFigure.Returning, now);
  writeEpisodeFamily(out, sorted, gw, EpisodeFigure.Refused, now);
  return out.bytes();
}

/** The per-draining-host families, each with its name (the prefix) and help text. */
enum EpisodeFigure {
  QuietSeconds,
  Returning,
  Refused,
}

const EPISODE_PREFIX: StaticArray<ArrayBuffer> = [PROM_QUIET, PROM_RETURNING, PROM_REFUSED];
const EPISODE_HELP: StaticArray<string> = [
  "# HELP conn_drain_quiet_seconds Seconds a draining host's count has stood at zero (it " +
    "completes once this reaches drain.quietSeconds); 0 while it is not.\n" +
    "# TYPE conn_drain_quiet_seconds gauge\n",
  "# HELP conn_drain_episode_returning Streams of returning players let in during the host's " +
    "running drain (drain.reconnectGraceSeconds).\n" +
    "# TYPE conn_drain_episode_returning gauge\n",
  "# HELP conn_drain_episode_refused New streams refused during the host's running drain " +
    "(drain.rejectNew).\n" +
    "# TYPE conn_drain_episode_refused gauge\n",
];

function writeEpisodeFamily(
  out: ByteBuffer,
  sorted: Array<HostCount>,
  gw: ArrayBuffer,
  figure: EpisodeFigure,
  now: i64,
): void {
  let headed = false;
  for (let i = 0; i < sorted.length; i++) {
    const h = unchecked(sorted[i]);
    const d = h.drain;
    if (d === null || !d.active) continue;
    if (!headed) {
      headed = true;
      out.str(EPISODE_HELP[figure]);
    }
    out.raw(EPISODE_PREFIX[figure]).asciiEscaped(h.name, false).raw(PROM_GATEWAY).raw(gw);
    out.raw(PROM_END);
    if (figure == EpisodeFigure.QuietSeconds) writeQuietSeconds(out, d.quietSince, now);
    else out.int(<i64>(figure == EpisodeFigure.Returning ? d.returning : d.refused));
    out.byte(0x0a);
  }
}

/** Distinct players per host, when players are configured (a lower bound where not exact). */
function writePlayers(out: ByteBuffer, sorted: Array<HostCount>, gw: ArrayBuffer): void {
  let headed = false;
  for (let i = 0; i < sorted.length; i++) {
    const h = unchecked(sorted[i]);
    const players = h.players;
    if (players === null) continue;
    if (!headed) {
      headed = true;
      out.str("# HELP conn_drain_players Distinct players (players.*) with a live stream per ");
      out.str("upstream host, over all workers; a player with two streams counts once.\n");
      out.str("# TYPE conn_drain_players gauge\n");
    }
    out.raw(PROM_PLAYERS).asciiEscaped(h.name, false).raw(PROM_GATEWAY).raw(gw).raw(PROM_END);
    out.int(players.players).byte(0x0a);
  }
}
