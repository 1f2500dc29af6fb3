/** Surviving a NATS restart: servers resubscribe, idempotent calls retry within their deadline, nothing hangs. */
import t from "tap";
import { FlotillaError } from "../../../components/core/mod.ts";
import { createClient, natsTransport, serveNats, unwrap } from "../../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../../support/echo_block.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

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
  const writes: { ok: boolean; ms: number; code?: string }[] = [];
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
      const start = Date.now();
      await unwrap(client.items.$post({ json: { id: `w${i}`, name: "w" } })).then(
        () => writes.push({ ok: true, ms: Date.now() - start }),
        (e: FlotillaError) => writes.push({ ok: false, ms: Date.now() - start, code: e.code }),
      );
    }
  })();

  await until(() => reads >= 50, "traffic before the restart");
  const before = reads;
  await server.restart();
  await until(() => reads >= before + 200, "traffic after the restart");
  running = false;
  await Promise.all([reader, writer]);

  t.same(readErrors, [], "no idempotent call failed");
  t.ok(writes.filter((w) => w.ok).length > 0, "writes went through");
  for (const w of writes.filter((x) => !x.ok)) {
    t.ok(w.code === "TIMEOUT" || w.code === "UNAVAILABLE", `a failed write is typed: ${w.code}`);
  }
  t.ok(Math.max(...writes.map((w) => w.ms)) <= 3000 + 1000, "no call outlived its deadline");
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
  const start = Date.now();
  const error = await unwrap(client.ping.$get()).catch((e) => e);
  const elapsed = Date.now() - start;
  t.ok(error instanceof FlotillaError && error.retryable, `typed, retryable: ${error.code}`);
  t.ok(elapsed < 600 + 500, `settled in ${elapsed} ms`);

  await server.start();
  let back = false;
  for (let i = 0; i < 100 && !back; i++) {
    back = await unwrap(client.ping.$get()).then(
      () => true,
      () => false,
    );
  }
  t.ok(back, "the service answers again once NATS is back");
});
