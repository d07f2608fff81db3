// conn-drain: counts live streams per upstream host across every worker VM of a Higress
// (Envoy) gateway and serves the counts at an admin path. Entry point of build/plugin.wasm.
import { setRootContextFactory } from "./abi/context";
import { ConnDrainRoot, VmState } from "./plugin/root";

export * from "./abi/exports";

/** The VM's lasting state, handed to each root context the VM creates. */
const vm = new VmState();
setRootContextFactory((id: u32) => new ConnDrainRoot(id, vm));
