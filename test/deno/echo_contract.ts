/**
 * What every transport must do with the echo block, checked the same way over NATS, HTTP and
 * in-process: typed bodies both ways (CBOR and JSON), path and query encoding, and error codes
 * that come back as typed errors.
 */
import assert from "node:assert/strict";
import {
  ErrorCode,
  FlotillaError,
  fromWire,
  json,
  NotFoundError,
  StaleLeaderError,
} from "../../components/core/mod.ts";
import {
  createClient,
  fencingHeaders,
  RpcResponse,
  send,
  type Transport,
  unwrap,
} from "../../components/rpc/mod.ts";
import type { EchoBlock } from "../support/echo_block.ts";

/** Asserts that `pending` rejects with a FlotillaError of `code` whose message matches. */
export async function assertRejectsWith(
  pending: Promise<unknown>,
  code: ErrorCode,
  message: RegExp,
): Promise<FlotillaError> {
  let caught: unknown;
  try {
    await pending;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof FlotillaError, `expected a FlotillaError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  return caught;
}

export async function checkEchoContract(transport: Transport): Promise<void> {
  const client = createClient<EchoBlock>(transport);

  assert.deepEqual(await unwrap(client.ping.$get()), { pong: true });

  // CBOR body in, CBOR body out, with the status the route chose.
  const created = await client.items.$post({ json: { id: "a", name: "first", tags: ["x"] } });
  assert.equal(created.status, 201);
  assert.deepEqual(await unwrap(created), { id: "a", name: "first", tags: ["x"] });
  assert.deepEqual(await unwrap(client.items[":id"].$get({ param: { id: "a" } })), {
    id: "a",
    name: "first",
    tags: ["x"],
  });

  // A JSON-bodied caller reaches the same route; validation fills the default.
  const jsonClient = createClient<EchoBlock>(transport, { codec: json });
  assert.deepEqual(await unwrap(jsonClient.items.$post({ json: { id: "b", name: "second" } })), {
    id: "b",
    name: "second",
    tags: [],
  });

  // Path parameters are encoded and decoded, not split on '/'.
  const odd = "a b/c?d";
  await unwrap(client.items.$post({ json: { id: odd, name: "odd" } }));
  assert.equal((await unwrap(client.items[":id"].$get({ param: { id: odd } }))).id, odd);

  // Query strings reach the validator; byte strings come back as bytes.
  const { data } = await unwrap(client.bytes.$get({ query: { size: "5" } }));
  assert.ok(data instanceof Uint8Array);
  assert.equal(data.byteLength, 5);

  assert.equal(await (await client.text.$get()).text(), "plain words");

  const missing = await assertRejectsWith(
    unwrap(client.items[":id"].$get({ param: { id: "zz" } })),
    ErrorCode.NOT_FOUND,
    /no item zz/,
  );
  assert.ok(missing instanceof NotFoundError);
  assert.equal(missing.status, 404);

  const invalid = await assertRejectsWith(
    // Deliberately ill-typed: the server's validation must catch it.
    unwrap(client.items.$post({ json: { id: 3 } as unknown as { id: string; name: string } })),
    ErrorCode.BAD_REQUEST,
    /invalid request body: 'id': .*'name': /,
  );
  assert.equal(invalid.status, 400);

  const internal = await assertRejectsWith(
    unwrap(client.boom.$get()),
    ErrorCode.INTERNAL,
    /kaboom/,
  );
  assert.equal(internal.status, 500);
  assert.equal(internal.retryable, false);

  const noRoute = new RpcResponse(
    await send(transport, { method: "GET", path: "/no/such/route", headers: {} }),
  );
  assert.equal(noRoute.status, 404);
  const noRouteError = fromWire(noRoute.status, await noRoute.json());
  assert.equal(noRouteError.code, ErrorCode.NOT_FOUND);
  assert.match(noRouteError.message, /no route for GET \/no\/such\/route/);

  // Fencing: the newest token wins, an older one is a typed STALE_LEADER.
  assert.deepEqual(await unwrap(client.fenced.$post(undefined, { headers: fencingHeaders(5) })), {
    accepted: 5,
  });
  const stale = await assertRejectsWith(
    unwrap(client.fenced.$post(undefined, { headers: fencingHeaders(4) })),
    ErrorCode.STALE_LEADER,
    /fencing token 4 is older than the current leader's 5/,
  );
  assert.ok(stale instanceof StaleLeaderError);
  assert.equal(stale.status, 409);
}
