/**
 * The wire between a TaskManager and one of its job processes: length-prefixed CBOR messages on
 * a socket pair (the child's fd 3, so job code writing to stdout cannot garble it), and `Peer`,
 * which sends messages, makes calls (`rid`-numbered, answered by a `reply`) and answers the
 * other side's. A frame over `MAX_FRAME_BYTES` ends the connection: the TaskManager never
 * buffers more than that for a job process.
 */
import type { Duplex } from "node:stream";
import {
  cbor,
  ErrorCode,
  FlotillaError,
  plainCbor,
  toFlotillaError,
  typedError,
} from "../../core/mod.ts";

/** Largest message either side may send (a subtask's snapshot is the largest). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

/** A message with its kind in `t`. */
export interface WireMessage {
  t: string;
  [field: string]: unknown;
}

interface Reply {
  t: "reply";
  rid: number;
  value?: unknown;
  error?: { code: ErrorCode; message: string };
}

export type CallHandler = (message: WireMessage) => Promise<unknown>;

export interface PeerOptions {
  /** Handles a message that is neither a call nor a reply; a throw ends the connection. */
  onMessage(message: WireMessage): void;
  /** Answers a call (`rid` set); what it throws goes back as the call's error. */
  onCall: CallHandler;
  /** The connection ended, with why when it was not a clean end. */
  onClose(error?: FlotillaError): void;
}

export class Peer {
  readonly #socket: Duplex;
  readonly #options: PeerOptions;
  readonly #calls = new Map<
    number,
    { resolve(value: unknown): void; reject(error: FlotillaError): void }
  >();
  #nextRid = 1;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #closed: FlotillaError | undefined;
  #corked = false;

  constructor(socket: Duplex, options: PeerOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (err) => this.#close(toFlotillaError(err)));
    socket.on("close", () => this.#close());
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  send(message: WireMessage): void {
    if (this.#closed) return;
    const body = cbor.encode(message);
    if (body.byteLength > MAX_FRAME_BYTES)
      throw new FlotillaError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `a ${message.t} message of ${body.byteLength} bytes is over the job process wire's ${MAX_FRAME_BYTES}`,
      );
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.byteLength, 0);
    // Messages sent in one tick leave in one write (a batch's publish and its credit, say).
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(head);
    this.#socket.write(body);
  }

  /** Sends `message` as a call; resolves with the other side's answer. */
  call(message: WireMessage): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const rid = this.#nextRid++;
    return new Promise((resolve, reject) => {
      this.#calls.set(rid, { resolve, reject });
      try {
        this.send({ ...message, rid });
      } catch (err) {
        this.#calls.delete(rid);
        reject(toFlotillaError(err));
      }
    });
  }

  end(): void {
    this.#socket.end();
  }

  #receive(chunk: Buffer): void {
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.byteLength;
    while (this.#bufferedBytes >= 4 && !this.#closed) {
      if (this.#buffered[0]!.byteLength < 4) this.#buffered = [Buffer.concat(this.#buffered)];
      const size = this.#buffered[0]!.readUInt32BE(0);
      if (size > MAX_FRAME_BYTES) {
        const why = `a job process frame of ${size} bytes is over ${MAX_FRAME_BYTES}`;
        this.#fail(new FlotillaError(ErrorCode.PAYLOAD_TOO_LARGE, why));
        return;
      }
      // Joined once the whole frame is here (a large snapshot comes in many chunks).
      if (this.#bufferedBytes < 4 + size) return;
      const all = this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered);
      const body = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.#buffered = rest.byteLength > 0 ? [rest] : [];
      this.#bufferedBytes = rest.byteLength;
      this.#dispatch(body);
    }
  }

  #dispatch(body: Uint8Array): void {
    let message: WireMessage;
    try {
      const decoded = plainCbor.decode(body) as unknown;
      if (!decoded || typeof decoded !== "object" || typeof (decoded as WireMessage).t !== "string")
        throw new Error("not a message with a kind (t)");
      message = decoded as WireMessage;
    } catch (err) {
      const why = `a job process sent an unreadable frame: ${(err as Error).message}`;
      this.#fail(new FlotillaError(ErrorCode.BAD_ENVELOPE, why));
      return;
    }
    if (message.t === "reply") {
      this.#settle(message as unknown as Reply);
      return;
    }
    if (typeof message.rid === "number") {
      this.#answer(message.rid, message);
      return;
    }
    try {
      this.#options.onMessage(message);
    } catch (err) {
      this.#fail(toFlotillaError(err));
    }
  }

  #answer(rid: number, message: WireMessage): void {
    this.#options.onCall(message).then(
      (value) => this.send({ t: "reply", rid, value }),
      (err) => {
        const { code, message: why } = toFlotillaError(err);
        this.send({ t: "reply", rid, error: { code, message: why } });
      },
    );
  }

  #settle(reply: Reply): void {
    const call = this.#calls.get(reply.rid);
    if (!call) return;
    this.#calls.delete(reply.rid);
    if (reply.error)
      call.reject(typedError(reply.error.code, String(reply.error.message).slice(0, 4000)));
    else call.resolve(reply.value);
  }

  #fail(error: FlotillaError): void {
    this.#close(error);
    this.#socket.destroy();
  }

  #close(error?: FlotillaError): void {
    if (this.#closed) return;
    this.#closed = error ?? new FlotillaError(ErrorCode.UNAVAILABLE, "the job process wire closed");
    for (const call of this.#calls.values()) call.reject(this.#closed);
    this.#calls.clear();
    this.#options.onClose(error);
  }
}
