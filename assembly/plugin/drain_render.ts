// JSON forms of a drain: the admin view, and the drain-complete event (shared-data key value and
// webhook body).
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

/** The admin view of a host's drain. */
export function drainJson(host: string, active: i64, d: Drain): string {
  return (
    '{"host":' + jsonString(host) + ',"active":' + active.toString() + "," + drainFields(d) + "}"
  );
}

/** A drain's own fields, without the braces (embedded in host entries and drain views). */
export function drainFields(d: Drain): string {
  let s =
    '"episode":' +
    jsonString(d.episode) +
    ',"state":"' +
    stateName(d.state) +
    '","source":"' +
    sourceName(d.source) +
    '","startedAt":"' +
    isoTime(d.startedAt) +
    '","deadline":' +
    (d.deadlineAt > 0 ? '"' + isoTime(d.deadlineAt) + '"' : "null") +
    ',"upstreams":' +
    upstreamsJson(d);
  if (d.completedAt > 0) {
    s +=
      ',"completedAt":"' +
      isoTime(d.completedAt) +
      '","reason":"' +
      reasonName(d.reason) +
      '","remaining":' +
      d.remaining.toString();
  }
  s +=
    ',"delivery":{"state":"' + deliveryName(d.delivery) + '","attempts":' + d.attempts.toString();
  if (d.delivery != Delivery.None && d.lastError.length > 0) {
    s += ',"lastError":' + jsonString(d.lastError);
  }
  return s + "}";
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
    "}"
  );
}
