// The drain-complete signal: the VM whose write completed an episode records the
// `<prefix>complete/<host>` key and sends the webhook at once; delivery is tracked in the
// episode itself (attempts, lease, next attempt), retried with backoff by whichever VM holds the
// delivery lease, and taken over when its owner dies or its lease runs out. The call and the
// handling of its response sit side by side here.
import { LogLevel, WasmResult } from "../abi/enums";
import {
  getHttpCallResponseHeaders,
  HeaderPair,
  httpCallAsRoot,
  log,
  nowMillis,
  randomU32,
  sharedSet,
} from "../abi/hostcalls";
import { Config, WebhookConfig } from "./config";
import { ConnectionTable } from "./connection_table";
import { Delivery, Drain } from "./drain";
import { AttemptOp, OutcomeOp, TakeOverOp } from "./drain_ops";
import { completionJson } from "./drain_render";
import { backoffMillis, CompletionSink, DeliveryTerms } from "./drain_rules";
import { Slot } from "./slot";
import { SlotWrite } from "./slot_write";
import { slotOf } from "./table_view";
import { SIGNATURE_HEADER, webhookSignature } from "./webhook_signature";

/** A call sent and not yet answered. */
class InFlight {
  constructor(
    public key: string,
    public host: string,
    public episode: string,
  ) {}
}

export class Webhook extends CompletionSink {
  config: WebhookConfig = new WebhookConfig();
  gateway: string = "";
  /** The root context calls are made for (the newest configuration's). */
  rootId: u32 = 0;
  private inFlight: Map<u32, InFlight> = new Map<u32, InFlight>();

  constructor(
    private table: ConnectionTable,
    /** How the table records a completion's delivery; shared with it. */
    readonly terms: DeliveryTerms,
  ) {
    super();
  }

  configure(config: Config, gateway: string, rootId: u32): void {
    this.config = config.webhook;
    this.gateway = gateway;
    this.rootId = rootId;
    this.terms.enabled = config.webhook.enabled;
    // Long enough for the call to time out and the owner to notice on its next tick.
    this.terms.leaseMillis = <i64>config.webhook.timeoutMs + 2 * <i64>config.tickMs;
  }

  /**
   * This VM's write just completed `slot`'s episode: record the complete key, log, and send
   * attempt 1 if this VM owns delivery (the attempt is already recorded in that write).
   */
  completed(key: string, slot: Slot): void {
    const d = slot.drain!;
    const host = slot.host;
    const record = completionJson(host, d, this.gateway, false);
    sharedSet(this.table.keys.complete(host), String.UTF8.encode(record), 0);
    log(
      LogLevel.Info,
      "drain complete for " +
        host +
        ": episode " +
        d.episode +
        ", " +
        d.remaining.toString() +
        " left",
    );
    if (d.delivery == Delivery.Pending && d.owner == this.table.selfId) {
      this.post(key, host, d, d.attempts);
    }
  }

  /**
   * A tick found `slot`'s completed episode still pending delivery: take it over if its owner
   * died or its lease ran out, and send when its next attempt is due.
   */
  deliver(key: string, slot: Slot, d: Drain, now: i64): void {
    const self = this.table.selfId;
    if (d.owner != self) {
      const ownerDead = d.owner != 0 && !this.table.liveness.isAlive(d.owner);
      const op = new TakeOverOp(d.episode, ownerDead, this.terms.leaseMillis);
      if (this.table.update(key, slot.host, op).status != SlotWrite.Ok) return;
      if (d.owner != 0) {
        log(
          LogLevel.Info,
          "took over webhook delivery of episode " + d.episode + " for " + slot.host,
        );
      }
    } else if (now < d.leaseUntil && this.isInFlight(d.episode)) {
      return;
    }
    // A call still listed in flight after its lease ran out is lost (Envoy cancels the calls of
    // a root context it deletes, and then never answers them): forget it and send again.
    this.forgetInFlight(d.episode);
    if (now >= d.nextAttemptAt) this.send(key, slot.host, d);
  }

  /** Sends one more attempt (recorded first, so a crash mid-send still counts it). */
  private send(key: string, host: string, d: Drain): void {
    if (!this.config.enabled) return;
    const attempt = new AttemptOp(d.episode, this.terms.leaseMillis);
    if (this.table.update(key, host, attempt).status != SlotWrite.Ok) return;
    this.post(key, host, d, attempt.attempt);
  }

  /** The http call of attempt `attempt` (already recorded in the episode). */
  private post(key: string, host: string, d: Drain, attempt: i32): void {
    const hook = this.config;
    if (!hook.enabled) return;
    const body = String.UTF8.encode(completionJson(host, d, this.gateway, true));
    const headers: HeaderPair[] = [];
    headers.push(new HeaderPair(":method", "POST"));
    headers.push(new HeaderPair(":path", hook.path));
    headers.push(new HeaderPair(":authority", hook.authority));
    headers.push(new HeaderPair("content-type", "application/json"));
    headers.push(new HeaderPair("idempotency-key", d.episode));
    if (hook.secret.length > 0) {
      // Signed per attempt, with this attempt's send time (webhook_signature.ts).
      headers.push(
        new HeaderPair(SIGNATURE_HEADER, webhookSignature(hook.secret, body, nowMillis())),
      );
    }
    const call = httpCallAsRoot(this.rootId, hook.cluster, headers, body, <u32>hook.timeoutMs);
    if (call.status != WasmResult.Ok) {
      const why =
        call.status == WasmResult.BadArgument
          ? "Envoy refused the call (BadArgument): is webhook.cluster " +
            hook.cluster +
            " a cluster of this gateway?"
          : "Envoy refused the call (status " + call.status.toString() + ")";
      this.failed(key, host, d.episode, attempt, why);
      return;
    }
    this.inFlight.set(call.token, new InFlight(key, host, d.episode));
  }

  /** on_http_call_response, from whichever root context made the call. */
  onHttpCallResponse(token: u32, headers: u32): void {
    if (!this.inFlight.has(token)) return;
    const call = this.inFlight.get(token);
    this.inFlight.delete(token);
    let status = "";
    if (headers > 0) {
      const pairs = getHttpCallResponseHeaders();
      for (let i = 0; i < pairs.length; i++) {
        if (unchecked(pairs[i]).key == ":status") status = unchecked(pairs[i]).value;
      }
    }
    if (status.length == 3 && status.startsWith("2")) {
      const op = new OutcomeOp(call.episode, true, "", 0, 0, 0);
      if (this.table.update(call.key, call.host, op).status == SlotWrite.Ok) {
        log(LogLevel.Info, "webhook delivered for " + call.host + ": episode " + call.episode);
      }
      return;
    }
    const slot = slotOf(this.table, call.host);
    const attempts = slot !== null && slot.drain !== null ? slot.drain!.attempts : 0;
    const why =
      headers == 0 ? "no response (timeout, reset or connection failure)" : "answered " + status;
    this.failed(call.key, call.host, call.episode, attempts, why);
  }

  private failed(key: string, host: string, episode: string, attempts: i32, why: string): void {
    const hook = this.config;
    const delay = backoffMillis(max(attempts, 1), <i64>hook.backoffMs, randomU32());
    const lease = this.terms.leaseMillis;
    const op = new OutcomeOp(episode, false, why, hook.maxAttempts, delay, lease);
    if (this.table.update(key, host, op).status != SlotWrite.Ok) return;
    const n = attempts.toString();
    if (op.gaveUp) {
      log(
        LogLevel.Error,
        "webhook for " + host + " failed for good after " + n + " attempts: " + why,
      );
    } else {
      const retry = "; retrying in " + delay.toString() + " ms";
      log(LogLevel.Warn, "webhook for " + host + " attempt " + n + " failed: " + why + retry);
    }
  }

  private isInFlight(episode: string): bool {
    const tokens = this.inFlight.keys();
    for (let i = 0; i < tokens.length; i++) {
      if (this.inFlight.get(unchecked(tokens[i])).episode == episode) return true;
    }
    return false;
  }

  private forgetInFlight(episode: string): void {
    const tokens = this.inFlight.keys();
    for (let i = 0; i < tokens.length; i++) {
      const token = unchecked(tokens[i]);
      if (this.inFlight.get(token).episode == episode) this.inFlight.delete(token);
    }
  }
}
