/**
 * `callAll`: one typed call to every block answering on a subject (NATS `sendAll`), each answer
 * the typed body or the typed error; on a transport that reaches one block, its one answer.
 */
import t from "tap";
import { ErrorCode, NotFoundError, StaleLeaderError } from "../../../components/core/mod.ts";
import {
  callAll,
  DEADLINE_HEADER,
  FencingTokens,
  fencingHeaders,
  localTransport,
  natsTransport,
  type RpcClient,
  serveNats,
  type Transport,
} from "../../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../../support/echo_block.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

const getItem = (c: RpcClient<EchoBlock>) => c.items[":id"].$get({ param: { id: "k" } });

t.test("over NATS: every block's answer, typed body or typed error", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const holder = echoBlock();
  await holder.request("/items", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "k", name: "Kilo" }),
  });
  const servers = [holder, echoBlock()].map((app) => serveNats(app, { nc, subject: "t.all" }));
  t.teardown(() => Promise.all(servers.map((s) => s.stop())));
  await nc.flush();

  const answers = await callAll(natsTransport(nc, "t.all"), getItem, 500);
  t.equal(answers.length, 2, "both blocks answered");
  const found = answers.flatMap((a) => (a.ok ? [a.body] : []));
  t.same(found, [{ id: "k", name: "Kilo", tags: [] }], "the one holding the item: its typed body");
  // Type check: the body is the route's reply type, not unknown.
  t.equal(found[0]?.name, "Kilo");
  const errors = answers.flatMap((a) => (a.ok ? [] : [a.error]));
  t.equal(errors.length, 1);
  t.ok(errors[0] instanceof NotFoundError, "the other one: its NOT_FOUND, as a typed error");
  t.match(errors[0]?.message, /no item k/);

  await t.rejects(callAll(natsTransport(nc, "t.nobody"), getItem, 100), {
    code: ErrorCode.UNAVAILABLE,
  });
});

t.test("headers (a fencing token) and the deadline travel in the envelope", async (t) => {
  const tokens = new FencingTokens();
  tokens.admit(5);
  let deadline: number | undefined;
  let sentAt = 0;
  const app = echoBlock(tokens);
  const seen: Transport = {
    target: "seen",
    send(request, timeoutMs) {
      sentAt = Date.now();
      deadline = Number(request.headers[DEADLINE_HEADER]);
      return localTransport(app).send(request, timeoutMs);
    },
  };
  // Long, so that "still ahead when sent" holds however slow the machine (the block answers at once).
  const waitMs = 60_000;
  const fresh = await callAll(seen, (c: RpcClient<EchoBlock>) => c.fenced.$post(), waitMs, {
    headers: fencingHeaders(6),
  });
  t.same(fresh, [{ ok: true, body: { accepted: 6 } }], "one answer on a one-block transport");
  t.ok(
    deadline !== undefined && deadline > sentAt && deadline <= sentAt + waitMs,
    "the deadline header: ahead of the request when sent, and no further than waitMs from it",
  );
  const [stale] = await callAll(seen, (c: RpcClient<EchoBlock>) => c.fenced.$post(), waitMs, {
    headers: fencingHeaders(5),
  });
  t.ok(
    stale && !stale.ok && stale.error instanceof StaleLeaderError,
    "an older token: STALE_LEADER",
  );
});
