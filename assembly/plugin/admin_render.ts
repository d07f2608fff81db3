// Admin responses: the JSON document and the Prometheus text exposition of the counts.
import { HostCount, TableSnapshot } from "./connection_table";
import { Drain } from "./drain";
import { drainFields } from "./drain_render";
import { jsonString } from "./json";

function byHost(a: HostCount, b: HostCount): i32 {
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
}

export function renderJson(gateway: string, snapshot: TableSnapshot): string {
  const hosts = snapshot.hosts.sort(byHost);
  const parts: string[] = [];
  parts.push('{"gateway":' + jsonString(gateway));
  parts.push(',"totalActive":' + snapshot.totalActive.toString());
  parts.push(',"overflow":' + snapshot.overflow.toString());
  parts.push(',"hosts":[');
  for (let i = 0; i < hosts.length; i++) {
    const h = unchecked(hosts[i]);
    if (i > 0) parts.push(",");
    parts.push(hostEntry(h.host, h.active, h.slot.drain));
  }
  parts.push("]}\n");
  return parts.join("");
}

/** `"host":…,"active":…,"draining":…` and, if the host ever drained, its drain. */
function hostFields(host: string, active: i64, d: Drain | null): string {
  const draining = d !== null && d.active;
  let s =
    '"host":' +
    jsonString(host) +
    ',"active":' +
    active.toString() +
    ',"draining":' +
    (draining ? "true" : "false");
  if (d !== null) s += ',"drain":{' + drainFields(d) + "}";
  return s;
}

function hostEntry(host: string, active: i64, d: Drain | null): string {
  return "{" + hostFields(host, active, d) + "}";
}

export function renderHostJson(
  gateway: string,
  host: string,
  active: i64,
  d: Drain | null,
): string {
  return '{"gateway":' + jsonString(gateway) + "," + hostFields(host, active, d) + "}\n";
}

/** Label values escape backslash, double quote and newline (Prometheus text format 0.0.4). */
export function promLabel(value: string): string {
  let plain = true;
  for (let i = 0; i < value.length && plain; i++) {
    const c = value.charCodeAt(i);
    plain = c != 0x5c && c != 0x22 && c != 0x0a;
  }
  if (plain) return value;
  const parts: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c == 0x5c) parts.push("\\\\");
    else if (c == 0x22) parts.push('\\"');
    else if (c == 0x0a) parts.push("\\n");
    else parts.push(String.fromCharCode(c));
  }
  return parts.join("");
}

export function renderPrometheus(gateway: string, hosts: Array<HostCount>, overflow: i64): string {
  const sorted = hosts.sort(byHost);
  const gw = promLabel(gateway);
  const parts: string[] = [];
  parts.push("# HELP conn_drain_active Live streams per upstream host, summed over all workers.\n");
  parts.push("# TYPE conn_drain_active gauge\n");
  for (let i = 0; i < sorted.length; i++) {
    const h = unchecked(sorted[i]);
    parts.push(
      'conn_drain_active{host="' +
        promLabel(h.host) +
        '",gateway="' +
        gw +
        '"} ' +
        h.active.toString() +
        "\n",
    );
  }
  parts.push("# HELP conn_drain_overflow Live streams whose host found no slot (maxHosts).\n");
  parts.push("# TYPE conn_drain_overflow gauge\n");
  parts.push('conn_drain_overflow{gateway="' + gw + '"} ' + overflow.toString() + "\n");
  parts.push("# HELP conn_drain_draining Whether the host is draining (1) or not (0).\n");
  parts.push("# TYPE conn_drain_draining gauge\n");
  for (let i = 0; i < sorted.length; i++) {
    const h = unchecked(sorted[i]);
    const d = h.slot.drain;
    const flag = d !== null && d.active ? "1" : "0";
    parts.push(
      'conn_drain_draining{host="' + promLabel(h.host) + '",gateway="' + gw + '"} ' + flag + "\n",
    );
  }
  return parts.join("");
}
