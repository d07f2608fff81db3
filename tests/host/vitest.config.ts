import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Host tests only; to be folded into the root vitest config.
export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["tests/host/**/*.test.ts"],
    globalSetup: ["tests/host/global-setup.ts"],
  },
});
