/**
 * One JetStream call with a deadline: never hangs while NATS is away (each attempt races a timer),
 * retries transient failures (timeouts, no responders while JetStream restarts) when the caller
 * says a repeat is harmless, and turns what is left into flotilla's typed errors.
 */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { errors as natsErrors } from "@nats-io/transport-node";
import { ErrorCode, FlotillaError, UnavailableError } from "../core/mod.ts";

export interface NatsCallOptions {
  /** What is being done, for messages: "get jobs.abc from flotilla_default". */
  what: string;
  /** Deadline of the whole call, retries included. */
  timeoutMs: number;
  /** Longest single attempt. @default timeoutMs */
  attemptMs?: number;
  /** Repeat after a transient failure within the deadline. @default true */
  retry?: boolean;
}

/** Pause between attempts: long enough for a reconnect to make progress, short against a deadline. */
const RETRY_PAUSE_MS = 100;

export async function natsCall<T>(
  attempt: (attemptMs: number) => Promise<T>,
  { what, timeoutMs, attemptMs = timeoutMs, retry = true }: NatsCallOptions,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    const budget = Math.max(1, Math.min(attemptMs, left));
    try {
      return await withTimer(attempt(budget), budget);
    } catch (err) {
      lastError = err;
      if (!retry || !isTransient(err)) throw toHaError(err, what, timeoutMs);
    }
    const pause = Math.min(RETRY_PAUSE_MS, deadline - performance.now());
    if (pause <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  throw toHaError(lastError ?? new AttemptTimeout(), what, timeoutMs);
}

class AttemptTimeout extends Error {
  override name = "AttemptTimeout";
}

/** Settles with `promise`, or rejects with AttemptTimeout after `ms` (the call itself goes on). */
function withTimer<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Failures where the same call can succeed a moment later. */
function isTransient(err: unknown): boolean {
  if (err instanceof AttemptTimeout) return true;
  if (err instanceof natsErrors.TimeoutError) return true;
  if (err instanceof natsErrors.NoRespondersError) return true;
  if (err instanceof natsErrors.RequestError) return true;
  if (err instanceof natsErrors.ConnectionError) return true;
  if (err instanceof JetStreamApiError) return err.status === 503;
  return false;
}

/** Compare-and-set lost: the key moved on (or exists, for a create). */
export function isConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export function toHaError(err: unknown, what: string, timeoutMs: number): FlotillaError {
  if (err instanceof FlotillaError) return err;
  const cause = { cause: err };
  if (isConflict(err)) {
    return new FlotillaError(ErrorCode.CONFLICT, `${what}: the key changed meanwhile`, cause);
  }
  if (err instanceof natsErrors.InvalidArgumentError && /max_payload/.test(err.message)) {
    return new FlotillaError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `${what}: over the NATS server's max_payload`,
      cause,
    );
  }
  if (err instanceof natsErrors.ClosedConnectionError) {
    return new UnavailableError(`${what}: the NATS connection is closed`, cause);
  }
  if (err instanceof JetStreamApiError) {
    if (err.code === JetStreamApiCodes.StreamNotFound) {
      return new UnavailableError(
        `${what}: the JetStream bucket is gone (deleted by hand?); restart the process to create it again`,
        cause,
      );
    }
    if (err.status === 503) {
      return new UnavailableError(`${what}: JetStream is unavailable (${err.message})`, cause);
    }
    return new FlotillaError(
      ErrorCode.INTERNAL,
      `${what}: JetStream refused: ${err.message}`,
      cause,
    );
  }
  if (isTransient(err)) {
    return new UnavailableError(
      `${what}: NATS did not answer within ${timeoutMs} ms; is the server reachable?`,
      cause,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`${what}: ${message}`, cause);
}

/** True once the connection is closed for good: nothing will ever succeed on it again. */
export function isClosed(err: unknown): boolean {
  return err instanceof FlotillaError && err.cause instanceof natsErrors.ClosedConnectionError;
}
