import t from "tap";
import {
  cbor,
  codecFor,
  decodeBody,
  ErrorCode,
  json,
  plainCbor,
} from "../../../components/core/mod.ts";

const sample = { id: "a", n: 42, f: 1.5, list: [1, "two", null], nested: { ok: true } };

t.test("CBOR and JSON round-trip the same value", (t) => {
  for (const codec of [cbor, json]) {
    t.same(codec.decode(codec.encode(sample)), sample, codec.contentType);
  }
  t.end();
});

t.test("CBOR carries bytes as bytes and writes plain maps any peer can read", (t) => {
  const value = { data: new Uint8Array([1, 2, 3]) };
  const back = cbor.decode(cbor.encode(value)) as { data: Uint8Array };
  t.ok(back.data instanceof Uint8Array);
  t.same([...back.data], [1, 2, 3]);
  // Major type 5 is a plain CBOR map, not a cbor-x record extension (a tag).
  t.equal(cbor.encode({ a: 1 })[0]! >> 5, 5);
  t.end();
});

t.test("codecFor picks by media type and ignores parameters and case", (t) => {
  t.equal(codecFor("application/cbor"), plainCbor, "between blocks: plain data only");
  t.equal(codecFor("Application/JSON; charset=utf-8"), json);
  t.equal(codecFor("application/problem+json"), json);
  t.equal(codecFor("text/plain"), undefined);
  t.equal(codecFor(undefined), undefined);
  t.end();
});

t.test("decodeBody turns garbage into a BAD_REQUEST naming the format", (t) => {
  t.throws(() => decodeBody(json, new TextEncoder().encode("{oops")), {
    code: ErrorCode.BAD_REQUEST,
    message: /malformed application\/json body/,
  });
  t.throws(() => decodeBody(cbor, new Uint8Array([0xff, 0xff, 0x1c])), {
    code: ErrorCode.BAD_REQUEST,
  });
  t.end();
});
