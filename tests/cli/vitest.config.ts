// Runs only the CLI tests, without the plugin build the root config's global setups do:
//   npx vitest run -c tests/cli/vitest.config.ts
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["tests/cli/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
