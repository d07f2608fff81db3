// Envoy gauges that mirror the shared-data counts. Metrics are process-wide in Envoy: every VM
// that defines the same name gets the same gauge, so each VM adds its own deltas and the gauge
// holds the sum. Envoy never frees a metric, so names are only ever defined for hosts granted a
// gauge (at most metrics.maxHosts of them, see ConnectionTable.grantGauge).
import { MetricType } from "../abi/enums";
import { defineMetric, incrementMetric } from "../abi/hostcalls";

export const OVERFLOW_METRIC = "conn_drain.overflow";

export function hostMetricName(host: string): string {
  return "conn_drain.active." + host;
}

export class HostMetrics {
  private ids: Map<string, i64> = new Map<string, i64>();

  /** The gauge id for `name` (defined on first use), or -1 if Envoy refused it. */
  idOf(name: string): i64 {
    if (this.ids.has(name)) return this.ids.get(name);
    const id = defineMetric(MetricType.Gauge, name);
    this.ids.set(name, id);
    return id;
  }

  addTo(id: i64, delta: i64): void {
    if (id >= 0 && delta != 0) incrementMetric(<u32>id, delta);
  }

  add(name: string, delta: i64): void {
    if (delta == 0) return;
    let id: i64 = -1;
    if (this.ids.has(name)) {
      id = this.ids.get(name);
    } else {
      id = defineMetric(MetricType.Gauge, name);
      this.ids.set(name, id);
    }
    if (id >= 0) incrementMetric(<u32>id, delta);
  }
}
