// Pushes an image over the OCI Distribution API (opencontainers/distribution-spec spec.md):
//   HEAD /v2/<name>/blobs/<digest>            skip blobs the registry already has
//   POST /v2/<name>/blobs/uploads/            open an upload session (202 + Location)
//   PATCH <location>  (Content-Range)         send the blob in chunks, reporting progress
//   PUT <location>?digest=<digest>            close it; the registry checks the digest
//   PUT /v2/<name>/manifests/<digest>         the manifest by digest: nothing is tagged yet
//   PUT /v2/<name>/manifests/<tag>            then each tag
// Tagging only after every blob and the manifest are in means a failure leaves no tag pointing
// at a partial image (the registry garbage-collects the untagged blobs).
import { CliError, ExitCode, unreachable } from "../errors.js";
import { basicHeader, type Challenge, type Credentials, parseChallenge, refused } from "./auth.js";
import type { Blob, Image } from "./image.js";
import { MediaType } from "./image.js";
import type { Reference } from "./reference.js";

export type Progress =
  | { kind: "blob"; title: string; digest: string; sent: number; size: number; exists?: boolean }
  | { kind: "manifest"; digest: string }
  | { kind: "tag"; tag: string };

export interface PushOptions {
  plainHttp: boolean;
  credentials?: Credentials;
  chunkSize: number;
  onProgress?: (p: Progress) => void;
}

export class RegistryClient {
  private readonly base: string;
  private auth: string | undefined; // the Authorization header that last worked
  private triedAuth = false;

  constructor(
    private readonly ref: Reference,
    private readonly opts: Pick<PushOptions, "plainHttp" | "credentials">,
  ) {
    this.base = `${opts.plainHttp ? "http" : "https"}://${ref.apiHost}`;
  }

  private hint(): string {
    return `check the registry address${this.opts.plainHttp ? "" : " (add --plain-http for an HTTP registry)"} and that it is running`;
  }

  /** fetch with the auth handshake: on 401, answer the challenge once and retry. */
  async request(method: string, pathOrUrl: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(pathOrUrl, this.base).toString();
    const send = async () => {
      const headers = new Headers(init.headers);
      if (this.auth) headers.set("authorization", this.auth);
      try {
        return await fetch(url, { ...init, method, headers, redirect: "follow" });
      } catch (err) {
        throw unreachable("registry", this.base, err, this.hint());
      }
    };
    let res = await send();
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get("www-authenticate"));
    const detail = await errorText(res);
    if (this.triedAuth && this.auth && challenge?.scheme === "basic") {
      throw refused(this.ref.registry, this.opts.credentials, detail);
    }
    await this.authenticate(challenge, detail);
    res = await send();
    if (res.status === 401)
      throw refused(this.ref.registry, this.opts.credentials, await errorText(res));
    return res;
  }

  private async authenticate(challenge: Challenge | undefined, detail: string): Promise<void> {
    this.triedAuth = true;
    const creds = this.opts.credentials;
    if (challenge?.scheme === "basic") {
      if (!creds) throw refused(this.ref.registry, undefined, detail);
      this.auth = basicHeader(creds);
      return;
    }
    if (challenge?.scheme !== "bearer" || !challenge.params.realm) {
      throw new CliError(
        `registry ${this.ref.registry} answered 401 without a usable WWW-Authenticate challenge`,
        "check that the address is a container registry",
        ExitCode.auth,
      );
    }
    // Ask for pull and push on our repository, whatever scope the challenge named (the /v2/
    // ping carries none).
    const realm = new URL(challenge.params.realm);
    if (challenge.params.service) realm.searchParams.set("service", challenge.params.service);
    realm.searchParams.set("scope", `repository:${this.ref.repository}:pull,push`);
    const headers: Record<string, string> = {};
    if (creds) headers.authorization = basicHeader(creds);
    let res: Response;
    try {
      res = await fetch(realm, { headers });
    } catch (err) {
      throw unreachable(
        "registry token service",
        realm.origin,
        err,
        "check the registry's auth realm",
      );
    }
    if (res.status === 401 || res.status === 403) {
      throw refused(
        this.ref.registry,
        creds,
        `token service said ${res.status} ${await errorText(res)}`,
      );
    }
    if (!res.ok) {
      throw new CliError(
        `token service ${realm.origin} answered ${res.status}: ${await errorText(res)}`,
        "check the registry's auth service",
        ExitCode.auth,
      );
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token)
      throw new CliError("token service returned no token", "check the registry's auth service", 4);
    this.auth = `Bearer ${token}`;
  }

  async ping(): Promise<void> {
    const res = await this.request("GET", "/v2/");
    if (!res.ok) {
      throw new CliError(
        `${this.base}/v2/ answered ${res.status}: ${await errorText(res)}`,
        "check that the address is an OCI registry",
        ExitCode.unreachable,
      );
    }
  }

  private path(kind: "blobs" | "manifests", ref: string): string {
    return `/v2/${this.ref.repository}/${kind}/${ref}`;
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request("HEAD", this.path("blobs", digest));
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await failure(res, `checking blob ${digest}`);
  }

  async pushBlob(b: Blob, title: string, opts: PushOptions): Promise<void> {
    const report = (sent: number, exists?: boolean) =>
      opts.onProgress?.({ kind: "blob", title, digest: b.digest, sent, size: b.size, exists });
    if (await this.hasBlob(b.digest)) return report(b.size, true);
    let res = await this.request("POST", `/v2/${this.ref.repository}/blobs/uploads/`);
    if (res.status !== 202) throw await failure(res, `starting the upload of ${title}`);
    let location = res.headers.get("location");
    for (let start = 0; start < b.size; start += opts.chunkSize) {
      if (!location)
        throw new CliError("registry sent no upload Location", "report the registry", 1);
      const chunk = b.data.subarray(start, Math.min(b.size, start + opts.chunkSize));
      res = await this.request("PATCH", location, {
        body: new Uint8Array(chunk),
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${start}-${start + chunk.length - 1}`,
          "content-length": String(chunk.length),
        },
      });
      if (res.status !== 202) throw await failure(res, `uploading ${title}`);
      location = res.headers.get("location") ?? location;
      report(start + chunk.length);
    }
    if (!location) throw new CliError("registry sent no upload Location", "report the registry", 1);
    const done = new URL(location, this.base);
    done.searchParams.set("digest", b.digest);
    res = await this.request("PUT", done.toString(), { headers: { "content-length": "0" } });
    if (res.status !== 201) throw await failure(res, `finishing the upload of ${title}`);
    checkDigest(res, b.digest, title);
    if (b.size === 0) report(0);
  }

  async putManifest(image: Image, reference: string): Promise<void> {
    const res = await this.request("PUT", this.path("manifests", reference), {
      body: new Uint8Array(image.manifest),
      headers: { "content-type": MediaType.manifest },
    });
    if (res.status !== 201) throw await failure(res, `putting the manifest as ${reference}`);
    checkDigest(res, image.digest, "manifest");
  }

  async push(image: Image, tags: string[], opts: PushOptions): Promise<void> {
    await this.ping();
    const titled = (b: Blob) =>
      b.annotations?.["org.opencontainers.image.title"] ??
      (b === image.config ? "config" : b.digest);
    // A blob listed twice (the Wasm artifact's runtime config is its config and a layer) is
    // uploaded once.
    const seen = new Set<string>();
    for (const b of [...image.layers, image.config]) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      await this.pushBlob(b, titled(b), opts);
    }
    await this.putManifest(image, image.digest);
    opts.onProgress?.({ kind: "manifest", digest: image.digest });
    for (const tag of tags) {
      await this.putManifest(image, tag);
      opts.onProgress?.({ kind: "tag", tag });
    }
  }
}

function checkDigest(res: Response, expected: string, what: string): void {
  const got = res.headers.get("docker-content-digest");
  if (got && got !== expected) {
    throw new CliError(
      `digest mismatch for ${what}: sent ${expected}, registry stored ${got}`,
      "the registry or a proxy changed the content; push again or report the registry",
      ExitCode.invalid,
    );
  }
}

/** The registry's error body: {"errors":[{"code","message","detail"}]} per the spec. */
export async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (j.errors?.length) return j.errors.map((e) => `${e.code}: ${e.message}`).join("; ");
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200) || res.statusText;
}

async function failure(res: Response, doing: string): Promise<CliError> {
  const detail = await errorText(res);
  const denied = res.status === 403 || /DENIED/.test(detail);
  return new CliError(
    `registry answered ${res.status} while ${doing}: ${detail}`,
    denied
      ? "the account may not push to this repository; check its permissions"
      : "check the registry's logs; nothing was tagged",
    denied ? ExitCode.auth : ExitCode.failure,
  );
}
