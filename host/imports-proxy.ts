import { StreamType, WasmResult } from "./abi.js";
import type { LocalReplyRequest } from "./context.js";
import { HeaderMap, type HeaderPairs, parsePairs, serializePairs } from "./header-map.js";
import type { HttpCall } from "./http-calls.js";
import { utf8Decode, utf8Encode } from "./memory.js";
import { lookupProperty } from "./properties.js";
import type { Vm } from "./vm.js";

// biome-ignore lint/suspicious/noExplicitAny: import functions take whatever wasm passes.
type Fn = (...args: any[]) => number;

const R = WasmResult;
// cpp-host rejects a map/buffer type above WasmHeaderMapType::MAX / WasmBufferType::MAX.
const MAX_HEADER_MAP_TYPE = 7;
const MAX_BUFFER_TYPE = 8;

/** The env.proxy_* functions of ABI 0.2.1, bound to one VM. */
export function proxyImports(vm: Vm): Record<string, Fn> {
  const mem = () => vm.memory;
  const svc = vm.services;
  const str = (p: number, n: number) => mem().readString(p, n);
  /** add/replace: the same checks and reads, a different edit of the map. */
  const editHeader = (
    type: number,
    kp: number,
    ks: number,
    vp: number,
    vs: number,
    edit: (map: HeaderMap, key: string, value: string) => void,
  ): number => {
    if (type >>> 0 > MAX_HEADER_MAP_TYPE) return R.BadArgument;
    const key = str(kp, ks);
    const value = str(vp, vs);
    const map = vm.headerMap(type);
    if (!map) return R.BadArgument;
    edit(map, key, value);
    return R.Ok;
  };

  return {
    proxy_log(level: number, ptr: number, size: number): number {
      vm.log(level, str(ptr, size), "plugin");
      return R.Ok;
    },

    proxy_get_log_level(ptr: number): number {
      mem().setU32(ptr, svc.logLevel());
      return R.Ok;
    },

    proxy_get_current_time_nanoseconds(ptr: number): number {
      // Envoy answers with the wall clock (TimeSource::systemTime), not the timer clock.
      mem().setU64(ptr, svc.clock.wallNanos());
      return R.Ok;
    },

    proxy_set_tick_period_milliseconds(ms: number): number {
      // cpp-host: the period belongs to the root of whatever context calls it.
      const root = vm.context().root;
      if (root.id === 0 || !root.tick) return R.BadArgument;
      root.tick.setPeriod(ms >>> 0);
      return R.Ok;
    },

    proxy_get_buffer_bytes(
      type: number,
      start: number,
      max: number,
      ptrPtr: number,
      sizePtr: number,
    ): number {
      if (type >>> 0 > MAX_BUFFER_TYPE) return R.BadArgument;
      const buf = vm.buffer(type);
      if (!buf) return R.NotFound;
      const s = start >>> 0;
      let len = max >>> 0;
      if (s > buf.length) len = 0;
      else if (s + len > buf.length) len = buf.length - s;
      mem().copyOut(buf.subarray(s, s + len), ptrPtr, sizePtr);
      return R.Ok;
    },

    proxy_get_buffer_status(type: number, lenPtr: number, flagsPtr: number): number {
      if (type >>> 0 > MAX_BUFFER_TYPE) return R.BadArgument;
      const buf = vm.buffer(type);
      if (!buf) return R.NotFound;
      mem().setU32(lenPtr, buf.length);
      mem().setU32(flagsPtr, 0);
      return R.Ok;
    },

    proxy_set_buffer_bytes(
      type: number,
      start: number,
      length: number,
      ptr: number,
      size: number,
    ): number {
      if (type >>> 0 > MAX_BUFFER_TYPE) return R.BadArgument;
      const data = mem().read(ptr, size);
      const ctx = vm.context();
      if (ctx.isRoot) return R.NotFound;
      return ctx.setBuffer(type, start >>> 0, length >>> 0, data);
    },

    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number): number {
      if (type >>> 0 > MAX_HEADER_MAP_TYPE) return R.BadArgument;
      const map = vm.headerMap(type);
      // Envoy answers an unavailable map with empty pairs; cpp-host returns empty as (0, 0).
      const pairs = map?.pairs ?? [];
      mem().copyOut(pairs.length === 0 ? new Uint8Array() : serializePairs(pairs), ptrPtr, sizePtr);
      return R.Ok;
    },

    proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
      if (type >>> 0 > MAX_HEADER_MAP_TYPE) return R.BadArgument;
      const pairs = parsePairs(mem().read(ptr, size));
      const map = vm.headerMap(type);
      if (!map) return R.BadArgument;
      map.pairs = pairs.map(([k, v]) => [k.toLowerCase(), v]);
      return R.Ok;
    },

    proxy_get_header_map_value(
      type: number,
      kp: number,
      ks: number,
      vpp: number,
      vsp: number,
    ): number {
      if (type >>> 0 > MAX_HEADER_MAP_TYPE) return R.BadArgument;
      const key = str(kp, ks);
      const map = vm.headerMap(type);
      if (!map) return R.BadArgument;
      const v = map.get(key);
      if (v === undefined) return R.NotFound;
      mem().copyOut(utf8Encode(v), vpp, vsp);
      return R.Ok;
    },

    proxy_add_header_map_value(t: number, kp: number, ks: number, vp: number, vs: number): number {
      return editHeader(t, kp, ks, vp, vs, (map, k, v) => map.add(k, v));
    },

    proxy_replace_header_map_value(
      t: number,
      kp: number,
      ks: number,
      vp: number,
      vs: number,
    ): number {
      return editHeader(t, kp, ks, vp, vs, (map, k, v) => map.replace(k, v));
    },

    proxy_remove_header_map_value(type: number, kp: number, ks: number): number {
      if (type >>> 0 > MAX_HEADER_MAP_TYPE) return R.BadArgument;
      const key = str(kp, ks);
      const map = vm.headerMap(type);
      if (!map) return R.BadArgument;
      map.remove(key);
      return R.Ok;
    },

    proxy_get_header_map_size(type: number, ptr: number): number {
      if (type >>> 0 > MAX_HEADER_MAP_TYPE) return R.BadArgument;
      const map = vm.headerMap(type);
      if (!map) return R.BadArgument;
      // Envoy answers with the map's byteSize (sum of key and value lengths), not the count.
      let bytes = 0;
      for (const [k, v] of map.pairs) bytes += utf8Encode(k).length + utf8Encode(v).length;
      mem().setU32(ptr, bytes);
      return R.Ok;
    },

    proxy_get_property(pp: number, ps: number, vpp: number, vsp: number): number {
      const path = str(pp, ps);
      const ctx = vm.context();
      const layers = ctx.isRoot
        ? [ctx.setProperties, svc.properties]
        : [ctx.setProperties, ...ctx.propertyLayers(), svc.properties];
      const value = lookupProperty(layers, path);
      if (!value) return R.NotFound;
      mem().copyOut(value, vpp, vsp);
      return R.Ok;
    },

    proxy_set_property(pp: number, ps: number, vp: number, vs: number): number {
      const path = str(pp, ps);
      const value = mem().read(vp, vs);
      vm.context().setProperties.setRaw(path.endsWith("\0") ? path.slice(0, -1) : path, value);
      return R.Ok;
    },

    proxy_get_shared_data(
      kp: number,
      ks: number,
      vpp: number,
      vsp: number,
      casPtr: number,
    ): number {
      const key = str(kp, ks);
      const got = svc.sharedData.store.get(svc.sharedData.vmId, key);
      // Benchmarks run through here: build the event only when a test is watching.
      if (svc.sharedData.watchingGets) {
        vm.runHook(() =>
          svc.sharedData.fireAfterGet({
            vmIndex: vm.index,
            key,
            value: got?.value,
            text: got ? utf8Decode(got.value) : undefined,
            cas: got?.cas ?? 0,
          }),
        );
      }
      if (!got) return R.NotFound;
      mem().copyOut(got.value, vpp, vsp);
      mem().setU32(casPtr, got.cas);
      return R.Ok;
    },

    proxy_set_shared_data(kp: number, ks: number, vp: number, vs: number, cas: number): number {
      const key = str(kp, ks);
      const value = mem().read(vp, vs);
      if (svc.sharedData.watchingSets) {
        vm.runHook(() =>
          svc.sharedData.fireBeforeSet({
            vmIndex: vm.index,
            key,
            value,
            text: utf8Decode(value),
            cas: cas >>> 0,
          }),
        );
      }
      return svc.sharedData.store.set(svc.sharedData.vmId, key, value, cas >>> 0);
    },

    proxy_continue_stream(type: number): number {
      const ctx = vm.context();
      if (ctx.isRoot || type > StreamType.Upstream) return R.BadArgument;
      return ctx.continueStream(type);
    },

    proxy_close_stream(type: number): number {
      const ctx = vm.context();
      if (ctx.isRoot || type > StreamType.Upstream) return R.BadArgument;
      return ctx.closeStream(type);
    },

    proxy_send_local_response(
      status: number,
      dp: number,
      ds: number,
      bp: number,
      bs: number,
      hp: number,
      hs: number,
      grpcStatus: number,
    ): number {
      const reply: LocalReplyRequest = {
        status: status >>> 0,
        details: str(dp, ds),
        body: mem().read(bp, bs),
        headers: parsePairs(mem().read(hp, hs)),
        grpcStatus,
      };
      const ctx = vm.context();
      if (ctx.isRoot) {
        // Envoy: a root context has no filter callbacks, so the reply goes nowhere.
        vm.log(1, `proxy_send_local_response on root context ${ctx.id} ignored`);
        return R.Ok;
      }
      ctx.sendLocalResponse(reply);
      return R.Ok;
    },

    proxy_http_call(
      cp: number,
      cs: number,
      hp: number,
      hs: number,
      bp: number,
      bs: number,
      tp: number,
      ts: number,
      timeoutMs: number,
      tokenPtr: number,
    ): number {
      const cluster = str(cp, cs);
      const headers: HeaderPairs = parsePairs(mem().read(hp, hs)).map(([k, v]) => [
        k.toLowerCase(),
        v,
      ]);
      const body = mem().read(bp, bs);
      const trailers = parsePairs(mem().read(tp, ts));
      // cpp-host checks the token pointer before starting anything.
      mem().setU32(tokenPtr, 0);
      const root = vm.context().root;
      if (root.id === 0) return R.BadArgument;
      const h = new HeaderMap(headers);
      const missing = [":method", ":path", ":authority"].filter((k) => !h.get(k));
      if (missing.length > 0) {
        vm.log(1, `proxy_http_call: missing ${missing.join(", ")}`);
        return R.BadArgument;
      }
      if (!svc.hasCluster(cluster)) {
        vm.log(1, `proxy_http_call: unknown cluster ${JSON.stringify(cluster)}`);
        return R.BadArgument;
      }
      const call: HttpCall = {
        vmIndex: vm.index,
        rootContextId: root.id,
        token: vm.nextHttpToken++,
        cluster,
        headers,
        body,
        trailers,
        timeoutMs: timeoutMs >>> 0,
        sentAt: svc.clock.wallMs(),
      };
      svc.httpCalls.add(call, vm, vm.canary ? undefined : vm.scheduleHttpTimeout(call));
      mem().setU32(tokenPtr, call.token);
      return R.Ok;
    },

    proxy_set_effective_context(id: number): number {
      return vm.setEffectiveContext(id >>> 0) ? R.Ok : R.BadArgument;
    },

    proxy_done(): number {
      const root = vm.context().root;
      if (!root.awaitingDone) return R.NotFound;
      // cpp-host defers the delete so on_delete is not called from inside the caller.
      vm.deferAfterCall(() => vm.deleteRoot(root));
      return R.Ok;
    },

    proxy_define_metric(type: number, np: number, ns: number, idPtr: number): number {
      const r = vm.metrics.define(type, str(np, ns));
      if (typeof r === "number") return r;
      mem().setU32(idPtr, r.id);
      return R.Ok;
    },

    proxy_increment_metric(id: number, offset: bigint): number {
      return vm.metrics.increment(id >>> 0, BigInt(offset));
    },

    proxy_record_metric(id: number, value: bigint): number {
      return vm.metrics.record(id >>> 0, BigInt.asUintN(64, BigInt(value)));
    },

    proxy_get_metric(id: number, ptr: number): number {
      const v = vm.metrics.get(id >>> 0);
      if (typeof v === "number") return v;
      mem().setU64(ptr, v);
      return R.Ok;
    },

    proxy_call_foreign_function(): number {
      vm.log(3, "proxy_call_foreign_function: no foreign functions in this host");
      return R.Unimplemented;
    },
  };
}
