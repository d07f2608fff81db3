// conn-drain: counts live streams per upstream host across every worker VM of a Higress
// (Envoy) gateway and serves the counts at an admin path. Entry point of build/plugin.wasm.
import { setRootContextFactory } from "./abi/context";
import { ConnDrainRoot } from "./plugin/root";

export * from "./abi/exports";

setRootContextFactory((id: u32) => new ConnDrainRoot(id));
