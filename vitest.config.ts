import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/host/global-setup.ts", "tests/plugin/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
