/**
 * components/rpc under Deno without NATS: the echo block in-process (`localTransport`) and over
 * HTTP (`serveHttp`, which must use `Deno.serve` here, with `httpTransport`).
 */
import assert from "node:assert/strict";
import { ErrorCode } from "../../components/core/mod.ts";
import {
  createClient,
  httpTransport,
  localTransport,
  serveHttp,
  unwrap,
} from "../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../support/echo_block.ts";
import { assertRejectsWith, checkEchoContract } from "./echo_contract.ts";

Deno.test("in-process transport: the echo block's contract", async () => {
  await checkEchoContract(localTransport(echoBlock()));
});

/** Wraps `Deno.serve` for the duration of `fn`, counting how often it was called. */
async function countingDenoServe<T>(fn: (calls: () => number) => Promise<T>): Promise<T> {
  const original = Deno.serve;
  let count = 0;
  Object.defineProperty(Deno, "serve", {
    configurable: true,
    value: (...args: unknown[]) => {
      count++;
      return (original as (...a: unknown[]) => unknown)(...args);
    },
  });
  try {
    return await fn(() => count);
  } finally {
    Object.defineProperty(Deno, "serve", { configurable: true, value: original });
  }
}

Deno.test("HTTP transport: serveHttp uses Deno.serve and keeps the contract", async () => {
  await countingDenoServe(async (denoServeCalls) => {
    const server = await serveHttp(echoBlock());
    try {
      assert.equal(denoServeCalls(), 1, "serveHttp must use Deno.serve under Deno");
      assert.ok(server.port > 0);
      assert.equal(server.url, `http://127.0.0.1:${server.port}`);
      await checkEchoContract(httpTransport(server.url));
    } finally {
      await server.close();
    }
  });
});

Deno.test("HTTP transport: people get JSON, including errors", async () => {
  const server = await serveHttp(echoBlock());
  try {
    const created = await fetch(`${server.url}/items`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "j", name: "json" }),
    });
    assert.equal(created.status, 201);
    assert.match(created.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await created.json(), { id: "j", name: "json", tags: [] });

    const missing = await fetch(`${server.url}/items/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { errors: ["no item nope"], code: "NOT_FOUND" });

    const garbage = await fetch(`${server.url}/items`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(garbage.status, 400);
    const body = await garbage.json();
    assert.equal(body.code, "BAD_REQUEST");
    assert.match(body.errors[0], /malformed application\/json body/);
  } finally {
    await server.close();
  }
});

Deno.test("HTTP transport: a closed server is UNAVAILABLE, not a hang", async () => {
  const server = await serveHttp(echoBlock());
  const transport = httpTransport(server.url);
  assert.deepEqual(await unwrap(createClient<EchoBlock>(transport).ping.$get()), { pong: true });
  await server.close();
  // POST is not retried, so this is the first attempt's error.
  const client = createClient<EchoBlock>(transport, { timeoutMs: 2000 });
  await assertRejectsWith(
    unwrap(client.items.$post({ json: { id: "late", name: "late" } })),
    ErrorCode.UNAVAILABLE,
    /cannot reach http:\/\/127\.0\.0\.1:\d+\/items/,
  );
});
