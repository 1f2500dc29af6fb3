/**
 * A TaskManager's side of FLIP-6 steps 1 and 2: it registers at the ResourceManager (retrying
 * while none answers), then reports its slot table with each heartbeat, and registers again when
 * the RM forgot it or stayed silent past the heartbeat timeout (a new leader).
 */
import { type Logger, type TaskManagerId, TimeoutError, toFlotillaError } from "../core/mod.ts";
import {
  type ResourceManagerApp,
  RM_FENCING_SCOPE,
  type SlotReport,
  type TaskManagerRegistration,
} from "../protocol/mod.ts";
import {
  type CallDeadlines,
  createClient,
  type FencingTokens,
  type RpcClient,
  type Transport,
  unwrap,
} from "../rpc/mod.ts";

export interface ResourceManagerConnectionOptions {
  tmId: TaskManagerId;
  /** The ResourceManager's subject, for logs and errors. */
  rmSubject: string;
  transport: Transport;
  registration(): TaskManagerRegistration;
  slots(): SlotReport[];
  /** Where the RM's token goes: calls from an RM with an older one are refused. */
  fencingTokens: FencingTokens;
  rpc: CallDeadlines;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  log: Logger;
  /** Each heartbeat (the JobManagers get their tasks' counters then). */
  onHeartbeat(): void;
}

export class ResourceManagerConnection {
  readonly #o: ResourceManagerConnectionOptions;
  readonly #register: RpcClient<ResourceManagerApp>;
  /** A heartbeat must not outlast the interval it belongs to. */
  readonly #heartbeat: RpcClient<ResourceManagerApp>;
  #registered = false;
  #stopped = false;
  #lastContact = 0;
  #lastError = "";
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly #whenRegistered = new Set<() => void>();

  constructor(options: ResourceManagerConnectionOptions) {
    this.#o = options;
    const { transport, rpc, heartbeatIntervalMs } = options;
    this.#register = createClient<ResourceManagerApp>(transport, rpc);
    this.#heartbeat = createClient<ResourceManagerApp>(transport, {
      timeoutMs: heartbeatIntervalMs,
      attemptTimeoutMs: Math.min(rpc.attemptTimeoutMs, heartbeatIntervalMs),
    });
  }

  get registered(): boolean {
    return this.#registered;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Ends the loops now (a call in flight ends within its deadline). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  /** The slot table changed: it reaches the RM now, not at the next heartbeat. */
  reportNow(): void {
    this.#wake?.();
  }

  /** Resolves once registered; a TimeoutError naming the RM after `timeoutMs`. */
  whenRegistered(timeoutMs: number): Promise<void> {
    if (this.#registered) return Promise.resolve();
    const { tmId, rmSubject } = this.#o;
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#whenRegistered.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#whenRegistered.delete(done);
        reject(
          new TimeoutError(
            `TaskManager ${tmId} did not register at the ResourceManager (${rmSubject}) within ${timeoutMs} ms${this.#lastError ? `; last error: ${this.#lastError}` : ""}`,
          ),
        );
      }, timeoutMs);
      this.#whenRegistered.add(done);
    });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      if (!this.#registered) await this.#registerUntilAnswered();
      await this.#pause(this.#o.heartbeatIntervalMs);
      if (this.#stopped) return;
      this.#o.onHeartbeat();
      await this.#sendHeartbeat();
    }
  }

  /**
   * Registers, retrying (100 ms doubling up to the heartbeat interval) until an RM answers or
   * the TaskManager stops: waiting for a ResourceManager is what a TaskManager is for.
   */
  async #registerUntilAnswered(): Promise<void> {
    const { fencingTokens, log, rmSubject, heartbeatIntervalMs } = this.#o;
    let backoff = Math.min(100, heartbeatIntervalMs);
    while (!this.#stopped) {
      try {
        const answer = await unwrap(
          this.#register.taskmanagers.$post({ json: this.#o.registration() }),
        );
        // An RM older than one this TaskManager already follows, or one whose token the HA
        // store does not confirm, is refused here too.
        await fencingTokens.admit(answer.rmToken, RM_FENCING_SCOPE);
        this.#registered = true;
        this.#lastContact = performance.now();
        this.#lastError = "";
        log.info({ rm: rmSubject, token: answer.rmToken }, "registered at the ResourceManager");
        for (const done of [...this.#whenRegistered]) done();
        return;
      } catch (err) {
        this.#lastError = toFlotillaError(err).message;
        log.debug({ err: this.#lastError }, "ResourceManager not reachable yet; retrying");
        await this.#pause(backoff);
        backoff = Math.min(backoff * 2, heartbeatIntervalMs);
      }
    }
  }

  async #sendHeartbeat(): Promise<void> {
    const { tmId, log, heartbeatTimeoutMs } = this.#o;
    try {
      const { known } = await unwrap(
        this.#heartbeat.taskmanagers[":tmId"].heartbeat.$put({
          param: { tmId },
          json: { slots: this.#o.slots() },
        }),
      );
      this.#lastContact = performance.now();
      if (!known) {
        log.info("the ResourceManager forgot this TaskManager: registering again");
        this.#registered = false;
      }
    } catch (err) {
      this.#lastError = toFlotillaError(err).message;
      if (performance.now() - this.#lastContact > heartbeatTimeoutMs) {
        log.warn(
          { err: this.#lastError },
          `no answer from the ResourceManager for ${heartbeatTimeoutMs} ms: registering again`,
        );
        this.#registered = false;
      }
    }
  }

  /** Waits `ms`, or less when woken (a slot change, or stop). */
  #pause(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(wake, ms);
      function wake() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = wake;
    });
  }
}
