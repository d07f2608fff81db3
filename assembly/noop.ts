// The floor for benchmarks: the same ABI layer and compiler flags as the plugin, with contexts
// that do nothing, so the difference to build/plugin.wasm is what conn-drain itself costs.
export * from "./abi/exports";
