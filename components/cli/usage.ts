/** The CLI's usage error: a command called wrongly prints one line and exits 64 (`EXIT.usage`). */
import { ErrorCode, FlotillaError } from "../core/mod.ts";

export function usage(message: string): FlotillaError {
  return Object.assign(new FlotillaError(ErrorCode.INVALID_ARGUMENT, message), { usage: true });
}
