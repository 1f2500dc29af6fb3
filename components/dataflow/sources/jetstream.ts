/**
 * A JetStream stream read in order by one reader through an ordered consumer (which recreates
 * itself after gaps and reconnects). Its position is the next stream sequence, so a restore
 * starts a fresh consumer exactly there.
 */
import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream as jetstreamClient,
  jetstreamManager,
} from "@nats-io/jetstream";
import { ErrorCode, FlotillaError, InvalidArgumentError } from "../../core/mod.ts";
import type { RuntimeContext, Source, SourceBatch, SourceReader } from "../types.ts";
import { isStreamNotFound, streamNotFound } from "./nats_errors.ts";
import { firstNumber, requireInteger } from "./support.ts";

export interface JetStreamSourceOptions<T> {
  /** NATS servers. @default the cluster's own (`nats.url`) */
  servers?: string;
  /** The stream to read. */
  stream: string;
  /** Only messages on this subject (wildcards allowed). @default every subject of the stream */
  subject?: string;
  /** Stop at the last sequence the stream had when the reader started. @default false */
  bounded?: boolean;
  /** The first stream sequence to read when not restoring. @default 1 */
  startSequence?: number;
  /** Turns a payload into a record. @default JSON */
  decode?: (data: Uint8Array) => T;
  /** Messages the consumer keeps in flight (the reader's buffer). @default 256 */
  bufferSize?: number;
}

/** How long a poll waits for the first message before returning an empty batch. */
const WAIT_MS = 50;
const decoder = new TextDecoder();

export function jetstream<T = unknown>(options: JetStreamSourceOptions<T>): Source<T> {
  const { stream, startSequence = 1, bufferSize = 256, bounded = false } = options;
  if (typeof stream !== "string" || stream === "") {
    throw new InvalidArgumentError(
      `jetstream source: stream must be a stream name, got ${JSON.stringify(stream)}`,
    );
  }
  requireInteger("jetstream source", "startSequence", startSequence, 1);
  requireInteger("jetstream source", "bufferSize", bufferSize, 1);
  return {
    kind: "jetstream",
    parallelism: 1,
    bounded,
    createReader: (ctx) => new JetStreamReader(ctx, { ...options, startSequence, bufferSize }),
    describe: () => ({
      kind: "jetstream",
      stream,
      subject: options.subject,
      bounded,
      startSequence,
    }),
  };
}

type ReaderOptions<T> = JetStreamSourceOptions<T> & { startSequence: number; bufferSize: number };

interface Open {
  consumer: Consumer;
  messages: ConsumerMessages;
  iterator: AsyncIterator<JsMsg>;
  /** Bounded reads: the stream's last sequence when the reader started. */
  last: number;
}

class JetStreamReader<T> implements SourceReader<T> {
  readonly #ctx: RuntimeContext;
  readonly #options: ReaderOptions<T>;
  readonly #decode: (data: Uint8Array, msg: JsMsg) => T;
  #next: number;
  #open: Promise<Open | null> | undefined;
  /** A `next()` that did not resolve within a poll; the following poll picks it up. */
  #waiting: Promise<IteratorResult<JsMsg>> | undefined;
  #done = false;

  constructor(ctx: RuntimeContext, options: ReaderOptions<T>) {
    this.#ctx = ctx;
    this.#options = options;
    this.#next = options.startSequence;
    const decode = options.decode;
    this.#decode = decode ? (data) => decode(data) : (data, msg) => decodeJson<T>(data, msg);
  }

  restore(positions: unknown[]): void {
    this.#next = firstNumber(positions) ?? this.#next;
  }

  async poll(max: number): Promise<SourceBatch<T> | null> {
    if (this.#done) return null;
    this.#open ??= this.#start();
    const open = await this.#open;
    if (!open) {
      this.#done = true;
      return null;
    }
    const values: T[] = [];
    while (values.length < max) {
      // The first message may wait a little; later ones only if already buffered.
      const msg = await this.#nextMessage(values.length === 0 ? WAIT_MS : 0, open.iterator);
      if (msg === undefined) break;
      if (msg === null || (this.#options.bounded && msg.seq > open.last)) {
        this.#done = true;
        break;
      }
      values.push(this.#decode(msg.data, msg));
      this.#next = msg.seq + 1;
      if (this.#options.bounded && (msg.seq >= open.last || msg.info.pending === 0)) {
        this.#done = true;
        break;
      }
    }
    if (this.#done) {
      this.#open = Promise.resolve(null);
      await this.#stop(open);
    }
    return values.length === 0 && this.#done ? null : { values };
  }

  position(): number {
    return this.#next;
  }

  async close(): Promise<void> {
    const open = await this.#open?.catch(() => null);
    this.#open = Promise.resolve(null);
    if (open) await this.#stop(open);
  }

  async #start(): Promise<Open | null> {
    const { servers, stream, subject, bounded, bufferSize } = this.#options;
    const nc = await this.#ctx.connectNats(servers);
    const jsm = await jetstreamManager(nc);
    let last: number;
    let consumer: Consumer;
    try {
      last = (await jsm.streams.info(stream)).state.last_seq;
      if (bounded && this.#next > last) return null;
      consumer = await jetstreamClient(nc).consumers.get(stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: this.#next,
        ...(subject ? { filter_subjects: subject } : {}),
      });
    } catch (err) {
      if (isStreamNotFound(err)) throw streamNotFound("jetstream source", stream, err);
      throw err;
    }
    if (bounded && (await consumer.info(true)).num_pending === 0) {
      await consumer.delete().catch(() => undefined);
      return null;
    }
    const messages = await consumer.consume({ max_messages: bufferSize });
    return { consumer, messages, iterator: messages[Symbol.asyncIterator](), last };
  }

  /** The next message; `undefined` when none came within `waitMs`; `null` when the consumer ended. */
  async #nextMessage(
    waitMs: number,
    iterator: AsyncIterator<JsMsg>,
  ): Promise<JsMsg | null | undefined> {
    if (!this.#waiting) {
      this.#waiting = iterator.next();
      // A failure after the poll gave up waiting surfaces at the next poll, not as unhandled.
      this.#waiting.catch(() => undefined);
    }
    const pending = this.#waiting;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // setImmediate runs after pending microtasks, so an already buffered message always wins it.
    const timeout = new Promise<undefined>((resolve) => {
      const expire = () => resolve(undefined);
      if (waitMs > 0) timer = setTimeout(expire, waitMs);
      else setImmediate(expire);
    });
    const result = await Promise.race([pending, timeout]);
    clearTimeout(timer);
    if (result === undefined) return undefined;
    this.#waiting = undefined;
    return result.done ? null : result.value;
  }

  async #stop(open: Open): Promise<void> {
    open.messages.stop();
    // Ephemeral consumers expire by themselves; deleting is only tidier.
    await open.consumer.delete().catch(() => undefined);
  }
}

function decodeJson<T>(data: Uint8Array, msg: JsMsg): T {
  const text = decoder.decode(data);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FlotillaError(
      ErrorCode.INVALID_ARGUMENT,
      `jetstream source: message ${msg.seq} on ${msg.subject} is not JSON (${(err as Error).message}): ${JSON.stringify(text.slice(0, 80))}; pass decode to read other payloads`,
      { cause: err },
    );
  }
}
