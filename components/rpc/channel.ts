/**
 * Data-plane channels (DESIGN.md section 3): ordered batches of opaque items from one sender to one
 * receiver with credit-based flow control (the in-process variant is in `channel_local.ts`).
 *
 * Credit is a cumulative limit: "you may send every batch whose sequence number is below L". The
 * receiver raises L by one each time its consumer takes a batch, so it never holds more than
 * `credits` batches and a stalled consumer stops the sender after `credits` batches. Cumulative
 * limits make a repeated or reordered grant harmless (the sender keeps the largest). Every batch
 * carries its sequence number; a gap, a reorder or a batch beyond the granted limit fails the
 * receiver with a typed error. The transports (`channel_nats.ts`, `channel_local.ts`) only
 * move frames; the rules live here, so both variants behave the same.
 */
import { ErrorCode, FlotillaError, toFlotillaError } from "../core/mod.ts";

export interface ChannelSender<T> {
  /** The channel's name (its NATS subject, or the local name). */
  readonly name: string;
  /**
   * Hands `batch` to the transport, waiting for credit first (that wait is backpressure). Calls
   * are delivered in call order. The batch must not be changed afterwards (the local variant
   * passes it by reference). Rejects with the channel's failure, or for this batch alone (e.g.
   * PAYLOAD_TOO_LARGE), in which case later batches still go.
   */
  send(batch: T[]): Promise<void>;
  /** End-of-stream after every batch sent before; resolves once it was handed to the transport. */
  close(): Promise<void>;
  /** Aborts: pending and later sends reject with CANCELED, and the receiver fails with CANCELED. */
  cancel(reason?: string): Promise<void>;
  stats(): SenderStats;
}

export interface ChannelReceiver<T> extends AsyncIterable<T[]> {
  readonly name: string;
  /**
   * Stops the channel: the sender fails with CANCELED, and so does a consumer waiting here.
   * Leaving a `for await` loop early (break, throw) cancels too.
   */
  cancel(reason?: string): Promise<void>;
  stats(): ReceiverStats;
}

/** `credit`: batches that may go now; `waiting`: sends blocked on credit; `dropped`: garbage. */
export interface SenderStats {
  sent: number;
  credit: number;
  waiting: number;
  dropped: number;
  /** Bytes on the wire (0 in process); sends that waited for credit (backpressure). */
  bytes: number;
  creditWaits: number;
}

/** `buffered` (arrived, not taken) never exceeds `credits`; `dropped` counts garbage frames. */
export interface ReceiverStats {
  received: number;
  taken: number;
  buffered: number;
  credits: number;
  dropped: number;
  bytes: number;
}

/** The peer (or this side) canceled the channel. */
export class ChannelCanceledError extends FlotillaError {
  override name = "ChannelCanceledError";
  constructor(message: string) {
    super(ErrorCode.CANCELED, message);
  }
}

/** A batch arrived out of order or went missing: the channel cannot go on without losing data. */
export class ChannelSequenceError extends FlotillaError {
  override name = "ChannelSequenceError";
  readonly expected: number;
  readonly received: number;
  constructor(channel: string, expected: number, received: number, what = "batch") {
    super(
      ErrorCode.INTERNAL,
      `channel ${channel}: expected ${what} ${expected} but got ${received}; batches were lost or reordered in transit, restart the job from its last checkpoint`,
    );
    this.expected = expected;
    this.received = received;
  }
}

/** What a sender transport does; the shared `SenderCore` decides when. */
export interface SenderLink<T> {
  /** Hands batch `seq` over. Throwing refuses this batch only and its number is used again. */
  deliver(seq: number, batch: T[]): void;
  /** Hands over end-of-stream after `total` batches. */
  end(total: number): Promise<void>;
  /** Tells the receiver that this side gave up (best effort). */
  abort(reason: string): Promise<void>;
  /** Frees subscriptions and timers; called once, after end, failure or cancel. */
  dispose(): void;
}

interface Deferred {
  resolve: () => void;
  reject: (err: unknown) => void;
}

const DONE: Promise<void> = Promise.resolve();

/** Sequence numbers, the credit limit and the FIFO of sends waiting for credit. */
export class SenderCore<T> implements ChannelSender<T> {
  readonly name: string;
  #link: SenderLink<T>;
  #onStall: () => void;
  #next = 0;
  #limit = 0;
  #queue: Array<Deferred & { batch: T[] }> = [];
  #drained: Deferred[] = [];
  #closing: Promise<void> | undefined;
  #failure: FlotillaError | undefined;
  #finished = false;
  /** Garbage the transport logged and dropped. */
  dropped = 0;
  /** Bytes on the wire (the transport adds them) and sends that waited for credit. */
  bytes = 0;
  creditWaits = 0;

  constructor(name: string, link: SenderLink<T>, { onStall = () => {} } = {}) {
    this.name = name;
    this.#link = link;
    this.#onStall = onStall;
  }

  send(batch: T[]): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closing) {
      return Promise.reject(
        new FlotillaError(ErrorCode.CONFLICT, `channel ${this.name}: send() after close()`),
      );
    }
    if (this.#queue.length === 0 && this.#next < this.#limit) {
      try {
        this.#deliver(batch);
      } catch (err) {
        return Promise.reject(toFlotillaError(err));
      }
      return DONE;
    }
    this.creditWaits++;
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ batch, resolve, reject });
      this.#onStall();
    });
  }

  /** Raises the credit limit (smaller or equal limits are stale and ignored). */
  grant(limit: number): void {
    if (limit <= this.#limit) return;
    this.#limit = limit;
    this.#pump();
  }

  /** True while a send waits for credit. */
  stalled(): boolean {
    return this.#queue.length > 0 && !this.#failure;
  }

  failed(): FlotillaError | undefined {
    return this.#failure;
  }

  close(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#closing ??= (async () => {
      if (this.#queue.length > 0) {
        await new Promise<void>((resolve, reject) => this.#drained.push({ resolve, reject }));
      }
      try {
        await this.#link.end(this.#next);
      } catch (err) {
        this.fail(toFlotillaError(err));
        throw this.#failure ?? err;
      }
      if (this.#failure) throw this.#failure;
      this.#finished = true;
      this.#link.dispose();
    })();
    return this.#closing;
  }

  async cancel(reason = "canceled by the sender"): Promise<void> {
    if (this.#finished || this.#failure) return;
    this.fail(new ChannelCanceledError(`channel ${this.name}: canceled here (${reason})`), false);
    try {
      await this.#link.abort(reason);
    } finally {
      this.#link.dispose();
    }
  }

  /** Fails the channel: every waiting and later call rejects with `err`. */
  fail(err: FlotillaError, dispose = true): void {
    if (this.#finished || this.#failure) return;
    this.#failure = err;
    for (const w of this.#queue.splice(0)) w.reject(err);
    for (const d of this.#drained.splice(0)) d.reject(err);
    if (dispose) this.#link.dispose();
  }

  stats(): SenderStats {
    return {
      sent: this.#next,
      credit: Math.max(0, this.#limit - this.#next),
      waiting: this.#queue.length,
      dropped: this.dropped,
      bytes: this.bytes,
      creditWaits: this.creditWaits,
    };
  }

  #deliver(batch: T[]): void {
    this.#link.deliver(this.#next, batch);
    this.#next++;
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#next < this.#limit && !this.#failure) {
      const w = this.#queue.shift()!;
      try {
        this.#deliver(w.batch);
        w.resolve();
      } catch (err) {
        w.reject(toFlotillaError(err));
      }
    }
    if (this.#queue.length === 0) for (const d of this.#drained.splice(0)) d.resolve();
  }
}

/** What a receiver transport does; the shared `ReceiverCore` decides when. */
export interface ReceiverLink {
  /** Tells the sender it may now send every batch below `limit`. */
  grant(limit: number): void;
  /** Tells the sender that this side gave up (best effort). */
  abort(reason: string): Promise<void>;
  /** Frees subscriptions; called once, after end-of-stream arrived, failure or cancel. */
  dispose(): void;
}

const END: IteratorResult<never> = { value: undefined, done: true };

/** The receiver's buffer: order checks, credit accounting and the async iterator. */
export class ReceiverCore<T> implements ChannelReceiver<T> {
  readonly name: string;
  readonly credits: number;
  #link: ReceiverLink;
  #buffer: T[][] = [];
  #received = 0;
  #taken = 0;
  /** Garbage the transport logged and dropped. */
  dropped = 0;
  bytes = 0;
  #ended = false;
  #disposed = false;
  #failure: FlotillaError | undefined;
  #waiter: { resolve: (r: IteratorResult<T[]>) => void; reject: (e: unknown) => void } | undefined;

  constructor(name: string, credits: number, link: ReceiverLink) {
    if (!Number.isSafeInteger(credits) || credits < 1) {
      throw new FlotillaError(
        ErrorCode.INVALID_ARGUMENT,
        `channel ${name}: credits must be a positive integer, got ${credits}`,
      );
    }
    this.name = name;
    this.credits = credits;
    this.#link = link;
  }

  /** The limit granted so far: everything below it may be sent. */
  limit(): number {
    return this.#taken + this.credits;
  }

  /** False once the stream ended, failed or was canceled: frames are not expected any more. */
  open(): boolean {
    return !this.#ended && !this.#failure;
  }

  push(seq: number, batch: T[]): void {
    if (!this.open()) return;
    if (seq !== this.#received) {
      this.fail(new ChannelSequenceError(this.name, this.#received, seq));
      return;
    }
    if (seq >= this.limit()) {
      const why = `batch ${seq} arrived beyond the granted limit ${this.limit()}`;
      this.fail(new FlotillaError(ErrorCode.INTERNAL, `channel ${this.name}: ${why}`));
      return;
    }
    this.#received++;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter.resolve(this.#take(batch));
    else this.#buffer.push(batch);
  }

  end(total: number): void {
    if (!this.open()) return;
    if (total !== this.#received) {
      this.fail(new ChannelSequenceError(this.name, this.#received, total, "end-of-stream after"));
      return;
    }
    this.#ended = true;
    this.#dispose();
    this.#waiter?.resolve(END); // a consumer only waits on an empty buffer
    this.#waiter = undefined;
  }

  /** Fails the receiver at once: buffered batches are discarded, the consumer sees `err`. */
  fail(err: FlotillaError): void {
    if (!this.open()) return;
    this.#failure = err;
    this.#buffer = [];
    this.#dispose();
    this.#waiter?.reject(err);
    this.#waiter = undefined;
  }

  async cancel(reason = "canceled by the receiver"): Promise<void> {
    if (!this.open()) return;
    this.fail(new ChannelCanceledError(`channel ${this.name}: canceled here (${reason})`));
    await this.#link.abort(reason);
  }

  stats(): ReceiverStats {
    return {
      received: this.#received,
      taken: this.#taken,
      buffered: this.#buffer.length,
      credits: this.credits,
      dropped: this.dropped,
      bytes: this.bytes,
    };
  }

  next(): Promise<IteratorResult<T[]>> {
    if (this.#failure) return Promise.reject(this.#failure);
    // shift() is cheap here: the buffer never holds more than `credits` batches.
    const batch = this.#buffer.shift();
    if (batch) return Promise.resolve(this.#take(batch));
    if (this.#ended) return Promise.resolve(END);
    if (this.#waiter) {
      return Promise.reject(
        new FlotillaError(ErrorCode.CONFLICT, `channel ${this.name}: next() while one is pending`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T[]> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.cancel("the consumer stopped reading");
        return END;
      },
    };
  }

  #take(batch: T[]): IteratorResult<T[]> {
    this.#taken++;
    if (!this.#ended) this.#link.grant(this.limit());
    return { value: batch, done: false };
  }

  #dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#link.dispose();
  }
}
