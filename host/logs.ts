import { LOG_LEVELS, type LogLevelName } from "./abi.js";

export interface LogEntry {
  /** 0 = base (main-thread) VM, 1..N = workers, -1 = a canary. */
  vmIndex: number;
  level: LogLevelName;
  message: string;
  /** "plugin" for proxy_log / WASI output, "host" for what the host itself reports. */
  source: "plugin" | "host";
  /** Context the plugin was running in (0 = VM context, e.g. the start function). */
  contextId: number;
}

export interface LogQuery {
  vm?: number;
  minLevel?: LogLevelName;
  source?: "plugin" | "host";
}

export function levelName(level: number): LogLevelName {
  return LOG_LEVELS[Math.max(0, Math.min(5, level | 0))] ?? "info";
}

export function levelNumber(level: LogLevelName): number {
  return LOG_LEVELS.indexOf(level);
}

/**
 * Everything logged in the gateway. Unlike Envoy we keep messages below the configured level
 * (the plugin can still ask for the level with proxy_get_log_level); filter with `minLevel`.
 */
export class LogStore {
  private entries: LogEntry[] = [];

  constructor(
    private readonly echo?: (e: LogEntry) => void,
    /** Benchmarks can turn recording off so memory stays flat. */
    private readonly record = true,
  ) {}

  add(entry: LogEntry): void {
    if (this.record) this.entries.push(entry);
    this.echo?.(entry);
  }

  query(q: LogQuery = {}): LogEntry[] {
    const min = q.minLevel ? levelNumber(q.minLevel) : 0;
    return this.entries.filter(
      (e) =>
        (q.vm === undefined || e.vmIndex === q.vm) &&
        levelNumber(e.level) >= min &&
        (q.source === undefined || e.source === q.source),
    );
  }

  clear(): void {
    this.entries = [];
  }
}

/** Counts of host-call (import) invocations, per VM and in total. */
export class CallCounter {
  readonly counts = new Map<string, number>();

  bump(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  reset(): void {
    this.counts.clear();
  }
}
