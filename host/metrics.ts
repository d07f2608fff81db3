import { METRIC_TYPE_NAMES, type MetricTypeName, WasmResult } from "./abi.js";

export interface MetricSnapshot {
  type: MetricTypeName;
  /** Counter / gauge value; for histograms the sum of recorded values. */
  value: bigint;
  /** Histograms only: every recorded value, in order. */
  samples?: bigint[];
}

interface Metric {
  type: MetricTypeName;
  value: bigint;
  samples: bigint[];
}

/**
 * Envoy stats are process-wide: a metric defined by name in any VM is the same stat everywhere.
 * Ids are per VM (Envoy's `Wasm` object numbers them), with the type in the low two bits the
 * way Envoy encodes it (kMetricTypeMask = 0x3, kMetricIdIncrement = 0x4).
 */
export class MetricsRegistry {
  private readonly byName = new Map<string, Metric>();

  define(type: number, name: string): Metric | WasmResult {
    const typeName = METRIC_TYPE_NAMES[type];
    if (!typeName) return WasmResult.BadArgument;
    const existing = this.byName.get(name);
    if (existing) {
      // Our choice: one name, one type. Envoy would keep separate stats per type.
      return existing.type === typeName ? existing : WasmResult.BadArgument;
    }
    const m: Metric = { type: typeName, value: 0n, samples: [] };
    this.byName.set(name, m);
    return m;
  }

  snapshot(): Map<string, MetricSnapshot> {
    const out = new Map<string, MetricSnapshot>();
    for (const [name, m] of this.byName) {
      out.set(
        name,
        m.type === "histogram"
          ? { type: m.type, value: m.value, samples: [...m.samples] }
          : { type: m.type, value: m.value },
      );
    }
    return out;
  }
}

/** One VM's view: its own id space onto the shared registry. */
export class VmMetrics {
  private nextId = 0;
  private readonly byId = new Map<number, { name: string; metric: Metric }>();
  private readonly idByName = new Map<string, number>();

  constructor(private readonly registry: MetricsRegistry) {}

  define(type: number, name: string): { id: number } | WasmResult {
    const m = this.registry.define(type, name);
    if (typeof m === "number") return m;
    const known = this.idByName.get(name);
    if (known !== undefined) return { id: known };
    this.nextId += 4;
    const id = this.nextId | type;
    this.byId.set(id, { name, metric: m });
    this.idByName.set(name, id);
    return { id };
  }

  /** Envoy: counters only go up (offset must be > 0), gauges add or subtract. */
  increment(id: number, offset: bigint): WasmResult {
    const e = this.byId.get(id);
    if (!e) return WasmResult.NotFound;
    if (e.metric.type === "counter") {
      if (offset <= 0n) return WasmResult.BadArgument;
      e.metric.value += offset;
      return WasmResult.Ok;
    }
    if (e.metric.type === "gauge") {
      e.metric.value += offset;
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  /** Envoy: counter += value, gauge = value, histogram records a sample. */
  record(id: number, value: bigint): WasmResult {
    const e = this.byId.get(id);
    if (!e) return WasmResult.NotFound;
    if (e.metric.type === "counter") e.metric.value += value;
    else if (e.metric.type === "gauge") e.metric.value = value;
    else {
      e.metric.samples.push(value);
      e.metric.value += value;
    }
    return WasmResult.Ok;
  }

  get(id: number): bigint | WasmResult {
    const e = this.byId.get(id);
    if (!e) return WasmResult.NotFound;
    if (e.metric.type === "histogram") return WasmResult.BadArgument;
    return e.metric.value;
  }
}
