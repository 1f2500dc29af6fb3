import t from "tap";
import { cbor } from "../../../components/core/mod.ts";
import { echoBlock } from "../../support/echo_block.ts";

// Every route of a block is testable with app.request, before any NATS exists.
const app = echoBlock();

t.test("JSON in, JSON out for people", async (t) => {
  const res = await app.request("/items", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "a", name: "Alpha" }),
  });
  t.equal(res.status, 201);
  t.match(res.headers.get("content-type"), /application\/json/);
  t.same(await res.json(), { id: "a", name: "Alpha", tags: [] });
});

t.test("CBOR in, CBOR out when the caller accepts it", async (t) => {
  const res = await app.request("/items", {
    method: "POST",
    headers: { "content-type": "application/cbor", accept: "application/cbor" },
    body: cbor.encode({ id: "b", name: "Beta", tags: ["x"] }) as BodyInit,
  });
  t.equal(res.status, 201);
  t.equal(res.headers.get("content-type"), "application/cbor");
  t.same(cbor.decode(new Uint8Array(await res.arrayBuffer())), {
    id: "b",
    name: "Beta",
    tags: ["x"],
  });
});

const errorCases: [string, RequestInit & { path?: string }, number, string, RegExp][] = [
  [
    "malformed JSON",
    { body: "{nope", headers: { "content-type": "application/json" } },
    400,
    "BAD_REQUEST",
    /malformed application\/json body/,
  ],
  [
    "unknown field",
    {
      body: JSON.stringify({ id: "c", name: "C", extra: 1 }),
      headers: { "content-type": "application/json" },
    },
    400,
    "BAD_REQUEST",
    /extra/,
  ],
  [
    "wrong type",
    { body: JSON.stringify({ id: 5, name: "C" }), headers: { "content-type": "application/json" } },
    400,
    "BAD_REQUEST",
    /'id'.*expected string/,
  ],
  [
    "empty body",
    { headers: { "content-type": "application/json" } },
    400,
    "BAD_REQUEST",
    /body is empty/,
  ],
  [
    "unsupported content type",
    { body: "id=c", headers: { "content-type": "text/plain" } },
    400,
    "BAD_REQUEST",
    /unsupported content type "text\/plain"/,
  ],
];

for (const [name, init, status, code, message] of errorCases) {
  t.test(`bad input: ${name} -> ${status} ${code}, handler not run`, async (t) => {
    const before = (await (await app.request("/calls")).json()).calls;
    const res = await app.request("/items", { method: "POST", ...init });
    t.equal(res.status, status);
    const body = await res.json();
    t.equal(body.code, code);
    t.match(body.errors[0], message);
    t.equal((await (await app.request("/calls")).json()).calls, before, "no state change");
  });
}

t.test("unknown route -> 404 NOT_FOUND naming method and path", async (t) => {
  const res = await app.request("/nowhere", { method: "DELETE" });
  t.equal(res.status, 404);
  t.same(await res.json(), { errors: ["no route for DELETE /nowhere"], code: "NOT_FOUND" });
});

t.test("a thrown error -> 500 INTERNAL, and the app keeps serving", async (t) => {
  const res = await app.request("/boom");
  t.equal(res.status, 500);
  t.same(await res.json(), { errors: ["kaboom"], code: "INTERNAL" });
  t.equal((await app.request("/ping")).status, 200);
});

t.test("typed errors keep their status and code", async (t) => {
  const res = await app.request("/items/missing");
  t.equal(res.status, 404);
  t.same(await res.json(), { errors: ["no item missing"], code: "NOT_FOUND" });
});
