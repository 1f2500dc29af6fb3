/** Hono-over-NATS against a real nats-server: typed calls, bad input, limits, deadlines, queues. */
import t from "tap";
import {
  cbor,
  ErrorCode,
  StaleLeaderError,
  UnavailableError,
} from "../../../components/core/mod.ts";
import {
  createClient,
  decodeReply,
  encodeRequest,
  fencingHeaders,
  natsTransport,
  serveNats,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../../support/echo_block.ts";
import { until } from "../../support/poll.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

t.test("typed calls over NATS: bodies, params, queries, typed errors", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const served = serveNats(echoBlock(), { nc, subject: "t.echo" });
  t.teardown(() => served.stop());
  const client = createClient<EchoBlock>(natsTransport(nc, "t.echo"));

  const created = await unwrap(
    client.items.$post({ json: { id: "a", name: "Alpha", tags: ["x"] } }),
  );
  t.same(created, { id: "a", name: "Alpha", tags: ["x"] });
  t.same(await unwrap(client.items[":id"].$get({ param: { id: "a" } })), created);
  const bytes = await unwrap(client.bytes.$get({ query: { size: "3" } }));
  t.same([...bytes.data], [0, 0, 0], "CBOR carries bytes");

  await t.rejects(unwrap(client.items[":id"].$get({ param: { id: "zz" } })), {
    code: ErrorCode.NOT_FOUND,
    message: "no item zz",
  });
  await t.rejects(unwrap(client.items.$post({ json: { id: "b" } as never })), {
    code: ErrorCode.BAD_REQUEST,
    message: /'name'/,
  });
  await t.rejects(unwrap(client.boom.$get()), { code: ErrorCode.INTERNAL, message: "kaboom" });
});

t.test("garbage and wrong envelopes get an error reply; the service keeps serving", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const served = serveNats(echoBlock(), { nc, subject: "t.garbage" });
  t.teardown(() => served.stop());

  const garbage = decodeReply(
    (await nc.request("t.garbage", new Uint8Array([0xff, 0x13, 0x37]), { timeout: 1000 })).data,
  );
  t.equal(garbage.status, 400);
  t.match(cbor.decode(garbage.body!), { code: "BAD_ENVELOPE", errors: [/not CBOR/] });

  const wrong = decodeReply(
    (await nc.request("t.garbage", cbor.encode({ method: 42 }), { timeout: 1000 })).data,
  );
  t.equal(wrong.status, 400);
  t.match((cbor.decode(wrong.body!) as { errors: string[] }).errors[0], /'method'/);

  const unknownRoute = decodeReply(
    (
      await nc.request("t.garbage", encodeRequest({ method: "GET", path: "/nope", headers: {} }), {
        timeout: 1000,
      })
    ).data,
  );
  t.equal(unknownRoute.status, 404);

  nc.publish("t.garbage", new Uint8Array([1, 2, 3])); // no reply subject: dropped, nothing breaks
  const client = createClient<EchoBlock>(natsTransport(nc, "t.garbage"));
  t.same(await unwrap(client.ping.$get()), { pong: true }, "still serving");
});

t.test("payloads over max_payload: a clear error each way, no crash", async (t) => {
  const server = await natsFor(t, { maxPayload: 64 * 1024 });
  const nc = await connectFor(t, server);
  const served = serveNats(echoBlock(), { nc, subject: "t.big" });
  t.teardown(() => served.stop());
  const client = createClient<EchoBlock>(natsTransport(nc, "t.big"));

  const big = "x".repeat(100 * 1024);
  await t.rejects(unwrap(client.items.$post({ json: { id: "big", name: big } })), {
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: /request of \d+ bytes to t\.big exceeds the NATS server's max_payload of 65536 bytes/,
  });
  await t.rejects(unwrap(client.bytes.$get({ query: { size: String(100 * 1024) } })), {
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: /reply of \d+ bytes from t\.big exceeds the NATS server's max_payload of 65536 bytes/,
  });
  t.same(await unwrap(client.ping.$get()), { pong: true }, "still serving");
});

t.test("a subject nobody serves is UNAVAILABLE at once, not after the deadline", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  // A deadline far past the test's: an answer at all shows it did not wait for it.
  const client = createClient<EchoBlock>(natsTransport(nc, "t.nobody"), { timeoutMs: 600_000 });
  const calls = [
    () => unwrap(client.ping.$get()),
    () => unwrap(client.items.$post({ json: { id: "a", name: "n" } })),
  ];
  for (const call of calls) {
    const error = (await (call() as Promise<unknown>).catch((e) => e)) as UnavailableError;
    t.ok(error instanceof UnavailableError, error.message);
    t.equal(error.retryable, true);
    t.match(error.message, /no service is listening on t\.nobody/);
  }
});

t.test("every call has a deadline: a slow handler gives TIMEOUT on time", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const served = serveNats(echoBlock(), { nc, subject: "t.slow" });
  t.teardown(() => served.stop());
  const client = createClient<EchoBlock>(natsTransport(nc, "t.slow"), {
    timeoutMs: 300,
    attemptTimeoutMs: 100,
  });
  await t.rejects(unwrap(client.slow.$get({ query: { ms: "2000" } })), { code: ErrorCode.TIMEOUT });
  // Each attempt (a GET is retried) is a handler sleeping 2 s: the caller did not wait for one.
  t.ok(served.inFlight() > 0, "the caller gave up while the 2 s handlers were still working");
});

t.test("singletons in a queue group: each call answered exactly once", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const a = echoBlock();
  const b = echoBlock();
  const servers = [a, b].map((app) => serveNats(app, { nc, subject: "t.queue", queue: "t.queue" }));
  t.teardown(() => Promise.all(servers.map((s) => s.stop())));
  const client = createClient<EchoBlock>(natsTransport(nc, "t.queue"));
  await Promise.all(Array.from({ length: 60 }, () => unwrap(client.ping.$get())));
  const count = async (app: EchoBlock) =>
    (await (await app.request("/calls")).json()).calls as number;
  t.equal((await count(a)) + (await count(b)), 60);
});

t.test("accept() false: a server drops requests unanswered; another one answers", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  let leading = true;
  const deposed = echoBlock();
  const servers = [
    serveNats(deposed, { nc, subject: "t.accept", accept: () => leading }),
    serveNats(echoBlock(), { nc, subject: "t.accept" }),
  ];
  t.teardown(() => Promise.all(servers.map((s) => s.stop())));
  const transport = natsTransport(nc, "t.accept");
  const ping = { method: "GET", path: "/ping", headers: {} };
  t.equal((await transport.sendAll!(ping, 1000)).length, 2, "both answer while accepting");
  leading = false;
  t.equal((await transport.sendAll!(ping, 1000)).length, 1, "then only the other one");
  const calls = (await (await deposed.request("/calls")).json()).calls as number;
  t.equal(calls, 1, "the dropped request never reached the app");
});

t.test("sendAll: every reply within the wait; nobody listening is UNAVAILABLE", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const transport = natsTransport(nc, "t.all");
  const ping = { method: "GET", path: "/ping", headers: {} };
  await t.rejects(transport.sendAll!(ping, 100), { code: ErrorCode.UNAVAILABLE });
  const servers = [1, 2, 3].map(() => serveNats(echoBlock(), { nc, subject: "t.all" }));
  t.teardown(() => Promise.all(servers.map((s) => s.stop())));
  await nc.flush();
  const replies = await transport.sendAll!(ping, 1000);
  t.same(
    replies.map((r) => r.status),
    [200, 200, 200],
  );
  const silent = serveNats(echoBlock(), { nc, subject: "t.silent", accept: () => false });
  t.teardown(() => silent.stop());
  await nc.flush();
  await t.rejects(natsTransport(nc, "t.silent").sendAll!(ping, 100), { code: ErrorCode.TIMEOUT });
});

t.test("stop() answers the calls in flight, then the subject goes quiet", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const served = serveNats(echoBlock(), { nc, subject: "t.stop" });
  const client = createClient<EchoBlock>(natsTransport(nc, "t.stop"));
  const pending = unwrap(client.slow.$get({ query: { ms: "200" } }));
  await until(() => served.inFlight() > 0, "the slow call in flight", { intervalMs: 5 });
  await served.stop();
  t.same(await pending, { slept: 200 });
  await t.rejects(unwrap(client.ping.$get()), { code: ErrorCode.UNAVAILABLE });
});

t.test("fenced calls over NATS: a stale leader's token is rejected typed", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const served = serveNats(echoBlock(), { nc, subject: "t.fenced" });
  t.teardown(() => served.stop());
  const leader = (token: number) =>
    createClient<EchoBlock>(natsTransport(nc, "t.fenced"), { headers: fencingHeaders(token) });
  t.same(await unwrap(leader(10).fenced.$post()), { accepted: 10 });
  t.same(await unwrap(leader(11).fenced.$post()), { accepted: 11 });
  const error = await unwrap(leader(10).fenced.$post()).catch((e) => e);
  t.ok(error instanceof StaleLeaderError);
  t.equal(error.status, 409);
  t.match(error.message, /fencing token 10 is older than the current leader's 11/);
});
