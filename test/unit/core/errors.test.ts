import t from "tap";
import {
  ErrorCode,
  FlotillaError,
  fromWire,
  NotFoundError,
  StaleLeaderError,
  statusOf,
  TimeoutError,
  toFlotillaError,
  UnavailableError,
} from "../../../components/core/mod.ts";

t.test("every code has an HTTP status and survives the wire round trip typed", (t) => {
  for (const code of Object.values(ErrorCode)) {
    const error = new FlotillaError(code, `message for ${code}`);
    t.equal(error.status, statusOf[code]);
    const back = fromWire(error.status, JSON.parse(JSON.stringify(error.toWire())));
    t.equal(back.code, code);
    t.equal(back.message, `message for ${code}`);
    t.ok(back instanceof FlotillaError);
  }
  t.end();
});

t.test("wire form is {errors: [message], code}", (t) => {
  t.same(new StaleLeaderError("old token").toWire(), {
    errors: ["old token"],
    code: "STALE_LEADER",
  });
  t.end();
});

t.test("fromWire picks the specific class so instanceof works across the wire", (t) => {
  t.ok(fromWire(409, { errors: ["x"], code: "STALE_LEADER" }) instanceof StaleLeaderError);
  t.ok(fromWire(503, { errors: ["x"], code: "UNAVAILABLE" }) instanceof UnavailableError);
  t.ok(fromWire(504, { errors: ["x"], code: "TIMEOUT" }) instanceof TimeoutError);
  t.ok(fromWire(404, { errors: ["x"], code: "JOB_NOT_FOUND" }) instanceof NotFoundError);
  t.end();
});

t.test("retryable only where a retry can help", (t) => {
  t.equal(new UnavailableError("x").retryable, true);
  t.equal(new TimeoutError("x").retryable, true);
  t.equal(new FlotillaError(ErrorCode.BAD_REQUEST, "x").retryable, false);
  t.equal(new StaleLeaderError("x").retryable, false);
  t.end();
});

t.test("unknown codes and non-wire bodies map by status without losing the text", (t) => {
  const future = fromWire(409, { errors: ["a", "b"], code: "SOMETHING_NEW" });
  t.equal(future.code, ErrorCode.CONFLICT);
  t.match(future.message, /SOMETHING_NEW: a; b/);
  const text = fromWire(502, "Bad Gateway");
  t.equal(text.code, ErrorCode.INTERNAL);
  t.equal(text.message, "Bad Gateway");
  t.equal(fromWire(404, undefined).code, ErrorCode.NOT_FOUND);
  t.end();
});

t.test("toFlotillaError keeps typed errors and wraps the rest as INTERNAL", (t) => {
  const typed = new UnavailableError("down");
  t.equal(toFlotillaError(typed), typed);
  const wrapped = toFlotillaError(new RangeError("boom"));
  t.equal(wrapped.code, ErrorCode.INTERNAL);
  t.equal(wrapped.message, "boom");
  t.equal(toFlotillaError("just a string").message, "just a string");
  t.end();
});
