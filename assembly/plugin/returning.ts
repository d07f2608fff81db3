// Under drain.rejectNew a draining host turns new streams away; a player coming back to the match
// they left a moment ago is not new. This is the second look a refused stream gets: the host's
// roster says when its player was last there, and one write of the slot lets the stream in (if
// that was within the episode's grace) or records the refusal (ReturningOp).
import { ConnectionTable } from "./connection_table";
import { HostEntry, Lease } from "./host_cache";
import { UNKNOWN } from "./players";
import { ReturningOp } from "./slot_ops";
import { Placed } from "./slot_placement";
import { SlotWrite } from "./slot_write";

/**
 * A stream the table refused because `entry`'s host drains (or is held after its drain completed):
 * its lease if `player` (0: a stranger) is returning to a drain still running, else null. Either
 * way the outcome is counted in the host's drain.
 */
export function admitIfReturning(
  table: ConnectionTable,
  entry: HostEntry,
  player: u64,
): Lease | null {
  const host = entry.host;
  const slot =
    entry.lease !== null && !entry.lease!.overflow ? entry.slot : table.placement.locate(host);
  if (slot < 0) return null;
  const lastSeen =
    player == 0 || !table.playerKey.loaded
      ? UNKNOWN
      : table.roster.lastSeen(table.keys.playersKeyBytes(slot), entry.hostBytes, player);
  const op = new ReturningOp(lastSeen);
  const r = table.update(table.keys.slot(slot), host, op);
  if (r.status != SlotWrite.Ok || !op.admitted) return null;
  return table.leaseOn(entry, new Placed(SlotWrite.Ok, slot, r.written));
}
