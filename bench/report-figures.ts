// What one bench run measured, as the report reads it (Figures), and the lookups of one
// cell or row that both the summary table and the figure sections make.
import type { AdminResult } from "./admin.js";
import type { DrainResult } from "./drain.js";
import type { CountRow, InstructionsResult } from "./instructions.js";
import type { LiftoffResult } from "./liftoff.js";
import type { ProfileResult } from "./profile.js";
import type { ScaleResult } from "./scale.js";
import type { SizeResult } from "./size.js";
import type { StreamCell, StreamsResult } from "./streams.js";
import { int } from "./util.js";

export interface Environment {
  date: string;
  cpu: string;
  cores: number;
  os: string;
  node: string;
  assemblyscript: string;
  pluginSha: string;
  noopSha: string;
  /** sha256 of BASELINE_COMMIT's release build as this run built it. */
  baselineSha: string;
  seconds: number;
  /** 1-minute load average at the start and the end: other work on the machine shows here. */
  loadStart: number;
  loadEnd: number;
}

export interface Figures {
  env: Environment;
  streams: StreamsResult;
  profile: ProfileResult;
  admin: AdminResult;
  drain: DrainResult;
  scale: ScaleResult;
  size: SizeResult;
  instructions: InstructionsResult;
  liftoff: LiftoffResult;
}

export function cell(f: Figures, workers: number, hosts: number): StreamCell {
  const c = f.streams.cells.find((x) => x.workers === workers && x.hosts === hosts);
  if (!c) throw new Error(`no stream cell for ${workers} VMs, ${hosts} hosts`);
  return c;
}

export function rowOf(f: Figures, id: string): CountRow {
  const r = f.instructions.rows.find((x) => x.id === id);
  if (!r) throw new Error(`no instruction row ${id}`);
  return r;
}

/** "8 VM/10,000 h" for a steady row. */
export function cellName(r: CountRow): string {
  const [, w, h] = r.id.split("-");
  return `${w} VM/${int(Number(h))} h`;
}
