// How one write of a slot ended (ConnectionTable.update), named once for every caller.
import { Slot } from "./slot";

/** How a write of a slot ended. */
export enum SlotWrite {
  Ok,
  /** The slot holds another host now (evicted, or never this host's). */
  WrongHost,
  /** The op chose not to write (e.g. a new stream refused while draining). */
  Declined,
  /** Another VM is still claiming the slot and the op does not accept that (SlotOp). */
  Claiming,
  /** Shared data refused the write for a reason other than a lost race. */
  GaveUp,
  /** No slot could be had for a host without one. */
  NoRoom,
}

export class WriteResult {
  constructor(
    public status: SlotWrite,
    /** The value written (status Ok), or null. */
    public written: Slot | null,
  ) {}
}

export const WRONG_HOST = new WriteResult(SlotWrite.WrongHost, null);
export const CLAIMING = new WriteResult(SlotWrite.Claiming, null);
export const DECLINED = new WriteResult(SlotWrite.Declined, null);
export const GAVE_UP = new WriteResult(SlotWrite.GaveUp, null);
