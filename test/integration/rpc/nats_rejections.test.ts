/**
 * A flood of garbage on a served subject (a real nats-server): every message counted, a handful
 * of log lines, and the block still answers good requests.
 */
import t from "tap";
import { cbor, createLogger, subjects } from "../../../components/core/mod.ts";
import {
  createClient,
  decodeReply,
  natsTransport,
  rejectionMetrics,
  rejections,
  serveNats,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../../support/echo_block.ts";
import { until } from "../../support/poll.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

const FLOOD = 10_000;

t.test("10,000 bad envelopes: counted exactly, a few log lines, service unharmed", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const attacker = await connectFor(t, server);
  const lines: { msg: string; level: number; suppressed?: number }[] = [];
  const log = createLogger({
    destination: { write: (chunk: string) => void lines.push(JSON.parse(chunk)) },
  });
  const subject = subjects.taskManager("c1", "tm-1");
  const served = serveNats(echoBlock(), { nc, subject, log });
  t.teardown(() => served.stop());
  await nc.flush(); // the subscription is at the server before the flood starts

  const garbage = new Uint8Array([0xff, 0x00, 0x13, 0x37]);
  for (let i = 0; i < FLOOD; i++) attacker.publish(subject, garbage);
  await attacker.flush();
  await until(
    () => rejections.count("taskmanager", "bad envelope") === FLOOD,
    `all ${FLOOD} bad envelopes counted (so far ${rejections.count("taskmanager", "bad envelope")})`,
  );

  const warned = lines.filter((l) => l.msg === "bad envelope");
  t.ok(warned.length <= 5, `at most 5 'bad envelope' lines (${warned.length})`);
  t.ok(lines.length <= 6, `a handful of lines in all (${lines.length})`);
  t.match(
    rejectionMetrics(),
    `flotilla_rejected_messages_total{source="taskmanager",reason="bad envelope"} ${FLOOD}`,
  );

  const client = createClient<EchoBlock>(natsTransport(nc, subject));
  t.same(await unwrap(client.ping.$get()), { pong: true }, "a good request is still answered");

  rejections.flushAll();
  t.match(
    lines.at(-1),
    { msg: "bad envelope: suppressed 9995 similar", suppressed: FLOOD - 5 },
    "what was held back is reported in one line",
  );
});

t.test("a bad envelope with a reply subject gets a typed error reply", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const subject = subjects.resourceManager("c1");
  const served = serveNats(echoBlock(), { nc, subject });
  t.teardown(() => served.stop());
  const headers: Record<string, string> = {};
  for (let i = 0; i < 100; i++) headers[`h${i}`] = "v";
  const answer = decodeReply(
    (
      await nc.request(subject, cbor.encode({ method: "GET", path: "/ping", headers }), {
        timeout: 5000,
      })
    ).data,
  );
  t.equal(answer.status, 400);
  t.match(cbor.decode(answer.body!), {
    code: "BAD_ENVELOPE",
    errors: ["bad request envelope: 100 headers, more than the limit of 64"],
  });
  t.equal(rejections.count("resourcemanager", "bad envelope"), 1);
});
