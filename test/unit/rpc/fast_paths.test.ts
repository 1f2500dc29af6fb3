/**
 * The hot-path shortcuts behave exactly like the slow paths they replace: envelope headers read
 * like `Headers`, a synchronous answer equals the asynchronous one, and a NATS request made with
 * stack capture off leaves the process's stack setting as it was.
 */
import { type NatsConnection, errors as natsErrors } from "@nats-io/transport-node";
import t from "tap";
import { cbor, ErrorCode, TimeoutError } from "../../../components/core/mod.ts";
import { EnvelopeHeaders, trimHttpWhitespace } from "../../../components/rpc/headers.ts";
import { dispatchNow } from "../../../components/rpc/local_transport.ts";
import {
  createBlock,
  dispatch,
  encodeReply,
  type HeaderMap,
  natsTransport,
  type RequestEnvelope,
  reply,
} from "../../../components/rpc/mod.ts";

t.test("envelope headers read, iterate and change like Headers", (t) => {
  const maps: HeaderMap[] = [
    { accept: "application/cbor", "X-Tag": " a ", "x-tag": "b\t", "Content-Type": "text/plain" },
    {},
    { "set-cookie": "a=1" },
  ];
  for (const map of maps) {
    const real = new Headers(map);
    const view = new EnvelopeHeaders(map);
    for (const name of ["accept", "ACCEPT", "x-tag", "content-type", "missing", "set-cookie"]) {
      t.equal(view.get(name), real.get(name), `get(${name}) of ${JSON.stringify(map)}`);
      t.equal(view.has(name), real.has(name), `has(${name}) of ${JSON.stringify(map)}`);
    }
    t.same([...view], [...real], "iterates like Headers");
    const seen: string[] = [];
    view.forEach((value, key, parent) => {
      t.equal(parent, view);
      seen.push(`${key}=${value}`);
    });
    t.same(
      seen,
      [...real].map(([k, v]) => `${k}=${v}`),
    );
    view.set("accept", "text/html");
    view.append("x-new", "1");
    t.equal(view.get("accept"), "text/html", "a write is seen by later reads");
    t.equal(view.get("x-new"), "1");
    t.not(map.accept, "text/html", "the envelope's map is not changed");
  }
  t.end();
});

t.test("header values are trimmed as Headers trims them, in time linear in their length", (t) => {
  for (const value of [" a ", "\t\r\n a b \n", "", "   ", "x", " \t", "a\u00a0", "\u00a0a "])
    t.equal(
      trimHttpWhitespace(value),
      new Headers({ v: value }).get("v") ?? "",
      JSON.stringify(value),
    );
  // A megabyte of whitespace that does not end the value: the old regex needed about 10^12 steps.
  const hostile = `${" ".repeat(1_000_000)}x${" ".repeat(1_000_000)}`;
  t.equal(new EnvelopeHeaders({ v: hostile }).get("v"), "x");
  t.equal(trimHttpWhitespace(`a${" ".repeat(1_000_000)}b`), `a${" ".repeat(1_000_000)}b`);
  t.end();
});

const ping: RequestEnvelope = {
  method: "GET",
  path: "/ping",
  headers: { accept: cbor.contentType },
};

function app() {
  return createBlock()
    .get("/ping", (c) => reply(c, { pong: true }))
    .get("/later", async (c) => {
      await new Promise((r) => setTimeout(r, 1));
      return reply(c, { later: true });
    })
    .get("/boom", () => {
      throw new Error("kaboom");
    });
}

t.test("a synchronous answer is the same envelope dispatch resolves to", async (t) => {
  const block = app();
  const now = dispatchNow(block, ping);
  t.notOk(now instanceof Promise, "a plain handler's reply() is answered without a promise");
  t.same(now, await dispatch(block, ping));
  t.same(cbor.decode((now as { body: Uint8Array }).body), { pong: true });

  const later = dispatchNow(block, { ...ping, path: "/later" });
  t.ok(later instanceof Promise, "an async handler still gets a promise");
  t.same(cbor.decode((await later).body!), { later: true });

  const boom = dispatchNow(block, { ...ping, path: "/boom" });
  t.notOk(boom instanceof Promise);
  t.equal((boom as { status: number }).status, 500);
  t.same(cbor.decode((boom as { body: Uint8Array }).body), {
    errors: ["kaboom"],
    code: ErrorCode.INTERNAL,
  });

  const throwing = {
    fetch: (): Response => {
      throw new Error("not even a response");
    },
  };
  t.equal((dispatchNow(throwing, ping) as { status: number }).status, 500);
  t.equal((await dispatch(throwing, ping)).status, 500);
});

/** Just enough of a NatsConnection for natsTransport, with a scripted `request`. */
function fakeConnection(request: () => Promise<{ data: Uint8Array }>): NatsConnection {
  return {
    info: { max_payload: 1 << 20 },
    request,
    status: async function* () {},
  } as unknown as NatsConnection;
}

t.test("requests are made with stack capture off, and the setting is restored", async (t) => {
  const before = Error.stackTraceLimit;
  let during: number | undefined;
  const ok = fakeConnection(async () => {
    return { data: encodeReply({ status: 204, headers: {} }) };
  });
  const okTransport = natsTransport(
    {
      ...ok,
      request: (...args: unknown[]) => {
        during = Error.stackTraceLimit;
        return (ok.request as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    } as unknown as NatsConnection,
    "svc.ok",
  );
  t.equal((await okTransport.send(ping, 1000)).status, 204);
  t.equal(during, 0, "nats.js made its request Errors without stacks");
  t.equal(Error.stackTraceLimit, before, "restored after a request");

  const throwsAtOnce = natsTransport(
    fakeConnection(() => {
      throw new natsErrors.ClosedConnectionError();
    }),
    "svc.closed",
  );
  await t.rejects(throwsAtOnce.send(ping, 1000), { code: ErrorCode.UNAVAILABLE });
  t.equal(Error.stackTraceLimit, before, "restored when the request throws");

  const timesOut = natsTransport(
    fakeConnection(() => Promise.reject(new natsErrors.TimeoutError())),
    "svc.slow",
  );
  const error = await timesOut.send(ping, 50).catch((e: unknown) => e);
  t.ok(error instanceof TimeoutError);
  t.match((error as Error).message, /no reply from svc\.slow within 50 ms/);
  t.ok(
    ((error as Error).stack ?? "").split("\n").length > 1,
    "the error the caller sees still has a stack",
  );
});
