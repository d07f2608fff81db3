// Drain episodes: started by an operator (admin path) or by config (drain.hosts), cancelled,
// and looked after on every tick (deadlines, drains emptied by a dead VM's expiry, delivery).
// An episode lives in its host's slot (drain.ts), so the stream close that empties the host sees
// it in the same read and completes it in the same write (ConnectionTable.update).
import { LogLevel } from "../abi/enums";
import { log, nowMillis, randomU32 } from "../abi/hostcalls";
import { editValue, ListEdit, listOf, ValueEdit } from "./cas";
import { Config, DrainConfig } from "./config";
import { ConnectionTable } from "./connection_table";
import { Delivery, Drain, DrainSource } from "./drain";
import { CancelDrainOp, StartDrainOp, UnlistOp } from "./drain_ops";
import { newDrain } from "./drain_rules";
import { decodeHostSlots, HostSlots } from "./host_slots";
import { Slot } from "./slot";
import { PruneOp } from "./slot_ops";
import { SlotWrite } from "./slot_write";
import { slotAt } from "./table_view";
import { Webhook } from "./webhook";

/** What a start or cancel came to, for the admin endpoint's answer. */
export class DrainOutcome {
  constructor(
    public status: u32,
    public host: string,
    public drain: Drain | null,
    public error: string,
  ) {}
}

/** A drain begun, and the slot it lives in (-1: none could be had). */
class Begun {
  constructor(
    public outcome: DrainOutcome,
    public slot: i32,
  ) {}
}

/** Adds every (host, slot) pair not yet on the open-drains list, in one edit. */
class TrackAll extends ValueEdit {
  hosts: Array<string> = [];
  slots: Array<i32> = [];

  add(host: string, slot: i32): void {
    this.hosts.push(host);
    this.slots.push(slot);
  }

  edit(current: ArrayBuffer): ArrayBuffer | null {
    const list = decodeHostSlots(current);
    const present = new Set<string>();
    for (let i = 0; i < list.hosts.length; i++) {
      present.add(unchecked(list.hosts[i]) + "\n" + unchecked(list.slots[i]).toString());
    }
    let added = false;
    for (let i = 0; i < this.hosts.length; i++) {
      const host = unchecked(this.hosts[i]);
      const slot = unchecked(this.slots[i]);
      const pair = host + "\n" + slot.toString();
      if (present.has(pair)) continue;
      present.add(pair);
      list.hosts.push(host);
      list.slots.push(slot);
      added = true;
    }
    return added ? list.encode() : null;
  }
}

export class Drains {
  constructor(
    private table: ConnectionTable,
    private webhook: Webhook,
  ) {}

  /**
   * Drains listed in config start now (once per listing, see StartDrainOp) and drains config
   * started but no longer lists stop. on_configure may run in Envoy's canary VM, which is
   * discarded: completions written now are left unowned, for the first worker that ticks.
   */
  configure(config: Config): void {
    this.webhook.terms.unowned = true;
    const hosts = config.drain.hosts;
    // One edit of the drains list for the whole listing (thousands of hosts may be listed).
    const tracked = new TrackAll();
    for (let i = 0; i < hosts.length; i++) {
      const host = unchecked(hosts[i]);
      const drain = config.drain;
      const slot = this.begin(host, drain.deadlineSeconds, drain, DrainSource.Config).slot;
      if (slot >= 0) tracked.add(host, slot);
    }
    if (tracked.hosts.length > 0) editValue(this.table.keys.drains, tracked);
    this.cancelUnlisted(hosts);
    this.webhook.terms.unowned = false;
  }

  start(host: string, deadlineSeconds: i32, rules: DrainConfig, source: DrainSource): DrainOutcome {
    const started = this.begin(host, deadlineSeconds, rules, source);
    if (started.slot >= 0) {
      editValue(this.table.keys.drains, new ListEdit(host, started.slot, true, false));
    }
    return started.outcome;
  }

  /** Starts (or finds) the host's drain; the caller lists it among the open drains. */
  private begin(
    host: string,
    deadlineSeconds: i32,
    rules: DrainConfig,
    source: DrainSource,
  ): Begun {
    const now = nowMillis();
    const episode = "d-" + now.toString(36) + "-" + randomU32().toString(16);
    const fresh = newDrain(episode, source, now, deadlineSeconds, rules);
    const op = new StartDrainOp(fresh, source == DrainSource.Config);
    const placed = this.table.placement.apply(host, op);
    if (placed.result == SlotWrite.NoRoom) {
      const full = "no slot for the host: maxHosts are all in use";
      return new Begun(new DrainOutcome(503, host, null, full), -1);
    }
    // The write may have completed the drain at once (nobody on the host): the value written
    // tells (its signal went out from that write).
    const written = placed.written;
    const d = written !== null ? written.drain : op.result;
    if (written !== null && d !== null && d.episode == episode) {
      log(LogLevel.Info, "drain started for " + host + ": episode " + episode);
    }
    return new Begun(new DrainOutcome(202, host, d, ""), placed.slot);
  }

  cancel(host: string): DrainOutcome {
    const i = this.table.placement.locate(host);
    if (i < 0) return new DrainOutcome(404, host, null, "no drain for " + host);
    const op = new CancelDrainOp(false);
    const r = this.table.update(this.table.keys.slot(i), host, op);
    const d = op.result;
    if (r.status == SlotWrite.Ok) {
      log(LogLevel.Info, "drain cancelled for " + host + ": episode " + d!.episode);
      return new DrainOutcome(200, host, d, "");
    }
    if (d === null || r.status == SlotWrite.WrongHost) {
      return new DrainOutcome(404, host, null, "no drain for " + host);
    }
    const ended = "the drain of " + host + " already ended; POST starts a new one";
    return new DrainOutcome(409, host, d, ended);
  }

  /** Hosts config listed before but lists no more: forget the listing, stop its drain. */
  private cancelUnlisted(listed: Array<string>): void {
    const drains = this.openDrains();
    const still = new Set<string>();
    for (let i = 0; i < listed.length; i++) still.add(unchecked(listed[i]));
    for (let i = 0; i < drains.hosts.length; i++) {
      const host = unchecked(drains.hosts[i]);
      if (still.has(host)) continue;
      const op = new UnlistOp();
      const key = this.table.keys.slot(unchecked(drains.slots[i]));
      if (this.table.update(key, host, op).status == SlotWrite.Ok && op.cancelled) {
        log(LogLevel.Info, "drain of " + host + " cancelled: no longer in drain.hosts");
      }
    }
  }

  /** Hosts whose drain still needs a tick's attention, or whose config listing must be seen. */
  openDrains(): HostSlots {
    return listOf(this.table.keys.drains);
  }

  /** Runs on every tick: deadlines, drains emptied by a dead VM's expiry, and delivery. */
  tick(): void {
    const drains = this.openDrains();
    const now = nowMillis();
    for (let i = 0; i < drains.hosts.length; i++) {
      const host = unchecked(drains.hosts[i]);
      const index = unchecked(drains.slots[i]);
      const slot = slotAt(this.table, index, host);
      const d: Drain | null = slot === null ? null : slot.drain;
      // A listed host stays on the list, so that unlisting it later is seen (cancelUnlisted).
      if (slot === null || !(slot.listed || (d !== null && d.open))) {
        editValue(this.table.keys.drains, new ListEdit(host, index, false));
        continue;
      }
      if (d === null) continue;
      const key = this.table.keys.slot(index);
      if (d.active) {
        this.checkDeadline(key, slot, d, now);
      } else if (d.delivery == Delivery.Pending) {
        this.webhook.deliver(key, slot, d, now);
      }
    }
  }

  /**
   * A drain can end with nobody closing a stream: its deadline passes, its host's overflow slot
   * empties, a dead VM's streams expire, or its quiet period (drain.quietSeconds) runs out. Any
   * write of the slot completes it then (see ConnectionTable.update, which also checks the
   * overflow slot and keeps the quiet clock), so write one: while the host is at zero every tick
   * writes, the first starting the quiet clock if no close did.
   */
  private checkDeadline(key: string, slot: Slot, d: Drain, now: i64): void {
    const due = d.deadlineAt > 0 && now >= d.deadlineAt;
    if (due || this.table.total(slot) == 0) this.table.update(key, slot.host, new PruneOp());
  }
}
