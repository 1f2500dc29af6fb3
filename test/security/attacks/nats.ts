/**
 * The attack suite's NATS families, as a compromised TaskManager (the `taskmanager` user, which
 * may publish to the ResourceManager and JobManagers), job code (the `job` user) and the CLI's
 * user: garbage, oversized and hostile frames, huge counts, floods of made-up registrations,
 * forged reports, leases, job records and fencing tokens. What its permissions already forbid
 * is refused by nats-server; what they allow is refused or absorbed by the block.
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { Encoder, Tag } from "cbor-x";
import {
  cbor,
  codecFor,
  jobKey,
  KeyPrefix,
  kvBucketName,
  leaderKey,
  newJobId,
  subjects,
  TaskState,
} from "../../../components/core/mod.ts";
import {
  decodeReply,
  encodeReply,
  encodeRequest,
  type HeaderMap,
} from "../../../components/rpc/mod.ts";
import type { Attack } from "./rest.ts";

export interface NatsTarget {
  clusterId: string;
  /** A job that runs until canceled, and a TaskManager's subject. */
  jobId: string;
  tmSubject: string;
  /** Connections as each user; the suite closes them. */
  taskManager: NatsConnection;
  job: NatsConnection;
  cli: NatsConnection;
}

interface Answer {
  status: number;
  code?: string;
  errors?: string[];
}

/** A raw request's outcome: the decoded reply, or the error (a refusal by nats-server). */
async function ask(
  nc: NatsConnection,
  subject: string,
  bytes: Uint8Array,
): Promise<Answer | Error> {
  try {
    const reply = decodeReply((await nc.request(subject, bytes, { timeout: 5000 })).data);
    const codec = codecFor(reply.headers["content-type"]) ?? cbor;
    const body = reply.body?.byteLength ? (codec.decode(reply.body) as Partial<Answer>) : {};
    return { ...body, status: reply.status };
  } catch (err) {
    return err as Error;
  }
}

const CBOR_HEADERS: HeaderMap = { "content-type": "application/cbor" };

function envelope(method: string, path: string, body?: unknown, headers = CBOR_HEADERS) {
  return encodeRequest({
    method,
    path,
    headers,
    ...(body === undefined ? {} : { body: body instanceof Uint8Array ? body : cbor.encode(body) }),
  });
}

/** A registration body as a TaskManager sends it, with `slots` slots. */
function registration(tmId: string, clusterId: string, slots: number) {
  const profile = { cpu: 1, memoryMb: 256, extended: {} };
  return {
    tmId,
    subject: subjects.taskManager(clusterId, tmId),
    slots: Array.from({ length: slots }, (_, index) => ({
      slotId: `${tmId}-${index}`,
      index,
      profile,
      state: "free",
    })),
    totalResources: { cpu: slots, memoryMb: 256 * slots, extended: {} },
  };
}

/** Registers `count` made-up TaskManagers `prefix-<i>` of 16 slots, `atOnce` at a time. */
async function registerMany(
  nc: NatsConnection,
  rm: string,
  clusterId: string,
  prefix: string,
  count: number,
  atOnce = 100,
): Promise<(Answer | Error)[]> {
  const answers: (Answer | Error)[] = [];
  for (let at = 0; at < count; at += atOnce) {
    const batch = Array.from(
      { length: Math.min(atOnce, count - at) },
      (_, i) => `${prefix}-${at + i}`,
    );
    answers.push(
      ...(await Promise.all(
        batch.map((id) =>
          ask(nc, rm, envelope("POST", "/taskmanagers", registration(id, clusterId, 16))),
        ),
      )),
    );
  }
  return answers;
}

const PERMISSION = /Permissions Violation|permission|no responders|timeout/i;

export function natsAttacks(target: NatsTarget): Attack[] {
  const rm = subjects.resourceManager(target.clusterId);
  const jm = subjects.jobManager(target.clusterId, target.jobId);
  const tm = target.taskManager;
  const family = "NATS";
  return [
    {
      family,
      name: "10,000 garbage frames on the ResourceManager's subject: BAD_ENVELOPE, still serving",
      async run(t) {
        const garbage = new Uint8Array([0xff, 0x00, 0x13, 0x37]);
        for (let i = 0; i < 9_000; i++) tm.publish(rm, garbage);
        const answers = await Promise.all(Array.from({ length: 1000 }, () => ask(tm, rm, garbage)));
        t.equal(
          answers.filter((a) => !(a instanceof Error) && a.code === "BAD_ENVELOPE").length,
          1000,
          "every garbage request is answered BAD_ENVELOPE",
        );
        t.match(await ask(tm, rm, envelope("GET", "/overview")), { status: 200 });
      },
    },
    {
      family,
      name: "an envelope with 10,000 headers, or a 16 KiB path: BAD_ENVELOPE naming the bound",
      async run(t) {
        const headers = Object.fromEntries(
          Array.from({ length: 10_000 }, (_, i) => [`h${i}`, "v"]),
        );
        t.match(await ask(tm, rm, envelope("GET", "/overview", undefined, headers)), {
          code: "BAD_ENVELOPE",
          errors: [/header/],
        });
        t.match(await ask(tm, rm, envelope("GET", `/${"p".repeat(16_384)}`)), {
          code: "BAD_ENVELOPE",
          errors: [/path/],
        });
      },
    },
    {
      family,
      name: "a 900 KB whitespace header value is answered, not choked on",
      async run(t) {
        const headers = { ...CBOR_HEADERS, "x-pad": `${" ".repeat(900_000)}x${" ".repeat(10)}` };
        const answer = await ask(tm, rm, envelope("GET", "/overview", undefined, headers));
        t.ok(!(answer instanceof Error), `answered: ${JSON.stringify(answer).slice(0, 200)}`);
      },
    },
    {
      family,
      name: "a 2 MiB message is refused by nats-server (max_payload), the RM never sees it",
      async run(t) {
        const answer = await ask(
          tm,
          rm,
          envelope("POST", "/taskmanagers", new Uint8Array(2 << 20)),
        );
        t.match(answer, { message: /payload|MAX_PAYLOAD/i });
      },
    },
    {
      family,
      name: "CBOR tags that build a Set, Map, RegExp or Error: 400 plain data only",
      async run(t) {
        const tagged = new Encoder({ useRecords: false, structuredClone: true });
        for (const hostile of [new Set([1]), new Map([["a", 1]]), /x+x+y/, new Error("boom")]) {
          const body = tagged.encode({ ...registration("tm-tag", target.clusterId, 1), hostile });
          const answer = await ask(tm, rm, envelope("POST", "/taskmanagers", body));
          t.match(answer, { status: 400, errors: [/plain data only/] }, String(hostile));
        }
        const unknownTag = cbor.encode(new Tag({ a: 1 }, 40_000));
        t.match(await ask(tm, rm, envelope("POST", "/taskmanagers", unknownTag)), { status: 400 });
      },
    },
    {
      family,
      name: "a cyclic CBOR value and CBOR nested 100,000 deep: 400",
      async run(t) {
        const cyclic: Record<string, unknown> = { tmId: "tm-cycle" };
        cyclic.self = cyclic;
        const shared = new Encoder({ useRecords: false, structuredClone: true }).encode(cyclic);
        t.match(await ask(tm, rm, envelope("POST", "/taskmanagers", shared)), { status: 400 });
        const deep = new Uint8Array(100_001).fill(0x81); // array of one, 100,000 times
        deep[100_000] = 0x00;
        t.match(await ask(tm, rm, envelope("POST", "/taskmanagers", deep)), { status: 400 });
      },
    },
    {
      family,
      name: "requirements of 1e9 slots at the ResourceManager (the message that once took the master down)",
      async run(t) {
        const path = `/jobs/${newJobId()}/requirements`;
        const body = {
          jmSubject: jm,
          requirements: [{ profile: { cpu: 1, memoryMb: 1, extended: {} }, count: 1e9 }],
        };
        t.match(await ask(tm, rm, envelope("PUT", path, body)), {
          status: 400,
          errors: [/count/],
        });
      },
    },
    {
      family,
      name: "a made-up job declaring 32,768 slots is answered at once and cleared",
      async run(t) {
        const fake = newJobId();
        const body = {
          jmSubject: subjects.jobManager(target.clusterId, fake),
          requirements: [{ profile: { cpu: 64, memoryMb: 1 << 20, extended: {} }, count: 32_768 }],
        };
        t.match(await ask(tm, rm, envelope("PUT", `/jobs/${fake}/requirements`, body)), {
          status: 200,
        });
        t.match(await ask(tm, rm, envelope("DELETE", `/jobs/${fake}`)), { status: 200 });
      },
    },
    {
      family,
      name: "1,000 made-up TaskManagers nobody serves: each refused (503, or 429), none registered",
      async run(t) {
        const answers = await registerMany(tm, rm, target.clusterId, "tm-ghost", 1000);
        const codes = new Set(answers.map((a) => (a instanceof Error ? a.message : a.code)));
        // 429 when more than 64 are being checked at once.
        t.same(
          [...codes].filter((c) => c !== "UNAVAILABLE" && c !== "TOO_MANY_REQUESTS"),
          [],
        );
        t.match((answers[0] as Answer).errors, [/does not answer at/]);
      },
    },
    {
      family,
      name: "300 made-up TaskManagers of 16 slots the attacker answers for: past slotmanager.number-of-slots.max, 429",
      async run(t) {
        const ids = Array.from({ length: 300 }, (_, i) => `tm-puppet-${i}`);
        // The attacker's user may subscribe to TaskManager subjects: it answers as each puppet.
        const puppets = ids.map((tmId) =>
          tm.subscribe(subjects.taskManager(target.clusterId, tmId), {
            callback: (_err, msg) => {
              const slots = registration(tmId, target.clusterId, 16).slots;
              const body = cbor.encode({ tmId, slots });
              msg.respond(encodeReply({ status: 200, headers: CBOR_HEADERS, body }));
            },
          }),
        );
        try {
          // 50 at once: fewer than the 64 registrations the RM checks at a time.
          const answers = await registerMany(tm, rm, target.clusterId, "tm-puppet", 300, 50);
          const accepted = ids.filter((_, i) => (answers[i] as Answer).status === 200);
          const refused = answers.filter((a) => (a as Answer).code === "TOO_MANY_REQUESTS");
          t.equal(accepted.length + refused.length, 300, "each accepted or refused 429");
          t.ok(accepted.length <= 4096 / 16, `${accepted.length} accepted: the cap holds`);
          t.match((refused[0] as Answer | undefined)?.errors, [/slotmanager.number-of-slots.max/]);
          for (const id of accepted) await ask(tm, rm, envelope("DELETE", `/taskmanagers/${id}`));
        } finally {
          for (const sub of puppets) sub.unsubscribe();
        }
      },
    },
    {
      family,
      name: "a forged report of a made-up attempt to the job's JobManager is ignored",
      async run(t) {
        const report = {
          attempt: 999_999,
          vertexId: "sequence",
          subtask: 0,
          state: TaskState.FAILED,
          error: { code: "INTERNAL", message: "forged" },
        };
        const answer = await ask(tm, jm, envelope("POST", "/tasks/state", report));
        t.ok(
          !(answer instanceof Error) && answer.status < 500,
          `answered ${JSON.stringify(answer)}`,
        );
      },
    },
    {
      family,
      name: "a TaskManager's user cannot forge the RM's lease or a job record",
      async run(t) {
        const kv = await new Kvm(jetstream(tm)).open(kvBucketName(target.clusterId));
        const forged = JSON.stringify({ holder: "forger", token: Number.MAX_SAFE_INTEGER });
        await t.rejects(kv.put(leaderKey("resourcemanager"), forged), PERMISSION, "a lease");
        await t.rejects(
          kv.put(jobKey(KeyPrefix.JOBS, target.jobId), "{}"),
          PERMISSION,
          "the running job's record",
        );
      },
    },
    {
      family,
      name: "an absurd fencing token on a TaskManager's subject: only the RM may publish there",
      async run(t) {
        const heartbeat = encodeRequest({
          method: "GET",
          path: "/heartbeat",
          headers: { "flotilla-fencing-token": String(Number.MAX_SAFE_INTEGER) },
        });
        t.match(await ask(tm, target.tmSubject, heartbeat), { message: PERMISSION });
      },
    },
    {
      family,
      name: "job code's user reaches no cluster subject",
      async run(t) {
        t.match(await ask(target.job, rm, envelope("GET", "/overview")), { message: PERMISSION });
      },
    },
    {
      family,
      name: "the CLI's user without a REST token is refused 401 over NATS too",
      async run(t) {
        const dispatcher = subjects.dispatcher(target.clusterId);
        t.match(await ask(target.cli, dispatcher, envelope("POST", "/jobs", { artifact: "0" })), {
          status: 401,
        });
      },
    },
  ];
}
