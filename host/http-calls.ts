import type { TimerHandle } from "./clock.js";
import { HeaderMap, type HeaderPairs, type HeadersInput, normalizeHeaders } from "./header-map.js";
import { utf8Encode } from "./memory.js";
import type { HttpResponseInFlight, Vm } from "./vm.js";

export interface HttpCall {
  vmIndex: number;
  rootContextId: number;
  token: number;
  cluster: string;
  headers: HeaderPairs;
  body: Uint8Array;
  trailers: HeaderPairs;
  timeoutMs: number;
  /** Epoch ms on the virtual clock. */
  sentAt: number;
}

export interface HttpCallResponse {
  status?: number;
  headers?: Record<string, string> | Array<[string, string]>;
  body?: string | Uint8Array;
  trailers?: Record<string, string> | Array<[string, string]>;
}

/** A test's answer as the plugin reads it: `:status` first, then its headers, body, trailers. */
export function responseInFlight(response: HttpCallResponse): HttpResponseInFlight {
  const headers = new HeaderMap([
    [":status", String(response.status ?? 200)],
    ...normalizeHeaders(response.headers as HeadersInput),
  ]);
  const body =
    typeof response.body === "string"
      ? utf8Encode(response.body)
      : (response.body ?? new Uint8Array());
  const trailers = new HeaderMap(normalizeHeaders(response.trailers as HeadersInput));
  return { headers, body, trailers };
}

interface PendingCall {
  call: HttpCall;
  timer: TimerHandle | undefined;
  owner: Vm;
}

/** Outstanding proxy_http_call requests across the gateway, in dispatch order. */
export class HttpCallRegistry {
  private pending: PendingCall[] = [];

  add(call: HttpCall, owner: Vm, timer: TimerHandle | undefined): void {
    this.pending.push({ call, owner, timer });
  }

  list(filter?: (c: HttpCall) => boolean): HttpCall[] {
    return this.pending.map((p) => p.call).filter((c) => !filter || filter(c));
  }

  /** Removes and returns the pending entry (undefined if already answered or dropped). */
  take(call: HttpCall): { call: HttpCall; owner: Vm } | undefined {
    const i = this.pending.findIndex((p) => p.call === call);
    if (i < 0) return undefined;
    const [p] = this.pending.splice(i, 1);
    p?.timer?.cancel();
    return p;
  }

  /** Drops every call made by `owner` (a failed or discarded VM), optionally one root only. */
  drop(owner: Vm, rootContextId?: number): void {
    this.pending = this.pending.filter((p) => {
      const hit =
        p.owner === owner &&
        (rootContextId === undefined || p.call.rootContextId === rootContextId);
      if (hit) p.timer?.cancel();
      return !hit;
    });
  }
}
