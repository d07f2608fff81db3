import type { RootContext } from "./context.js";
import type { VmConfigOutcome } from "./rollout.js";
import type { Vm } from "./vm.js";

/** Where a VM's failure to create the plugin is reported (the gateway owns it). */
export interface NoPluginReport {
  /**
   * cpp-host fails the *base* Wasm with this state (StartFailed, ConfigureFailed,
   * UnableToInitializeCode), and Envoy's createWasm refuses every later configuration of it.
   */
  failBase(state: string): void;
}

/**
 * What one VM does with a configuration when the rollout reaches its thread: cpp-host
 * getOrCreateThreadLocalPlugin. The VM ends up with a plugin for it (reused or new) or with none,
 * and the root that served new streams before is released either way.
 */
export function getOrCreatePlugin(
  vm: Vm,
  config: Uint8Array,
  report: NoPluginReport,
): VmConfigOutcome {
  const old = vm.currentRoot;
  /** `next` serves new streams from now on (none: `why` the plugin is missing); `old` retires. */
  const serve = (next: RootContext | undefined, why?: string) => {
    vm.currentRoot = next;
    vm.pluginMissing = why;
    if (old && old !== next) vm.retireRoot(old);
  };
  // cpp-host's thread-local plugin cache: the same configuration's plugin is still alive here
  // (the current one, or an old one its streams keep), so it is handed back as it is.
  const live = vm.roots.find(
    (r) => r.configured && !r.deleted && !r.awaitingDone && sameBytes(r.config, config),
  );
  if (live) {
    live.retiring = false;
    serve(live);
    return "reused";
  }
  const missing = (outcome: VmConfigOutcome, failState: string, why: string) => {
    // Envoy keeps a null plugin handle for this thread; the old configuration's plugin is
    // released all the same (its streams keep it until they end).
    report.failBase(`${failState}: ${why}`);
    serve(undefined, why);
    vm.log(4, `${vm.label} VM: ${why}; its new streams bypass the plugin`);
    return outcome;
  };
  if (!vm.initialized && !vm.initialize()) {
    return missing("trapped", "UnableToInitializeCode", `start function trapped: ${vm.failure}`);
  }
  const { root, status, trapIn } = vm.createRoot(config);
  if (status === "ok") {
    root.configured = true;
    serve(root);
    return "configured";
  }
  if (status === "trap") {
    const failState = trapIn === "configure" ? "ConfigureFailed" : "StartFailed";
    return missing("trapped", failState, `trapped applying the configuration: ${vm.failure}`);
  }
  if (status === "start-failed") {
    return missing("start-failed", "StartFailed", "on_vm_start returned false");
  }
  return missing("rejected", "ConfigureFailed", "on_configure returned false");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
