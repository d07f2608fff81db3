// A forwarding proxy in front of a real registry that can break one kind of request, to prove
// what a failed push leaves behind. Not a registry: it only relays to one.
import { createServer, type IncomingMessage, type Server } from "node:http";

export type Fault = (req: IncomingMessage) => "fail" | "wrong-digest" | undefined;

export async function startFaultProxy(
  upstream: string,
  fault: Fault,
): Promise<{ host: string; stop(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const what = fault(req);
    if (what === "fail") {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "UNKNOWN", message: "injected failure" }] }));
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string" && k !== "host" && k !== "connection") headers.set(k, v);
    }
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const r = await fetch(`http://${upstream}${req.url}`, {
      method: req.method,
      headers,
      body: body ? new Uint8Array(body) : undefined,
      redirect: "manual",
    });
    const out: Record<string, string> = {};
    r.headers.forEach((v, k) => {
      if (k === "location")
        v = v.replace(
          upstream,
          (server.address() as { port: number })
            ? `127.0.0.1:${(server.address() as { port: number }).port}`
            : upstream,
        );
      if (k !== "content-encoding" && k !== "transfer-encoding" && k !== "content-length")
        out[k] = v;
    });
    if (what === "wrong-digest") out["docker-content-digest"] = `sha256:${"0".repeat(64)}`;
    const data = Buffer.from(await r.arrayBuffer());
    res.writeHead(r.status, out);
    res.end(req.method === "HEAD" ? undefined : data);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { host: `127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(() => r())) };
}
