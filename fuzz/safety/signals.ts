// The plugin's own signals, shown to the checker as they appear: drain-complete keys at the
// moment they are written (so the model's state then is the state the write saw) and webhook
// calls as they are made; calls first seen only after a step are shown as imprecise.
import type { HttpCall } from "../../host/index.js";
import { COMPLETE, type DriverContext } from "./context.js";
import { WEBHOOK_CLUSTER } from "./steps.js";

const decoder = new TextDecoder();

export class Signals {
  private readonly seenCalls = new WeakSet<HttpCall>();

  constructor(private readonly ctx: DriverContext) {}

  /** Starts watching; the host is only observed, its behaviour is unchanged. */
  watch(): void {
    this.watchCompletions();
    this.watchHttpCalls();
  }

  /** Webhook calls the watch did not see made (a host without a call registry): after a step. */
  sweepCalls(): void {
    for (const c of this.ctx.gw.httpCalls()) this.observeCall(c, false);
  }

  /**
   * Sees every write of a drain-complete key the moment it is made, including writes made inside
   * injected actions (where the host's hooks are silent), by wrapping the store's `set`.
   */
  private watchCompletions(): void {
    const store = this.ctx.gw.sharedData.store;
    const set = store.set.bind(store);
    store.set = (vmId, key, value, cas) => {
      const r = set(vmId, key, value, cas);
      if (r === 0 && key.startsWith(COMPLETE)) {
        try {
          const c = JSON.parse(decoder.decode(value)) as Record<string, unknown>;
          this.ctx.checker.completion(
            "key",
            String(c.host ?? key.slice(COMPLETE.length)),
            String(c.episode ?? ""),
            String(c.reason ?? "?"),
            true,
            typeof c.startedAt === "string" ? c.startedAt : undefined,
          );
        } catch (e) {
          this.ctx.checker.violate("complete-key", `${key}: ${String(e)}`);
        }
      }
      return r;
    };
  }

  /** Sees each webhook call as it is made (the registry is the host's; it is only observed). */
  private watchHttpCalls(): void {
    const registry = (this.ctx.gw as unknown as { calls?: { add?: (...a: unknown[]) => void } })
      .calls;
    if (!registry || typeof registry.add !== "function") return;
    const add = registry.add.bind(registry);
    registry.add = (...args: unknown[]) => {
      add(...args);
      try {
        this.observeCall(args[0] as HttpCall, true);
      } catch (e) {
        this.ctx.checker.violate("checker-error", String(e));
      }
    };
  }

  private observeCall(c: HttpCall, precise: boolean): void {
    if (this.seenCalls.has(c)) return;
    this.seenCalls.add(c);
    if (c.cluster !== WEBHOOK_CLUSTER) return;
    const key = c.headers.find(([k]) => k === "idempotency-key")?.[1];
    this.ctx.checker.webhook(decoder.decode(c.body), key, precise);
  }
}
