/**
 * A building block in thirty lines: a Hono app with a validated route, served in-process and
 * called through the typed client, exactly as blocks will call each other over NATS.
 * Run it with `npm start`.
 */
import { z } from "zod";
import {
  body,
  createBlock,
  createClient,
  localTransport,
  reply,
  unwrap,
} from "../components/rpc/mod.ts";

const slots = new Map<string, { tm: string; slots: number }>();

const registry = createBlock()
  .post(
    "/taskmanagers",
    body(z.strictObject({ tm: z.string(), slots: z.number().int().min(1) })),
    (c) => {
      const registration = c.req.valid("json");
      slots.set(registration.tm, registration);
      return reply(
        c,
        {
          registered: registration.tm,
          totalSlots: [...slots.values()].reduce((n, r) => n + r.slots, 0),
        },
        201,
      );
    },
  )
  .get("/overview", (c) =>
    reply(c, {
      taskmanagers: slots.size,
      slots: [...slots.values()].reduce((n, r) => n + r.slots, 0),
    }),
  );

const client = createClient<typeof registry>(localTransport(registry));

for (const tm of ["tm-a", "tm-b"]) {
  console.log(await unwrap(client.taskmanagers.$post({ json: { tm, slots: 2 } })));
}
console.log(await unwrap(client.overview.$get()));
const rejected = await unwrap(client.taskmanagers.$post({ json: { tm: "tm-c", slots: 0 } })).catch(
  (e) => e,
);
console.log(`rejected: ${rejected.code}: ${rejected.message}`);
