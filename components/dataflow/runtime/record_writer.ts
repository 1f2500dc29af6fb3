/**
 * The output of a chain's last operator: records are buffered per target channel and sent as
 * record frames when a buffer is full or has waited `bufferTimeoutMs`; control frames
 * (watermarks, barriers, end markers) flush first and go to every channel. Sends wait for
 * credit, and the task awaits `pending()` between batches: that is end-to-end backpressure.
 */
import type { ChannelSender } from "../../rpc/mod.ts";
import type { Frame, Output, Timestamp } from "../types.ts";
import type { Partitioner } from "./partitioner.ts";

export interface EdgeOutput {
  partitioner: Partitioner;
  /** One sender per target subtask (undefined where the partitioning never sends). */
  senders: (ChannelSender<Frame> | undefined)[];
}

interface Buffer {
  values: unknown[];
  timestamps: (Timestamp | null)[] | undefined;
}

interface EdgeState extends EdgeOutput {
  buffers: Buffer[];
}

export class RecordWriter implements Output<unknown> {
  readonly #edges: EdgeState[];
  readonly #batchSize: number;
  readonly #bufferTimeoutMs: number;
  #inflight: Promise<void>[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failure: unknown;
  recordsOut = 0;
  /** The last watermark sent downstream (undefined: none yet), for /metrics. */
  outputWatermark: Timestamp | undefined;

  constructor(edges: EdgeOutput[], { batchSize = 1000, bufferTimeoutMs = 50 } = {}) {
    this.#edges = edges.map((e) => ({
      ...e,
      buffers: e.senders.map(() => ({ values: [], timestamps: undefined })),
    }));
    this.#batchSize = batchSize;
    this.#bufferTimeoutMs = bufferTimeoutMs;
  }

  collect(value: unknown, timestamp?: Timestamp): void {
    this.recordsOut++;
    for (const edge of this.#edges) {
      const target = edge.partitioner.select(value);
      if (target >= 0) this.#append(edge, target, value, timestamp);
      else for (let t = 0; t < edge.buffers.length; t++) this.#append(edge, t, value, timestamp);
    }
  }

  #append(edge: EdgeState, target: number, value: unknown, timestamp?: Timestamp): void {
    const buffer = edge.buffers[target]!;
    if (timestamp !== undefined && buffer.timestamps === undefined) {
      buffer.timestamps = new Array(buffer.values.length).fill(null);
    }
    buffer.values.push(value);
    buffer.timestamps?.push(timestamp ?? null);
    if (buffer.values.length >= this.#batchSize) this.#flushBuffer(edge.senders[target], buffer);
    else this.#timer ??= setTimeout(() => this.flush(), this.#bufferTimeoutMs);
  }

  #flushBuffer(sender: ChannelSender<Frame> | undefined, buffer: Buffer): void {
    if (buffer.values.length === 0 || !sender) return;
    const frame: Frame = buffer.timestamps
      ? { k: 0, v: buffer.values, t: buffer.timestamps }
      : { k: 0, v: buffer.values };
    buffer.values = [];
    buffer.timestamps = undefined;
    this.#send(sender, frame);
  }

  #send(sender: ChannelSender<Frame>, frame: Frame): void {
    const sent = sender.send([frame]).catch((err) => {
      this.#failure ??= err;
    });
    this.#inflight.push(sent);
  }

  /** Sends every non-empty buffer now. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const edge of this.#edges) {
      for (let t = 0; t < edge.buffers.length; t++)
        this.#flushBuffer(edge.senders[t], edge.buffers[t]!);
    }
  }

  /** Flushes, then sends a control frame to every channel. */
  broadcast(frame: Frame): void {
    this.flush();
    for (const edge of this.#edges)
      for (const sender of edge.senders) if (sender) this.#send(sender, frame);
  }

  emitWatermark(watermark: Timestamp): void {
    this.outputWatermark = watermark;
    this.broadcast({ k: 1, wm: watermark });
  }

  /** Bytes sent on remote channels and sends that waited for credit, over every channel. */
  dataPlane(): { bytes: number; creditWaits: number } {
    let bytes = 0;
    let creditWaits = 0;
    for (const edge of this.#edges)
      for (const sender of edge.senders) {
        if (!sender) continue;
        const stats = sender.stats();
        bytes += stats.bytes;
        creditWaits += stats.creditWaits;
      }
    return { bytes, creditWaits };
  }

  /** Resolves when everything handed over so far was accepted by the channels (credit). */
  async pending(): Promise<void> {
    while (this.#inflight.length) {
      const batch = this.#inflight;
      this.#inflight = [];
      await Promise.all(batch);
    }
    if (this.#failure) throw this.#failure;
  }

  hasPending(): boolean {
    return this.#inflight.length > 0;
  }

  /** Ends every channel after what was sent. */
  async close(): Promise<void> {
    this.flush();
    await this.pending();
    await Promise.all(this.#edges.flatMap((e) => e.senders.map((s) => s?.close())));
  }

  async cancel(reason: string): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.all(
      this.#edges.flatMap((e) => e.senders.map((s) => s?.cancel(reason).catch(() => {}))),
    );
  }
}
