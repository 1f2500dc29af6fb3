/** Body bounds without sockets: size (413, before reading when declared), JSON and CBOR depth (400). */
import t from "tap";
import { z } from "zod";
import { cbor, ErrorCode } from "../../../components/core/mod.ts";
import {
  body,
  createBlock,
  DEFAULT_BODY_LIMIT_BYTES,
  dispatch,
  readBodyBytes,
  reply,
} from "../../../components/rpc/mod.ts";

const MiB = 1024 * 1024;

function limitedBlock() {
  return createBlock()
    .post("/any", body(z.unknown()), (c) => reply(c, { ok: true }))
    .post("/small", body(z.unknown(), { maxBytes: 16 }), (c) => reply(c, { ok: true }))
    .post("/raw", async (c) => reply(c, { bytes: (await readBodyBytes(c, 1000)).byteLength }));
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

async function errorOf(res: Response): Promise<{ code: string; errors: string[] }> {
  return (await res.json()) as { code: string; errors: string[] };
}

t.test(
  "body(): a JSON body over 1 MiB is a 413 naming the limit and how to change it",
  async (t) => {
    t.equal(DEFAULT_BODY_LIMIT_BYTES, MiB);
    const app = limitedBlock();
    const big = JSON.stringify({ text: "x".repeat(MiB) });
    const res = await app.request("/any", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    t.equal(res.status, 413);
    const error = await errorOf(res);
    t.equal(error.code, ErrorCode.PAYLOAD_TOO_LARGE);
    t.match(error.errors[0], /POST \/any exceeds the limit of 1048576 bytes/);
    t.match(error.errors[0], /body\(schema, \{ maxBytes \}\)/);

    const fits = JSON.stringify({ text: "x".repeat(MiB - 100) });
    const ok = await app.request("/any", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: fits,
    });
    t.equal(ok.status, 200, "just under the limit is read");
  },
);

t.test("body(schema, { maxBytes }): a route sets its own limit", async (t) => {
  const app = limitedBlock();
  const post = (text: string) =>
    app.request("/small", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(text),
    });
  t.equal((await post("x".repeat(14))).status, 200, "16 bytes with the quotes");
  const res = await post("x".repeat(15));
  t.equal(res.status, 413);
  t.match((await errorOf(res)).errors[0], /limit of 16 bytes/);
});

t.test("a declared Content-Length over the limit is refused before a byte is read", async (t) => {
  const app = limitedBlock();
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(100));
      },
    },
    { highWaterMark: 0 },
  );
  const res = await app.request("/raw", {
    method: "POST",
    headers: { "content-length": "5000" },
    body: stream,
    duplex: "half",
  } as RequestInit);
  t.equal(res.status, 413);
  t.match((await errorOf(res)).errors[0], /request body of 5000 bytes for POST \/raw/);
  t.equal(pulled, 0, "nothing was read");
});

t.test("an undeclared stream is read only until it passes the limit, then canceled", async (t) => {
  const app = limitedBlock();
  let pulled = 0;
  let canceled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(100));
      },
      cancel() {
        canceled = true;
      },
    },
    { highWaterMark: 0 },
  );
  const res = await app.request("/raw", {
    method: "POST",
    body: stream,
    duplex: "half",
  } as RequestInit);
  t.equal(res.status, 413);
  t.match((await errorOf(res)).errors[0], /more than 1000 bytes/);
  t.ok(
    pulled <= 11,
    `read 11 chunks of 100 bytes at most (read ${pulled}), never the endless rest`,
  );
  t.ok(canceled, "the stream was canceled");

  const small = await app.request("/raw", { method: "POST", body: new Uint8Array(1000) });
  t.same(await small.json(), { bytes: 1000 }, "a body of exactly the limit is read whole");
});

t.test("over an envelope (NATS, in-process) the same limit holds", async (t) => {
  const app = limitedBlock();
  const send = (bytes: Uint8Array) =>
    dispatch(app, {
      method: "POST",
      path: "/small",
      headers: { "content-type": "application/cbor", accept: "application/cbor" },
      body: bytes,
    });
  t.equal((await send(cbor.encode("x".repeat(10)))).status, 200);
  const refused = await send(cbor.encode("x".repeat(100)));
  t.equal(refused.status, 413);
  const error = cbor.decode(refused.body!) as { code: string; errors: string[] };
  t.equal(error.code, ErrorCode.PAYLOAD_TOO_LARGE);
  t.match(
    error.errors[0],
    /request body of 102 bytes for POST \/small exceeds the limit of 16 bytes/,
  );
});

t.test("JSON nesting is bounded like CBOR's: 400 naming the depth", async (t) => {
  const app = limitedBlock();
  const post = (value: unknown) =>
    app.request("/any", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(value),
    });
  t.equal((await post(nested(60))).status, 200, "60 deep is fine");
  const res = await post(nested(100));
  t.equal(res.status, 400);
  t.match((await errorOf(res)).errors[0], /nesting deeper than 64/);
  // Deep enough to overflow a recursive walk: refused all the same, and quickly.
  const deep = `${"[".repeat(500_000)}${"]".repeat(500_000)}`;
  const deeper = await app.request("/any", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: deep,
  });
  t.equal(deeper.status, 400);
  t.match((await errorOf(deeper)).errors[0], /nesting deeper than 64/);
});

t.test("CBOR nesting is bounded: 400, also when too deep for the decoder", async (t) => {
  const app = limitedBlock();
  const post = (bytes: Uint8Array) =>
    dispatch(app, {
      method: "POST",
      path: "/any",
      headers: { "content-type": "application/cbor", accept: "application/cbor" },
      body: bytes,
    });
  t.equal((await post(cbor.encode(nested(60)))).status, 200);
  const refused = await post(cbor.encode(nested(100)));
  t.equal(refused.status, 400);
  t.match((cbor.decode(refused.body!) as { errors: string[] }).errors[0], /nesting deeper than 64/);
  // 0x81 is "an array of one item": 500k of them nest 500k deep in 500 KB.
  const hostile = new Uint8Array(500_001).fill(0x81);
  hostile[500_000] = 0x01;
  const deep = await post(hostile);
  t.equal(deep.status, 400, "refused, not a crash");
  t.match(
    (cbor.decode(deep.body!) as { errors: string[] }).errors[0],
    /malformed application\/cbor body/,
  );
});
