#!/usr/bin/env node
// Runs cli/main.ts through tsx's ESM loader, so the CLI needs no build step in this repository
// (tsx is already how the repo runs its TypeScript scripts). See docs/cli.md.
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { register } from "tsx/esm/api";

register();
const here = dirname(fileURLToPath(import.meta.url));
const { main, processIo } = await import(pathToFileURL(join(here, "..", "cli", "main.ts")).href);
process.exitCode = await main(process.argv.slice(2), processIo());
