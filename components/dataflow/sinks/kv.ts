/**
 * An exactly-once sink into a JetStream KV bucket: the latest value per key is staged between
 * barriers and put when the checkpoint completes. Puts are upserts, so committing the same
 * checkpoint again after a restore leaves the bucket as it was.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { ErrorCode, FlotillaError, InvalidArgumentError, NotFoundError } from "../../core/mod.ts";
import { isStreamNotFound } from "../sources/nats_errors.ts";
import type { RuntimeContext, Sink, SinkWriter } from "../types.ts";
import { inCheckpointOrder, Setup, toPayload } from "./support.ts";

export interface KvSinkOptions<T> {
  /** NATS servers. @default the cluster's own (`nats.url`) */
  servers?: string;
  /** The bucket; it must exist. */
  bucket: string;
  /** The key of a record (letters, digits and `-/_=.`, not starting or ending with "."). */
  key: (value: T) => string;
  /** What is stored, as JSON (bytes as they are). @default the record */
  value?: (value: T) => unknown;
}

/** `[key, payload]` pairs: the last value of each key written since the previous barrier. */
export interface KvStaged {
  entries: Array<[string, Uint8Array]>;
}

/** Puts awaiting their ack at a time. */
const PUT_WINDOW = 256;

/** The KV client's own rule for keys, checked at `write` so a bad key names its record. */
const VALID_KEY = /^[-/=.\w]+$/;

export function kv<T = unknown>(options: KvSinkOptions<T>): Sink<T> {
  const { bucket, key } = options;
  if (typeof bucket !== "string" || !/^[-\w]+$/.test(bucket)) {
    throw new InvalidArgumentError(
      `kv sink: bucket must be a bucket name (letters, digits, "-" and "_"), got ${JSON.stringify(bucket)}`,
    );
  }
  if (typeof key !== "function") {
    throw new InvalidArgumentError(
      "kv sink: key must be a function of the record, e.g. key: (r) => r.id",
    );
  }
  return {
    kind: "kv",
    createWriter: (ctx) => new KvWriter(ctx, options),
    describe: () => ({ kind: "kv", bucket }),
  };
}

class KvWriter<T> implements SinkWriter<T> {
  readonly #options: KvSinkOptions<T>;
  readonly #setup: Setup<KV>;
  /** Latest payload per key since the last barrier: a checkpoint stores each key once. */
  #staged = new Map<string, Uint8Array>();

  constructor(ctx: RuntimeContext, options: KvSinkOptions<T>) {
    this.#options = options;
    this.#setup = new Setup(() => openBucket(ctx, options));
  }

  write(value: T): void {
    const { key: keyOf, value: storedOf } = this.#options;
    const key = keyOf(value);
    if (
      typeof key !== "string" ||
      !VALID_KEY.test(key) ||
      key.startsWith(".") ||
      key.endsWith(".")
    ) {
      throw new InvalidArgumentError(
        `kv sink: key ${JSON.stringify(key)} of record ${JSON.stringify(value)} is not a valid KV key; use letters, digits and "-/_=." (not at the ends)`,
      );
    }
    this.#staged.delete(key); // re-inserting keeps the map in last-write order
    this.#staged.set(key, toPayload(storedOf ? storedOf(value) : value));
  }

  drain(): Promise<void> | undefined {
    return this.#setup.pending();
  }

  prepareCommit(): KvStaged {
    const entries = [...this.#staged];
    this.#staged = new Map();
    return { entries };
  }

  async commit(entries: Array<{ checkpointId: number; staged: unknown }>): Promise<void> {
    const bucket = await this.#setup.get();
    for (const { staged } of inCheckpointOrder<KvStaged>(entries))
      await putAll(bucket, staged.entries);
  }

  async finish(): Promise<void> {
    await putAll(await this.#setup.get(), this.prepareCommit().entries);
  }
}

/** Puts concurrently: every key appears once per batch, so their order does not matter. */
async function putAll(bucket: KV, entries: Array<[string, Uint8Array]>): Promise<void> {
  for (let start = 0; start < entries.length; start += PUT_WINDOW) {
    await Promise.all(
      entries.slice(start, start + PUT_WINDOW).map(async ([key, data]) => {
        try {
          await bucket.put(key, data);
        } catch (err) {
          throw new FlotillaError(
            ErrorCode.UNAVAILABLE,
            `kv sink: put of ${JSON.stringify(key)} failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
      }),
    );
  }
}

async function openBucket<T>(
  ctx: RuntimeContext,
  { servers, bucket }: KvSinkOptions<T>,
): Promise<KV> {
  const nc = await ctx.connectNats(servers);
  // Kvm.open binds without looking: ask for the bucket's stream so a missing one is reported.
  try {
    await (await jetstreamManager(nc)).streams.info(`KV_${bucket}`);
  } catch (err) {
    if (isStreamNotFound(err)) {
      throw new NotFoundError(
        ErrorCode.NOT_FOUND,
        `kv sink: bucket ${JSON.stringify(bucket)} does not exist; create it first (e.g. \`nats kv add ${bucket}\`)`,
        { cause: err },
      );
    }
    throw err;
  }
  return await new Kvm(nc).open(bucket);
}
