// Envoy gauges per host (`conn_drain.active.<host>`), granted once a host's stream reached an
// upstream. Envoy never frees a metric, so at most metrics.maxHosts names are ever granted per
// process (recorded in the shared `metered` list); past that, hosts are counted but have no gauge
// of their own. The gauge then follows the slot: see ConnectionTable.update and MeterOp.
import { LogLevel } from "../abi/enums";
import { log } from "../abi/hostcalls";
import { editValue, ListEdit } from "./cas";
import { ConnectionTable } from "./connection_table";
import { Lease } from "./host_cache";
import { hostMetricName } from "./host_metrics";
import { MeterOp } from "./slot_ops";
import { SlotWrite } from "./slot_write";

export class Gauges {
  /** The config generation in which the cap was last logged (once per VM and config). */
  private toldCapIn: u32 = 0;

  constructor(private table: ConnectionTable) {}

  /** Whether `lease` could still earn a gauge (so the caller need not look at the upstream). */
  wanted(lease: Lease): bool {
    const entry = lease.entry;
    const table = this.table;
    return (
      table.metricsEnabled &&
      !lease.overflow &&
      !entry.metered &&
      !(entry.gaugeDenied && entry.deniedIn == table.generation)
    );
  }

  grant(lease: Lease): void {
    if (!this.wanted(lease)) return;
    const table = this.table;
    const entry = lease.entry;
    const host = entry.host;
    const reserve = new ListEdit(host, 0, true, true, table.metricsMaxHosts);
    if (!editValue(table.keys.metered, reserve) || reserve.slot < 0) {
      entry.gaugeDenied = true;
      entry.deniedIn = table.generation;
      // A flood of new hosts past the cap must not flood the log.
      if (this.toldCapIn != table.generation) {
        this.toldCapIn = table.generation;
        log(
          LogLevel.Info,
          "metrics.maxHosts reached: " + host + " and later hosts are counted without a gauge",
        );
      }
      return;
    }
    const r = table.update(lease.key, host, new MeterOp(table.metrics, hostMetricName(host)));
    if (r.status == SlotWrite.Ok || r.status == SlotWrite.Declined) entry.metered = true;
  }
}
