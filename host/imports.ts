import { MemoryAccessError, PluginTrap, WasiErrno, WasmResult } from "./abi.js";
import { proxyImports } from "./imports-proxy.js";
import type { Vm } from "./vm.js";

// biome-ignore lint/suspicious/noExplicitAny: import functions take whatever wasm passes.
type AnyFn = (...args: any[]) => number | bigint | undefined;

function wasiImports(vm: Vm): Record<string, AnyFn> {
  const mem = () => vm.memory;
  const svc = vm.services;
  return {
    // cpp-host writevImpl: stdout lands at info, stderr at error, whatever the text says;
    // one trailing newline is dropped.
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
      const level = fd === 1 ? 2 : fd === 2 ? 4 : -1;
      if (level < 0) return WasiErrno.Badf;
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const buf = mem().getU32(iovs + i * 8);
        const len = mem().getU32(iovs + i * 8 + 4);
        if (len > 0) {
          parts.push(mem().read(buf, len));
          total += len;
        }
      }
      const all = new Uint8Array(total);
      let off = 0;
      for (const p of parts) {
        all.set(p, off);
        off += p.length;
      }
      let text = new TextDecoder().decode(all);
      if (text.endsWith("\n")) text = text.slice(0, -1);
      if (total > 0) vm.log(level, text, "plugin");
      mem().setU32(nwrittenPtr, total);
      return WasiErrno.Success;
    },
    random_get(ptr: number, len: number): number {
      const buf = new Uint8Array(len >>> 0);
      svc.random(buf);
      mem().write(ptr, buf);
      return WasiErrno.Success;
    },
    clock_time_get(id: number, _precision: bigint, ptr: number): number {
      // cpp-host: realtime (0) is getCurrentTimeNanoseconds (Envoy's wall clock), monotonic (1)
      // getMonotonicTimeNanoseconds (the clock timers run on); anything else ENOTSUP.
      if (id !== 0 && id !== 1) return WasiErrno.Notsup;
      mem().setU64(ptr, id === 0 ? svc.clock.wallNanos() : svc.clock.nowNanos());
      return WasiErrno.Success;
    },
    clock_res_get(id: number, ptr: number): number {
      if (id !== 0 && id !== 1) return WasiErrno.Notsup;
      mem().setU64(ptr, 1n);
      return WasiErrno.Success;
    },
    environ_get: () => WasiErrno.Success,
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      mem().setU32(countPtr, 0);
      mem().setU32(sizePtr, 0);
      return WasiErrno.Success;
    },
    args_get: () => WasiErrno.Success,
    args_sizes_get(countPtr: number, sizePtr: number): number {
      mem().setU32(countPtr, 0);
      mem().setU32(sizePtr, 0);
      return WasiErrno.Success;
    },
    proc_exit(code: number): number {
      throw new PluginTrap(`proc_exit(${code})`);
    },
    fd_close: () => WasiErrno.Success,
    fd_seek: () => WasiErrno.Success,
    fd_fdstat_get(fd: number, statPtr: number): number {
      if (fd !== 1 && fd !== 2) return WasiErrno.Badf;
      // 24-byte fdstat, zero except fs_rights_base = FD_WRITE, as cpp-host fills it.
      mem().write(statPtr, new Uint8Array(24));
      mem().setU64(statPtr + 8, 64n);
      return WasiErrno.Success;
    },
    fd_read: () => WasiErrno.Nosys,
    fd_prestat_get: () => WasiErrno.Badf,
    fd_prestat_dir_name: () => WasiErrno.Nosys,
    poll_oneoff: () => WasiErrno.Nosys,
    sched_yield: () => WasiErrno.Success,
  };
}

/** AssemblyScript strings: UTF-16LE, byte length stored 4 bytes before the pointer. */
function readAsString(vm: Vm, ptr: number): string {
  if (!ptr) return "";
  try {
    const len = vm.memory.getU32(ptr - 4);
    const bytes = vm.memory.read(ptr, len);
    return new TextDecoder("utf-16le").decode(bytes);
  } catch {
    return `<string at ${ptr}>`;
  }
}

function envExtras(vm: Vm): Record<string, AnyFn> {
  return {
    // AssemblyScript's default abort import: a trap, with the message kept for the log.
    abort(msg: number, file: number, line: number, col: number): number {
      throw new PluginTrap(
        `abort: ${readAsString(vm, msg)} at ${readAsString(vm, file)}:${line}:${col}`,
      );
    },
    trace(msg: number, n: number, ...args: number[]): number {
      vm.log(2, `trace: ${readAsString(vm, msg)} ${args.slice(0, n).join(", ")}`, "plugin");
      return 0;
    },
    seed(): number {
      const b = new Uint8Array(4);
      vm.services.random(b);
      return new DataView(b.buffer).getUint32(0, true);
    },
  };
}

/**
 * The import object for one VM. Every function counts itself (benchmarks read the counts) and
 * turns an out-of-bounds guest pointer into InvalidMemoryAccess (EFAULT for WASI), as
 * cpp-host does. Imports the host does not know get stubs: env.proxy_* answers Unimplemented,
 * WASI answers ENOSYS, anything else traps when called. Each stub logs its name.
 */
export function buildImports(vm: Vm, module: WebAssembly.Module): WebAssembly.Imports {
  const known: Record<string, Record<string, AnyFn>> = {
    env: { ...proxyImports(vm), ...envExtras(vm) },
    wasi_snapshot_preview1: wasiImports(vm),
    wasi_unstable: wasiImports(vm),
  };
  const out: Record<string, Record<string, AnyFn>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") {
      throw new Error(
        `module imports ${imp.kind} ${imp.module}.${imp.name}, which this host does not provide`,
      );
    }
    const full = `${imp.module}.${imp.name}`;
    const isWasi = imp.module.startsWith("wasi");
    let fn = known[imp.module]?.[imp.name];
    if (!fn) {
      if (imp.module === "env" && imp.name.startsWith("proxy_")) {
        fn = () => {
          vm.log(3, `unimplemented host call ${full}`);
          return WasmResult.Unimplemented;
        };
      } else if (isWasi) {
        fn = () => {
          vm.log(3, `unimplemented WASI call ${full}`);
          return WasiErrno.Nosys;
        };
      } else {
        fn = () => {
          throw new PluginTrap(`called unresolved import ${full}`);
        };
      }
    }
    const impl = fn;
    const name = imp.name;
    const wrapped: AnyFn = (...args) => {
      vm.calls.bump(name);
      vm.services.totalCalls.bump(name);
      try {
        return impl(...args);
      } catch (e) {
        if (e instanceof MemoryAccessError) {
          vm.log(3, `${full}: ${e.message}`);
          return isWasi ? WasiErrno.Fault : WasmResult.InvalidMemoryAccess;
        }
        throw e;
      }
    };
    out[imp.module] ??= {};
    (out[imp.module] as Record<string, AnyFn>)[imp.name] = wrapped;
  }
  return out as WebAssembly.Imports;
}
