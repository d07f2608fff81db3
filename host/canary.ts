import { type GatewayServices, Vm } from "./vm.js";

export interface CanaryVerdict {
  /** Why the canary refused the configuration; undefined when it accepted it. */
  refused?: string;
  /** false when the verdict came from the cache and no canary VM ran. */
  ran: boolean;
}

/**
 * cpp-host's canary (WasmHandleBase::canary) with its `plugin_canary_cache_`: a configuration is
 * tried on a throw-away VM before any real VM gets it, and each configuration only once.
 */
export class Canary {
  /** Configuration → why the canary refused it ("" = accepted). */
  private readonly verdicts = new Map<string, string>();

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly services: GatewayServices,
  ) {}

  /**
   * A fresh VM runs the start function, on_vm_start and on_configure on the configuration, then
   * is thrown away without on_done or on_delete either way (accepted: `kill()`; refused: the VM
   * is failed first, and a failed VM's contexts get no more calls). Its verdict is cached per
   * configuration when on_configure decided it; a start-up failure is not cached.
   */
  async check(config: Uint8Array): Promise<CanaryVerdict> {
    const key = configKey(config);
    const cached = this.verdicts.get(key);
    if (cached !== undefined) return { refused: cached || undefined, ran: false };
    const canary = Vm.create(this.module, -1, true, this.services);
    let refused: string | undefined;
    let cache = false;
    try {
      if (!canary.initialize()) {
        refused = `canary trapped in the start function: ${canary.failure}`;
      } else {
        const { status, trapIn } = canary.createRoot(config);
        cache = status === "ok" || status === "rejected" || trapIn === "configure";
        if (status === "trap") refused = `canary trapped: ${canary.failure}`;
        else if (status === "start-failed") refused = "canary on_vm_start returned false";
        else if (status === "rejected") refused = "canary on_configure returned false";
      }
    } finally {
      // Its timers and http calls die with it.
      canary.discard();
    }
    if (cache) this.verdicts.set(key, refused ?? "");
    return { refused, ran: true };
  }
}

/** Identity of a configuration within one gateway (root id and VM are fixed per gateway). */
function configKey(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("latin1");
}
