// Figure 6: release wasm bytes next to the no-op floor, and what dominates them: section sizes
// from `wasm-objdump -h`, per-function code sizes from `wasm-objdump -x`, named through the
// release build's text file (build/plugin.wat) when it matches the binary function for function.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PLUGIN_WAT = "build/plugin.wat";

export interface Section {
  name: string;
  plugin: number;
  noop: number;
}

export interface FunctionSize {
  index: number;
  name: string;
  bytes: number;
}

export interface GroupSize {
  group: string;
  functions: number;
  bytes: number;
}

export interface SizeResult {
  pluginBytes: number;
  noopBytes: number;
  /** Undefined when wasm-objdump is not available. */
  sections?: Section[];
  functions?: FunctionSize[];
  groups?: GroupSize[];
  pluginFunctions?: number;
  noopFunctions?: number;
  /** Whether function names came from build/plugin.wat, or why not. */
  names: string;
}

function objdump(args: string[], bytes: Uint8Array, dir: string, file: string): string {
  const path = join(dir, file);
  writeFileSync(path, bytes);
  return execFileSync("wasm-objdump", [...args, path], { encoding: "utf8", maxBuffer: 64 << 20 });
}

function sections(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(
    /^\s*(\w+) start=0x[0-9a-f]+ end=0x[0-9a-f]+ \(size=0x([0-9a-f]+)\)/gm,
  )) {
    out.set(m[1] as string, Number.parseInt(m[2] as string, 16));
  }
  return out;
}

/** Code-section entries: function index -> body size. */
function codeSizes(text: string): Map<number, number> {
  const out = new Map<number, number>();
  const code = text.indexOf("\nCode[");
  if (code < 0) return out;
  const end = text.indexOf("\nData[", code);
  const body = text.slice(code, end < 0 ? undefined : end);
  for (const m of body.matchAll(/^ - func\[(\d+)\] size=(\d+)/gm)) {
    out.set(Number(m[1]), Number(m[2]));
  }
  return out;
}

/** Names from the text file, by function index, if it has as many functions as the binary. */
function watNames(expected: number): { names?: Map<number, string>; why: string } {
  if (!existsSync(PLUGIN_WAT)) return { why: `${PLUGIN_WAT} not found: functions unnamed` };
  const text = readFileSync(PLUGIN_WAT, "utf8");
  const imports = [...text.matchAll(/^ \(import "/gm)].length;
  const funcs = [...text.matchAll(/^ \(func \$(\S+)/gm)].map((m) => m[1] as string);
  if (funcs.length !== expected) {
    return {
      why:
        `${PLUGIN_WAT} has ${funcs.length} functions, build/plugin.wasm ${expected}: it is not ` +
        "the text of this binary, so functions are shown by index",
    };
  }
  const names = new Map<number, string>();
  funcs.forEach((name, i) => {
    names.set(imports + i, name);
  });
  return { names, why: `names from ${PLUGIN_WAT} (same function count as the binary)` };
}

/** Which part of the program a function belongs to, from its AssemblyScript internal name. */
export function groupOf(name: string): string {
  if (name.startsWith("~lib/rt/")) return "AS runtime (GC + allocator)";
  if (/^~lib\/(util\/)?string/.test(name)) return "AS strings";
  if (name.startsWith("~lib/util/number")) return "AS number formatting";
  if (/^~lib\/(map|set)/.test(name)) return "AS Map / Set";
  if (/^~lib\/(array|staticarray|arraybuffer|typedarray|util\/sort)/.test(name)) {
    return "AS arrays + sort";
  }
  if (name.startsWith("~lib/")) return "AS other stdlib";
  if (name.startsWith("assembly/abi/")) return "ABI layer";
  const m = /^assembly\/plugin\/([a-z_]+)/.exec(name);
  if (m) return `plugin: ${m[1]}.ts`;
  if (name.startsWith("~start") || name.startsWith("start:")) return "start function";
  return "other";
}

export function analyzeSize(plugin: Uint8Array, noop: Uint8Array): SizeResult {
  const result: SizeResult = {
    pluginBytes: plugin.length,
    noopBytes: noop.length,
    names: "wasm-objdump unavailable",
  };
  let dir: string;
  let ph: string;
  let nh: string;
  let px: string;
  let nx: string;
  try {
    dir = mkdtempSync(join(tmpdir(), "conn-drain-size-"));
    ph = objdump(["-h"], plugin, dir, "plugin.wasm");
    nh = objdump(["-h"], noop, dir, "noop.wasm");
    px = objdump(["-x"], plugin, dir, "plugin.wasm");
    nx = objdump(["-x"], noop, dir, "noop.wasm");
  } catch (e) {
    result.names = `wasm-objdump failed: ${e instanceof Error ? e.message.split("\n")[0] : e}`;
    return result;
  }
  const ps = sections(ph);
  const ns = sections(nh);
  result.sections = [...new Set([...ps.keys(), ...ns.keys()])].map((name) => ({
    name,
    plugin: ps.get(name) ?? 0,
    noop: ns.get(name) ?? 0,
  }));
  const sizes = codeSizes(px);
  result.pluginFunctions = sizes.size;
  result.noopFunctions = codeSizes(nx).size;
  const { names, why } = watNames(sizes.size);
  result.names = why;
  const functions = [...sizes].map(([index, bytes]) => ({
    index,
    name: names?.get(index) ?? `func[${index}]`,
    bytes,
  }));
  functions.sort((a, b) => b.bytes - a.bytes);
  result.functions = functions;
  if (names) {
    const groups = new Map<string, GroupSize>();
    for (const f of functions) {
      const group = groupOf(f.name);
      const g = groups.get(group) ?? { group, functions: 0, bytes: 0 };
      g.functions++;
      g.bytes += f.bytes;
      groups.set(group, g);
    }
    result.groups = [...groups.values()].sort((a, b) => b.bytes - a.bytes);
  }
  return result;
}

/** Names by function index for the profiler, when the text file matches the binary. */
export function functionNames(plugin: Uint8Array): Map<number, string> | undefined {
  try {
    const dir = mkdtempSync(join(tmpdir(), "conn-drain-names-"));
    const sizes = codeSizes(objdump(["-x"], plugin, dir, "plugin.wasm"));
    return watNames(sizes.size).names;
  } catch {
    return undefined;
  }
}
