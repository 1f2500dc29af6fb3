/**
 * The wire between a TaskManager and its job processes (`Peer` over a real Unix socket): calls
 * answered in order with their values or typed errors, messages that arrive in pieces, and what
 * a peer that writes garbage or a frame too large gets: the connection ends, with why, and its
 * pending calls fail instead of waiting for ever.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import {
  cbor,
  type FlotillaError as Err,
  ErrorCode,
  FlotillaError,
} from "../../../components/core/mod.ts";
import {
  MAX_FRAME_BYTES,
  Peer,
  type WireMessage,
} from "../../../components/taskmanager/job_process/wire.ts";

const dir = mkdtempSync(join(tmpdir(), "flotilla-wire-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Two connected sockets. */
async function socketPair(): Promise<[Socket, Socket]> {
  const path = join(dir, `s${n++}`);
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const client = createConnection(path);
  const other = await accepted;
  server.close();
  t.teardown(() => {
    client.destroy();
    other.destroy();
  });
  return [client, other];
}

function peer(socket: Socket, onCall = async (m: WireMessage): Promise<unknown> => m) {
  const messages: WireMessage[] = [];
  let closed: Err | undefined | "clean";
  const p = new Peer(socket, {
    onMessage: (m) => messages.push(m),
    onCall,
    onClose: (error) => {
      closed = error ?? "clean";
    },
  });
  return { p, messages, closed: () => closed };
}

const frame = (message: unknown) => {
  const body = cbor.encode(message);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.byteLength);
  return Buffer.concat([head, body]);
};
const until = async (what: () => boolean) => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
};

t.test("calls are answered with their values, or with typed errors", async (t) => {
  const [a, b] = await socketPair();
  const caller = peer(a);
  peer(b, async (m) => {
    if (m.t === "fail") throw new FlotillaError(ErrorCode.FORBIDDEN, "not yours");
    return { echoed: m.value, bytes: new Uint8Array([1, 2, 3]) };
  });
  t.match(await caller.p.call({ t: "echo", value: 42 }), { echoed: 42 });
  const both = await Promise.all([
    caller.p.call({ t: "echo", value: "x" }),
    caller.p.call({ t: "echo", value: "y" }),
  ]);
  t.same(
    both.map((r) => (r as { echoed: string }).echoed),
    ["x", "y"],
  );
  await t.rejects(caller.p.call({ t: "fail" }), {
    code: ErrorCode.FORBIDDEN,
    message: "not yours",
  });
});

t.test("a message that arrives a byte at a time is read whole", async (t) => {
  const [a, b] = await socketPair();
  const receiver = peer(b);
  const bytes = frame({ t: "deliver", data: new Uint8Array(5000).fill(7) });
  for (const byte of bytes) a.write(Buffer.from([byte]));
  await until(() => receiver.messages.length === 1);
  t.equal(receiver.messages[0]?.t, "deliver");
  t.equal((receiver.messages[0]?.data as Uint8Array | undefined)?.byteLength, 5000);
});

t.test("garbage ends the connection naming why; pending calls fail", async (t) => {
  const [a, b] = await socketPair();
  const receiver = peer(b);
  const pending = receiver.p.call({ t: "never-answered" });
  a.write(Buffer.from([0, 0, 0, 3, 0xff, 0xff, 0xff]));
  await t.rejects(pending, { code: ErrorCode.BAD_ENVELOPE });
  t.match(receiver.closed(), { code: ErrorCode.BAD_ENVELOPE, message: /unreadable frame/ });
  t.ok(receiver.p.closed);
});

t.test("a frame announced over the limit ends the connection before it is buffered", async (t) => {
  const [a, b] = await socketPair();
  const receiver = peer(b);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(MAX_FRAME_BYTES + 1);
  a.write(head);
  await until(() => receiver.closed() !== undefined);
  t.match(receiver.closed(), { code: ErrorCode.PAYLOAD_TOO_LARGE });
});

t.test("a message without a kind is garbage too", async (t) => {
  const [a, b] = await socketPair();
  const receiver = peer(b);
  a.write(frame([1, 2, 3]));
  await until(() => receiver.closed() !== undefined);
  t.match(receiver.closed(), { code: ErrorCode.BAD_ENVELOPE, message: /kind/ });
});
