// Checks that need no model of drains: no trap but the ones the campaign injected, shared-data
// keys that grow with what operators name and the VMs that ever ran (never with traffic), and
// each VM's linear memory under a fixed limit.
import type { DriverContext } from "./context.js";

const MEMORY_LIMIT = 16 * 1024 * 1024;
/** The reason a crash step gives its trap: the one trap that is not a finding. */
export const INJECTED_TRAP = "safety campaign: injected trap";

export class Bounds {
  private trapsSeen = 0;
  private keysAtStart: number | undefined;

  constructor(private readonly ctx: DriverContext) {}

  /** Reports traps nobody injected, once each. */
  checkTraps(): void {
    const { gw, model, checker } = this.ctx;
    if (gw.trapCount !== model.injectedTraps + this.trapsSeen) {
      const why = gw.allVms
        .filter((h) => h.failed && h.failure !== INJECTED_TRAP)
        .map((h) => `${h.label}: ${h.failure}`)
        .join("; ");
      this.trapsSeen = gw.trapCount - model.injectedTraps;
      checker.violate("trap", why || `trapCount ${gw.trapCount}`);
    }
  }

  /** Shared-data keys and memory; the first call sets the key count the bound grows from. */
  checkSize(): void {
    const { gw, model: m, figures, checker } = this.ctx;
    const keys = gw.sharedData.keys().length;
    figures.maxKeys = Math.max(figures.maxKeys, keys);
    // Keys may grow with what operators name and with VMs that ever ran, never with traffic.
    this.keysAtStart ??= keys;
    const bound =
      this.keysAtStart +
      2 * m.maxHostsEver +
      4 * (this.ctx.workers + 2 + figures.revived) +
      4 * (m.drainNames.size + m.listings.length) +
      32;
    if (keys > bound) checker.violate("keys", `${keys} shared-data keys (bound ${bound})`);
    for (const vm of gw.allVms) {
      if (vm.failed) continue;
      const bytes = vm.memoryBytes;
      figures.maxMemory = Math.max(figures.maxMemory, bytes);
      if (bytes > MEMORY_LIMIT) checker.violate("memory", `${vm.label}: ${bytes} bytes`);
    }
  }
}
