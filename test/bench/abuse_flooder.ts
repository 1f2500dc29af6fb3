/**
 * The hostile client of `npm run bench -- abuse`, in a process of its own so its work does not
 * slow the benchmark's own client: as a compromised TaskManager (the `taskmanager` NATS user) it
 * floods the ResourceManager's subject with garbage, absurd requirement counts, hostile CBOR and
 * made-up registrations; as an admin token holder it floods the REST API with unknown routes,
 * oversized and malformed bodies. On SIGTERM it prints what it sent as one JSON line.
 *
 *   FLOOD='{"nats":..., "seedFile":..., "inboxPrefix":..., "clusterId":..., "rest":..., "token":...}'
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { Encoder } from "cbor-x";
import { cbor, subjects } from "../../components/core/mod.ts";
import { encodeRequest } from "../../components/rpc/mod.ts";

interface FloodConfig {
  nats: string;
  seedFile: string;
  inboxPrefix: string;
  clusterId: string;
  rest: string;
  token: string;
}

const config = JSON.parse(process.env.FLOOD ?? "{}") as FloodConfig;
const sent = { natsGarbage: 0, natsRequests: 0, rest: 0 };
let stopping = false;
process.on("SIGTERM", () => {
  stopping = true;
});

const nc = await connect({
  servers: config.nats,
  authenticator: nkeyAuthenticator(
    new TextEncoder().encode(readFileSync(config.seedFile, "utf8").trim()),
  ),
  inboxPrefix: config.inboxPrefix,
});
const rm = subjects.resourceManager(config.clusterId);
const envelope = (method: string, path: string, body: Uint8Array) =>
  encodeRequest({ method, path, headers: { "content-type": "application/cbor" }, body });
const profile = { cpu: 1, memoryMb: 1, extended: {} };
const hostile = new Encoder({ useRecords: false, structuredClone: true });

/** One of the RM requests the flood rotates through. */
function rmRequest(i: number): Uint8Array {
  switch (i % 3) {
    case 0:
      return envelope(
        "PUT",
        `/jobs/${randomUUID().replaceAll("-", "")}/requirements`,
        cbor.encode({ jmSubject: rm, requirements: [{ profile, count: 1e9 }] }),
      );
    case 1:
      return envelope("POST", "/taskmanagers", hostile.encode({ tmId: "x", slots: new Set([1]) }));
    default: {
      const tmId = `tm-flood-${i}`;
      return envelope(
        "POST",
        "/taskmanagers",
        cbor.encode({
          tmId,
          subject: subjects.taskManager(config.clusterId, tmId),
          slots: [{ slotId: `${tmId}-0`, index: 0, profile, state: "free" }],
          totalResources: profile,
        }),
      );
    }
  }
}

async function natsFlood(): Promise<void> {
  const garbage = new Uint8Array([0xff, 0x00, 0x13, 0x37]);
  for (let i = 0; !stopping; i++) {
    for (let k = 0; k < 200; k++) nc.publish(rm, garbage);
    sent.natsGarbage += 200;
    await Promise.all(
      Array.from({ length: 8 }, (_, k) =>
        nc.request(rm, rmRequest(i * 8 + k), { timeout: 5000 }).catch(() => undefined),
      ),
    );
    sent.natsRequests += 8;
  }
}

async function restFlood(): Promise<void> {
  const auth = { authorization: `Bearer ${config.token}` };
  const big = JSON.stringify({ artifact: "0".repeat(64), savepoint: "x".repeat(2 << 20) });
  const calls = [
    () => fetch(`${config.rest}/no/such/route`, { headers: auth }),
    () =>
      fetch(`${config.rest}/jobs`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: big,
      }),
    () =>
      fetch(`${config.rest}/jobs`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: '{"artifact": [[[[[[',
      }),
    () =>
      fetch(`${config.rest}/jobs`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ artifact: "0".repeat(64) }),
      }),
  ];
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      for (let i = worker; !stopping; i += 8) {
        await calls[i % calls.length]!()
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
        sent.rest++;
      }
    }),
  );
}

const started = performance.now();
await Promise.all([natsFlood(), restFlood()]);
await nc.close();
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ ...sent, seconds })}\n`);
