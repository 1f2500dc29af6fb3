/**
 * The wire form of the NATS data-plane channel (`channel_nats.ts`): its subjects and frames.
 *
 * Data frames: `[BATCH, seq, items]` (one CBOR array per batch; cbor-x writes same-shaped objects
 * as inline records), `[END, total]`, `[CANCEL, reason]`. Handshake and credit frames:
 * `[OPEN, session, sent]`, `[ACCEPT, limit]`, `[REJECT, code, message]`, `[CREDIT, session, limit]`
 * and `[CANCEL, session, reason]` (receiver to sender).
 */
import { Decoder, Encoder } from "cbor-x";
import { InvalidArgumentError } from "../core/mod.ts";

export const Frame = {
  BATCH: 1,
  END: 2,
  CANCEL: 3,
  CREDIT: 4,
  OPEN: 5,
  ACCEPT: 6,
  REJECT: 7,
} as const;

/** The three subjects one channel uses. */
export function channelSubjects(subject: string): { data: string; open: string; credit: string } {
  if (!/^[^\s*>.]+(\.[^\s*>.]+)*$/.test(subject)) {
    throw new InvalidArgumentError(
      `channel subject ${JSON.stringify(subject)} must be a literal NATS subject (no wildcards, spaces or empty tokens)`,
    );
  }
  return { data: subject, open: `${subject}.open`, credit: `${subject}.credit` };
}

/**
 * The wire form of one batch, `[BATCH, seq, items]`, as the sender writes it (the benchmark uses
 * it to publish the very same bytes without the channel). A batch of byte strings only (records
 * a serializer already wrote) takes a dedicated loop, about three times as fast as cbor-x;
 * anything else goes through cbor-x. Both write the same bytes.
 */
export function batchFrameEncoder(): (seq: number, batch: readonly unknown[]) => Uint8Array {
  const encoder = new Encoder({ useRecords: true, mapsAsObjects: true, tagUint8Array: false });
  return (seq, batch) =>
    seq < 0x100000000 && allBytes(batch)
      ? encodeByteBatch(seq, batch)
      : encoder.encode([Frame.BATCH, seq, batch]);
}

function allBytes(batch: readonly unknown[]): batch is readonly Uint8Array[] {
  for (let i = 0; i < batch.length; i++) if (!(batch[i] instanceof Uint8Array)) return false;
  return batch.length > 0;
}

/** Bytes of a CBOR head for `n` below 2^32 (cbor-x writes larger numbers as floats). */
function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const size = headSize(n);
  out[at] = major | (size === 1 ? n : size === 2 ? 24 : size === 3 ? 25 : 26);
  for (let i = size - 1, rest = n; i > 0; i--, rest >>>= 8) out[at + i] = rest & 0xff;
  return at + size;
}

function encodeByteBatch(seq: number, batch: readonly Uint8Array[]): Uint8Array {
  let size = 2 + headSize(seq) + headSize(batch.length);
  for (const item of batch) size += headSize(item.byteLength) + item.byteLength;
  // A fresh buffer each time: the NATS client keeps a reference until it writes the socket.
  const out = new Uint8Array(size);
  out[0] = 0x83; // array of 3
  out[1] = Frame.BATCH;
  let at = writeHead(out, writeHead(out, 2, 0x00, seq), 0x80, batch.length);
  for (const item of batch) {
    at = writeHead(out, at, 0x40, item.byteLength);
    out.set(item, at);
    at += item.byteLength;
  }
  return out;
}

const control = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ mapsAsObjects: true });

/** A control frame (OPEN, ACCEPT, REJECT, CREDIT, END, CANCEL): plain CBOR, no records. */
export function encodeControl(frame: unknown[]): Uint8Array {
  return control.encode(frame);
}

/** A decoded frame, or undefined for anything that is not a CBOR array. */
export function decodeFrame(bytes: Uint8Array): unknown[] | undefined {
  try {
    const value = decoder.decode(bytes);
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
