/**
 * The attack suite's REST families, against any Dispatcher's HTTP endpoint (a process cluster or
 * a compose stack): oversized and malformed bodies, deep nesting, huge counts, hostile headers,
 * slow clients, floods of unknown routes. Each attack asserts the refusal a user would read
 * (status, code, a message naming the limit); the suite checks the cluster after each one.
 */
import { type Socket, connect as tcpConnect } from "node:net";
import type { Test } from "tap";

export interface Attack {
  family: string;
  name: string;
  run(t: Test): Promise<void>;
}

export interface RestTarget {
  /** `http://host:port` of the Dispatcher. */
  rest: string;
  adminToken: string;
  readToken: string;
  /** A job that runs through the attacks. */
  jobId: string;
}

export interface RestAnswer {
  status: number;
  body: { errors?: string[]; code?: string } & Record<string, unknown>;
}

type Who = "admin" | "read" | "stranger";

/** One HTTP call as `who`; the body is JSON unless it is bytes or a stream. */
export async function restCall(
  target: RestTarget,
  method: string,
  path: string,
  { who = "admin", body, headers = {} }: { who?: Who; body?: unknown; headers?: HeadersInit } = {},
): Promise<RestAnswer> {
  const auth: Record<string, string> =
    who === "stranger"
      ? {}
      : { authorization: `Bearer ${who === "admin" ? target.adminToken : target.readToken}` };
  const raw = body instanceof Uint8Array || body instanceof ReadableStream;
  const init: RequestInit & { duplex?: "half" } = {
    method,
    headers: {
      ...auth,
      ...(body !== undefined && !raw ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    signal: AbortSignal.timeout(30_000),
  };
  if (body !== undefined) {
    init.body = raw ? (body as BodyInit) : JSON.stringify(body);
    if (body instanceof ReadableStream) init.duplex = "half";
  }
  const res = await fetch(`${target.rest}${path}`, init);
  const text = await res.text();
  let parsed: RestAnswer["body"];
  try {
    parsed = JSON.parse(text) as RestAnswer["body"];
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

/** `megabytes` MiB of zeros, streamed in 64 KiB chunks; `sent()` says how much was pulled. */
export function zeros(megabytes: number): { stream: ReadableStream<Uint8Array>; sent(): number } {
  const chunk = new Uint8Array(64 * 1024);
  let left = megabytes * 16;
  let sent = 0;
  return {
    stream: new ReadableStream({
      pull(controller) {
        if (left-- <= 0) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
    sent: () => sent,
  };
}

/** A request whose stream the server refused early rejects on the client's side: either is fine. */
async function refusedUpload(target: RestTarget, path: string, who: Who, megabytes: number) {
  const upload = zeros(megabytes);
  const answer = await restCall(target, "POST", path, { who, body: upload.stream }).catch(
    (err: Error) => ({ status: 0, body: { errors: [err.message] } }) as RestAnswer,
  );
  return { answer, sent: upload.sent() };
}

/** Runs `count` calls, `concurrency` at a time; tallies their statuses. */
export async function flood(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<RestAnswer>,
): Promise<{ statuses: Map<number, number>; answers: RestAnswer[] }> {
  const answers: RestAnswer[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) answers[i] = await call(i);
    }),
  );
  const statuses = new Map<number, number>();
  for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
  return { statuses, answers };
}

/** The status line of a raw HTTP exchange (what `fetch` cannot send: oversized headers). */
function rawStatus(rest: string, request: string): Promise<string> {
  const url = new URL(rest);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(url.port), url.hostname);
    let got = "";
    socket.on("data", (data) => {
      got += data.toString("latin1");
      if (got.includes("\r\n")) {
        resolve(got.split("\r\n", 1)[0]!);
        socket.destroy();
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(got.split("\r\n", 1)[0] ?? ""));
    socket.write(request);
  });
}

function nested(depth: number): string {
  return `${"[".repeat(depth)}${"]".repeat(depth)}`;
}

export function restAttacks(target: RestTarget): Attack[] {
  const family = "REST";
  const submit = (body: unknown, who: Who = "admin") =>
    restCall(target, "POST", "/jobs", { who, body });
  return [
    {
      family,
      // The server discards what it does not read (at most 64 MiB or 500 ms, @hono/node-server).
      name: "a stranger's 64 MiB upload is refused 401, its body never read",
      async run(t) {
        const { answer } = await refusedUpload(target, "/artifacts", "stranger", 64);
        t.ok(
          answer.status === 401 || answer.status === 0,
          `401 or the connection closed early (got ${answer.status}: ${JSON.stringify(answer.body)})`,
        );
      },
    },
    {
      family,
      name: "a read token may not upload or submit (403)",
      async run(t) {
        const upload = await restCall(target, "POST", "/artifacts", {
          who: "read",
          body: new Uint8Array(16),
        });
        t.match(upload, { status: 403, body: { code: "FORBIDDEN" } });
        t.match(await submit({ artifact: "0".repeat(64) }, "read"), { status: 403 });
      },
    },
    {
      family,
      name: "a 64 MiB artifact is refused 413 before it is buffered",
      async run(t) {
        const { answer, sent } = await refusedUpload(target, "/artifacts", "admin", 64);
        t.ok(
          answer.status === 413 || answer.status === 0,
          `413 or the connection closed early (got ${answer.status})`,
        );
        if (answer.status === 413)
          t.match(answer.body, { code: "PAYLOAD_TOO_LARGE", errors: [/bytes/] });
        t.ok(sent < 64 * 1024 * 1024, `only ${sent} of 64 MiB was pulled from the client`);
      },
    },
    {
      family,
      name: "a 4 MiB JSON submission is refused 413",
      async run(t) {
        const answer = await submit({ artifact: "0".repeat(64), savepoint: "x".repeat(4 << 20) });
        t.match(answer, { status: 413, body: { code: "PAYLOAD_TOO_LARGE" } });
      },
    },
    {
      family,
      name: "JSON nested 100,000 deep is refused 400 naming the depth",
      async run(t) {
        const answer = await restCall(target, "POST", "/jobs", {
          body: new TextEncoder().encode(`{"artifact":${nested(100_000)}}`),
          headers: { "content-type": "application/json" },
        });
        t.match(answer, { status: 400, body: { errors: [/deeper|depth/] } });
      },
    },
    {
      family,
      name: "300 job arguments, a 2 KiB argument name: 400 naming the bound",
      async run(t) {
        const args = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`a${i}`, "v"]));
        t.match(await submit({ artifact: "0".repeat(64), args }), {
          status: 400,
          body: { errors: [/at most 256 job arguments/] },
        });
        t.match(await submit({ artifact: "0".repeat(64), args: { ["k".repeat(2048)]: "v" } }), {
          status: 400,
        });
      },
    },
    {
      family,
      name: "malformed JSON, a body that is not JSON or CBOR, an empty body: 400 each",
      async run(t) {
        const bad = (body: Uint8Array, type: string) =>
          restCall(target, "POST", "/jobs", { body, headers: { "content-type": type } });
        const bytes = new TextEncoder().encode('{"artifact": ');
        t.match(await bad(bytes, "application/json"), { status: 400, body: { code: /BAD/ } });
        t.match(await bad(bytes, "text/plain"), {
          status: 400,
          body: { errors: [/content type/] },
        });
        t.match(await bad(new Uint8Array(0), "application/json"), { status: 400 });
      },
    },
    {
      family,
      name: "a 1 MiB header is refused 431; 1 MiB of whitespace before a value is skipped",
      async run(t) {
        const get = (value: string) =>
          rawStatus(target.rest, `GET /overview HTTP/1.1\r\nHost: x\r\nX-Big: ${value}\r\n\r\n`);
        t.match(await get("a".repeat(1 << 20)), /^HTTP\/1\.1 431/);
        // Node's parser skips leading whitespace as it streams, unbuffered and uncounted: the
        // request is answered (401: no token), the header timeout bounds how long it may take.
        t.match(await get(`${" ".repeat(1 << 20)}x`), /^HTTP\/1\.1 401/);
      },
    },
    {
      family,
      name: "15,000 spaces around a bearer token are trimmed, not choked on",
      async run(t) {
        const pad = " ".repeat(15_000);
        const answer = await restCall(target, "GET", "/overview", {
          who: "stranger",
          headers: { authorization: `Bearer ${target.adminToken}${pad}` },
        });
        t.ok([200, 400, 401].includes(answer.status), `answered ${answer.status}`);
      },
    },
    {
      family,
      name: "rescaling to 1e9 slots or a negative bound is refused 400",
      async run(t) {
        const path = `/jobs/${target.jobId}/resource-requirements`;
        const put = (upperBound: number, lowerBound = 1) =>
          restCall(target, "PUT", path, {
            body: { "check sequences": { parallelism: { lowerBound, upperBound } } },
          });
        t.match(await put(1e9), { status: 400 });
        t.match(await put(4, -1), { status: 400 });
      },
    },
    {
      family,
      name: "a 10,000-character job id, an unknown one and an unknown cancel mode",
      async run(t) {
        t.match(await restCall(target, "GET", `/jobs/${"a".repeat(10_000)}`), { status: 400 });
        t.match(await restCall(target, "GET", `/jobs/${"0".repeat(32)}`), { status: 404 });
        t.match(await restCall(target, "PATCH", `/jobs/${target.jobId}?mode=annihilate`), {
          status: 400,
        });
      },
    },
    {
      family,
      name: "2,000 calls to routes that do not exist: 404 each",
      async run(t) {
        const { statuses } = await flood(2000, 50, (i) =>
          restCall(target, "GET", `/no/such/route/${i}`),
        );
        t.same([...statuses], [[404, 2000]]);
      },
    },
    {
      family,
      name: "300 slow clients that never finish their headers do not stop the API",
      async run(t) {
        const url = new URL(target.rest);
        const sockets: Socket[] = [];
        for (let i = 0; i < 300; i++) {
          const socket = tcpConnect(Number(url.port), url.hostname);
          socket.on("error", () => {});
          socket.write("GET /overview HTTP/1.1\r\nHost: x\r\nX-Slow: ");
          sockets.push(socket);
        }
        try {
          const answer = await restCall(target, "GET", "/overview");
          t.equal(answer.status, 200, "the API answered with 300 connections hanging");
        } finally {
          for (const socket of sockets) socket.destroy();
        }
      },
    },
  ];
}
