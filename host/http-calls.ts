import type { TimerHandle } from "./clock.js";
import type { HeaderPairs } from "./header-map.js";

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

interface PendingCall {
  call: HttpCall;
  timer: TimerHandle | undefined;
  owner: object;
}

/** Outstanding proxy_http_call requests across the gateway, in dispatch order. */
export class HttpCallRegistry {
  private pending: PendingCall[] = [];

  add(call: HttpCall, owner: object, timer: TimerHandle | undefined): void {
    this.pending.push({ call, owner, timer });
  }

  list(filter?: (c: HttpCall) => boolean): HttpCall[] {
    return this.pending.map((p) => p.call).filter((c) => !filter || filter(c));
  }

  /** Removes and returns the pending entry (undefined if already answered or dropped). */
  take(call: HttpCall): { call: HttpCall; owner: object } | undefined {
    const i = this.pending.findIndex((p) => p.call === call);
    if (i < 0) return undefined;
    const [p] = this.pending.splice(i, 1);
    p?.timer?.cancel();
    return p;
  }

  /** Drops every call made by `owner` (a failed or discarded VM), optionally one root only. */
  drop(owner: object, rootContextId?: number): void {
    this.pending = this.pending.filter((p) => {
      const hit =
        p.owner === owner &&
        (rootContextId === undefined || p.call.rootContextId === rootContextId);
      if (hit) p.timer?.cancel();
      return !hit;
    });
  }
}
