// State transitions of a drain episode, as pure functions on the record.
import { DrainConfig } from "./config";
import { CompletionReason, Delivery, Drain, DrainSource, DrainState } from "./drain";
import { Slot } from "./slot";

/** A new episode, with the terms of `rules` (drain config) fixed for its whole life. */
export function newDrain(
  episode: string,
  source: DrainSource,
  now: i64,
  deadlineSeconds: i32,
  rules: DrainConfig,
): Drain {
  const d = new Drain();
  d.state = DrainState.Draining;
  d.source = source;
  d.episode = episode;
  d.startedAt = now;
  d.deadlineAt = deadlineSeconds > 0 ? now + <i64>deadlineSeconds * 1000 : 0;
  d.quietSeconds = max(rules.quietSeconds, 0);
  d.graceSeconds = max(rules.reconnectGraceSeconds, 0);
  return d;
}

/**
 * The drain ends: signalled once by whoever wrote this, delivered by `owner` (0: the first VM
 * that ticks), whose first attempt is part of this write.
 */
export function completeDrain(
  d: Drain,
  reason: CompletionReason,
  remaining: i64,
  now: i64,
  owner: u32,
  webhookEnabled: bool,
  leaseMillis: i64,
): void {
  d.state = DrainState.Completed;
  d.completedAt = now;
  d.reason = reason;
  d.remaining = remaining;
  d.delivery = webhookEnabled ? Delivery.Pending : Delivery.None;
  d.owner = owner;
  d.lastError = "";
  if (webhookEnabled && owner != 0) {
    // The completing VM sends attempt 1 at once (webhook.ts): recorded in this same write, so
    // the signal needs no further write before it goes out.
    d.attempts = 1;
    d.leaseUntil = now + leaseMillis;
    d.nextAttemptAt = d.leaseUntil;
  } else {
    d.attempts = 0;
    d.leaseUntil = 0;
    d.nextAttemptAt = now;
  }
}

const MAX_BACKOFF_MILLIS: i64 = 5 * 60 * 1000;

/**
 * Delay before retry number `attempt` (1 = after the first failure): base x 2^(attempt-1), capped
 * at five minutes, scaled by a jitter factor in [0.75, 1.25) so that replicas whose webhooks failed
 * together do not retry in lockstep.
 */
export function backoffMillis(attempt: i32, baseMillis: i64, random: u32): i64 {
  let delay = baseMillis;
  for (let i = 1; i < attempt && delay < MAX_BACKOFF_MILLIS; i++) delay *= 2;
  if (delay > MAX_BACKOFF_MILLIS) delay = MAX_BACKOFF_MILLIS;
  const jitterPermille = 750 + <i64>(random % 500);
  return (delay * jitterPermille) / 1000;
}

export function reasonName(r: CompletionReason): string {
  return r == CompletionReason.Deadline ? "deadline" : "drained";
}

export function stateName(s: DrainState): string {
  if (s == DrainState.Draining) return "draining";
  if (s == DrainState.Completed) return "completed";
  return "cancelled";
}

export function deliveryName(d: Delivery): string {
  if (d == Delivery.Pending) return "pending";
  if (d == Delivery.Delivered) return "delivered";
  if (d == Delivery.Failed) return "failed";
  return "none";
}

export function sourceName(s: DrainSource): string {
  return s == DrainSource.Config ? "config" : "admin";
}

/**
 * How the webhook module wants a completion recorded: set by it from config, read by the table
 * when a write completes an episode (the delivery state is part of that same write).
 */
/**
 * Told by the table, right after the write that completed an episode and before that callback
 * touches shared data again, so the signal goes out as close to the decision as it can.
 */
export abstract class CompletionSink {
  abstract completed(key: string, slot: Slot): void;
}

export class DeliveryTerms {
  /** Whether a completed episode has a webhook to deliver. */
  enabled: bool = false;
  /** How long a delivery lease lasts. */
  leaseMillis: i64 = 10_000;
  /**
   * True during on_configure, which may run in Envoy's throw-away canary VM: a completion
   * written then is left unowned, for the first worker that ticks to deliver.
   */
  unowned: bool = false;
}
