import t from "tap";
import { cbor, ErrorCode } from "../../../components/core/mod.ts";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from "../../../components/rpc/mod.ts";

t.test("request and reply envelopes round-trip", (t) => {
  const request = {
    method: "POST",
    path: "/jobs?x=1",
    headers: { "content-type": "application/cbor" },
    body: cbor.encode({ a: 1 }),
  };
  const back = decodeRequest(encodeRequest(request));
  t.equal(back.method, "POST");
  t.equal(back.path, "/jobs?x=1");
  t.same(cbor.decode(back.body!), { a: 1 });
  const reply = decodeReply(encodeReply({ status: 202, headers: { a: "b" } }));
  t.same(reply, { status: 202, headers: { a: "b" }, body: undefined });
  t.end();
});

t.test("garbage and wrong envelopes are BAD_ENVELOPE errors that say what was wrong", (t) => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array([0xff, 0x00, 0x13, 0x37]), /not CBOR/],
    [cbor.encode("a string"), /expected a CBOR map/],
    [cbor.encode({ method: "post", path: "/x" }), /'method' must be an upper-case HTTP method/],
    [cbor.encode({ method: "GET", path: "x" }), /'path' must start with '\/'/],
    [
      cbor.encode({ method: "GET", path: "/x", headers: { a: 1 } }),
      /'headers' must map names to strings/,
    ],
    [cbor.encode({ method: "POST", path: "/x", body: "text" }), /'body' must be a byte string/],
  ];
  for (const [bytes, message] of cases) {
    t.throws(
      () => decodeRequest(bytes),
      { code: ErrorCode.BAD_ENVELOPE, message },
      String(message),
    );
  }
  t.end();
});
