/**
 * Typed errors with a stable `code`, their wire form `{errors: [message], code}`, and the one
 * function (`fromWire`) that turns a reply back into the typed error on the calling side.
 */

/** Stable error codes. Clients switch on these, never on messages. */
export const ErrorCode = {
  BAD_REQUEST: "BAD_REQUEST",
  BAD_ENVELOPE: "BAD_ENVELOPE",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  INVALID_CONFIG: "INVALID_CONFIG",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  JOB_NOT_FOUND: "JOB_NOT_FOUND",
  CONFLICT: "CONFLICT",
  STALE_LEADER: "STALE_LEADER",
  NO_RESOURCES: "NO_RESOURCES",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** A bounded queue or quota is full: try again later. */
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
  UNAVAILABLE: "UNAVAILABLE",
  TIMEOUT: "TIMEOUT",
  CANCELED: "CANCELED",
  INTERNAL: "INTERNAL",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status each code maps to on both transports. */
export const statusOf: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  BAD_ENVELOPE: 400,
  INVALID_ARGUMENT: 400,
  INVALID_CONFIG: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  CONFLICT: 409,
  STALE_LEADER: 409,
  NO_RESOURCES: 503,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  CANCELED: 499,
  INTERNAL: 500,
};

/** Codes for which trying again later can succeed without changing the request. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.TIMEOUT,
  ErrorCode.NO_RESOURCES,
  ErrorCode.TOO_MANY_REQUESTS,
]);

export interface WireError {
  errors: string[];
  code: string;
}

export class FlotillaError extends Error {
  override name = "FlotillaError";
  readonly code: ErrorCode;
  readonly status: number;
  /** True when a retry can help (terminal errors say no). */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.status = statusOf[code];
    this.retryable = RETRYABLE.has(code);
  }

  toWire(): WireError {
    return { errors: [this.message], code: this.code };
  }
}

export class InvalidArgumentError extends FlotillaError {
  override name = "InvalidArgumentError";
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.INVALID_ARGUMENT, message, options);
  }
}

export class InvalidConfigError extends FlotillaError {
  override name = "InvalidConfigError";
  readonly key: string;
  constructor(key: string, message: string) {
    super(ErrorCode.INVALID_CONFIG, message);
    this.key = key;
  }
}

export class NotFoundError extends FlotillaError {
  override name = "NotFoundError";
}

export class StaleLeaderError extends FlotillaError {
  override name = "StaleLeaderError";
  constructor(message: string) {
    super(ErrorCode.STALE_LEADER, message);
  }
}

export class UnavailableError extends FlotillaError {
  override name = "UnavailableError";
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.UNAVAILABLE, message, options);
  }
}

export class TimeoutError extends FlotillaError {
  override name = "TimeoutError";
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.TIMEOUT, message, options);
  }
}

const KNOWN = new Set<string>(Object.values(ErrorCode));

function isWireError(body: unknown): body is WireError {
  if (typeof body !== "object" || body === null) return false;
  const { errors, code } = body as Partial<WireError>;
  return Array.isArray(errors) && typeof code === "string";
}

/**
 * Turns an error reply back into a typed error. An unknown code keeps its text in the message and
 * maps by status, so a newer server never crashes an older client.
 */
export function fromWire(status: number, body: unknown): FlotillaError {
  if (isWireError(body)) {
    const message = body.errors.map(String).join("; ") || `request failed with status ${status}`;
    if (KNOWN.has(body.code)) return typedError(body.code as ErrorCode, message);
    return typedError(codeForStatus(status), `${body.code}: ${message}`);
  }
  const text = typeof body === "string" && body ? body : `request failed with status ${status}`;
  return typedError(codeForStatus(status), text);
}

/** The most specific error class for a code, so `instanceof StaleLeaderError` works across the wire. */
export function typedError(code: ErrorCode, message: string): FlotillaError {
  switch (code) {
    case ErrorCode.INVALID_ARGUMENT:
      return new InvalidArgumentError(message);
    case ErrorCode.STALE_LEADER:
      return new StaleLeaderError(message);
    case ErrorCode.UNAVAILABLE:
      return new UnavailableError(message);
    case ErrorCode.TIMEOUT:
      return new TimeoutError(message);
    case ErrorCode.NOT_FOUND:
    case ErrorCode.JOB_NOT_FOUND:
      return new NotFoundError(code, message);
    default:
      return new FlotillaError(code, message);
  }
}

export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return ErrorCode.UNAUTHORIZED;
  if (status === 403) return ErrorCode.FORBIDDEN;
  if (status === 404) return ErrorCode.NOT_FOUND;
  if (status === 409) return ErrorCode.CONFLICT;
  if (status === 413) return ErrorCode.PAYLOAD_TOO_LARGE;
  if (status === 429) return ErrorCode.TOO_MANY_REQUESTS;
  if (status === 503) return ErrorCode.UNAVAILABLE;
  if (status === 504 || status === 408) return ErrorCode.TIMEOUT;
  if (status >= 400 && status < 500) return ErrorCode.BAD_REQUEST;
  return ErrorCode.INTERNAL;
}

/** At a boundary, turn anything thrown into an Error. */
export function ensureError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === "string" ? thrown : JSON.stringify(thrown));
}

/** Anything thrown, as a FlotillaError (unknown errors become INTERNAL with their message). */
export function toFlotillaError(thrown: unknown): FlotillaError {
  if (thrown instanceof FlotillaError) return thrown;
  const err = ensureError(thrown);
  return new FlotillaError(ErrorCode.INTERNAL, err.message, { cause: err });
}
