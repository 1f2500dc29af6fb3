/** Surviving a NATS restart: servers resubscribe, idempotent calls retry within their deadline, nothing hangs. */
import t from "tap";
import { FlotillaError } from "../../../components/core/mod.ts";
import { createClient, natsTransport, serveNats, unwrap } from "../../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../../support/echo_block.ts";
import { until } from "../../support/poll.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

const TRAFFIC = { timeoutMs: 15_000, intervalMs: 10 };

t.test("restart in mid-traffic: every idempotent call succeeds, others settle typed", async (t) => {
  const server = await natsFor(t);
  const serverConn = await connectFor(t, server);
  const clientConn = await connectFor(t, server);
  const served = serveNats(echoBlock(), { nc: serverConn, subject: "t.restart" });
  await serverConn.flush(); // the subscription reaches the server before another connection calls
  t.teardown(() => served.stop());
  const client = createClient<EchoBlock>(natsTransport(clientConn, "t.restart"), {
    timeoutMs: 3000,
    attemptTimeoutMs: 300,
  });

  let reads = 0;
  const readErrors: unknown[] = [];
  const writes: { ok: boolean; code?: string }[] = [];
  let running = true;
  const reader = (async () => {
    while (running) {
      await unwrap(client.ping.$get()).then(
        () => reads++,
        (e) => readErrors.push(e),
      );
    }
  })();
  const writer = (async () => {
    for (let i = 0; running; i++) {
      await unwrap(client.items.$post({ json: { id: `w${i}`, name: "w" } })).then(
        () => writes.push({ ok: true }),
        (e: FlotillaError) => writes.push({ ok: false, code: e.code }),
      );
    }
  })();

  await until(() => reads >= 50, "traffic before the restart", TRAFFIC);
  const before = reads;
  await server.restart();
  await until(() => reads >= before + 200, "traffic after the restart", TRAFFIC);
  running = false;
  await Promise.all([reader, writer]);

  t.same(readErrors, [], "no idempotent call failed");
  t.ok(writes.filter((w) => w.ok).length > 0, "writes went through");
  for (const w of writes.filter((x) => !x.ok)) {
    // A deadline that ran out says TIMEOUT: no call hung past it (the loops above ended).
    t.ok(w.code === "TIMEOUT" || w.code === "UNAVAILABLE", `a failed write is typed: ${w.code}`);
  }
});

t.test("server killed: calls fail typed within their deadline; back after a start", async (t) => {
  const server = await natsFor(t);
  const serverConn = await connectFor(t, server);
  const clientConn = await connectFor(t, server);
  const served = serveNats(echoBlock(), { nc: serverConn, subject: "t.kill" });
  await serverConn.flush(); // the subscription reaches the server before another connection calls
  t.teardown(() => served.stop());
  const client = createClient<EchoBlock>(natsTransport(clientConn, "t.kill"), {
    timeoutMs: 600,
    attemptTimeoutMs: 200,
  });
  t.same(await unwrap(client.ping.$get()), { pong: true });

  await server.kill();
  const error = await unwrap(client.ping.$get()).catch((e) => e);
  t.ok(error instanceof FlotillaError && error.retryable, `typed, retryable: ${error.code}`);

  await server.start();
  // Each try has its own 600 ms deadline; the reconnect takes a few of them.
  const back = await until(
    () => unwrap(client.ping.$get()),
    "the service answering again once NATS is back",
    { timeoutMs: 30_000 },
  );
  t.same(back, { pong: true });
});
