// DrainController: starts and cancels drain episodes, and signals each completed one exactly
// once: the VM whose write completed it records the drain-complete key and sends the webhook;
// delivery is retried on later ticks by whichever VM holds the delivery lease.
import { LogLevel, WasmResult } from "../abi/enums";
import {
  getHttpCallResponseHeaders,
  HeaderPair,
  httpCallAsRoot,
  log,
  nowMillis,
  randomU32,
  SharedRead,
  sharedGet,
  sharedSet,
} from "../abi/hostcalls";
import { Bucket, decodeBucket } from "./bucket";
import { Config, DrainConfig, WebhookConfig } from "./config";
import { CompletionListener, ConnectionTable, Update } from "./connection_table";
import { Delivery, Drain, DrainSource } from "./drain";
import {
  AttemptOp,
  CancelDrainOp,
  OutcomeOp,
  StartDrainOp,
  TakeOverOp,
  UnlistOp,
} from "./drain_ops";
import { completionJson } from "./drain_render";
import { backoffMillis, newDrain } from "./drain_rules";
import { Slot } from "./slot";
import { PruneOp } from "./slot_ops";
import { webhookSignature } from "./webhook_signature";

const MAX_CAS_ATTEMPTS = 32;

class InFlight {
  constructor(
    public key: string,
    public host: string,
    public episode: string,
  ) {}
}

export class DrainOutcome {
  constructor(
    public status: u32,
    public host: string,
    public drain: Drain | null,
    public error: string,
  ) {}
}

export class DrainController extends CompletionListener {
  drain: DrainConfig = new DrainConfig();
  webhook: WebhookConfig = new WebhookConfig();
  gateway: string = "";
  /** The root context calls are made for (the newest configuration's). */
  rootId: u32 = 0;
  private inFlight: Map<u32, InFlight> = new Map<u32, InFlight>();
  private read: SharedRead = new SharedRead();

  constructor(public table: ConnectionTable) {
    super();
    table.listener = this;
  }

  configure(config: Config, gateway: string, rootId: u32): void {
    this.drain = config.drain;
    this.webhook = config.webhook;
    this.gateway = gateway;
    this.rootId = rootId;
    // Drains listed in config start now and drains config started but no longer lists stop.
    // on_configure may run in Envoy's canary VM, which is discarded: completions it writes are
    // left for the first worker that ticks to deliver.
    this.table.configuring = true;
    for (let i = 0; i < config.drain.hosts.length; i++) {
      this.start(
        unchecked(config.drain.hosts[i]),
        config.drain.deadlineSeconds,
        DrainSource.Config,
      );
    }
    this.cancelUnlisted(config.drain.hosts);
    this.table.configuring = false;
  }

  // ---- starting and cancelling -------------------------------------------------------------

  start(host: string, deadlineSeconds: i32, source: DrainSource): DrainOutcome {
    const now = nowMillis();
    const episode = "d-" + now.toString(36) + "-" + randomU32().toString(16);
    const fresh = newDrain(episode, source, now, deadlineSeconds);
    const op = new StartDrainOp(fresh, source == DrainSource.Config);
    const placed = this.table.apply(host, op);
    if (placed.result == Update.NoRoom) {
      return new DrainOutcome(503, host, null, "no slot for the host: maxHosts are all in use");
    }
    this.track(host, placed.slot);
    // A write (Ok) may have completed the drain at once: the written value tells.
    const d = placed.result == Update.Ok ? this.table.lastSlot.drain : op.result;
    if (placed.result == Update.Ok && d !== null && d.episode == episode) {
      log(LogLevel.Info, "drain started for " + host + ": episode " + episode);
    }
    return new DrainOutcome(202, host, d, "");
  }

  cancel(host: string): DrainOutcome {
    const i = this.table.locate(host);
    if (i < 0) return new DrainOutcome(404, host, null, "no drain for " + host);
    const op = new CancelDrainOp(false);
    const r = this.table.update(this.table.keys.slot(i), host, op);
    const d = op.result;
    if (r == Update.Ok) {
      log(LogLevel.Info, "drain cancelled for " + host + ": episode " + d!.episode);
      return new DrainOutcome(200, host, d, "");
    }
    if (d === null || r == Update.WrongHost)
      return new DrainOutcome(404, host, null, "no drain for " + host);
    return new DrainOutcome(
      409,
      host,
      d,
      "the drain of " + host + " already ended; POST starts a new one",
    );
  }

  /** Hosts config listed before but lists no more: forget the listing, stop its drain. */
  private cancelUnlisted(listed: Array<string>): void {
    const drains = this.openDrains();
    for (let i = 0; i < drains.hosts.length; i++) {
      const host = unchecked(drains.hosts[i]);
      if (listed.includes(host)) continue;
      const op = new UnlistOp();
      const key = this.table.keys.slot(unchecked(drains.slots[i]));
      if (this.table.update(key, host, op) == Update.Ok && op.cancelled) {
        log(LogLevel.Info, "drain of " + host + " cancelled: no longer in drain.hosts");
      }
    }
  }

  // ---- the list of drains that need attention ----------------------------------------------

  openDrains(): Bucket {
    if (sharedGet(this.table.keys.drains, this.read).status != WasmResult.Ok) return new Bucket();
    return decodeBucket(this.read.value);
  }

  private track(host: string, slot: i32): void {
    this.editList(host, slot, true);
  }

  private editList(host: string, slot: i32, add: bool): void {
    const key = this.table.keys.drains;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (sharedGet(key, this.read).status != WasmResult.Ok) return;
      const list = decodeBucket(this.read.value);
      const present = list.slotOf(host) == slot;
      if (add == present) return;
      if (add) {
        list.hosts.push(host);
        list.slots.push(slot);
      } else {
        list.remove(host, slot);
      }
      if (sharedSet(key, list.encode(), this.read.cas) != WasmResult.CasMismatch) return;
    }
  }

  // ---- completion and delivery ---------------------------------------------------------------

  /** This VM's write completed `slot`'s drain: record it, and send the webhook if we own it. */
  onCompleted(key: string, slot: Slot): void {
    const d = slot.drain!;
    const host = slot.host;
    sharedSet(
      this.table.keys.complete(host),
      String.UTF8.encode(completionJson(host, d, this.gateway, false)),
      0,
    );
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
    if (d.delivery == Delivery.Pending && d.owner == this.table.selfId) this.send(key, host, d);
  }

  /** Runs on every tick: deadlines, drains emptied by a dead VM's expiry, and delivery. */
  tick(): void {
    const drains = this.openDrains();
    const now = nowMillis();
    for (let i = 0; i < drains.hosts.length; i++) {
      const host = unchecked(drains.hosts[i]);
      const index = unchecked(drains.slots[i]);
      const key = this.table.keys.slot(index);
      const slot = this.table.readSlot(index);
      const d: Drain | null = slot === null ? null : slot.drain;
      // A listed host stays on the list, so that unlisting it later is seen (cancelUnlisted).
      if (slot === null || slot.host != host || !(slot.listed || (d !== null && d.open))) {
        this.editList(host, index, false);
        continue;
      }
      if (d === null) continue;
      if (d.active) {
        this.checkDeadline(key, slot, now);
      } else if (d.delivery == Delivery.Pending) {
        this.deliver(key, slot, d, now);
      }
    }
  }

  /**
   * A drain can end with nobody closing a stream: its deadline passes, or a dead VM's streams
   * expire. Any write of the slot completes it then (see ConnectionTable.update), so write one.
   */
  private checkDeadline(key: string, slot: Slot, now: i64): void {
    const d = slot.drain!;
    const due = d.deadlineAt > 0 && now >= d.deadlineAt;
    // (update() also checks the host's overflow slot before it completes anything.)
    if (due || this.table.total(slot) == 0) this.table.update(key, slot.host, new PruneOp());
  }

  private deliver(key: string, slot: Slot, d: Drain, now: i64): void {
    const self = this.table.selfId;
    if (d.owner != self) {
      const ownerDead = d.owner != 0 && !this.table.liveness.isAlive(d.owner);
      const op = new TakeOverOp(d.episode, ownerDead, this.table.leaseMillis);
      if (this.table.update(key, slot.host, op) != Update.Ok) return;
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

  /** Sends one attempt (recorded first, so a crash mid-send still counts it). */
  private send(key: string, host: string, d: Drain): void {
    const hook = this.webhook;
    if (!hook.enabled) return;
    const attempt = new AttemptOp(d.episode, this.table.leaseMillis);
    if (this.table.update(key, host, attempt) != Update.Ok) return;
    const body = String.UTF8.encode(completionJson(host, d, this.gateway, true));
    const headers: HeaderPair[] = [];
    headers.push(new HeaderPair(":method", "POST"));
    headers.push(new HeaderPair(":path", hook.path));
    headers.push(new HeaderPair(":authority", hook.authority));
    headers.push(new HeaderPair("content-type", "application/json"));
    headers.push(new HeaderPair("idempotency-key", d.episode));
    if (hook.secret.length > 0) {
      // Signed per attempt, with this attempt's send time (webhook_signature.ts).
      const signature = webhookSignature(hook.secret, body, nowMillis());
      headers.push(new HeaderPair("x-conn-drain-signature", signature));
    }
    const call = httpCallAsRoot(this.rootId, hook.cluster, headers, body, <u32>hook.timeoutMs);
    if (call.status != WasmResult.Ok) {
      const why =
        call.status == WasmResult.BadArgument
          ? "Envoy refused the call (BadArgument): is webhook.cluster " +
            hook.cluster +
            " a cluster of this gateway?"
          : "Envoy refused the call (status " + call.status.toString() + ")";
      this.failed(key, host, d.episode, attempt.attempt, why);
      return;
    }
    this.inFlight.set(call.token, new InFlight(key, host, d.episode));
  }

  /** on_http_call_response, from whichever root context made the call. */
  onHttpCallResponse(token: u32, headers: u32): bool {
    if (!this.inFlight.has(token)) return false;
    const call = this.inFlight.get(token);
    this.inFlight.delete(token);
    let status = "";
    if (headers > 0) {
      const pairs = getHttpCallResponseHeaders();
      for (let i = 0; i < pairs.length; i++) {
        if (unchecked(pairs[i]).key == ":status") status = unchecked(pairs[i]).value;
      }
    }
    const slot = this.table.slotOf(call.host);
    const attempts = slot !== null && slot.drain !== null ? slot.drain!.attempts : 0;
    if (status.length == 3 && status.startsWith("2")) {
      const op = new OutcomeOp(call.episode, true, "", 0, 0, 0);
      if (this.table.update(call.key, call.host, op) == Update.Ok) {
        log(LogLevel.Info, "webhook delivered for " + call.host + ": episode " + call.episode);
      }
      return true;
    }
    const why =
      headers == 0 ? "no response (timeout, reset or connection failure)" : "answered " + status;
    this.failed(call.key, call.host, call.episode, attempts, why);
    return true;
  }

  private failed(key: string, host: string, episode: string, attempts: i32, why: string): void {
    const hook = this.webhook;
    const delay = backoffMillis(max(attempts, 1), <i64>hook.backoffMs, randomU32());
    const op = new OutcomeOp(episode, false, why, hook.maxAttempts, delay, this.table.leaseMillis);
    if (this.table.update(key, host, op) != Update.Ok) return;
    if (op.gaveUp) {
      log(
        LogLevel.Error,
        "webhook for " +
          host +
          " failed for good after " +
          attempts.toString() +
          " attempts: " +
          why,
      );
    } else {
      log(
        LogLevel.Warn,
        "webhook for " +
          host +
          " attempt " +
          attempts.toString() +
          " failed: " +
          why +
          "; retrying in " +
          delay.toString() +
          " ms",
      );
    }
  }
}
