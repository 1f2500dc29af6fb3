/**
 * The data-plane channel over NATS. Subjects: batches on `<subject>`, the handshake on
 * `<subject>.open`, credit on `<subject>.credit`, with `<subject>` from `subjects.channel` (core/names.ts).
 *
 * Handshake: the receiver listens on the data and open subjects. The sender subscribes to the
 * credit subject, then requests `[OPEN, session, sent]` on the open subject until answered,
 * retrying "no responders" with backoff for up to `openTimeoutMs` (then UNAVAILABLE, or TIMEOUT if
 * a receiver never answered). The reply `[ACCEPT, limit]` is the initial credit itself, so no
 * grant is lost whichever side starts first. Later grants are `[CREDIT, session, limit]`; while
 * blocked on credit the sender repeats its OPEN (answered idempotently with the current limit),
 * which repairs a lost grant and notices a receiver that went away.
 *
 * NATS is at most once: batches published while the receiver's client is away (a NATS restart,
 * the receiver reconnecting after the sender) are dropped without a trace. A later batch shows the
 * gap, but a sender that used up its credit on lost batches sends none, and both ends would wait
 * for ever. So the OPEN carries `sent`, the number of batches published before it; NATS keeps one
 * connection's messages in order, so a receiver that has received fewer when the OPEN arrives
 * lost the rest: it fails with a ChannelSequenceError and refuses the sender.
 *
 * Garbage on any subject is logged, counted and dropped: sequence numbers still catch a real batch
 * that went missing. A batch over the server's max_payload is not split (batch boundaries are the
 * dataflow layer's): that send() rejects with PAYLOAD_TOO_LARGE naming both sizes, and smaller
 * batches still go. The frames and their encoding are in `channel_frames.ts`.
 */
import {
  ErrorCode,
  FlotillaError,
  type Logger,
  silentLogger,
  TimeoutError,
  toFlotillaError,
  typedError,
  UnavailableError,
} from "../core/mod.ts";
import {
  ChannelCanceledError,
  type ChannelReceiver,
  type ChannelSender,
  ChannelSequenceError,
  ReceiverCore,
  SenderCore,
} from "./channel.ts";
import {
  batchFrameEncoder,
  channelSubjects,
  decodeFrame,
  encodeControl,
  Frame,
  isCount,
} from "./channel_frames.ts";
import { mapNatsError, NoRespondersError } from "./nats_transport.ts";
import { rejected } from "./rejections.ts";

/** A message as a channel reads it. */
export interface ChannelMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly reply?: string | undefined;
  respond(data: Uint8Array): boolean;
}

/** A subscription as a channel ends it. */
export interface ChannelSubscription {
  unsubscribe(): void;
}

/**
 * What a channel needs of a NATS connection: a `NatsConnection` has it, and so does a
 * TaskManager's relay for one of its job processes (taskmanager/job_process/).
 */
export interface ChannelConnection {
  subscribe(
    subject: string,
    options: { callback: (err: Error | null, msg: ChannelMsg) => void },
  ): ChannelSubscription;
  publish(subject: string, data: Uint8Array): void;
  flush(): Promise<void>;
  request(
    subject: string,
    data: Uint8Array,
    options: { timeout: number },
  ): Promise<{ data: Uint8Array }>;
  isClosed(): boolean;
  readonly info?: { readonly max_payload: number } | undefined;
}

/** How long one handshake request waits for its answer before it is tried again. */
const REQUEST_TIMEOUT_MS = 1000;

/** Shared plumbing of both ends: subscriptions that never throw into the client, drop, tell. */
function plumbing(
  nc: ChannelConnection,
  channel: string,
  log: Logger,
  counter: { dropped: number },
) {
  return {
    listen(subject: string, handle: (msg: ChannelMsg) => void): ChannelSubscription {
      return nc.subscribe(subject, {
        callback: (err, msg) => {
          try {
            if (err) log.error({ err, channel }, "channel subscription failed");
            else handle(msg);
          } catch (thrown) {
            log.error({ err: thrown, channel }, "channel message handling failed");
          }
        },
      });
    },
    drop(msg: ChannelMsg, why: string): void {
      counter.dropped++;
      const bytes = msg.data.byteLength;
      // Per subject: the sender's credit and the receiver's data and open windows are apart.
      rejected(msg.subject, "dropped a stray message", log, {
        channel,
        subject: msg.subject,
        bytes,
        why,
      });
    },
    /** Publishes a cancel (best effort: the peer may be gone already). */
    async tell(subject: string, frame: unknown[]): Promise<void> {
      try {
        nc.publish(subject, encodeControl(frame));
        await nc.flush();
      } catch (err) {
        log.warn({ err, channel }, "could not tell the other end about the cancel");
      }
    },
  };
}

export interface NatsChannelSenderOptions {
  nc: ChannelConnection;
  /** The data subject, see `subjects.channel` (core/names.ts). */
  subject: string;
  /** How long to look for the receiver (at start, and when it stops answering). @default 30000 */
  openTimeoutMs?: number;
  /** While blocked on credit, ask the receiver for its grant this often. @default 2000 */
  probeIntervalMs?: number;
  /** @default silentLogger */
  log?: Logger;
}

/** The sending end; it finds its receiver in the background, so it may start first. */
export function natsChannelSender<T>({
  nc,
  subject,
  openTimeoutMs = 30_000,
  probeIntervalMs = 2_000,
  log = silentLogger,
}: NatsChannelSenderOptions): ChannelSender<T> {
  const subjects = channelSubjects(subject);
  const encodeBatch = batchFrameEncoder();
  const session = crypto.randomUUID();
  let stopped = false;
  let accepted = false;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  let creditSub: ChannelSubscription | undefined;

  const core: SenderCore<T> = new SenderCore<T>(
    subject,
    {
      deliver(seq, batch) {
        const frame = encodeBatch(seq, batch);
        const max = nc.info?.max_payload;
        if (max !== undefined && frame.byteLength > max) {
          const fits = Math.max(1, Math.floor((batch.length * max) / frame.byteLength));
          throw new FlotillaError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `batch ${seq} of ${batch.length} items on ${subject} encodes to ${frame.byteLength} bytes, over the NATS server's max_payload of ${max} bytes; send batches of at most about ${fits} such items`,
          );
        }
        publish(frame);
        core.bytes += frame.byteLength;
      },
      async end(total) {
        await handshake;
        publish(encodeControl([Frame.END, total]));
        await nc.flush();
      },
      abort: (reason) => io.tell(subjects.data, [Frame.CANCEL, reason]),
      dispose() {
        stopped = true;
        clearTimeout(probeTimer);
        creditSub?.unsubscribe();
      },
    },
    { onStall: armProbe },
  );
  const io = plumbing(nc, subject, log, core);

  function publish(frame: Uint8Array): void {
    try {
      nc.publish(subjects.data, frame);
    } catch (err) {
      core.fail(mapNatsError(err, subjects.data, 0));
      throw core.failed();
    }
  }

  creditSub = io.listen(subjects.credit, (msg) => {
    const frame = decodeFrame(msg.data);
    if (frame?.[1] !== session) return io.drop(msg, "not a frame for this session");
    if (frame[0] === Frame.CREDIT && isCount(frame[2])) return core.grant(frame[2]);
    if (frame[0] !== Frame.CANCEL) return io.drop(msg, "unknown frame");
    const why = `channel ${subject}: the receiver canceled (${String(frame[2])})`;
    core.fail(new ChannelCanceledError(why));
  });

  /** Asks the receiver for its current limit until it answers or `openTimeoutMs` passes. */
  async function askReceiver(): Promise<number> {
    const started = Date.now();
    let delay = 5;
    let last: FlotillaError | undefined;
    for (;;) {
      if (stopped) throw core.failed() ?? new ChannelCanceledError(`channel ${subject}: stopped`);
      const remaining = openTimeoutMs - (Date.now() - started);
      if (remaining <= 0) {
        const waited = `within ${openTimeoutMs} ms`;
        throw last === undefined || last instanceof NoRespondersError
          ? new UnavailableError(
              `no receiver answered on ${subjects.open} ${waited}: is the receiving subtask running (same cluster, job and attempt)?`,
            )
          : new TimeoutError(
              `the receiver on ${subjects.open} did not answer ${waited}: ${last.message}`,
            );
      }
      try {
        const timeout = Math.max(1, Math.min(REQUEST_TIMEOUT_MS, remaining));
        // Encoded per request: `sent` must count exactly the batches published before it.
        const open = encodeControl([Frame.OPEN, session, core.stats().sent]);
        const frame = decodeFrame((await nc.request(subjects.open, open, { timeout })).data);
        if (frame?.[0] === Frame.ACCEPT && isCount(frame[1])) return frame[1];
        if (frame?.[0] === Frame.REJECT) {
          const code = Object.values(ErrorCode).find((c) => c === frame[1]) ?? ErrorCode.INTERNAL;
          throw typedError(code, `channel ${subject}: the receiver refused: ${String(frame[2])}`);
        }
        rejected(subject, "garbled handshake reply, asking again", log, { channel: subject });
      } catch (err) {
        const error = mapNatsError(err, subjects.open, REQUEST_TIMEOUT_MS);
        if (!error.retryable || nc.isClosed()) throw error;
        last = error;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, remaining)));
      delay = Math.min(delay * 2, 250);
    }
  }

  // Blocked on credit for a while: a grant may have been lost (the receiver answers an OPEN of
  // this session with its current limit), or the receiver may be gone (then UNAVAILABLE).
  function armProbe(): void {
    if (!accepted || stopped || probeTimer !== undefined) return;
    probeTimer = setTimeout(async () => {
      try {
        if (core.stalled()) core.grant(await askReceiver());
      } catch (err) {
        return core.fail(toFlotillaError(err));
      }
      probeTimer = undefined;
      if (core.stalled()) armProbe();
    }, probeIntervalMs);
  }

  const handshake = askReceiver().then(
    (limit) => {
      accepted = true;
      core.grant(limit);
      if (core.stalled()) armProbe();
    },
    (err) => {
      core.fail(toFlotillaError(err));
      throw core.failed();
    },
  );
  handshake.catch(() => {}); // whoever awaits it (close) sees the error; nobody else must
  return core;
}

export interface NatsChannelReceiverOptions {
  nc: ChannelConnection;
  /** The data subject, see `subjects.channel` (core/names.ts). */
  subject: string;
  /** Batches held before the sender waits; covers the round trip via nats-server. @default 32 */
  credits?: number;
  /** @default silentLogger */
  log?: Logger;
}

/** The receiving end; it is listening when this returns, so it may start first. */
export function natsChannelReceiver<T>({
  nc,
  subject,
  credits = 32,
  log = silentLogger,
}: NatsChannelReceiverOptions): ChannelReceiver<T> {
  const subjects = channelSubjects(subject);
  let session: string | undefined;
  let grantScheduled = false;
  const subs: ChannelSubscription[] = [];

  const core: ReceiverCore<T> = new ReceiverCore<T>(subject, credits, {
    grant() {
      if (!grantScheduled) queueMicrotask(sendGrant);
      grantScheduled = true;
    },
    async abort(reason) {
      if (session !== undefined) await io.tell(subjects.credit, [Frame.CANCEL, session, reason]);
    },
    dispose: () => {
      for (const sub of subs) sub.unsubscribe();
    },
  });
  const io = plumbing(nc, subject, log, core);

  // Grants raised within one tick go out as one message: only the latest limit matters.
  function sendGrant(): void {
    grantScheduled = false;
    if (session === undefined || !core.open()) return;
    try {
      nc.publish(subjects.credit, encodeControl([Frame.CREDIT, session, core.limit()]));
    } catch (err) {
      core.fail(mapNatsError(err, subjects.credit, 0));
    }
  }

  /** Fails the channel if batches the sender published before its OPEN never arrived. */
  function lostBatches(sent: unknown): FlotillaError | undefined {
    const { received } = core.stats();
    if (!core.open() || !isCount(sent) || sent <= received) return undefined;
    const err = new ChannelSequenceError(subject, received, sent, "sent count");
    core.fail(err);
    return err;
  }

  subs.push(
    io.listen(subjects.data, (msg) => {
      const frame = decodeFrame(msg.data);
      const [kind, count] = frame ?? [];
      if (kind === Frame.CANCEL) {
        const why = `channel ${subject}: the sender canceled (${String(count)})`;
        return core.fail(new ChannelCanceledError(why));
      }
      if (session === undefined) return io.drop(msg, "data before any sender opened");
      if (kind === Frame.BATCH && isCount(count) && Array.isArray(frame?.[2])) {
        core.bytes += msg.data.byteLength;
        return core.push(count, frame[2] as T[]);
      }
      if (kind === Frame.END && isCount(count)) return core.end(count);
      io.drop(msg, "not a channel frame");
    }),
    io.listen(subjects.open, (msg) => {
      const frame = decodeFrame(msg.data);
      const asker = frame?.[0] === Frame.OPEN ? frame[1] : undefined;
      if (typeof asker !== "string" || !msg.reply) io.drop(msg, "not an open request");
      else session ??= asker;
      const lost = asker === session ? lostBatches(frame?.[2]) : undefined;
      const reply =
        typeof asker !== "string"
          ? [Frame.REJECT, ErrorCode.BAD_ENVELOPE, "not an open request"]
          : asker !== session
            ? [Frame.REJECT, ErrorCode.CONFLICT, `channel ${subject} already has a sender`]
            : lost
              ? [Frame.REJECT, lost.code, lost.message]
              : [Frame.ACCEPT, core.limit()];
      if (msg.reply) msg.respond(encodeControl(reply));
    }),
  );
  return core;
}
