/**
 * The server side of the rpc benchmark, run as its own process so client and server do not share
 * an event loop: a raw nats.js echo responder (the baseline), the echo block over NATS, and the
 * same block over HTTP. Prints one JSON line (`RpcServerReady`) when ready; exits when its stdin
 * closes (so it never outlives the benchmark) or on SIGTERM.
 *
 * Usage: node --import tsx test/bench/rpc_server.ts <nats-url>
 */
import { connect } from "@nats-io/transport-node";
import { serveHttp, serveNats } from "../../components/rpc/mod.ts";
import { echoBlock } from "../support/echo_block.ts";

export interface RpcServerReady {
  /** Subject of the raw echo responder: replies with the request's bytes. */
  rawSubject: string;
  /** Subject the echo block is served on with `serveNats`. */
  blockSubject: string;
  /** Base URL of the echo block over HTTP. */
  httpUrl: string;
  pid: number;
}

const natsUrl = process.argv[2];
if (!natsUrl) {
  process.stderr.write("usage: rpc_server.ts <nats-url>\n");
  process.exit(64);
}

const nc = await connect({ servers: natsUrl, name: "bench-rpc-server" });
const ready: RpcServerReady = {
  rawSubject: "bench.rpc.raw",
  blockSubject: "bench.rpc.block",
  httpUrl: "",
  pid: process.pid,
};
const raw = nc.subscribe(ready.rawSubject, {
  callback: (err, msg) => {
    if (!err) msg.respond(msg.data);
  },
});
const app = echoBlock();
const overNats = serveNats(app, { nc, subject: ready.blockSubject });
const overHttp = await serveHttp(app);
ready.httpUrl = overHttp.url;
// Both subscriptions must have reached the server before the client calls.
await nc.flush();

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    await overHttp.close();
    await overNats.stop();
    await raw.drain().catch(() => raw.unsubscribe());
    await nc.close();
    // An open stdin would keep the process alive after a SIGTERM.
    process.stdin.destroy();
  })();
  return stopping;
}

process.stdin.on("close", () => void stop());
process.stdin.resume();
process.once("SIGTERM", () => void stop());
process.stdout.write(`${JSON.stringify(ready)}\n`);
