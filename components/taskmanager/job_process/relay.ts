/**
 * The data plane a job process reaches through its TaskManager (`Relay`): publishes,
 * subscriptions and requests on its own job's data-plane subjects, relayed over the
 * TaskManager's connection; anything else is refused.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { ErrorCode, FlotillaError, type Logger } from "../../core/mod.ts";
import { mapNatsError, NoRespondersError, rejected } from "../../rpc/mod.ts";
import type { WireMessage } from "./wire.ts";

/** Subscriptions one job process may hold (three per channel end it runs). */
const MAX_SUBSCRIPTIONS = 65_536;
/** Requests it may have waiting for an answer (handshakes of its channels). */
const MAX_PENDING_REPLIES = 65_536;

/**
 * The data plane a job process reaches through its TaskManager: subjects under its job's prefix
 * only. Anything else is refused and logged; the process is not trusted to ask nicely.
 */
export class Relay {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #send: (m: WireMessage) => void;
  readonly #log: Logger;
  readonly #subs = new Map<number, Subscription>();
  readonly #replies = new Map<number, Msg>();
  #nextDid = 1;

  constructor(nc: NatsConnection, jobSubject: string, send: (m: WireMessage) => void, log: Logger) {
    this.#nc = nc;
    this.#prefix = `${jobSubject}.`;
    this.#send = send;
    this.#log = log;
  }

  #check(subject: string): void {
    if (!subject.startsWith(this.#prefix) || /[\s*>]/.test(subject))
      throw new FlotillaError(
        ErrorCode.FORBIDDEN,
        `a job process may use its own job's data subjects (${this.#prefix}...), not ${subject}`,
      );
  }

  subscribe(sid: number, subject: string): void {
    this.#check(subject);
    if (this.#subs.has(sid) || this.#subs.size >= MAX_SUBSCRIPTIONS)
      throw new FlotillaError(
        ErrorCode.INVALID_ARGUMENT,
        `subscription ${sid} exists or the process holds ${MAX_SUBSCRIPTIONS} already`,
      );
    const sub = this.#nc.subscribe(subject, {
      callback: (err, msg) => {
        // Rate-limited and counted: a job process must not flood its TaskManager's log.
        if (err)
          return rejected(subject, "relayed subscription failed", this.#log, { err: err.message });
        let did: number | undefined;
        if (msg.reply) {
          did = this.#nextDid++;
          this.#replies.set(did, msg);
          // Oldest first: a reply never answered is dropped once the map is full.
          if (this.#replies.size > MAX_PENDING_REPLIES)
            this.#replies.delete(this.#replies.keys().next().value as number);
        }
        this.#send({
          t: "deliver",
          sid,
          subject: msg.subject,
          data: msg.data,
          ...(did ? { did } : {}),
        });
      },
    });
    this.#subs.set(sid, sub);
  }

  unsubscribe(sid: number): void {
    this.#subs.get(sid)?.unsubscribe();
    this.#subs.delete(sid);
  }

  publish(subject: string, data: Uint8Array): void {
    this.#check(subject);
    try {
      this.#nc.publish(subject, data);
    } catch (err) {
      rejected(subject, "relayed publish failed", this.#log, { err: (err as Error).message });
    }
  }

  respond(did: number, data: Uint8Array): void {
    const msg = this.#replies.get(did);
    this.#replies.delete(did);
    msg?.respond(data);
  }

  /** A request's answer; `{ noResponders }` when nobody listens (the channel retries those). */
  async request(subject: string, data: Uint8Array, timeout: number): Promise<unknown> {
    this.#check(subject);
    try {
      return (await this.#nc.request(subject, data, { timeout })).data;
    } catch (err) {
      const error = mapNatsError(err, subject, timeout);
      if (error instanceof NoRespondersError) return { noResponders: error.message };
      throw error;
    }
  }

  close(): void {
    for (const sub of this.#subs.values()) sub.unsubscribe();
    this.#subs.clear();
    this.#replies.clear();
  }
}
