/**
 * The `heartbeat` section of `npm run bench -- rpc`: how soon a HeartbeatMonitor reports a
 * TaskManager that stopped serving (two no-responders in a row), next to the baseline measured
 * in the same run, a target that stays subscribed but silent (lost only at the timeout). The
 * tests assert which way a loss was found; the milliseconds live here.
 *
 * Flags: --heartbeat-rounds N (losses per case, default 5).
 */
import { connect } from "@nats-io/transport-node";
import {
  createClient,
  HeartbeatMonitor,
  natsTransport,
  serveNats,
  unwrap,
} from "../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../support/echo_block.ts";
import { until } from "../support/poll.ts";
import { numberFlag } from "./measure.ts";
import { type BenchResult, percentile } from "./report.ts";
import type { RpcBenchSection } from "./rpc.ts";

const INTERVAL_MS = 100;
const TIMEOUT_MS = 2000;
const SILENT = `heartbeat loss: silent target (timeout ${TIMEOUT_MS} ms)`;

export const measureHeartbeat: RpcBenchSection = async ({ natsUrl, args, progress }) => {
  const rounds = numberFlag(args, "--heartbeat-rounds", 5);
  const nc = await connect({ servers: natsUrl, name: "bench-heartbeat" });
  try {
    /** Milliseconds from `stop()` to the loss report, for one target served on `subject`. */
    const lossAfter = async (subject: string, stop: () => Promise<void>): Promise<number> => {
      const client = createClient<EchoBlock>(natsTransport(nc, subject), {
        timeoutMs: INTERVAL_MS * 2,
      });
      let pings = 0;
      let lostAt = 0;
      const lost = new Promise<void>((resolve) => {
        const monitor = new HeartbeatMonitor({
          intervalMs: INTERVAL_MS,
          timeoutMs: TIMEOUT_MS,
          ping: async () => {
            await unwrap(client.ping.$get());
            pings++;
          },
          onLost: () => {
            lostAt = performance.now();
            monitor.stop();
            resolve();
          },
        });
        monitor.monitor(subject, subject);
      });
      await until(() => pings >= 3, `three answered pings on ${subject}`);
      const stoppedAt = performance.now();
      await stop();
      await lost;
      return lostAt - stoppedAt;
    };

    const gone: number[] = [];
    const silent: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const subject = `bench.heartbeat.${round}`;
      const served = serveNats(echoBlock(), { nc, subject });
      await nc.flush();
      gone.push(await lossAfter(subject, () => served.stop()));

      // A subscriber that never answers takes over the subject (NATS still delivers the pings,
      // so there is no no-responders): only the timeout finds it.
      const mute = `${subject}.mute`;
      const answering = serveNats(echoBlock(), { nc, subject: mute });
      await nc.flush();
      const deaf = nc.subscribe(mute);
      silent.push(
        await lossAfter(mute, async () => {
          await nc.flush();
          await answering.stop();
        }),
      );
      deaf.unsubscribe();
      progress(`heartbeat round ${round + 1}/${rounds}`);
    }
    const results: BenchResult[] = [
      { name: SILENT, value: percentile(silent, 0.5), unit: "ms" },
      {
        name: "heartbeat loss: stopped serving (no-responders)",
        value: percentile(gone, 0.5),
        unit: "ms",
        baseline: SILENT,
      },
    ];
    return results;
  } finally {
    await nc.close();
  }
};
