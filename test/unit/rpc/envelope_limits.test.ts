/** Request envelopes are bounded like an HTTP request head: header count, header size, path length. */
import t from "tap";
import { cbor, ErrorCode } from "../../../components/core/mod.ts";
import { decodeRequest, ENVELOPE_LIMITS } from "../../../components/rpc/mod.ts";

function envelope(fields: Record<string, unknown>): Uint8Array {
  return cbor.encode({ method: "GET", path: "/x", headers: {}, ...fields });
}

function headers(count: number, valueLength = 1): Record<string, string> {
  const map: Record<string, string> = {};
  for (let i = 0; i < count; i++) map[`h${i}`] = "v".repeat(valueLength);
  return map;
}

t.test("the limits are those of a careful HTTP server", async (t) => {
  t.same(ENVELOPE_LIMITS, { maxHeaders: 64, maxHeaderSize: 16 * 1024, maxPathLength: 8 * 1024 });
});

t.test("header count: 64 pass, 65 are a BAD_ENVELOPE naming the limit", async (t) => {
  t.equal(Object.keys(decodeRequest(envelope({ headers: headers(64) })).headers).length, 64);
  t.throws(() => decodeRequest(envelope({ headers: headers(65) })), {
    code: ErrorCode.BAD_ENVELOPE,
    message: "bad request envelope: 65 headers, more than the limit of 64",
  });
});

t.test("header size: names and values together at most 16 KiB", async (t) => {
  const fits = { big: "v".repeat(16 * 1024 - 3) };
  t.equal(decodeRequest(envelope({ headers: fits })).headers.big?.length, 16 * 1024 - 3);
  const over = { big: "v".repeat(16 * 1024 - 2) };
  t.throws(() => decodeRequest(envelope({ headers: over })), {
    code: ErrorCode.BAD_ENVELOPE,
    message: /16385 characters of headers \(names and values\), more than the limit of 16384/,
  });
  const many = headers(10, 2000);
  t.throws(() => decodeRequest(envelope({ headers: many })), {
    code: ErrorCode.BAD_ENVELOPE,
    message: /more than the limit of 16384/,
  });
});

t.test("path length: at most 8 KiB", async (t) => {
  const fits = `/${"p".repeat(8 * 1024 - 1)}`;
  t.equal(decodeRequest(envelope({ path: fits })).path, fits);
  t.throws(() => decodeRequest(envelope({ path: `${fits}p` })), {
    code: ErrorCode.BAD_ENVELOPE,
    message: "bad request envelope: 'path' of 8193 characters is over the limit of 8192",
  });
});

t.test("an error quoting a bad method or path quotes only its start", async (t) => {
  const error = (() => {
    try {
      decodeRequest(envelope({ path: "x".repeat(100_000) }));
    } catch (err) {
      return err as Error;
    }
    return undefined;
  })();
  t.ok(error && error.message.length < 200, "the message stays short");
  t.throws(() => decodeRequest(envelope({ method: "G".repeat(100_000) })), {
    code: ErrorCode.BAD_ENVELOPE,
  });
});
