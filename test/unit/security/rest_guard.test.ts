import { Hono } from "hono";
import t, { type Test } from "tap";
import type { FetchApp } from "../../../components/rpc/mod.ts";
import {
  generateToken,
  guardRest,
  type RestGuardOptions,
} from "../../../components/security/mod.ts";

const ADMIN = generateToken();
const ADMIN_NEXT = generateToken();
const READ = generateToken();
const TOKENS = { admin: [ADMIN], read: [READ] };

/** A REST app shaped like the Dispatcher's, recording which routes were reached. */
function innerApp() {
  const reached: string[] = [];
  const app = new Hono()
    .get("/healthz", (c) => {
      reached.push("GET /healthz");
      return c.text("ok");
    })
    .get("/jobs", (c) => {
      reached.push("GET /jobs");
      return c.json({ jobs: [] });
    })
    .post("/jobs", async (c) => {
      reached.push("POST /jobs");
      return c.json({ received: await c.req.json() }, 201);
    })
    .post("/artifacts", async (c) => {
      reached.push("POST /artifacts");
      return c.body(await c.req.arrayBuffer(), 201);
    })
    .patch("/jobs/:id", (c) => {
      reached.push(`PATCH /jobs/${c.req.param("id")}`);
      return c.json({ canceled: c.req.param("id") }, 202);
    });
  return { app, reached };
}

interface Call {
  token?: string;
  authorization?: string;
  body?: BodyInit;
  headers?: Record<string, string>;
}

function caller(app: FetchApp) {
  return (
    method: string,
    path: string,
    { token, authorization, body, headers = {} }: Call = {},
  ) => {
    const all = new Headers(headers);
    if (token !== undefined) all.set("authorization", `Bearer ${token}`);
    if (authorization !== undefined) all.set("authorization", authorization);
    return app.fetch(
      new Request(`http://x${path}`, { method, headers: all, ...(body ? { body } : {}) }),
    );
  };
}

function guarded(options: RestGuardOptions) {
  const { app, reached } = innerApp();
  return { call: caller(guardRest(app, options)), reached };
}

/** `res` is the gate's refusal: `status`, `{errors: [one message], code}` as JSON. */
async function refused(t: Test, res: Response, status: number, code: string): Promise<string> {
  t.equal(res.status, status, `status ${status}`);
  t.match(res.headers.get("content-type"), /^application\/json/);
  const body = (await res.json()) as { errors: unknown; code: unknown };
  t.equal(body.code, code);
  t.ok(Array.isArray(body.errors) && body.errors.length === 1, "one message in errors");
  const [message] = body.errors as unknown[];
  t.type(message, "string");
  return String(message);
}

t.test("/healthz is open without a token", async (t) => {
  const { call, reached } = guarded({ tokens: TOKENS });
  const res = await call("GET", "/healthz");
  t.equal(res.status, 200);
  t.equal(await res.text(), "ok");
  t.same(reached, ["GET /healthz"]);
});

t.test("no Authorization header: 401 UNAUTHORIZED with a Bearer challenge", async (t) => {
  const { call, reached } = guarded({ tokens: TOKENS });
  for (const [method, path] of [
    ["GET", "/jobs"],
    ["POST", "/jobs"],
    ["PATCH", "/jobs/j1"],
    ["GET", "/nowhere"],
  ] as const) {
    const res = await call(method, path);
    t.match(res.headers.get("www-authenticate"), /^Bearer /, `${method} ${path} challenges`);
    const message = await refused(t, res, 401, "UNAUTHORIZED");
    t.match(message, /Authorization: Bearer/, "says what to send");
  }
  t.same(reached, [], "the inner app was never reached");
});

t.test("a wrong token: 401 UNAUTHORIZED", async (t) => {
  const { call, reached } = guarded({ tokens: TOKENS });
  for (const token of [generateToken(), `${ADMIN}x`, ADMIN.slice(0, -1), ADMIN.toLowerCase()]) {
    if (token === ADMIN) continue;
    const res = await call("GET", "/jobs", { token });
    t.match(res.headers.get("www-authenticate"), /invalid_token/);
    const message = await refused(t, res, 401, "UNAUTHORIZED");
    t.notOk(message.includes(token), "the token is not echoed");
  }
  t.same(reached, []);
});

t.test("a malformed Authorization header: 400 BAD_REQUEST", async (t) => {
  const { call, reached } = guarded({ tokens: TOKENS });
  for (const authorization of [
    "Basic abc",
    "Bearer",
    "Bearer ",
    `Token ${ADMIN}`,
    `Bearer ${ADMIN} extra`,
    'Bearer "quoted"',
  ]) {
    const res = await call("GET", "/jobs", { authorization });
    const message = await refused(t, res, 400, "BAD_REQUEST");
    t.match(message, /Bearer <token>/, `${JSON.stringify(authorization)} told the right form`);
  }
  t.same(reached, []);
});

t.test("a read token may GET, not change anything", async (t) => {
  const { call, reached } = guarded({ tokens: TOKENS });
  const res = await call("GET", "/jobs", { token: READ });
  t.equal(res.status, 200);
  t.same(await res.json(), { jobs: [] });
  t.equal((await call("HEAD", "/jobs", { token: READ })).status, 200, "HEAD is a read");

  for (const [method, path] of [
    ["POST", "/jobs"],
    ["POST", "/artifacts"],
    ["PATCH", "/jobs/j1"],
    ["DELETE", "/jobs/j1"],
  ] as const) {
    const res = await call(method, path, {
      token: READ,
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    const message = await refused(t, res, 403, "FORBIDDEN");
    t.match(message, new RegExp(`${method} ${path}.*admin token`));
  }
  t.same(reached, ["GET /jobs", "GET /jobs"], "only the reads got through");
});

t.test("an admin token may do everything; several admin tokens (rotation) all work", async (t) => {
  const { call, reached } = guarded({ tokens: { admin: [ADMIN, ADMIN_NEXT], read: [READ] } });
  for (const token of [ADMIN, ADMIN_NEXT]) {
    t.equal((await call("GET", "/jobs", { token })).status, 200);
    t.equal(
      (
        await call("POST", "/jobs", {
          token,
          body: "{}",
          headers: { "content-type": "application/json" },
        })
      ).status,
      201,
    );
    t.equal((await call("POST", "/artifacts", { token, body: "x" })).status, 201);
    t.equal((await call("PATCH", "/jobs/j1", { token })).status, 202);
  }
  t.equal(reached.length, 8, "every call reached the inner app");
  // The scheme is case-insensitive (RFC 7235).
  t.equal((await call("GET", "/jobs", { authorization: `bearer ${ADMIN}` })).status, 200);
});

t.test("a token listed as both read and admin counts as admin", async (t) => {
  const { call } = guarded({ tokens: { admin: [ADMIN], read: [ADMIN, READ] } });
  t.equal((await call("PATCH", "/jobs/j1", { token: ADMIN })).status, 202);
});

t.test("admin tokens only, no read list: a stranger is still 401", async (t) => {
  const { call } = guarded({ tokens: { admin: [ADMIN] } });
  await refused(t, await call("GET", "/jobs", { token: READ }), 401, "UNAUTHORIZED");
  t.equal((await call("GET", "/jobs", { token: ADMIN })).status, 200);
});

t.test("the request body reaches the inner app unchanged", async (t) => {
  const { call } = guarded({ tokens: TOKENS });
  const job = {
    name: "wordcount",
    parallelism: 3,
    args: ["--in", "ünïcødé ✓"],
    nested: { a: [1] },
  };
  const res = await call("POST", "/jobs", {
    token: ADMIN,
    body: JSON.stringify(job),
    headers: { "content-type": "application/json" },
  });
  t.equal(res.status, 201);
  t.same(await res.json(), { received: job });

  const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
  const upload = await call("POST", "/artifacts", { token: ADMIN, body: bytes });
  t.equal(upload.status, 201);
  t.same(new Uint8Array(await upload.arrayBuffer()), bytes, "binary upload byte for byte");
});

t.test("submit: false refuses uploads and submissions whatever the token", async (t) => {
  const { call, reached } = guarded({ tokens: TOKENS, submit: false });
  for (const path of ["/jobs", "/artifacts"]) {
    const res = await call("POST", path, {
      token: ADMIN,
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    const message = await refused(t, res, 403, "FORBIDDEN");
    t.match(message, /web\.submit\.enable: false/);
  }
  // Authentication still comes first: a caller without a token learns nothing more.
  await refused(t, await call("POST", "/jobs"), 401, "UNAUTHORIZED");
  t.equal((await call("PATCH", "/jobs/j1", { token: ADMIN })).status, 202, "cancel still works");
  t.equal((await call("GET", "/jobs", { token: READ })).status, 200, "listing still works");
  t.same(reached, ["PATCH /jobs/j1", "GET /jobs"]);
});

t.test("submit: false cannot be dodged by spelling the path differently", async (t) => {
  const { call, reached } = guarded({ submit: false });
  for (const path of [
    "/jobs?x=1",
    "/%6Aobs",
    "/./jobs",
    "/x/../jobs",
    "/jobs/",
    "//jobs",
    "/JOBS",
    "/%61rtifacts",
  ]) {
    const res = await call("POST", path, {
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    t.ok([403, 404].includes(res.status), `${path}: ${res.status}`);
  }
  t.same(reached, [], "no spelling reached a submission route");
});

t.test("without tokens (authentication none) everything passes", async (t) => {
  const { call, reached } = guarded({});
  t.equal((await call("GET", "/jobs")).status, 200);
  const res = await call("POST", "/jobs", {
    body: '{"a":1}',
    headers: { "content-type": "application/json" },
  });
  t.equal(res.status, 201);
  t.same(await res.json(), { received: { a: 1 } });
  t.equal((await call("POST", "/artifacts", { body: "x" })).status, 201);
  t.equal((await call("PATCH", "/jobs/j1")).status, 202);
  t.equal(
    (await call("GET", "/jobs", { authorization: "Basic abc" })).status,
    200,
    "an Authorization header is not looked at",
  );
  t.same(reached, ["GET /jobs", "POST /jobs", "POST /artifacts", "PATCH /jobs/j1", "GET /jobs"]);
});

t.test("without tokens, submit: false still refuses submissions", async (t) => {
  const { call, reached } = guarded({ submit: false });
  await refused(t, await call("POST", "/jobs", { body: "{}" }), 403, "FORBIDDEN");
  await refused(t, await call("POST", "/artifacts", { body: "x" }), 403, "FORBIDDEN");
  t.equal((await call("PATCH", "/jobs/j1")).status, 202);
  t.equal((await call("GET", "/jobs")).status, 200);
  t.same(reached, ["PATCH /jobs/j1", "GET /jobs"]);
});

t.test("guardRest with no admin token throws", (t) => {
  const { app } = innerApp();
  t.throws(() => guardRest(app, { tokens: { admin: [] } }), /at least one admin token/);
  t.throws(() => guardRest(app, { tokens: { admin: [], read: [READ] } }), /admin token/);
  t.end();
});
