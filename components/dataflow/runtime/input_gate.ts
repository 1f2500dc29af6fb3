/**
 * Merges a task's input channels into one ordered stream of events: record batches as they come,
 * the minimum watermark across channels when it advances, checkpoint barriers once aligned (a
 * channel that delivered barrier n is not read again until every live channel has), and the end
 * markers once every channel reached them. A blocked channel is not read, so its sender runs out
 * of credit: alignment is backpressure, not buffering.
 *
 * Like Flink's SingleCheckpointBarrierHandler, a barrier of a newer checkpoint abandons the
 * alignment in progress (that checkpoint was aborted upstream, so some channel will never deliver
 * its barrier) and aligns on the newer one; a barrier older than the newest seen is ignored.
 */
import type { ChannelReceiver } from "../../rpc/mod.ts";
import { type Frame, FrameKind, MAX_WATERMARK, MIN_WATERMARK, type Timestamp } from "../types.ts";

export type GateEvent =
  | { kind: "records"; values: unknown[]; timestamps: (Timestamp | null)[] | undefined }
  | { kind: "watermark"; watermark: Timestamp }
  | { kind: "barrier"; id: number; final: boolean }
  | { kind: "end-of-data" }
  | { kind: "end" };

const END: GateEvent = { kind: "end" };

interface Channel {
  iterator: AsyncIterator<Frame[]>;
  queue: Frame[];
  at: number;
  pulling: boolean;
  blockedBy: number | undefined;
  watermark: Timestamp;
  endOfData: boolean;
  ended: boolean;
}

export class InputGate {
  readonly #channels: Channel[];
  readonly #receivers: ChannelReceiver<Frame>[];
  #watermark = MIN_WATERMARK;
  #alignment: { id: number; final: boolean } | undefined;
  /** The newest barrier id seen; barriers at or below it, outside its alignment, are stale. */
  #latestBarrier = Number.NEGATIVE_INFINITY;
  #endOfDataSent = false;
  #ready: (() => void) | undefined;
  #failure: unknown;

  constructor(receivers: ChannelReceiver<Frame>[]) {
    this.#receivers = receivers;
    this.#channels = receivers.map((r) => ({
      iterator: r[Symbol.asyncIterator](),
      queue: [],
      at: 0,
      pulling: false,
      blockedBy: undefined,
      watermark: MIN_WATERMARK,
      endOfData: false,
      ended: false,
    }));
  }

  /** Bytes that arrived on its remote channels, for /metrics. */
  bytesIn(): number {
    let bytes = 0;
    for (const receiver of this.#receivers) bytes += receiver.stats().bytes;
    return bytes;
  }

  /** The next event; resolves `end` once, after every channel ended. */
  async next(): Promise<GateEvent> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      for (const channel of this.#channels) {
        while (channel.blockedBy === undefined && channel.at < channel.queue.length) {
          const event = this.#consume(channel, channel.queue[channel.at++]!);
          if (event) return event;
        }
      }
      if (this.#channels.every((c) => c.ended)) {
        // One frame yields at most one event: the last END_OF_PARTITION may owe more than one.
        return this.#barrierEvent() ?? this.#watermarkEvent() ?? this.#endOfDataEvent() ?? END;
      }
      // An abandoned alignment can release a channel the scan above already passed.
      if (this.#channels.some((c) => c.blockedBy === undefined && c.at < c.queue.length)) continue;
      await this.#pull();
    }
  }

  #consume(channel: Channel, frame: Frame): GateEvent | undefined {
    switch (frame.k) {
      case FrameKind.RECORDS:
        return { kind: "records", values: frame.v, timestamps: frame.t };
      case FrameKind.WATERMARK:
        channel.watermark = Math.max(channel.watermark, frame.wm);
        return this.#watermarkEvent();
      case FrameKind.BARRIER:
        return this.#barrier(channel, frame.id, frame.final === true);
      case FrameKind.END_OF_DATA:
        channel.endOfData = true;
        channel.watermark = MAX_WATERMARK;
        return this.#watermarkEvent() ?? this.#endOfDataEvent();
      case FrameKind.END_OF_PARTITION:
        channel.ended = true;
        channel.endOfData = true;
        channel.watermark = MAX_WATERMARK;
        return this.#barrierEvent() ?? this.#watermarkEvent() ?? this.#endOfDataEvent();
    }
  }

  #barrier(channel: Channel, id: number, final: boolean): GateEvent | undefined {
    if (id < this.#latestBarrier) return undefined;
    if (id === this.#latestBarrier && this.#alignment?.id !== id) return undefined; // done or abandoned
    if (this.#alignment && this.#alignment.id < id) {
      for (const c of this.#channels)
        if (c.blockedBy === this.#alignment.id) c.blockedBy = undefined;
      this.#alignment = undefined;
    }
    this.#latestBarrier = id;
    this.#alignment ??= { id, final };
    channel.blockedBy = id;
    return this.#barrierEvent();
  }

  #watermarkEvent(): GateEvent | undefined {
    let min = MAX_WATERMARK;
    for (const c of this.#channels) if (c.watermark < min) min = c.watermark;
    if (min <= this.#watermark) return undefined;
    this.#watermark = min;
    return { kind: "watermark", watermark: min };
  }

  #endOfDataEvent(): GateEvent | undefined {
    if (this.#endOfDataSent || !this.#channels.every((c) => c.endOfData)) return undefined;
    this.#endOfDataSent = true;
    return { kind: "end-of-data" };
  }

  #barrierEvent(): GateEvent | undefined {
    const alignment = this.#alignment;
    if (!alignment) return undefined;
    if (!this.#channels.every((c) => c.ended || c.blockedBy === alignment.id)) return undefined;
    for (const c of this.#channels) c.blockedBy = undefined;
    this.#alignment = undefined;
    return { kind: "barrier", id: alignment.id, final: alignment.final };
  }

  /** Waits until some readable channel has frames (one outstanding read per channel). */
  #pull(): Promise<void> {
    const wake = new Promise<void>((resolve) => {
      this.#ready = resolve;
    });
    for (const channel of this.#channels) {
      if (channel.pulling || channel.ended || channel.blockedBy !== undefined) continue;
      if (channel.at < channel.queue.length) continue;
      channel.pulling = true;
      channel.iterator.next().then(
        (result) => {
          channel.pulling = false;
          if (result.done) {
            channel.queue = [{ k: FrameKind.END_OF_PARTITION }];
          } else {
            channel.queue = result.value;
          }
          channel.at = 0;
          this.#ready?.();
        },
        (err) => {
          channel.pulling = false;
          this.#failure ??= err;
          this.#ready?.();
        },
      );
    }
    return wake;
  }

  async cancel(reason: string): Promise<void> {
    await Promise.all(this.#receivers.map((r) => r.cancel(reason).catch(() => {})));
  }
}
