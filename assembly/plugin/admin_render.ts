// Admin responses: the JSON document and the Prometheus text exposition of the counts, written
// into one byte buffer (see byte_buffer.ts for why).
import { ByteBuffer } from "./byte_buffer";
import { writeDrainFields } from "./drain_render";
import { HostCount, TableSnapshot } from "./table_view";

export function byHost(a: HostCount, b: HostCount): i32 {
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
}

/**
 * `"host":…,"active":…,"exact":…,"overflow":…,"draining":…` and, if the host ever drained, its
 * drain. `active` includes the streams of the host's overflow slot, which may belong to other
 * hosts: then `exact` is false and `active` an upper bound, never a false low.
 */
function hostFields(out: ByteBuffer, h: HostCount): void {
  const d = h.drain;
  out.str('"host":').json(h.host).str(',"active":').int(h.active);
  out.str(',"exact":').str(h.overflow == 0 ? "true" : "false");
  out.str(',"overflow":').int(h.overflow).str(',"draining":');
  out.str(d !== null && d.active ? "true" : "false");
  if (d !== null) {
    out.str(',"drain":{');
    writeDrainFields(out, d);
    out.byte(0x7d);
  }
}

export function renderJson(gateway: string, snapshot: TableSnapshot): ArrayBuffer {
  const hosts = snapshot.hosts.sort(byHost);
  const out = new ByteBuffer(128 + hosts.length * 80);
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

export function renderPrometheus(
  gateway: string,
  hosts: Array<HostCount>,
  overflow: i64,
): ArrayBuffer {
  const sorted = hosts.sort(byHost);
  const out = new ByteBuffer(512 + sorted.length * 160);
  out.str("# HELP conn_drain_active Live streams per upstream host, summed over all workers ");
  out.str("(with the host's overflow share: an upper bound while conn_drain_overflow > 0).\n");
  out.str("# TYPE conn_drain_active gauge\n");
  for (let i = 0; i < sorted.length; i++) {
    const h = unchecked(sorted[i]);
    out.str('conn_drain_active{host="').label(h.host).str('",gateway="').label(gateway).str('"} ');
    out.int(h.active).byte(0x0a);
  }
  out.str("# HELP conn_drain_overflow Live streams whose host found no slot (maxHosts).\n");
  out.str("# TYPE conn_drain_overflow gauge\n");
  out.str('conn_drain_overflow{gateway="').label(gateway).str('"} ').int(overflow).byte(0x0a);
  out.str("# HELP conn_drain_draining Whether the host is draining (1) or not (0).\n");
  out.str("# TYPE conn_drain_draining gauge\n");
  for (let i = 0; i < sorted.length; i++) {
    const h = unchecked(sorted[i]);
    const d = h.drain;
    out
      .str('conn_drain_draining{host="')
      .label(h.host)
      .str('",gateway="')
      .label(gateway)
      .str('"} ');
    out.str(d !== null && d.active ? "1\n" : "0\n");
  }
  return out.bytes();
}
