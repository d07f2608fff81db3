// Runs safety-campaign steps against the plugin in our host, keeps the model in step with what
// was done, and shows the checker every signal the plugin gives as it appears.
import {
  createGateway,
  type Gateway,
  type HttpCall,
  type SharedGetEvent,
  type Stream,
} from "../../host/index.js";
import { Checker } from "./checker.js";
import { Model } from "./model.js";
import {
  ADMIN_PATH,
  ADMIN_TOKEN,
  type ConfigSpec,
  configJson,
  type OpenStep,
  type Step,
  WEBHOOK_CLUSTER,
} from "./steps.js";
import { canonical, endpoint, familyOf, type KeyBy, spellAuthority } from "./universe.js";

const PREFIX = "conn-drain/";
const COMPLETE = `${PREFIX}complete/`;
const MEMORY_LIMIT = 16 * 1024 * 1024;
const decoder = new TextDecoder();

/** The host's config rollout (gw.beginConfigUpdate), when the host has one. */
interface Rollout {
  applyNext(): { vmIndex: number; outcome: string; freshVm?: boolean } | undefined;
  readonly finished?: boolean;
  readonly accepted?: boolean;
  readonly reason?: string;
}

type GatewayExtras = {
  beginConfigUpdate?: (config: string) => unknown;
  jumpWallClock?: (ms: number) => void;
};

/** A shared-data key the plugin's table is made of (not heartbeats, not completion records). */
function tableKey(key: string): boolean {
  return key.startsWith(PREFIX) && !key.startsWith(`${PREFIX}vm/`) && !key.startsWith(COMPLETE);
}

/** A number that names a step by what it is, not where it is (so a shrunk replay asks alike). */
function stepIdentity(step: Step): number {
  if (step.op === "open") return step.id;
  if (step.op === "close") return step.id + 0x4000000;
  const text = JSON.stringify(step);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function hash32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
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

export class Driver {
  readonly model: Model;
  readonly checker: Checker;
  readonly figures: DriverFigures = {
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
  private readonly streams = new Map<number, Stream>();
  private readonly seenCalls = new WeakSet<HttpCall>();
  private rollout: { handle: Rollout; config: ConfigSpec; undo: () => void } | undefined;
  private stepIndex = 0;
  /** A get hook costs every read an event, so one is registered only for a race or storm. */
  private withGetHook<T>(hook: (e: SharedGetEvent) => void, body: () => T): T {
    const remove = this.gw.sharedData.onAfterGet(hook);
    try {
      return body();
    } finally {
      remove();
    }
  }
  private trapsSeen = 0;
  private keysAtStart: number | undefined;
  /** Wall-clock ms at which each step began. */
  private readonly stepWall: number[] = [];

  private constructor(
    readonly gw: Gateway,
    readonly workers: number,
    readonly seed: number,
    initial: ConfigSpec,
  ) {
    this.model = new Model(workers, initial);
    this.checker = new Checker(this.model);
    this.watchCompletions();
    this.watchHttpCalls();
    this.checkBounds();
    this.checker.stepsAt = (ms) => {
      // The last step that began at or before `ms`, and the earlier ones that began at that very
      // moment (steps that move no time share it). Wall time can jump back: then be generous.
      let hi = this.stepWall.length - 1;
      while (hi > 0 && (this.stepWall[hi] ?? 0) > ms) hi--;
      let lo = hi;
      while (lo > 0 && this.stepWall[lo - 1] === this.stepWall[hi]) lo--;
      // A tick at the very end of an advance happens at the next step's start time.
      if (lo > 0 && this.stepWall[hi] === ms) lo--;
      return this.figures.jumps > 0 ? [0, this.stepWall.length - 1] : [lo, hi];
    };
  }

  static async create(
    module: WebAssembly.Module,
    workers: number,
    seed: number,
    initial: ConfigSpec,
  ): Promise<Driver> {
    const gw = await createGateway({
      wasm: module,
      workers,
      config: configJson(initial),
      nodeId: "router~10.0.0.9~higress-gateway-0.higress-system~higress-system.svc.cluster.local",
      clusters: [WEBHOOK_CLUSTER],
      randomSeed: seed,
      recordLogs: false,
    });
    return new Driver(gw, workers, seed, initial);
  }

  get canJump(): boolean {
    return typeof (this.gw as unknown as GatewayExtras).jumpWallClock === "function";
  }

  get hasRollout(): boolean {
    return typeof (this.gw as unknown as GatewayExtras).beginConfigUpdate === "function";
  }

  get rolloutInProgress(): boolean {
    return this.rollout !== undefined;
  }

  // ---- instrumentation ---------------------------------------------------------------------

  /**
   * Sees every write of a drain-complete key the moment it is made, including writes made inside
   * injected actions (where the host's hooks are silent), by wrapping the store's `set`.
   */
  private watchCompletions(): void {
    const store = this.gw.sharedData.store;
    const set = store.set.bind(store);
    store.set = (vmId, key, value, cas) => {
      const r = set(vmId, key, value, cas);
      if (r === 0 && key.startsWith(COMPLETE)) {
        try {
          const c = JSON.parse(decoder.decode(value)) as Record<string, unknown>;
          this.checker.completion(
            "key",
            String(c.host ?? key.slice(COMPLETE.length)),
            String(c.episode ?? ""),
            String(c.reason ?? "?"),
            true,
            typeof c.startedAt === "string" ? c.startedAt : undefined,
          );
        } catch (e) {
          this.checker.violate("complete-key", `${key}: ${String(e)}`);
        }
      }
      return r;
    };
  }

  /** Sees each webhook call as it is made (the registry is the host's; it is only observed). */
  private watchHttpCalls(): void {
    const registry = (this.gw as unknown as { calls?: { add?: (...a: unknown[]) => void } }).calls;
    if (!registry || typeof registry.add !== "function") return;
    const add = registry.add.bind(registry);
    registry.add = (...args: unknown[]) => {
      add(...args);
      try {
        this.observeCall(args[0] as HttpCall, true);
      } catch (e) {
        this.checker.violate("checker-error", String(e));
      }
    };
  }

  private observeCall(c: HttpCall, precise: boolean): void {
    if (this.seenCalls.has(c)) return;
    this.seenCalls.add(c);
    if (c.cluster !== WEBHOOK_CLUSTER) return;
    const key = c.headers.find(([k]) => k === "idempotency-key")?.[1];
    this.checker.webhook(decoder.decode(c.body), key, precise);
  }

  // ---- steps -------------------------------------------------------------------------------

  /** Runs step `index` and every check that follows it. */
  async step(step: Step, index: number): Promise<void> {
    this.stepIndex = index;
    this.stepWall[index] = this.gw.now();
    this.checker.step = index;
    this.model.stepStartSeq = ++this.model.seq;
    this.touched = [];
    const r = this.exec(step);
    if (r) await r;
    this.afterStep(step, index);
  }

  private exec(step: Step): Promise<void> | undefined {
    switch (step.op) {
      case "open":
        this.open(step);
        return;
      case "close":
        this.close(step.id);
        return;
      case "flood":
        for (let i = 0; i < step.n; i++) {
          const live = this.model.liveWorkers();
          if (live.length === 0) return;
          this.open({
            op: "open",
            id: step.id + i,
            w: live[(step.w + i) % live.length] as number,
            host: 1000 + step.first + i,
            form: Math.imul(step.first + i, 0x9e3779b1) >>> 0,
          });
        }
        return;
      case "unflood":
        for (const s of [...this.model.streams.values()]) if (s.host >= 1000) this.close(s.id);
        return;
      case "post":
        this.drainRequest("POST", step.w, step.keyBy, step.name, step.deadlineSeconds);
        return;
      case "delete":
        this.drainRequest("DELETE", step.w, step.keyBy, step.name, 0);
        return;
      case "config":
        return this.push(step.config);
      case "rollout":
        this.applyNext();
        return;
      case "crash":
        this.crash(step.w);
        return;
      case "advance":
        this.gw.advance(step.ms);
        this.syncRevived();
        return;
      case "jump": {
        const jump = (this.gw as unknown as GatewayExtras).jumpWallClock;
        if (jump) {
          jump.call(this.gw, step.ms);
          this.figures.jumps++;
        }
        return;
      }
      case "reply":
        this.reply(step.k, step.status);
        return;
      case "race":
        return this.race(step.at, step.inner, step.inject);
      case "storm":
        return this.storm(step.n, step.inner);
    }
  }

  private open(step: OpenStep): void {
    if (this.model.dead[step.w] || this.streams.has(step.id)) return;
    const handle = this.gw.worker(step.w);
    const e = endpoint(step.host);
    const missing = (handle as unknown as { pluginMissing?: string }).pluginMissing;
    const key = missing === undefined ? this.model.keyFor(step.w, step.host, step.form) : null;
    const s = handle.openStream({
      properties: { "source.address": "203.0.113.7:50123", cluster_name: e.cluster },
    });
    s.sendRequestHeaders({
      ":method": "GET",
      ":path": "/play",
      ":authority": spellAuthority(e.authority, step.form),
      ":scheme": "http",
      connection: "upgrade",
      upgrade: "websocket",
    });
    if (s.localResponse || s.ended) {
      // drain.rejectNew turned the player away (or the VM failed): nobody connected.
      this.figures.refused++;
      s.close();
      return;
    }
    s.connectUpstream({ address: e.upstream, cluster: e.cluster });
    s.sendResponseHeaders({ ":status": "101" });
    if (s.localResponse || s.ended) {
      this.figures.refused++;
      s.close();
      return;
    }
    this.figures.opened++;
    if (key === null) this.figures.uncountedByHost++;
    this.streams.set(step.id, s);
    this.model.opened(step.id, step.w, step.host, key);
    if (key !== null) this.touched.push(key);
  }

  private close(id: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    const m = this.model.closing(id);
    if (m?.key) this.touched.push(m.key);
    s.close();
  }

  /** An admin request on worker `w` (or the next live one); returns the reply, if any. */
  private admin(
    w: number,
    method: string,
    path: string,
  ): { status: number; body: string; w: number } | undefined {
    const worker = this.adminWorker(w);
    if (worker < 0) return undefined;
    const s = this.gw
      .worker(worker)
      .openStream({ properties: { "source.address": "10.0.0.1:40000" } });
    s.sendRequestHeaders(
      {
        ":method": method,
        ":path": path,
        ":authority": "gateway.example.com",
        authorization: `Bearer ${ADMIN_TOKEN}`,
      },
      { endOfStream: true },
    );
    const r = s.localResponse;
    s.close();
    return r ? { status: r.status, body: r.body, w: worker } : undefined;
  }

  private drainRequest(
    method: "POST" | "DELETE",
    w: number,
    keyBy: KeyBy,
    name: string,
    deadline: number,
  ): void {
    const worker = this.adminWorker(w);
    if (worker < 0 || this.model.workerConfig(worker).keyBy !== keyBy) {
      this.figures.requestsNotSent++;
      return;
    }
    if (method === "POST") {
      this.figures.posts++;
      this.model.drainNames.add(name);
    } else this.figures.deletes++;
    this.touched.push(canonical(name, keyBy));
    const query = deadline > 0 ? `&deadlineSeconds=${deadline}` : "";
    const r = this.admin(worker, method, `${ADMIN_PATH}/drain?host=${name}${query}`);
    if (!r) return;
    let view: { drain?: { host?: string; episode?: string; state?: string; reason?: string } };
    try {
      view = JSON.parse(r.body) as typeof view;
    } catch {
      return; // 4xx/5xx answers are plain text
    }
    const d = view.drain;
    if (!d || typeof d.episode !== "string") return;
    this.model.requestedEpisodes.add(d.episode);
    // An answer shows the state its request read; a step injected into the request may have
    // moved the episode on since (e.g. completed it by its deadline), so it may look older.
    this.checker.drainView(d.host ?? name, d, this.injectedDuringRequest);
  }

  private crash(w: number): void {
    if (this.model.dead[w] || this.model.liveWorkers().length <= 2) return;
    this.gw.worker(w).crash("safety campaign: injected trap");
    this.model.crashed(w);
    this.figures.crashes++;
  }

  private reply(k: number, status: number | "reset"): void {
    const calls = this.gw.httpCalls().filter((c) => c.cluster === WEBHOOK_CLUSTER);
    if (calls.length === 0) return;
    const call = calls[k % calls.length] as HttpCall;
    this.figures.replies++;
    if (status === "reset") this.gw.failHttpCall(call);
    else this.gw.respondHttpCall(call, { status, body: status < 300 ? "ok" : "busy" });
  }

  // ---- config pushes -----------------------------------------------------------------------

  private rootIds(): Array<number | undefined> {
    return this.gw.allVms.map((h) => h.rootContextId);
  }

  /** VMs whose root changed since `before` now run `config`; dead workers that came back live. */
  private syncConfigs(before: Array<number | undefined>, config: ConfigSpec): void {
    const after = this.rootIds();
    for (let i = 0; i < after.length; i++) {
      if (after[i] !== undefined && after[i] !== before[i]) this.model.vmConfig[i] = config;
    }
    this.syncRevived();
  }

  private syncRevived(): void {
    for (let w = 0; w < this.workers; w++) {
      if (this.model.dead[w] && !this.gw.worker(w).failed) {
        this.model.revived(w);
        this.figures.revived++;
      }
    }
  }

  private async push(config: ConfigSpec): Promise<void> {
    this.finishRollout();
    this.figures.pushes++;
    const undo = this.model.beginPush(config, this.stepIndex);
    const json = configJson(config);
    const before = this.rootIds();
    const begin = (this.gw as unknown as GatewayExtras).beginConfigUpdate;
    if (begin) {
      let r = begin.call(this.gw, json) as Rollout | Promise<Rollout>;
      if (r instanceof Promise) r = await r;
      if (r.accepted === false) {
        this.figures.pushesRefused++;
        undo();
        return;
      }
      this.rollout = { handle: r, config, undo };
      this.syncConfigs(before, config);
      if (r.finished === true) this.rollout = undefined;
      return;
    }
    const result = await this.gw.updateConfig(json);
    if (!result.accepted) {
      this.figures.pushesRefused++;
      undo();
      return;
    }
    this.syncConfigs(before, config);
  }

  private applyNext(): void {
    const r = this.rollout;
    if (!r) return;
    const before = this.rootIds();
    const applied = r.handle.applyNext();
    this.figures.rolloutSteps++;
    if (applied) {
      // The step says which VM took it (a fresh VM replacing a dead one restarts its context
      // ids, so comparing root ids would miss it).
      if (applied.outcome === "configured" || applied.outcome === "reused") {
        this.model.vmConfig[applied.vmIndex] = r.config;
      } else {
        this.figures.noPlugin++;
      }
      this.syncRevived();
    } else {
      this.syncConfigs(before, r.config);
    }
    if (r.handle.finished !== false || applied === undefined) this.rollout = undefined;
  }

  /** A new push waits for the one in progress to reach every VM. */
  private finishRollout(): void {
    for (let i = 0; this.rollout && i < 64; i++) this.applyNext();
    this.rollout = undefined;
  }

  // ---- races -------------------------------------------------------------------------------

  /** The VM a step will act on (admin requests move off a dead worker), or -1. */
  private innerVm(step: Step): number {
    if (step.op === "close") return this.vmOfStream(step.id);
    if (!("w" in step)) return -1;
    if (step.op === "open" || step.op === "flood" || step.op === "crash") {
      return this.model.dead[step.w] ? -1 : step.w + 1;
    }
    return this.adminWorker(step.w) + 1;
  }

  private adminWorker(w: number): number {
    const live = this.model.liveWorkers();
    if (live.length === 0) return -1;
    return live.includes(w) ? w : (live[w % live.length] as number);
  }

  private vmOfStream(id: number): number {
    const s = this.model.streams.get(id);
    return s ? s.w + 1 : -1;
  }

  private race(at: number, inner: Step, inject: Step): Promise<void> | undefined {
    const vm = this.innerVm(inner);
    let reads = 0;
    let done = false;
    const hook = (e: SharedGetEvent) => {
      if (done || e.vmIndex !== vm || !tableKey(e.key)) return;
      if (++reads < at) return;
      done = true;
      const target = this.innerVm(inject);
      if (target < 0 || target === vm) return;
      this.figures.injected++;
      this.injectedDuringRequest = true;
      void this.exec(inject);
    };
    this.injectedDuringRequest = false;
    const ran = this.withGetHook(hook, () => this.exec(inner));
    if (ran instanceof Promise) {
      return ran.finally(() => {
        this.injectedDuringRequest = false;
      });
    }
    this.injectedDuringRequest = false;
    return ran;
  }

  /** Whether a step was injected into the request now being answered (see drainRequest). */
  private injectedDuringRequest = false;

  private storm(n: number, inner: Step): Promise<void> | undefined {
    const vm = this.innerVm(inner);
    let left = n;
    const hook = (e: SharedGetEvent) => {
      if (left <= 0 || e.vmIndex !== vm || !tableKey(e.key) || e.value === undefined) return;
      left--;
      this.figures.stormWrites++;
      // Same bytes: only the CAS moves, so the reader's write must fail and retry.
      this.gw.sharedData.set(e.key, e.value, 0);
    };
    return this.withGetHook(hook, () => this.exec(inner));
  }

  // ---- checks after each step --------------------------------------------------------------

  private afterStep(step: Step, index: number): void {
    const gw = this.gw;
    if (gw.trapCount !== this.model.injectedTraps + this.trapsSeen) {
      const why = gw.allVms
        .filter((h) => h.failed && h.failure !== "safety campaign: injected trap")
        .map((h) => `${h.label}: ${h.failure}`)
        .join("; ");
      this.trapsSeen = gw.trapCount - this.model.injectedTraps;
      this.checker.violate("trap", why || `trapCount ${gw.trapCount}`);
    }
    for (const c of gw.httpCalls()) this.observeCall(c, false);
    this.query(step);
    if (index % 64 === 0) this.checkBounds();
    this.checker.endStep();
  }

  /** Keys the current step opened, closed or asked to drain. */
  private touched: string[] = [];

  /**
   * `?host=` after the step: for the keys a drain request, race, storm, flood or push touched,
   * for an eighth of plain opens and closes, and for a random counted host after half the other
   * steps. The choice is a function of the seed and the step itself (not its index), so a replay,
   * even a shrunk one, asks the same questions.
   */
  private query(step: Step): void {
    const h = hash32(this.seed, stepIdentity(step));
    const plain = step.op === "open" || step.op === "close";
    let keys = plain && h % 8 !== 0 ? [] : [...new Set(this.touched)];
    if (keys.length > 3) keys = [keys[0] as string, keys[keys.length - 1] as string];
    if (keys.length === 0 && !plain && h % 2 === 1) {
      const all = [...this.model.byKey.keys()];
      if (all.length > 0) keys = [all[(h >>> 4) % all.length] as string];
    }
    for (const key of keys) this.askHost(key, h);
  }

  private askHost(key: string, h: number): void {
    const family = familyOf(key);
    const live = this.model
      .liveWorkers()
      .filter((w) => this.model.workerConfig(w).keyBy === family);
    if (live.length === 0) return;
    const w = live[(h >>> 8) % live.length] as number;
    // Now and then ask with the spelling a client used (upper case, a port): same host.
    const name = family === "authority" && (h & 0x30) === 0 ? spellAuthority(key, h >>> 1) : key;
    const r = this.admin(w, "GET", `${ADMIN_PATH}?host=${name}`);
    if (!r) return;
    this.checker.hostAnswer(key, r.status, r.body);
  }

  private checkBounds(): void {
    const keys = this.gw.sharedData.keys().length;
    this.figures.maxKeys = Math.max(this.figures.maxKeys, keys);
    const m = this.model;
    // Keys may grow with what operators name and with VMs that ever ran, never with traffic.
    this.keysAtStart ??= keys;
    const bound =
      this.keysAtStart +
      2 * m.maxHostsEver +
      4 * (this.workers + 2 + this.figures.revived) +
      4 * (m.drainNames.size + m.listings.length) +
      32;
    if (keys > bound) this.checker.violate("keys", `${keys} shared-data keys (bound ${bound})`);
    for (const vm of this.gw.allVms) {
      if (vm.failed) continue;
      const bytes = vm.memoryBytes;
      this.figures.maxMemory = Math.max(this.figures.maxMemory, bytes);
      if (bytes > MEMORY_LIMIT) this.checker.violate("memory", `${vm.label}: ${bytes} bytes`);
    }
  }

  /** The end of a run: everything closes; a last round of checks. */
  finalChecks(): void {
    this.checkBounds();
  }
}
