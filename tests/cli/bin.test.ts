// The installed entry point, run as a user runs it: `npx conn-drain …` resolves to
// bin/conn-drain.mjs (package.json "bin"), which loads cli/main.ts through tsx.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, runBin, scratchProject } from "./helpers.js";

describe("bin/conn-drain.mjs", () => {
  it("lists the commands and prints each command's help", async () => {
    const top = await runBin(["--help"], repoRoot);
    expect(top.code).toBe(0);
    for (const c of ["image", "wasmplugin", "console", "status", "drain"]) {
      expect(top.out).toMatch(new RegExp(`^ {2}${c} `, "m"));
      const h = await runBin([c, "--help"], repoRoot);
      expect(h.code).toBe(0);
      expect(h.out).toMatch(new RegExp(`^Usage: conn-drain ${c} `));
      expect(h.out).toContain("Examples:");
    }
  });

  it("packages an OCI layout with nothing running", async () => {
    const dir = scratchProject();
    const r = await runBin(["image", "--oci-layout", "out/"], dir);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^oci:out\/:0\.1\.0@sha256:[a-f0-9]{64}\n$/);
    expect(existsSync(join(dir, "out", "index.json"))).toBe(true);
  });

  it("exits non-zero with one line for an unknown command or flag", async () => {
    const u = await runBin(["publish"], repoRoot);
    expect(u.code).toBe(2);
    expect(u.err).toBe(
      `conn-drain: unknown command "publish" — run 'conn-drain --help' for the list\n`,
    );
    const f = await runBin(["image", "--frobnicate"], repoRoot);
    expect(f.code).toBe(2);
    expect(f.err.trim().split("\n")).toHaveLength(1);
    expect(f.err).toMatch(
      /^conn-drain image: Unknown option '--frobnicate'.* — see 'conn-drain image --help'/,
    );
  });

  it("every flag the README uses with a command is in that command's --help", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const uses = new Map<string, Set<string>>();
    const joined = readme.replace(/\\\n\s*/g, " ");
    for (const m of joined.matchAll(/npx conn-drain (\w+)([^\n`]*)/g)) {
      const flags = uses.get(m[1] as string) ?? new Set<string>();
      for (const f of (m[2] as string).matchAll(/(?:^|\s)(--?[a-z][a-z-]*)/g))
        flags.add(f[1] as string);
      uses.set(m[1] as string, flags);
    }
    expect([...uses.keys()].sort()).toEqual(["console", "drain", "image", "status", "wasmplugin"]);
    for (const [command, flags] of uses) {
      const help = (await runBin([command, "--help"], repoRoot)).out;
      for (const flag of flags) expect(help, `${command} ${flag}`).toContain(flag);
    }
  });
});
