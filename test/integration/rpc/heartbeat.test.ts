/** The heartbeat monitor against a real block over real NATS. */
import t from "tap";
import {
  createClient,
  HeartbeatMonitor,
  natsTransport,
  serveNats,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../../support/echo_block.ts";
import { until } from "../../support/poll.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

t.test(
  "a block that stops serving is lost after two no-responders, well before the timeout",
  async (t) => {
    const server = await natsFor(t);
    const nc = await connectFor(t, server);
    const served = serveNats(echoBlock(), { nc, subject: "t.tm.1" });
    const client = createClient<EchoBlock>(natsTransport(nc, "t.tm.1"), { timeoutMs: 200 });
    let pings = 0;
    let reason = "";
    const lost = new Promise<void>((resolve) => {
      const monitor = new HeartbeatMonitor({
        intervalMs: 50,
        timeoutMs: 5000,
        ping: async () => {
          await unwrap(client.ping.$get());
          pings++;
        },
        onLost: (_id, _target, why) => {
          reason = why;
          resolve();
        },
      });
      t.teardown(() => monitor.stop());
      monitor.monitor("tm-1", "t.tm.1");
    });
    await until(() => pings >= 3, "three answered pings");
    await served.stop();
    await lost;
    // The reason tells the two ways apart: no-responders, not "no heartbeat for ... ms".
    t.match(reason, /unreachable 2 times in a row.*no service is listening on t\.tm\.1/);
  },
);
