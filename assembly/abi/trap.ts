// AssemblyScript's runtime calls abort() on failed assertions and out-of-bounds accesses.
// Routing it here (asc --use abort=...) keeps the module's imports to env.proxy_* and WASI, and
// puts the reason in Envoy's log at critical before the trap fails the VM.
import { LogLevel } from "./enums";
import { proxy_log } from "./imports";

export function onAbort(
  message: string | null,
  fileName: string | null,
  line: u32,
  column: u32,
): void {
  const text =
    "conn-drain: abort: " +
    (message !== null ? message : "") +
    " at " +
    (fileName !== null ? fileName : "?") +
    ":" +
    line.toString() +
    ":" +
    column.toString();
  const bytes = String.UTF8.encode(text);
  proxy_log(<u32>LogLevel.Critical, changetype<usize>(bytes), bytes.byteLength);
  unreachable();
}
