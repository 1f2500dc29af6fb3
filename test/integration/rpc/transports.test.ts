/** One typed client, three transports: NATS, HTTP and in-process give the same answers. */
import t from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import {
  createClient,
  httpTransport,
  localTransport,
  natsTransport,
  serveHttp,
  serveNats,
  type Transport,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../../support/echo_block.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

async function conversation(transport: Transport) {
  const client = createClient<EchoBlock>(transport);
  const created = await unwrap(client.items.$post({ json: { id: "k", name: "Kilo" } }));
  const read = await unwrap(client.items[":id"].$get({ param: { id: "k" } }));
  const bytes = await unwrap(client.bytes.$get({ query: { size: "4" } }));
  const missing = await unwrap(client.items[":id"].$get({ param: { id: "nope" } })).catch((e) => [
    e.code,
    e.message,
  ]);
  const invalid = await unwrap(client.items.$post({ json: { id: 1 } as never })).catch(
    (e) => e.code,
  );
  const text = await (await client.text.$get()).text();
  return { created, read, bytes: [...bytes.data], missing, invalid, text };
}

t.test("the same conversation over NATS, HTTP and in-process", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const natsApp = echoBlock();
  const served = serveNats(natsApp, { nc, subject: "t.parity" });
  t.teardown(() => served.stop());
  const http = await serveHttp(echoBlock());
  t.teardown(() => http.close());

  const expected = {
    created: { id: "k", name: "Kilo", tags: [] },
    read: { id: "k", name: "Kilo", tags: [] },
    bytes: [0, 0, 0, 0],
    missing: [ErrorCode.NOT_FOUND, "no item nope"],
    invalid: ErrorCode.BAD_REQUEST,
    text: "plain words",
  };
  t.same(await conversation(natsTransport(nc, "t.parity")), expected, "NATS");
  t.same(await conversation(httpTransport(http.url)), expected, "HTTP");
  t.same(await conversation(localTransport(echoBlock())), expected, "in-process");
});

t.test("HTTP serves people JSON and an unreachable URL is UNAVAILABLE", async (t) => {
  const http = await serveHttp(echoBlock());
  t.teardown(() => http.close());
  const res = await fetch(`${http.url}/items`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "p", name: "Papa" }),
  });
  t.equal(res.status, 201);
  t.same(await res.json(), { id: "p", name: "Papa", tags: [] });
  const bad = await fetch(`${http.url}/items`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{",
  });
  t.equal(bad.status, 400);
  t.equal((await bad.json()).code, "BAD_REQUEST");

  const closed = await serveHttp(echoBlock());
  await closed.close();
  const client = createClient<EchoBlock>(httpTransport(closed.url), { timeoutMs: 1000 });
  await t.rejects(unwrap(client.items.$post({ json: { id: "a", name: "b" } })), {
    code: ErrorCode.UNAVAILABLE,
    message: /cannot reach/,
  });
});

t.test("in-process calls honour the deadline too", async (t) => {
  const client = createClient<EchoBlock>(localTransport(echoBlock()), {
    timeoutMs: 100,
    attemptTimeoutMs: 50,
  });
  // The handler would answer after 1 s: a TIMEOUT shows the caller gave up at its deadline.
  await t.rejects(unwrap(client.slow.$get({ query: { ms: "1000" } })), { code: ErrorCode.TIMEOUT });
});
