/** Turns JetStream's "not found" replies into flotilla's typed errors, for sources and sinks. */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { ErrorCode, NotFoundError } from "../../core/mod.ts";

export function isStreamNotFound(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === JetStreamApiCodes.StreamNotFound;
  return err instanceof Error && err.message === "stream not found";
}

export function streamNotFound(who: string, stream: string, cause: unknown): NotFoundError {
  return new NotFoundError(
    ErrorCode.NOT_FOUND,
    `${who}: JetStream stream ${JSON.stringify(stream)} does not exist; create it first (e.g. \`nats stream add ${stream}\`)`,
    { cause },
  );
}
