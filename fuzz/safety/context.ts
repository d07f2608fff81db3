// What the driver's parts share: the gateway, the model and checker they keep in step, the
// figures a run reports, and the per-step state that crosses parts (the keys a step touched,
// whether a race injected a step into the request being answered). One object, so each part
// reads the current value rather than a copy taken when it was built.
import type { Gateway } from "../../host/index.js";
import type { Checker } from "./checker.js";
import type { Model } from "./model.js";

/** Every key the plugin writes starts with this. */
export const PREFIX = "conn-drain/";
/** Drain-complete records: the completions the checker holds against the model. */
export const COMPLETE = `${PREFIX}complete/`;

/** A shared-data key the plugin's table is made of (not heartbeats, not completion records). */
export function tableKey(key: string): boolean {
  return key.startsWith(PREFIX) && !key.startsWith(`${PREFIX}vm/`) && !key.startsWith(COMPLETE);
}

export interface DriverFigures {
  opened: number;
  refused: number;
  uncountedByHost: number;
  posts: number;
  deletes: number;
  pushes: number;
  pushesRefused: number;
  rolloutSteps: number;
  crashes: number;
  revived: number;
  replies: number;
  injected: number;
  stormWrites: number;
  jumps: number;
  maxKeys: number;
  maxMemory: number;
  hostSteps: number;
  noPlugin: number;
  requestsNotSent: number;
}

/** All zero, in the order reports print them. */
export function emptyFigures(): DriverFigures {
  return {
    opened: 0,
    refused: 0,
    uncountedByHost: 0,
    posts: 0,
    deletes: 0,
    pushes: 0,
    pushesRefused: 0,
    rolloutSteps: 0,
    crashes: 0,
    revived: 0,
    replies: 0,
    injected: 0,
    stormWrites: 0,
    jumps: 0,
    maxKeys: 0,
    maxMemory: 0,
    hostSteps: 0,
    noPlugin: 0,
    requestsNotSent: 0,
  };
}

export interface DriverContext {
  readonly gw: Gateway;
  readonly workers: number;
  readonly seed: number;
  readonly model: Model;
  readonly checker: Checker;
  readonly figures: DriverFigures;
  /** The step now running (a push's config listing starts at it). */
  stepIndex: number;
  /** Keys the current step opened, closed or asked to drain: the `?host=` questions after it. */
  touched: string[];
  /** Whether a step was injected into the request now being answered (see admin-requests.ts). */
  injectedDuringRequest: boolean;
}
