// Which Node versions the project says it runs on, and whether that is true of what it installs
// and ships: package.json "engines" names the LTS lines 20, 22 and 24 (odd majors are never LTS
// and 26 is untested); every package in package-lock.json accepts the lowest version of each
// line; the receiver image (deploy/receiver/Dockerfile) runs a maintained LTS at a pinned tag.
// semver is the library npm itself uses to read "engines".
import { readFileSync } from "node:fs";
import { join } from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./helpers.js";

const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};
const range = new semver.Range(pkg.engines.node);
/** The lowest version of each line the range admits, e.g. 20.19.0 for "^20.19.0". */
const floors = range.set.map((comparators) => {
  const min = semver.minVersion(comparators.map((c) => c.value).join(" "));
  if (!min) throw new Error(`no lowest version in ${pkg.engines.node}`);
  return min.version;
});

describe("supported Node versions", () => {
  it('package.json "engines" admits Node 20, 22 and 24 (LTS lines) and nothing else', () => {
    expect(floors.map((v) => semver.major(v)).sort()).toEqual([20, 22, 24]);
    for (const v of ["20.19.0", "22.13.0", "24.0.0", "24.22.3", process.versions.node])
      expect(semver.satisfies(v, range), `${v} in ${pkg.engines.node}`).toBe(true);
    for (const v of ["18.20.0", "20.0.0", "21.7.0", "23.11.0", "25.0.0", "26.0.0"])
      expect(semver.satisfies(v, range), `${v} outside ${pkg.engines.node}`).toBe(false);
  });

  it("every locked package accepts the lowest version of each line", () => {
    const refused: string[] = [];
    for (const [path, meta] of Object.entries(lock.packages)) {
      const want = !Array.isArray(meta.engines) ? meta.engines?.node : undefined;
      if (!path || !want) continue;
      for (const v of floors)
        if (!semver.satisfies(v, want))
          refused.push(
            `${path.replace(/^.*node_modules\//, "")}@${meta.version} wants ${want}, not ${v}`,
          );
    }
    expect(refused).toEqual([]);
  });

  it("the receiver image runs a maintained LTS (22 or 24) at one pinned release, within engines", () => {
    const dockerfile = readFileSync(join(repoRoot, "deploy/receiver/Dockerfile"), "utf8");
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1] as string);
    expect(bases.length).toBeGreaterThan(0);
    expect(new Set(bases).size, `one base for every stage: ${bases.join(", ")}`).toBe(1);
    const tag = /^node:(\d+\.\d+\.\d+)-[a-z]+(?:-slim)?$/.exec(bases[0] as string);
    expect(tag, `${bases[0]} is node:<major.minor.patch>-<debian release>[-slim]`).not.toBeNull();
    const version = tag?.[1] as string;
    // Node 20 reached end of life on 2026-04-30; 22 is maintained until April 2027, 24 until
    // April 2028.
    expect([22, 24]).toContain(semver.major(version));
    expect(semver.satisfies(version, range)).toBe(true);
  });
});
