import { describe, expect, it } from "vitest";
import { type GatewayOptions, HostUsageError } from "../../host/index.js";
import { find, hexOf, probeGateway } from "./helpers.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * Opens a stream from `remoteAddress` with the given x-forwarded-for headers and returns what the
 * plugin reads: source.address, source.port, and the x-forwarded-for it sees.
 */
async function seen(
  options: Partial<GatewayOptions>,
  remoteAddress: string,
  xff: string[] = [],
  properties: Record<string, string> = {},
): Promise<{ address: string; port: bigint | undefined; xff: string }> {
  const gw = await probeGateway({ workers: 1, ...options });
  const s = gw.worker(0).openStream({ remoteAddress, properties });
  s.sendRequestHeaders([
    [":path", "/"],
    ...xff.map((v) => ["x-forwarded-for", v] as [string, string]),
    ["x-probe-op", "prop:source.address,prop:source.port,headers"],
  ]);
  const [address, port] = find(gw, "prop source.", 1).map((m) => hexOf(m));
  const headers = find(gw, "headers req=", 1)[0] ?? "";
  const portBytes = port as Uint8Array;
  return {
    address: text(address as Uint8Array),
    port: portBytes.length === 8 ? new DataView(portBytes.buffer).getBigInt64(0, true) : undefined,
    xff: /x-forwarded-for=(.*?)(?:\||$| resp=)/.exec(headers)?.[1] ?? "",
  };
}

describe("source.address as Envoy's connection manager derives it", () => {
  it("defaults (use_remote_address false, 0 trusted hops): the last XFF address, else the peer", async () => {
    expect(await seen({}, "10.1.2.3:4444")).toEqual({
      address: "10.1.2.3:4444",
      port: 4444n,
      xff: "",
    });
    // XFF wins, port 0 (an address parsed from XFF has none); the header is left as it came
    expect(await seen({}, "10.1.2.3:4444", ["203.0.113.9, 198.51.100.2"])).toEqual({
      address: "198.51.100.2:0",
      port: 0n,
      xff: "203.0.113.9, 198.51.100.2",
    });
    // repeated XFF headers count as one list
    expect((await seen({}, "10.1.2.3:4444", ["203.0.113.9", "198.51.100.2"])).address).toBe(
      "198.51.100.2:0",
    );
    // an entry that is not a bare IP means no XFF address: the peer
    for (const bad of ["not-an-ip", "198.51.100.2:80", "[2001:db8::1]", "1.2.3.4,"]) {
      expect((await seen({}, "10.1.2.3:4444", [bad])).address).toBe("10.1.2.3:4444");
    }
  });

  it("xff_num_trusted_hops N skips the last N entries; too few entries fall back to the peer", async () => {
    const xff = ["192.0.2.1,203.0.113.9, 198.51.100.2"];
    expect((await seen({ xffNumTrustedHops: 1 }, "10.1.2.3:4444", xff)).address).toBe(
      "203.0.113.9:0",
    );
    expect((await seen({ xffNumTrustedHops: 2 }, "10.1.2.3:4444", xff)).address).toBe(
      "192.0.2.1:0",
    );
    expect((await seen({ xffNumTrustedHops: 3 }, "10.1.2.3:4444", xff)).address).toBe(
      "10.1.2.3:4444",
    );
  });

  it("use_remote_address: the peer, whatever XFF says, and the peer is appended to XFF", async () => {
    const opts = { useRemoteAddress: true };
    expect(await seen(opts, "10.1.2.3:4444", ["6.6.6.6"])).toEqual({
      address: "10.1.2.3:4444",
      port: 4444n,
      xff: "6.6.6.6,10.1.2.3",
    });
    expect((await seen(opts, "10.1.2.3:4444")).xff).toBe("10.1.2.3");
    // with trusted hops, the address that many hops back in XFF (before appending)
    expect(
      await seen({ ...opts, xffNumTrustedHops: 1 }, "10.1.2.3:4444", ["6.6.6.6, 7.7.7.7"]),
    ).toEqual({ address: "7.7.7.7:0", port: 0n, xff: "6.6.6.6, 7.7.7.7,10.1.2.3" });
    // a loopback peer is appended as the local address
    expect((await seen({ ...opts, localAddress: "10.9.0.1" }, "127.0.0.1:5000")).xff).toBe(
      "10.9.0.1",
    );
  });

  it("IPv6 as Envoy prints it: bracketed, canonical; an IPv4-mapped one stays IPv6", async () => {
    expect((await seen({}, "[2001:DB8::7]:443")).address).toBe("[2001:db8::7]:443");
    expect((await seen({}, "10.1.2.3:4444", ["2001:DB8:0:0:0:0:0:1"])).address).toBe(
      "[2001:db8::1]:0",
    );
    expect((await seen({}, "10.1.2.3:4444", ["::FFFF:10.2.3.4"])).address).toBe(
      "[::ffff:10.2.3.4]:0",
    );
  });

  it("a source.address the test sets itself still wins; without a remote address nothing is derived", async () => {
    expect(
      (await seen({}, "10.1.2.3:4444", ["6.6.6.6"], { "source.address": "1.2.3.4:5" })).address,
    ).toBe("1.2.3.4:5");
    const gw = await probeGateway({ workers: 1 });
    const s = gw.worker(0).openStream();
    s.sendRequestHeaders({ "x-forwarded-for": "6.6.6.6", "x-probe-op": "prop:source.address" });
    expect(find(gw, "prop source.address", 1)).toEqual(["prop source.address rc=1"]);
    expect(s.downstream).toBeUndefined();
  });

  it("refuses malformed remote addresses and options", async () => {
    const gw = await probeGateway({ workers: 1 });
    for (const bad of ["10.1.2.3", "10.1.2.3:99999", "2001:db8::1:80", "host:80"]) {
      expect(() => gw.worker(0).openStream({ remoteAddress: bad }).sendRequestHeaders({})).toThrow(
        HostUsageError,
      );
    }
    await expect(probeGateway({ xffNumTrustedHops: -1 })).rejects.toThrow(/xffNumTrustedHops/);
    await expect(probeGateway({ localAddress: "10.0.0.1:80" })).rejects.toThrow(/localAddress/);
  });
});
