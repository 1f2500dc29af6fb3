/**
 * `HaKv` on a JetStream KV bucket (`flotilla_<clusterId>`, file storage, history 1). Every call
 * has a deadline and fails typed while NATS is away; values over the server's max_payload are
 * refused up front with PAYLOAD_TOO_LARGE naming both sizes. `forget` purges a key's subject from
 * the bucket's stream (JetStream's `$JS.API.STREAM.PURGE`), marker and all.
 */
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm, KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import { ErrorCode, FlotillaError, kvBucketName, type Logger, silentLogger } from "../core/mod.ts";
import type { HaKv, KvCallOptions, KvChange, KvRecord, KvWatchOptions } from "./kv.ts";
import { natsCall } from "./nats_call.ts";
import { onDisconnect, onReconnect } from "./reconnects.ts";

export interface NatsHaOptions {
  nc: NatsConnection;
  /** Names the bucket: `flotilla_<clusterId>`. */
  clusterId: string;
  /** Deadline of one store call, retries included. @default 5000 */
  timeoutMs?: number;
  /** Longest single attempt within a call. @default 1000 */
  attemptMs?: number;
  log?: Logger;
}

/** Room left for the headers JetStream adds (expected revision, operation) within max_payload. */
const HEADER_ROOM = 256;
/** Pause before a watch that ended is started again. */
const REWATCH_MS = 250;

/** Opens (creating if needed) the cluster's KV bucket. */
export async function openNatsKv({
  nc,
  clusterId,
  timeoutMs = 5000,
  attemptMs = 1000,
  log = silentLogger,
}: NatsHaOptions): Promise<NatsKv> {
  const name = kvBucketName(clusterId);
  const bucket = await natsCall(
    () => new Kvm(jetstream(nc, { timeout: attemptMs })).create(name, { history: 1 }),
    { what: `open KV bucket ${name}`, timeoutMs, attemptMs },
  );
  return new NatsKv(nc, bucket, name, { timeoutMs, attemptMs, log });
}

export class NatsKv implements HaKv {
  readonly location: string;
  readonly #nc: NatsConnection;
  readonly #bucket: KV;
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #attemptMs: number;
  readonly #log: Logger;
  #manager: Promise<JetStreamManager> | undefined;

  constructor(
    nc: NatsConnection,
    bucket: KV,
    name: string,
    o: { timeoutMs: number; attemptMs: number; log: Logger },
  ) {
    this.#nc = nc;
    this.#bucket = bucket;
    this.#name = name;
    this.location = `nats kv ${name}`;
    this.#timeoutMs = o.timeoutMs;
    this.#attemptMs = o.attemptMs;
    this.#log = o.log;
  }

  get(key: string, options?: KvCallOptions): Promise<KvRecord | undefined> {
    return this.#call(`get ${key}`, options, async () => {
      const entry = await this.#bucket.get(key);
      return entry && entry.operation === "PUT" ? toRecord(entry) : undefined;
    });
  }

  put(key: string, value: Uint8Array, options?: KvCallOptions): Promise<number> {
    this.#checkSize(key, value);
    return this.#call(`put ${key}`, options, (ms) => this.#bucket.put(key, value, { timeout: ms }));
  }

  create(key: string, value: Uint8Array, options?: KvCallOptions): Promise<number> {
    this.#checkSize(key, value);
    return this.#call(`create ${key}`, options, () => this.#bucket.create(key, value));
  }

  update(
    key: string,
    value: Uint8Array,
    revision: number,
    options?: KvCallOptions,
  ): Promise<number> {
    this.#checkSize(key, value);
    return this.#call(`update ${key}`, options, (ms) =>
      this.#bucket.update(key, value, revision, ms),
    );
  }

  delete(key: string, options: KvCallOptions & { revision?: number } = {}): Promise<void> {
    const { revision } = options;
    return this.#call(`delete ${key}`, options, () =>
      this.#bucket.delete(key, revision === undefined ? undefined : { previousSeq: revision }),
    );
  }

  forget(key: string, options?: KvCallOptions): Promise<void> {
    return this.#call(`forget ${key}`, options, async (ms) => {
      this.#manager ??= jetstreamManager(this.#nc, { timeout: ms, checkAPI: false });
      const manager = await this.#manager;
      await manager.streams.purge(`KV_${this.#name}`, { filter: `$KV.${this.#name}.${key}` });
    });
  }

  keys(prefix: string, options?: KvCallOptions): Promise<string[]> {
    return this.#call(`list ${prefix}.>`, options, async (ms) => {
      const iter = await this.#bucket.keys(`${prefix}.>`);
      // The attempt's own timer rejects first; this one only ends an abandoned listing.
      const timer = setTimeout(() => iter.stop(), ms + 50);
      try {
        const keys: string[] = [];
        for await (const key of iter) keys.push(key);
        return keys;
      } finally {
        clearTimeout(timer);
      }
    });
  }

  watch(key: string, onChange: (change: KvChange) => void, options?: KvWatchOptions): () => void {
    let stopped = false;
    let current: QueuedIterator<KvEntry> | undefined;
    let live = false;
    const setLive = (now: boolean) => {
      if (now === live) return;
      live = now;
      options?.onLive?.(now);
    };
    // A watch's consumer does not survive every server restart: start a fresh one on reconnect.
    const unsubscribe = onReconnect(this.#nc, () => {
      setLive(false);
      current?.stop();
    });
    const unsubscribeLost = onDisconnect(this.#nc, () => setLive(false));
    const run = async () => {
      while (!stopped && !this.#nc.isClosed()) {
        try {
          const pending = this.#bucket.watch({ key, include: KvWatchInclude.UpdatesOnly });
          const iter = await natsCall(() => pending, {
            what: `watch ${key}`,
            timeoutMs: this.#attemptMs,
            retry: false,
          }).catch((err) => {
            // A watch that starts after its deadline is not wanted any more.
            pending.then((late) => late.stop()).catch(() => {});
            throw err;
          });
          current = iter;
          if (stopped) iter.stop();
          else setLive(true);
          for await (const entry of iter) {
            onChange(
              entry.operation === "PUT"
                ? { kind: "put", record: toRecord(entry) }
                : { kind: "delete", key, revision: entry.revision },
            );
          }
        } catch (err) {
          this.#log.debug({ key, err: (err as Error).message }, "KV watch failed; retrying");
        }
        setLive(false);
        if (!stopped) await new Promise((resolve) => setTimeout(resolve, REWATCH_MS));
      }
    };
    void run();
    return () => {
      stopped = true;
      unsubscribe();
      unsubscribeLost();
      current?.stop();
    };
  }

  #checkSize(key: string, value: Uint8Array): void {
    const max = this.#nc.info?.max_payload;
    if (max !== undefined && value.byteLength + HEADER_ROOM > max) {
      throw new FlotillaError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `value of ${value.byteLength} bytes for ${key} in ${this.#name} does not fit the NATS server's max_payload of ${max} bytes (with ${HEADER_ROOM} bytes for headers); keep records small and put large data in the blob store`,
      );
    }
  }

  #call<T>(
    what: string,
    options: KvCallOptions = {},
    attempt: (attemptMs: number) => Promise<T>,
  ): Promise<T> {
    const { timeoutMs = this.#timeoutMs, retry = true } = options;
    return natsCall(attempt, {
      what: `${what} (${this.location})`,
      timeoutMs,
      attemptMs: Math.min(this.#attemptMs, timeoutMs),
      retry,
    });
  }
}

function toRecord(entry: KvEntry): KvRecord {
  // The server's timestamp of the write (a header on direct gets, message info on watches).
  const writtenAt = entry.created.getTime();
  return {
    key: entry.key,
    value: entry.value,
    revision: entry.revision,
    ...(Number.isFinite(writtenAt) ? { writtenAt } : {}),
  };
}
