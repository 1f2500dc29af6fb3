/**
 * An exactly-once JetStream sink: records are staged per checkpoint and published when it
 * completes, each with a deterministic `Nats-Msg-Id` (job, operator, subtask, checkpoint, index).
 * A commit repeated after a restore sends the same ids again and the stream's de-duplication
 * window drops them, so the window must outlast the longest recovery (default 2 minutes).
 */
import {
  JetStreamApiError,
  type JetStreamClient,
  jetstream as jetstreamClient,
  jetstreamManager,
} from "@nats-io/jetstream";
import { errors as natsErrors } from "@nats-io/transport-node";
import {
  ErrorCode,
  FlotillaError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from "../../core/mod.ts";
import { isStreamNotFound, streamNotFound } from "../sources/nats_errors.ts";
import type { RuntimeContext, Sink, SinkWriter } from "../types.ts";
import { inCheckpointOrder, Setup, toPayload } from "./support.ts";

export type DeliveryGuarantee = "exactly-once" | "at-least-once";

export interface JetStreamSinkOptions<T> {
  /** NATS servers. @default the cluster's own (`nats.url`) */
  servers?: string;
  /** Where each record is published: a subject, or one computed from the record. */
  subject: string | ((value: T) => string);
  /** The stream that must store the messages (checked at start and on every publish). @default the stream capturing `subject` */
  stream?: string;
  /** A record's own de-duplication id. @default `${jobId}.${operatorId}.${subtask}.${checkpointId}.${index}` */
  msgId?: (value: T) => string;
  /** The message payload. @default JSON (bytes are sent as they are) */
  encode?: (value: T) => Uint8Array | unknown;
  /** "at-least-once" publishes at once instead of staging (for runs without checkpoints). @default "exactly-once" */
  deliveryGuarantee?: DeliveryGuarantee;
  /** Publishes awaiting their ack at a time. @default 256 */
  maxInFlight?: number;
}

/** A message staged for a checkpoint, with the id that makes its publish idempotent. */
export interface StagedMessage {
  subject: string;
  id: string;
  data: Uint8Array;
}

export interface JetStreamStaged {
  messages: StagedMessage[];
}

export function jetstream<T = unknown>(options: JetStreamSinkOptions<T>): Sink<T> {
  const { subject, stream, deliveryGuarantee = "exactly-once", maxInFlight = 256 } = options;
  if (typeof subject !== "function" && (typeof subject !== "string" || subject === "")) {
    throw new InvalidArgumentError(
      `jetstream sink: subject must be a subject or a function of the record, got ${JSON.stringify(subject)}`,
    );
  }
  if (typeof subject === "string" && /[*>\s]/.test(subject)) {
    throw new InvalidArgumentError(
      `jetstream sink: cannot publish to ${JSON.stringify(subject)}: wildcards and spaces are not allowed`,
    );
  }
  if (deliveryGuarantee !== "exactly-once" && deliveryGuarantee !== "at-least-once") {
    throw new InvalidArgumentError(
      `jetstream sink: deliveryGuarantee must be "exactly-once" or "at-least-once", got ${JSON.stringify(deliveryGuarantee)}`,
    );
  }
  return {
    kind: "jetstream",
    createWriter: (ctx) =>
      new JetStreamWriter(ctx, {
        ...options,
        deliveryGuarantee,
        maxInFlight: Math.max(1, maxInFlight),
      }),
    describe: () => ({
      kind: "jetstream",
      subject: typeof subject === "string" ? subject : "(computed)",
      stream,
      deliveryGuarantee,
    }),
  };
}

type WriterOptions<T> = JetStreamSinkOptions<T> & {
  deliveryGuarantee: DeliveryGuarantee;
  maxInFlight: number;
};

interface Connected {
  js: JetStreamClient;
  /** The stream every publish must land in, when one was named. */
  stream: string | undefined;
}

class JetStreamWriter<T> implements SinkWriter<T> {
  readonly #ctx: RuntimeContext;
  readonly #options: WriterOptions<T>;
  readonly #setup: Setup<Connected>;
  /** Exactly-once: the records since the last barrier, ids assigned at the barrier. */
  #staged: Array<{ subject: string; id: string | undefined; data: Uint8Array }> = [];
  /** At-least-once: records not yet handed to the server, and the publishes under way. */
  #unsent: StagedMessage[] = [];
  #publishing: Promise<void> = Promise.resolve();

  constructor(ctx: RuntimeContext, options: WriterOptions<T>) {
    this.#ctx = ctx;
    this.#options = options;
    this.#setup = new Setup(() => connect(ctx, options));
  }

  write(value: T): void {
    const { subject, msgId, encode } = this.#options;
    const message = {
      subject: typeof subject === "string" ? subject : subject(value),
      id: msgId?.(value),
      data: toPayload(encode ? encode(value) : value),
    };
    if (this.#options.deliveryGuarantee === "exactly-once") this.#staged.push(message);
    else this.#unsent.push({ ...message, id: message.id ?? "" });
  }

  drain(): Promise<void> | undefined {
    if (this.#unsent.length > 0) return this.#publishUnsent();
    return this.#setup.pending();
  }

  prepareCommit(checkpointId: number): JetStreamStaged | undefined {
    if (this.#options.deliveryGuarantee !== "exactly-once") return undefined;
    const messages = this.#take(String(checkpointId));
    return { messages };
  }

  async commit(entries: Array<{ checkpointId: number; staged: unknown }>): Promise<void> {
    const connected = await this.#setup.get();
    for (const { staged } of inCheckpointOrder<JetStreamStaged>(entries)) {
      await publishAll(connected, staged.messages, this.#options.maxInFlight);
    }
  }

  async finish(): Promise<void> {
    // Without checkpoints a restart replays from the start: the attempt keeps ids apart.
    const messages = this.#take(`a${this.#ctx.attempt}`);
    await publishAll(await this.#setup.get(), messages, this.#options.maxInFlight);
    await this.#publishUnsent();
  }

  /** The staged records with their final ids; `batch` stands where the checkpoint id goes. */
  #take(batch: string): StagedMessage[] {
    const { jobId, operatorId, subtask } = this.#ctx;
    const messages = this.#staged.map((m, index) => ({
      subject: m.subject,
      id: m.id ?? `${jobId}.${operatorId}.${subtask}.${batch}.${index}`,
      data: m.data,
    }));
    this.#staged = [];
    return messages;
  }

  /** Chained, so two drains never interleave their messages. */
  #publishUnsent(): Promise<void> {
    const messages = this.#unsent;
    this.#unsent = [];
    this.#publishing = this.#publishing.then(async () => {
      await publishAll(await this.#setup.get(), messages, this.#options.maxInFlight);
    });
    return this.#publishing;
  }
}

async function connect<T>(ctx: RuntimeContext, options: WriterOptions<T>): Promise<Connected> {
  const { servers, stream, subject } = options;
  const nc = await ctx.connectNats(servers);
  const jsm = await jetstreamManager(nc);
  if (stream) {
    try {
      await jsm.streams.info(stream);
    } catch (err) {
      if (isStreamNotFound(err)) throw streamNotFound("jetstream sink", stream, err);
      throw err;
    }
  } else if (typeof subject === "string") {
    try {
      await jsm.streams.find(subject);
    } catch (err) {
      if (isStreamNotFound(err)) throw noStreamFor(subject, err);
      throw err;
    }
  }
  return { js: jetstreamClient(nc), stream };
}

/** Publishes in order, `maxInFlight` at a time, and waits for every ack. */
async function publishAll(
  { js, stream }: Connected,
  messages: StagedMessage[],
  maxInFlight: number,
): Promise<void> {
  for (let start = 0; start < messages.length; start += maxInFlight) {
    const window = messages.slice(start, start + maxInFlight);
    await Promise.all(
      window.map(async ({ subject, id, data }) => {
        try {
          await js.publish(subject, data, {
            ...(id ? { msgID: id } : {}),
            ...(stream ? { expect: { streamName: stream } } : {}),
          });
        } catch (err) {
          throw publishError(subject, stream, err);
        }
      }),
    );
  }
}

function noStreamFor(subject: string, cause: unknown): NotFoundError {
  return new NotFoundError(
    ErrorCode.NOT_FOUND,
    `jetstream sink: no JetStream stream stores subject ${JSON.stringify(subject)}; create one that captures it (e.g. \`nats stream add --subjects ${subject}\`)`,
    { cause },
  );
}

function publishError(subject: string, stream: string | undefined, err: unknown): FlotillaError {
  // No stream listens on the subject: the client reports it as "jetstream is not enabled".
  if (err instanceof Error && err.name === "JetStreamNotEnabled") return noStreamFor(subject, err);
  if (err instanceof JetStreamApiError) {
    return new FlotillaError(
      ErrorCode.INVALID_ARGUMENT,
      `jetstream sink: publishing to ${JSON.stringify(subject)}${stream ? ` (stream ${JSON.stringify(stream)})` : ""} was refused: ${err.message}`,
      { cause: err },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof natsErrors.TimeoutError || err instanceof natsErrors.ClosedConnectionError) {
    return new UnavailableError(
      `jetstream sink: no ack for ${JSON.stringify(subject)}: ${message}`,
      {
        cause: err,
      },
    );
  }
  return new FlotillaError(ErrorCode.INTERNAL, `jetstream sink: publish failed: ${message}`, {
    cause: err,
  });
}
