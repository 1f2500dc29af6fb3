/**
 * `npm run bench -- dataflow`: records per second per CPU core of the dataflow runtime.
 * (a) a chained stateless pipeline at parallelism 1, against a hand-written loop doing the same
 * work; (b) word count with a hash exchange at parallelism 2 across two processes over NATS,
 * against the same job in one process on in-process channels; (c) (b) with a checkpoint every
 * second, against (b). Per core = records / CPU seconds of every process involved.
 *
 * Flags: --records N (for a), --lines N (for b and c; ten words each).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { cbor, JobState, newJobId, silentLogger } from "../../components/core/mod.ts";
import {
  CheckpointCoordinator,
  deployTask,
  fileSnapshotStore,
  natsChannels,
  runLocal,
} from "../../components/dataflow/internal_mod.ts";
import { defineJob, sinks, sources } from "../../components/dataflow/mod.ts";
import { startNats } from "../support/nats.ts";
import { jobs } from "./jobs/wordcount.ts";
import { numberFlag } from "./measure.ts";
import type { BenchResult } from "./report.ts";

const progress = (line: string) => process.stderr.write(`[bench dataflow] ${line}\n`);
const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

async function stateless(records: number): Promise<BenchResult[]> {
  // Baseline: the same work as a plain loop, no runtime at all.
  let kept = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  for (let seq = 0; seq < records; seq++) {
    const r = { key: 0, seq };
    const doubled = r.seq * 2;
    if (doubled % 3 !== 0) kept++;
  }
  const loopCpu = cpuMs(cpu0);
  const loopMs = performance.now() - t0;
  if (kept === 0) throw new Error("loop kept nothing");

  const job = defineJob({ name: "bench-stateless" }, (env) =>
    env
      .source(sources.sequence({ keys: 1, perKey: records }))
      .map((r) => r.seq * 2)
      .filter((n) => n % 3 !== 0)
      .sink(sinks.discard()),
  );
  cpu0 = process.cpuUsage();
  t0 = performance.now();
  const result = await runLocal(job.graph()).result;
  const runCpu = cpuMs(cpu0);
  const runMs = performance.now() - t0;
  if (result.state !== JobState.FINISHED)
    throw new Error(`stateless job ${result.state}: ${result.error?.message}`);
  const base = "(a) plain loop, records/s/core";
  return [
    { name: base, value: records / (loopCpu / 1000), unit: "records/s" },
    {
      name: "(a) chained sequence->map->filter->discard, records/s/core",
      value: records / (runCpu / 1000),
      unit: "records/s",
      baseline: base,
    },
    {
      name: "(a) chained pipeline, records/s wall",
      value: records / (runMs / 1000),
      unit: "records/s",
      baseline: "(a) plain loop, records/s wall",
    },
    { name: "(a) plain loop, records/s wall", value: records / (loopMs / 1000), unit: "records/s" },
  ];
}

async function inProcessWordCount(
  lines: number,
): Promise<{ words: number; cpuMs: number; ms: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await runLocal(jobs.plain.graph({ args: { lines: String(lines) } })).result;
  const words = (Object.values(result.results).flat() as [string, number][]).reduce(
    (n, [, c]) => n + c,
    0,
  );
  return { words, cpuMs: cpuMs(cpu0), ms: performance.now() - t0 };
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Sources and splitting here, keyed counting in a second process, channels over NATS. */
async function twoProcessWordCount(natsUrl: string, name: keyof typeof jobs, lines: number) {
  const jobId = newJobId();
  const storeDir = mkdtempSync(join(tmpdir(), "flotilla-bench-"));
  const nc = await connect({ servers: natsUrl });
  const script = fileURLToPath(new URL("./dataflow_worker.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    ["--import", import.meta.resolve("tsx"), script, natsUrl, name, String(lines), storeDir, jobId],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.add(child);
  const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  try {
    const ready = JSON.parse(String((await replies.next()).value));
    if (!ready.ready) throw new Error("worker did not start");
    const graph = jobs[name].graph({ args: { lines: String(lines) } });
    const store = fileSnapshotStore(storeDir);
    const coordinator = new CheckpointCoordinator({ jobId, graph, store, log: silentLogger });
    const upstream = graph.vertices.filter((v) => !v.keySelector);
    const channels = natsChannels({ nc, clusterId: "bench", jobId, attempt: 0 });
    const tasks = upstream.flatMap((v) =>
      Array.from({ length: v.parallelism }, (_, subtask) =>
        deployTask({
          graph,
          jobId,
          vertexId: v.id,
          subtask,
          attempt: 0,
          channels,
          services: {
            log: silentLogger,
            args: {},
            connectNats: async () => nc,
            publishResults: async () => {},
          },
          checkpointing: coordinator.forTask(v.id, subtask),
        }),
      ),
    );
    nc.subscribe("bench.ack", {
      callback: (_e, msg) => {
        const { id, vertex, subtask, handle } = cbor.decode(msg.data) as {
          id: number;
          vertex: string;
          subtask: number;
          handle: string;
        };
        coordinator.forTask(vertex, subtask).acknowledge(id, handle, 0);
      },
    });
    coordinator.attach({
      trigger: (id, final) => {
        for (const t of tasks) if (t.vertex.source) t.triggerCheckpoint(id, final);
      },
      notify: async (id) => {
        nc.publish("bench.notify", cbor.encode({ id }));
        await Promise.all(tasks.map((t) => t.notifyCheckpointComplete(id)));
      },
    });
    await nc.flush();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(tasks.map((t) => t.run()));
    const done = JSON.parse(String((await replies.next()).value)) as {
      cpuMs: number;
      words: number;
    };
    const ms = performance.now() - t0;
    coordinator.detach();
    return {
      words: done.words,
      cpuMs: cpuMs(cpu0) + done.cpuMs,
      ms,
      checkpoints: coordinator.completed,
    };
  } finally {
    child.kill("SIGTERM");
    children.delete(child);
    await nc.close();
    rmSync(storeDir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<BenchResult[]> {
  const records = numberFlag(args, "--records", 5_000_000);
  const lines = numberFlag(args, "--lines", 200_000);
  progress(`(a) ${records} records through a chained pipeline`);
  const results = await stateless(records);

  const server = await startNats({ jetstream: false });
  try {
    progress(`(b) word count of ${lines * 10} words, one process (baseline)`);
    const local = await inProcessWordCount(lines);
    progress("(b) the same across two processes over NATS");
    const remote = await twoProcessWordCount(server.url, "plain", lines);
    progress("(c) the same with a checkpoint every second");
    const checkpointed = await twoProcessWordCount(server.url, "checkpointed", lines);
    for (const r of [local, remote, checkpointed]) {
      if (r.words !== lines * 10)
        throw new Error(`word count lost words: ${r.words} of ${lines * 10}`);
    }
    const base = "(b) word count, one process, records/s/core";
    results.push(
      { name: base, value: local.words / (local.cpuMs / 1000), unit: "records/s" },
      {
        name: "(b) word count, 2 processes over NATS, records/s/core",
        value: remote.words / (remote.cpuMs / 1000),
        unit: "records/s",
        baseline: base,
      },
      {
        name: "(b) word count, 2 processes over NATS, records/s wall",
        value: remote.words / (remote.ms / 1000),
        unit: "records/s",
      },
      {
        name: `(c) (b) with checkpoints every 1 s (${checkpointed.checkpoints} taken), records/s/core`,
        value: checkpointed.words / (checkpointed.cpuMs / 1000),
        unit: "records/s",
        baseline: "(b) word count, 2 processes over NATS, records/s/core",
      },
    );
  } finally {
    await server.cleanup();
  }
  return results;
}
