/**
 * components/rpc under Deno against a real nats-server: the echo block served with `serveNats`
 * and called with the typed client over `natsTransport`; no responders, deadlines, garbage on
 * the service subject, max_payload and queue groups.
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { cbor, ErrorCode, UnavailableError } from "../../components/core/mod.ts";
import {
  type NatsServer as BlockServer,
  createClient,
  decodeReply,
  natsTransport,
  serveNats,
  unwrap,
} from "../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../support/echo_block.ts";
import { type NatsServer, type NatsServerOptions, startNats } from "../support/nats.ts";
import { assertRejectsWith, checkEchoContract } from "./echo_contract.ts";

const SUBJECT = "flotilla.test.echo";

interface EchoOverNats extends AsyncDisposable {
  nats: NatsServer;
  nc: NatsConnection;
  app: EchoBlock;
  service: BlockServer;
}

/** A nats-server, a connection and the echo block served on SUBJECT; `await using` tears down. */
async function echoOverNats(options: NatsServerOptions = {}): Promise<EchoOverNats> {
  const nats = await startNats({ jetstream: false, ...options });
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: nats.url });
  } catch (err) {
    await nats.cleanup();
    throw err;
  }
  const app = echoBlock();
  const service = serveNats(app, { nc, subject: SUBJECT, queue: "echo" });
  return {
    nats,
    nc,
    app,
    service,
    async [Symbol.asyncDispose]() {
      try {
        await service.stop();
        await nc.close();
      } finally {
        await nats.cleanup();
      }
    },
  };
}

Deno.test("NATS transport: the echo block's contract", async () => {
  await using env = await echoOverNats();
  await checkEchoContract(natsTransport(env.nc, SUBJECT));
});

Deno.test("NATS transport: a subject nobody serves is UNAVAILABLE at once", async () => {
  await using env = await echoOverNats();
  // A deadline far past the calls' usual time: an UNAVAILABLE at all shows it was not awaited.
  const timeoutMs = 60_000;
  const client = createClient<EchoBlock>(natsTransport(env.nc, "flotilla.test.nobody"), {
    timeoutMs,
  });
  // GET may be retried, POST may not: neither waits for the deadline.
  const calls = {
    GET: () => unwrap(client.ping.$get()),
    POST: () => unwrap(client.items.$post({ json: { id: "a", name: "n" } })),
  };
  for (const [method, call] of Object.entries(calls)) {
    const error = await assertRejectsWith(
      call(),
      ErrorCode.UNAVAILABLE,
      /no service is listening on flotilla\.test\.nobody/,
    );
    assert.ok(error instanceof UnavailableError, method);
    // "No responders" is an answer from the server (a deadline would end in TIMEOUT).
    assert.equal(error.retryable, true);
  }
});

Deno.test("NATS transport: a call that outlives its deadline fails with TIMEOUT", async () => {
  await using env = await echoOverNats();
  const client = createClient<EchoBlock>(natsTransport(env.nc, SUBJECT), {
    timeoutMs: 100,
    attemptTimeoutMs: 100,
  });
  await assertRejectsWith(
    unwrap(client.slow.$get({ query: { ms: "400" } })),
    ErrorCode.TIMEOUT,
    /no reply from flotilla\.test\.echo within \d+ ms/,
  );
  // The abandoned request is still being handled; stop() waits for it to be answered.
  assert.ok(env.service.inFlight() >= 1);
  await env.service.stop();
  assert.equal(env.service.inFlight(), 0);
});

Deno.test("NATS transport: garbage gets a 400 error envelope and the service keeps serving", async () => {
  await using env = await echoOverNats();
  const garbage = [
    { bytes: new Uint8Array([0xff, 0x00, 0x13, 0x37]), why: /not CBOR \(4 bytes\)/ },
    { bytes: new TextEncoder().encode("GET /ping HTTP/1.1"), why: /not CBOR/ },
    { bytes: cbor.encode("just a string"), why: /expected a CBOR map/ },
    { bytes: cbor.encode({ method: "get", path: "/ping" }), why: /'method' must be/ },
    { bytes: cbor.encode({ method: "GET", path: "ping" }), why: /'path' must start with/ },
    {
      bytes: cbor.encode({ method: "GET", path: "/ping", headers: { n: 1 } }),
      why: /'headers' must map names to strings/,
    },
  ];
  for (const { bytes, why } of garbage) {
    const msg = await env.nc.request(SUBJECT, bytes, { timeout: 2000 });
    const reply = decodeReply(msg.data);
    assert.equal(reply.status, 400);
    assert.equal(reply.headers["content-type"], "application/cbor");
    const body = cbor.decode(reply.body!) as { errors: string[]; code: string };
    assert.equal(body.code, ErrorCode.BAD_ENVELOPE);
    assert.match(body.errors[0]!, /^bad request envelope: /);
    assert.match(body.errors[0]!, why);
  }
  // Without a reply subject there is nobody to answer: dropped, and nothing breaks.
  env.nc.publish(SUBJECT, new Uint8Array([1, 2, 3]));
  const client = createClient<EchoBlock>(natsTransport(env.nc, SUBJECT));
  assert.deepEqual(await unwrap(client.ping.$get()), { pong: true });
});

Deno.test("NATS transport: payloads over max_payload are a clear error each way", async () => {
  await using env = await echoOverNats({ maxPayload: 64 * 1024 });
  const client = createClient<EchoBlock>(natsTransport(env.nc, SUBJECT));
  await assertRejectsWith(
    unwrap(client.items.$post({ json: { id: "big", name: "x".repeat(100 * 1024) } })),
    ErrorCode.PAYLOAD_TOO_LARGE,
    /request of \d+ bytes to flotilla\.test\.echo exceeds the NATS server's max_payload of 65536/,
  );
  await assertRejectsWith(
    unwrap(client.bytes.$get({ query: { size: String(100 * 1024) } })),
    ErrorCode.PAYLOAD_TOO_LARGE,
    /reply of \d+ bytes from flotilla\.test\.echo exceeds the NATS server's max_payload of 65536/,
  );
  assert.deepEqual(await unwrap(client.ping.$get()), { pong: true });
});

Deno.test("NATS transport: instances in a queue group answer each call exactly once", async () => {
  await using env = await echoOverNats();
  const standby = echoBlock();
  const second = serveNats(standby, { nc: env.nc, subject: SUBJECT, queue: "echo" });
  try {
    const client = createClient<EchoBlock>(natsTransport(env.nc, SUBJECT));
    await Promise.all(Array.from({ length: 40 }, () => unwrap(client.ping.$get())));
    const calls = async (app: EchoBlock) => (await (await app.request("/calls")).json()).calls;
    assert.equal((await calls(env.app)) + (await calls(standby)), 40);
  } finally {
    await second.stop();
  }
});

Deno.test("NATS transport: a stopped service is UNAVAILABLE to the next caller", async () => {
  await using env = await echoOverNats();
  const client = createClient<EchoBlock>(natsTransport(env.nc, SUBJECT));
  assert.deepEqual(await unwrap(client.ping.$get()), { pong: true });
  await env.service.stop();
  await assertRejectsWith(unwrap(client.ping.$get()), ErrorCode.UNAVAILABLE, /no service/);
});
