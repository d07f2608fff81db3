// Image references as Docker/OCI tools spell them: [oci://]host[:port]/repo/path[:tag][@sha256:…].
// The first path component is a registry host when it has a "." or ":" or is "localhost" (the
// docker/distribution reference grammar); otherwise the image is on Docker Hub.
import { CliError, ExitCode } from "../errors.js";

export interface Reference {
  registry: string; // host[:port] as written (the docker config key)
  apiHost: string; // where the /v2/ API lives (Docker Hub's differs from its name)
  repository: string;
  tag?: string;
  digest?: string;
}

const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isTag(s: string): boolean {
  return TAG.test(s);
}

export function parseReference(input: string): Reference {
  const bad = (why: string) =>
    new CliError(
      `bad image reference "${input}": ${why}`,
      "write it as host[:port]/repository[:tag], e.g. registry.example.com/plugins/conn-drain:0.1.0",
      ExitCode.usage,
    );
  let s = input.replace(/^oci:\/\//, "");
  let digest: string | undefined;
  const at = s.indexOf("@");
  if (at >= 0) {
    digest = s.slice(at + 1);
    s = s.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("the digest must be sha256: and 64 lower-case hex digits");
  }
  let tag: string | undefined;
  const slash = s.lastIndexOf("/");
  const colon = s.lastIndexOf(":");
  if (colon > slash) {
    tag = s.slice(colon + 1);
    s = s.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  const first = s.split("/")[0] ?? "";
  let registry = "docker.io";
  let repository = s;
  if (s.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    repository = s.slice(first.length + 1);
  }
  // Docker's own spellings of Hub are Hub (distribution/reference normalize.go): one set of
  // credentials (under https://index.docker.io/v1/) and one API host for all of them.
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = "docker.io";
  if (registry === "docker.io" && !repository.includes("/")) repository = `library/${repository}`;
  if (!REPO.test(repository)) throw bad(`"${repository}" is not a valid repository name`);
  const apiHost = registry === "docker.io" ? "registry-1.docker.io" : registry;
  return { registry, apiHost, repository, tag, digest };
}

export function formatReference(
  r: Reference,
  opts: { tag?: boolean; digest?: boolean } = {},
): string {
  let s = `${r.registry}/${r.repository}`;
  if (opts.tag !== false && r.tag) s += `:${r.tag}`;
  if (opts.digest !== false && r.digest) s += `@${r.digest}`;
  return s;
}

/** Loopback registries speak plain HTTP, as docker and oras assume for localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}
