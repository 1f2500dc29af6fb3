/**
 * The second process of the dataflow benchmark: runs the keyed (downstream) vertex of the job's
 * graph, fed over NATS channels, acknowledging checkpoints to the first process over NATS.
 * Speaks JSON lines on stdout: {ready}, then {done, cpuMs, words}.
 */
import { connect } from "@nats-io/transport-node";
import { cbor, silentLogger } from "../../components/core/mod.ts";
import {
  deployTask,
  fileSnapshotStore,
  natsChannels,
} from "../../components/dataflow/internal_mod.ts";
import { jobs } from "./jobs/wordcount.ts";

const [natsUrl, jobName, lines, storeDir, jobId] = process.argv.slice(2) as [
  string,
  keyof typeof jobs,
  string,
  string,
  string,
];
const nc = await connect({ servers: natsUrl });
const graph = jobs[jobName].graph({ args: { lines } });
const store = fileSnapshotStore(storeDir);
const keyed = graph.vertices.find((v) => v.keySelector)!;
const channels = natsChannels({ nc, clusterId: "bench", jobId, attempt: 0 });
let words = 0;
const tasks = Array.from({ length: keyed.parallelism }, (_, subtask) =>
  deployTask({
    graph,
    jobId,
    vertexId: keyed.id,
    subtask,
    attempt: 0,
    channels,
    services: {
      log: silentLogger,
      args: { lines },
      connectNats: async () => nc,
      publishResults: async (_sink, values) => {
        for (const [, n] of values as [string, number][]) words += n;
      },
    },
    checkpointing: {
      store: async (id, bytes) => {
        const handle = `checkpoints/${jobId}/${id}/${keyed.id}/${subtask}`;
        await store.put(handle, bytes);
        return handle;
      },
      acknowledge: (id, handle) =>
        nc.publish("bench.ack", cbor.encode({ id, vertex: keyed.id, subtask, handle })),
      decline: () => {},
      sourceEnded: () => {},
    },
  }),
);
nc.subscribe("bench.notify", {
  callback: (_err, msg) => {
    const { id } = cbor.decode(msg.data) as { id: number };
    for (const task of tasks) void task.notifyCheckpointComplete(id);
  },
});
await nc.flush();
const cpu0 = process.cpuUsage();
console.log(JSON.stringify({ ready: true }));
await Promise.all(tasks.map((t) => t.run()));
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ done: true, cpuMs: (cpu.user + cpu.system) / 1000, words }));
await nc.close();
