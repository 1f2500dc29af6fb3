/**
 * A small block used by the rpc tests and benchmark: enough routes to exercise bodies, params,
 * queries, validation, large replies, slow handlers, fencing and thrown errors.
 */
import { z } from "zod";
import { ErrorCode, FlotillaError } from "../../components/core/mod.ts";
import {
  body,
  createBlock,
  FencingTokens,
  fencing,
  params,
  query,
  reply,
} from "../../components/rpc/mod.ts";

export function echoBlock(tokens = new FencingTokens()) {
  const items = new Map<string, { id: string; name: string; tags: string[] }>();
  let calls = 0;
  const app = createBlock()
    .get("/ping", (c) => {
      calls++;
      return reply(c, { pong: true });
    })
    .get("/calls", (c) => reply(c, { calls }))
    .post(
      "/items",
      body(
        z.strictObject({
          id: z.string().min(1),
          name: z.string(),
          tags: z.array(z.string()).default([]),
        }),
      ),
      (c) => {
        calls++;
        const item = c.req.valid("json");
        items.set(item.id, item);
        return reply(c, item, 201);
      },
    )
    .get("/items/:id", params(z.object({ id: z.string() })), (c) => {
      calls++;
      const item = items.get(c.req.valid("param").id);
      if (!item) throw new FlotillaError(ErrorCode.NOT_FOUND, `no item ${c.req.valid("param").id}`);
      return reply(c, item);
    })
    .get("/bytes", query(z.object({ size: z.coerce.number().int().min(0) })), (c) =>
      reply(c, { data: new Uint8Array(c.req.valid("query").size) }),
    )
    .get("/slow", query(z.object({ ms: z.coerce.number().int().min(0) })), async (c) => {
      await new Promise((r) => setTimeout(r, c.req.valid("query").ms));
      calls++;
      return reply(c, { slept: c.req.valid("query").ms });
    })
    .post("/fenced", fencing(tokens), (c) =>
      reply(c, { accepted: Number(c.req.header("flotilla-fencing-token")) }),
    )
    .get("/boom", (c) => {
      if (c.req.query("safe") === "yes") return reply(c, { safe: true });
      throw new Error("kaboom");
    })
    .get("/text", (c) => c.text("plain words"));
  return app;
}

export type EchoBlock = ReturnType<typeof echoBlock>;
