// JSON forms of a drain: the admin view, and the drain-complete event (shared-data key value and
// webhook body).

import { ByteBuffer } from "./byte_buffer";
import { Delivery, Drain } from "./drain";
import { deliveryName, reasonName, sourceName, stateName } from "./drain_rules";
import { jsonString } from "./json";

export function isoTime(ms: i64): string {
  return new Date(ms).toISOString();
}

function upstreamsJson(d: Drain): string {
  const parts: string[] = [];
  for (let i = 0; i < d.upstreams.length; i++) parts.push(jsonString(unchecked(d.upstreams[i])));
  return "[" + parts.join(",") + "]";
}

/** The admin view of a host's drain: `{"host":…,"active":…,<drain fields>}`. */
export function writeDrainJson(out: ByteBuffer, host: string, active: i64, d: Drain): void {
  out.str('{"host":').json(host).str(',"active":').int(active).byte(0x2c);
  writeDrainFields(out, d);
  out.byte(0x7d);
}

/** A drain's own fields, without the braces (embedded in host entries and drain views). */
export function writeDrainFields(out: ByteBuffer, d: Drain): void {
  out.str('"episode":').json(d.episode);
  out.str(',"state":"').str(stateName(d.state));
  out.str('","source":"').str(sourceName(d.source));
  out.str('","startedAt":"').str(isoTime(d.startedAt)).str('","deadline":');
  if (d.deadlineAt > 0) out.byte(0x22).str(isoTime(d.deadlineAt)).byte(0x22);
  else out.str("null");
  out.str(',"upstreams":[');
  for (let i = 0; i < d.upstreams.length; i++) {
    if (i > 0) out.byte(0x2c);
    out.json(unchecked(d.upstreams[i]));
  }
  out.byte(0x5d);
  out.str(',"quietSeconds":').int(<i64>d.quietSeconds);
  out.str(',"reconnectGraceSeconds":').int(<i64>d.graceSeconds);
  out
    .str(',"returning":')
    .int(<i64>d.returning)
    .str(',"refused":')
    .int(<i64>d.refused);
  // Only while the quiet clock runs: a drain that is over, or whose host is not empty, has none.
  if (d.active && d.quietSince > 0) {
    out.str(',"quietSince":"').str(isoTime(d.quietSince)).byte(0x22);
  }
  if (d.completedAt > 0) {
    out.str(',"completedAt":"').str(isoTime(d.completedAt));
    out.str('","reason":"').str(reasonName(d.reason)).str('","remaining":').int(d.remaining);
    // Under rejectNew the host refuses new streams until then (slot.ts FLAG_HELD).
    if (d.graceSeconds > 0) out.str(',"holdUntil":"').str(isoTime(d.holdUntil)).byte(0x22);
  }
  out
    .str(',"delivery":{"state":"')
    .str(deliveryName(d.delivery))
    .str('","attempts":')
    .int(d.attempts);
  if (d.delivery != Delivery.None && d.lastError.length > 0)
    out.str(',"lastError":').json(d.lastError);
  out.byte(0x7d);
}

/**
 * The drain-complete record: the value of `<prefix>complete/<host>` and, with
 * `"event":"drain_complete"` first, the webhook body.
 */
export function completionJson(host: string, d: Drain, gateway: string, asEvent: bool): string {
  return (
    (asEvent ? '{"event":"drain_complete",' : "{") +
    '"host":' +
    jsonString(host) +
    ',"episode":' +
    jsonString(d.episode) +
    ',"startedAt":"' +
    isoTime(d.startedAt) +
    '","completedAt":"' +
    isoTime(d.completedAt) +
    '","reason":"' +
    reasonName(d.reason) +
    '","remaining":' +
    d.remaining.toString() +
    ',"gateway":' +
    jsonString(gateway) +
    ',"upstreams":' +
    upstreamsJson(d) +
    ',"quietSeconds":' +
    d.quietSeconds.toString() +
    ',"reconnectGraceSeconds":' +
    d.graceSeconds.toString() +
    ',"returning":' +
    d.returning.toString() +
    ',"refused":' +
    d.refused.toString() +
    "}"
  );
}
