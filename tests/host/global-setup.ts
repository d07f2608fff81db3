import { buildProbe } from "./build-probe.js";

// Vitest globalSetup: compile the AssemblyScript probe once before the host tests run.
export default async function setup(): Promise<void> {
  await buildProbe();
}
